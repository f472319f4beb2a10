//! The network side alone, proven with real packets before any WebRTC runs: who reaches
//! whom, what the NATs map, whether hole punching works, whether coturn allocates.
//! Sockets are opened inside the namespaces (setns); STUN answers come from coturn.

use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;

use crate::coturn;
use crate::lab::{wait_for_text, Lab};
use crate::scenario::Scenario;
use crate::stun::mapped_address;
use crate::topo::{addr, NatKind, Topology};

const STUN_WAIT: Duration = Duration::from_secs(3);

/// What was observed, for the report and the docs.
#[derive(Debug, Default, Serialize)]
pub struct NetReport {
    pub topology: String,
    /// Caller → callee on the callee's own address.
    pub direct_private: bool,
    /// The caller's address as coturn's STUN saw it.
    pub caller_mapped: Option<SocketAddrV4>,
    /// The same socket's address as seen by two other ports of the server.
    pub caller_seen_by_observers: Vec<SocketAddrV4>,
    /// The callee's address as coturn's STUN saw it.
    pub callee_mapped: Option<SocketAddrV4>,
    /// Caller → callee's STUN-mapped address before the callee sent anything.
    pub unsolicited_delivered: bool,
    /// After each sent to the other's mapped address: caller → callee, callee → caller.
    pub punched: (bool, bool),
    /// The callee's mapping after the exchange (unchanged when the NAT is stable).
    pub callee_mapped_after: Option<SocketAddrV4>,
    /// `turnutils_uclient` through the NAT: allocation + relayed echo with the right password.
    pub turn_ok: Option<bool>,
    /// coturn's count of relayed bytes after it.
    pub turn_peer_bytes: u64,
}

fn recv_one(sock: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = [0u8; 1500];
    // Read timeout 300 ms, set at creation: a few rounds cover a slow namespace hop.
    for _ in 0..3 {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            return Some((buf[..n].to_vec(), from));
        }
    }
    None
}

/// Send `msg` from `from` to `to`; did `at` get it? A send error (no route) counts as no.
fn delivered(from: &UdpSocket, to: SocketAddr, at: &UdpSocket, msg: &[u8]) -> bool {
    if from.send_to(msg, to).is_err() {
        return false;
    }
    matches!(recv_one(at), Some((m, _)) if m == msg)
}

fn v4(a: SocketAddr) -> SocketAddrV4 {
    match a {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(_) => unreachable!("the labs are IPv4 only"),
    }
}

/// Build the scenario's network, start coturn, and observe. Fails when the network does
/// not behave as the scenario needs (that is a lab bug, not an app bug).
pub fn check(scenario: Scenario, dir: &Path) -> Result<NetReport> {
    let topo = scenario.topology();
    let nat = topo.nodes.iter().find_map(|n| n.nat);
    let server_ip = topo.node("server").addr();
    let caller_ip = topo.node("caller").addr();
    let callee_ip = topo.node("callee").addr();
    let mut lab = Lab::build(topo, dir)?;
    let turn = lab.spawn(
        "server",
        "turnserver",
        &coturn::argv(server_ip, dir, coturn::Auth::Static),
    )?;
    let log = dir.join("turnserver.log");
    if !wait_for_text(&log, "turn server id=0 created", Duration::from_secs(10))? {
        bail!("coturn did not start:\n{}", lab.proc(turn).tail(20));
    }
    let stun: SocketAddr = (server_ip, coturn::PORT).into();
    let mut r = NetReport {
        topology: format!("{scenario:?}"),
        ..Default::default()
    };

    let caller = lab.udp_socket("caller", (caller_ip, 0).into())?;
    let callee = lab.udp_socket("callee", (callee_ip, 0).into())?;
    let callee_local = callee.local_addr()?;
    r.direct_private = delivered(&caller, callee_local, &callee, b"direct");

    r.caller_mapped = Some(mapped_address(&caller, stun, STUN_WAIT).context("caller's STUN")?);
    for port in [40001, 40002] {
        let obs = lab.udp_socket("server", (server_ip, port).into())?;
        caller.send_to(b"observe", (server_ip, port))?;
        let (_, from) = recv_one(&obs).context("an observer got nothing from the caller")?;
        r.caller_seen_by_observers.push(v4(from));
    }
    let m1 = r.caller_mapped.expect("set above");
    let m2 = mapped_address(&callee, stun, STUN_WAIT).context("callee's STUN")?;
    r.callee_mapped = Some(m2);
    r.unsolicited_delivered = delivered(&caller, m2.into(), &callee, b"early");
    // The callee opens its side (dropped at the caller's router, unless there is none),
    // then both directions are tried again.
    let _ = callee.send_to(b"open", m1);
    let _ = recv_one(&caller); // the "open" itself, when no NAT drops it
    let c2c = delivered(&caller, m2.into(), &callee, b"punch1");
    let c2r = delivered(&callee, m1.into(), &caller, b"punch2");
    r.punched = (c2c, c2r);
    r.callee_mapped_after =
        Some(mapped_address(&callee, stun, STUN_WAIT).context("callee's STUN again")?);

    if nat == Some(NatKind::Symmetric) {
        let out = lab.exec(
            "caller",
            &[
                "turnutils_uclient",
                "-u",
                coturn::USER,
                "-w",
                coturn::PASSWORD,
                "-n",
                "10",
                "-m",
                "1",
                "-y",
                &server_ip.to_string(),
            ],
            Duration::from_secs(15),
        )?;
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        r.turn_ok = Some(out.status.success() && text.contains("Total lost packets 0"));
        // Usage is logged as a session closes, shortly after the client's refresh(0).
        wait_for_text(&log, ": peer usage: ", Duration::from_secs(5))?;
        let _ = lab.proc(turn).stop(Duration::from_secs(2));
        r.turn_peer_bytes =
            coturn::parse_log(&std::fs::read_to_string(&log).unwrap_or_default()).peer_bytes;
    }
    drop(lab);
    verify(&r, nat)?;
    Ok(r)
}

