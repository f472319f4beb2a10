//! Typed description of each scenario's network, and the `ip`/`nft` commands that build it.
//!
//! Every network segment is a Linux bridge in its own namespace (a "switch"); every host is
//! a namespace with one veth per segment it sits on. Nothing here touches the system: the
//! plan is a list of argv vectors that [`crate::lab`] runs, so tests can read it as is.

use std::fmt;
use std::net::Ipv4Addr;

/// What a namespace is for (only used in docs and `--keep` listings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Switch,
    Host,
    Router,
}

/// How a NAT router rewrites and filters (see DESIGN.md, "two traps").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatKind {
    /// Port-preserving masquerade, unsolicited WAN packets dropped before conntrack
    /// confirms them: an endpoint-independent mapping, so hole punching works (srflx).
    Stable,
    /// `masquerade fully-random`: a new external port per destination (symmetric NAT), so
    /// the port STUN saw is useless to the peer: only TURN gets through (relay).
    Symmetric,
}

impl NatKind {
    /// The router's nft ruleset. The table is ours alone; the chain names avoid `fwd`
    /// (an nft keyword). Dropping at priority -150, after conntrack (-200) has classified
    /// the packet but before it confirms the entry, leaves no conntrack entry behind, so
    /// the peer's early checks cannot steal the mapping our STUN request made.
    pub fn ruleset(self) -> String {
        let masquerade = match self {
            NatKind::Stable => "masquerade",
            NatKind::Symmetric => "masquerade fully-random",
        };
        format!(
            "table ip netlab {{\n\
             \tchain wan_filter {{\n\
             \t\ttype filter hook prerouting priority -150; policy accept;\n\
             \t\tiifname \"wan\" ct state new drop\n\
             \t}}\n\
             \tchain wan_nat {{\n\
             \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
             \t\toifname \"wan\" {masquerade}\n\
             \t}}\n\
             }}\n"
        )
    }
}

/// One network interface of a host: a veth whose other end is a port of `switch`'s bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    pub name: &'static str,
    pub switch: &'static str,
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Short (≤ 8 characters): it is part of interface names, limited to 15.
    pub name: &'static str,
    pub role: Role,
    pub ifaces: Vec<Iface>,
    /// Default gateway, if any.
    pub gateway: Option<Ipv4Addr>,
    pub nat: Option<NatKind>,
    /// Prefixes this router forwards into a silent blackhole (the "internet" for private
    /// addresses: they go out and vanish, no error comes back).
    pub blackholes: Vec<&'static str>,
}

impl Node {
    pub fn addr(&self) -> Ipv4Addr {
        self.ifaces[0].addr
    }
}

/// A scenario's whole network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub switches: Vec<&'static str>,
    pub nodes: Vec<Node>,
}

/// The addresses the scenarios use; documented in docs/connection-kinds.md.
pub mod addr {
    use std::net::Ipv4Addr;
    pub const LAN_SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    pub const LAN_CALLER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 11);
    pub const LAN_CALLEE: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 12);
    /// On the LAN, answered by nobody: the "unreachable STUN server".
    pub const LAN_NOBODY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 99);
    /// 203.0.113.0/24 is TEST-NET-3: "public" addresses that can never leak anywhere real.
    pub const PUB_ISP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
    pub const PUB_SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
    pub const PUB_NAT1: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 11);
    pub const PUB_NAT2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 12);
    pub const HOME1_GW: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
    pub const HOME1_CALLER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
    pub const HOME2_GW: Ipv4Addr = Ipv4Addr::new(192, 168, 2, 1);
    pub const HOME2_CALLEE: Ipv4Addr = Ipv4Addr::new(192, 168, 2, 10);
}

fn iface(name: &'static str, switch: &'static str, addr: Ipv4Addr, prefix: u8) -> Iface {
    Iface {
        name,
        switch,
        addr,
        prefix,
    }
}

fn host(name: &'static str, ifaces: Vec<Iface>, gateway: Option<Ipv4Addr>) -> Node {
    Node {
        name,
        role: Role::Host,
        ifaces,
        gateway,
        nat: None,
        blackholes: Vec::new(),
    }
}

impl Topology {
    /// One LAN: caller, callee and the server (signaling + coturn) on 10.0.0.0/24.
    pub fn lan() -> Topology {
        use addr::*;
        Topology {
            switches: vec!["lan"],
            nodes: vec![
                host("server", vec![iface("eth0", "lan", LAN_SERVER, 24)], None),
                host("caller", vec![iface("eth0", "lan", LAN_CALLER, 24)], None),
                host("callee", vec![iface("eth0", "lan", LAN_CALLEE, 24)], None),
            ],
        }
    }

    /// Each peer on its own home LAN behind its own NAT router; the server on the
    /// "public" segment. Everything public routes by default to the "isp", which drops
    /// private destinations silently, as the internet does: the homes cannot reach each
    /// other's private addresses, and a relay sending to one gets no error (coturn closes
    /// an allocation whose send fails outright, as it does with no route at all).
    pub fn natted(kind: NatKind) -> Topology {
        use addr::*;
        let router = |name, wan, lan_switch, gw| Node {
            name,
            role: Role::Router,
            ifaces: vec![
                iface("wan", "pub", wan, 24),
                iface("lan", lan_switch, gw, 24),
            ],
            gateway: Some(PUB_ISP),
            nat: Some(kind),
            blackholes: Vec::new(),
        };
        let isp = Node {
            name: "isp",
            role: Role::Router,
            ifaces: vec![iface("eth0", "pub", PUB_ISP, 24)],
            gateway: None,
            nat: None,
            blackholes: vec!["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        };
        Topology {
            switches: vec!["pub", "home1", "home2"],
            nodes: vec![
                isp,
                host(
                    "server",
                    vec![iface("eth0", "pub", PUB_SERVER, 24)],
                    Some(PUB_ISP),
                ),
                router("nat1", PUB_NAT1, "home1", HOME1_GW),
                router("nat2", PUB_NAT2, "home2", HOME2_GW),
                host(
                    "caller",
                    vec![iface("eth0", "home1", HOME1_CALLER, 24)],
                    Some(HOME1_GW),
                ),
                host(
                    "callee",
                    vec![iface("eth0", "home2", HOME2_CALLEE, 24)],
                    Some(HOME2_GW),
                ),
            ],
        }
    }

    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name} in the topology"))
    }

    /// The commands that build the network, in order. `ns` maps a node or switch name
    /// to its namespace name; `nft_file` maps a router to the path of its ruleset file.
    pub fn plan(&self, ns: &dyn Fn(&str) -> String, nft_file: &dyn Fn(&str) -> String) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        let names = self
            .switches
            .iter()
            .copied()
            .chain(self.nodes.iter().map(|n| n.name));
        for name in names.clone() {
            cmds.push(Cmd::new(["ip", "netns", "add", &ns(name)]));
        }
        for name in names {
            cmds.push(Cmd::new(["ip", "-n", &ns(name), "link", "set", "lo", "up"]));
        }
        for sw in &self.switches {
            let sw = ns(sw);
            cmds.push(Cmd::new([
                "ip", "-n", &sw, "link", "add", "br0", "type", "bridge",
            ]));
            cmds.push(Cmd::new(["ip", "-n", &sw, "link", "set", "br0", "up"]));
        }
        for node in &self.nodes {
            let n = ns(node.name);
            // IPv4 only: link-local IPv6 host candidates would add pairs the scenarios
            // are not about.
            cmds.push(Cmd::new([
                "ip",
                "netns",
                "exec",
                &n,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
            ]));
            cmds.push(Cmd::new([
                "ip",
                "netns",
                "exec",
                &n,
                "sysctl",
                "-qw",
                "net.ipv6.conf.default.disable_ipv6=1",
            ]));
            for i in &node.ifaces {
                let sw = ns(i.switch);
                let port = format!("{}-{}", node.name, i.name);
                cmds.push(Cmd::new([
                    "ip", "-n", &n, "link", "add", i.name, "type", "veth", "peer", "name", &port,
                    "netns", &sw,
                ]));
                cmds.push(Cmd::new([
                    "ip", "-n", &sw, "link", "set", &port, "master", "br0",
                ]));
                cmds.push(Cmd::new(["ip", "-n", &sw, "link", "set", &port, "up"]));
                cmds.push(Cmd::new([
                    "ip",
                    "-n",
                    &n,
                    "addr",
                    "add",
                    &format!("{}/{}", i.addr, i.prefix),
                    "dev",
                    i.name,
                ]));
                cmds.push(Cmd::new(["ip", "-n", &n, "link", "set", i.name, "up"]));
            }
            if let Some(gw) = node.gateway {
                cmds.push(Cmd::new([
                    "ip",
                    "-n",
                    &n,
                    "route",
                    "add",
                    "default",
                    "via",
                    &gw.to_string(),
                ]));
            }
            for net in &node.blackholes {
                cmds.push(Cmd::new(["ip", "-n", &n, "route", "add", "blackhole", net]));
            }
            if node.role == Role::Router {
                cmds.push(Cmd::new([
                    "ip",
                    "netns",
                    "exec",
                    &n,
                    "sysctl",
                    "-qw",
                    "net.ipv4.ip_forward=1",
                ]));
            }
            if node.nat.is_some() {
                cmds.push(Cmd::new([
                    "ip",
                    "netns",
                    "exec",
                    &n,
                    "nft",
                    "-f",
                    &nft_file(node.name),
                ]));
            }
        }
        cmds
    }
}