/// What each kind of network must show.
fn verify(r: &NetReport, nat: Option<NatKind>) -> Result<()> {
    let m1 = r.caller_mapped.expect("always observed");
    let seen = &r.caller_seen_by_observers;
    match nat {
        None => {
            ensure!(
                r.direct_private,
                "LAN: the callee did not get the caller's datagram"
            );
            ensure!(
                *m1.ip() == addr::LAN_CALLER,
                "LAN: STUN should see the caller's own address, saw {m1}"
            );
        }
        Some(kind) => {
            ensure!(
                !r.direct_private,
                "NAT: a private address was reachable across homes"
            );
            ensure!(
                *m1.ip() == addr::PUB_NAT1,
                "NAT: STUN saw {m1}, not router 1's WAN address"
            );
            ensure!(
                !r.unsolicited_delivered,
                "NAT: an unsolicited datagram crossed router 2"
            );
            match kind {
                NatKind::Stable => {
                    ensure!(
                        seen.iter().all(|s| *s == m1),
                        "stable NAT: the mapping changed per destination: STUN {m1}, observers {seen:?}"
                    );
                    ensure!(
                        r.punched == (true, true),
                        "stable NAT: hole punching failed: {:?}",
                        r.punched
                    );
                    ensure!(
                        r.callee_mapped_after == r.callee_mapped,
                        "stable NAT: the callee's mapping moved from {:?} to {:?}",
                        r.callee_mapped,
                        r.callee_mapped_after
                    );
                }
                NatKind::Symmetric => {
                    ensure!(
                        seen.iter().all(|s| *s != m1) && seen[0] != seen[1],
                        "symmetric NAT: expected a new port per destination: STUN {m1}, observers {seen:?}"
                    );
                    ensure!(
                        r.punched == (false, false),
                        "symmetric NAT: the STUN addresses were usable: {:?}",
                        r.punched
                    );
                    ensure!(
                        r.turn_ok == Some(true),
                        "symmetric NAT: TURN through coturn failed"
                    );
                    ensure!(r.turn_peer_bytes > 0, "coturn logged no relayed bytes");
                }
            }
        }
    }
    Ok(())
}

impl Scenario {
    pub fn topology(self) -> Topology {
        match self {
            Scenario::Local | Scenario::StunUnreachable => Topology::lan(),
            Scenario::Srflx => Topology::natted(NatKind::Stable),
            Scenario::Relay | Scenario::BadTurn => Topology::natted(NatKind::Symmetric),
        }
    }
}