/// One command of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd(pub Vec<String>);

impl Cmd {
    pub fn new<const N: usize>(argv: [&str; N]) -> Cmd {
        Cmd(argv.iter().map(|s| s.to_string()).collect())
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_text(t: &Topology) -> String {
        t.plan(&|n| format!("t-{n}"), &|n| format!("/run/{n}.nft"))
            .iter()
            .map(|c| c.to_string() + "\n")
            .collect()
    }

    #[test]
    fn lan_plan_puts_three_hosts_on_one_bridge() {
        let text = plan_text(&Topology::lan());
        assert_eq!(text.matches("ip netns add ").count(), 4, "{text}");
        for (n, a) in [
            ("server", "10.0.0.2"),
            ("caller", "10.0.0.11"),
            ("callee", "10.0.0.12"),
        ] {
            assert!(
                text.contains(&format!(
                    "ip -n t-{n} link add eth0 type veth peer name {n}-eth0 netns t-lan\n"
                )),
                "{text}"
            );
            assert!(text.contains(&format!("ip -n t-lan link set {n}-eth0 master br0\n")));
            assert!(text.contains(&format!("ip -n t-{n} addr add {a}/24 dev eth0\n")));
        }
        assert!(
            !text.contains("route add"),
            "a flat LAN needs no routes:\n{text}"
        );
        assert!(!text.contains("nft"), "{text}");
    }

    #[test]
    fn natted_plan_routes_homes_through_their_router_and_private_addresses_nowhere() {
        let text = plan_text(&Topology::natted(NatKind::Stable));
        assert!(text.contains("ip -n t-caller route add default via 192.168.1.1\n"));
        assert!(text.contains("ip -n t-callee route add default via 192.168.2.1\n"));
        for n in ["server", "nat1", "nat2"] {
            assert!(text.contains(&format!("ip -n t-{n} route add default via 203.0.113.1\n")));
        }
        for net in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] {
            assert!(text.contains(&format!("ip -n t-isp route add blackhole {net}\n")));
        }
        assert!(text.contains("ip netns exec t-isp sysctl -qw net.ipv4.ip_forward=1\n"));
        assert!(!text.contains("t-isp nft"), "the isp does no NAT:\n{text}");
        for r in ["nat1", "nat2"] {
            assert!(text.contains(&format!(
                "ip netns exec t-{r} sysctl -qw net.ipv4.ip_forward=1\n"
            )));
            assert!(text.contains(&format!("ip netns exec t-{r} nft -f /run/{r}.nft\n")));
        }
        assert!(text.contains("ip -n t-nat1 addr add 203.0.113.11/24 dev wan\n"));
        assert!(text.contains("ip -n t-nat2 addr add 192.168.2.1/24 dev lan\n"));
        // Interface names must fit IFNAMSIZ (15 characters).
        for t in [Topology::lan(), Topology::natted(NatKind::Stable)] {
            for n in &t.nodes {
                for i in &n.ifaces {
                    assert!(format!("{}-{}", n.name, i.name).len() <= 15);
                }
            }
        }
    }

    #[test]
    fn rulesets_drop_unsolicited_wan_packets_and_differ_only_in_port_choice() {
        let stable = NatKind::Stable.ruleset();
        let symmetric = NatKind::Symmetric.ruleset();
        for r in [&stable, &symmetric] {
            assert!(r.contains("type filter hook prerouting priority -150;"));
            assert!(r.contains("iifname \"wan\" ct state new drop"));
            assert!(!r.contains("chain fwd"));
        }
        assert!(stable.contains("oifname \"wan\" masquerade\n"));
        assert!(symmetric.contains("oifname \"wan\" masquerade fully-random\n"));
    }
}

#[cfg(test)]
mod doc_tests {
    use super::*;

    /// docs/connection-kinds.md draws these networks by hand: every address of every
    /// topology must appear there, so the drawings cannot drift from the code.
    #[test]
    fn the_doc_shows_every_address() {
        let doc = include_str!("../../docs/connection-kinds.md");
        for t in [Topology::lan(), Topology::natted(NatKind::Stable)] {
            for n in &t.nodes {
                for i in &n.ifaces {
                    assert!(
                        doc.contains(&i.addr.to_string()),
                        "{} {} missing",
                        n.name,
                        i.addr
                    );
                }
                for b in &n.blackholes {
                    assert!(doc.contains(b), "blackhole {b} missing");
                }
            }
        }
        assert!(doc.contains(&addr::LAN_NOBODY.to_string()));
    }
}
