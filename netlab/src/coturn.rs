//! coturn (`turnserver` from the distro) as the scenarios' STUN/TURN server: its command
//! line, and what its log says about allocations and relayed traffic.

use std::net::Ipv4Addr;
use std::path::Path;

use serde::Serialize;

pub const PORT: u16 = 3478;
pub const REALM: &str = "mobilertc.test";
pub const USER: &str = "netlab";
pub const PASSWORD: &str = "s3cret-turn";
/// The secret coturn shares with the signaling server in `use-auth-secret` mode.
pub const SECRET: &str = "netlab-turn-rest-secret";

/// How coturn checks credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Long-term credentials with one static user ([`USER`], [`PASSWORD`]): the network
    /// checks' `turnutils_uclient`.
    Static,
    /// The TURN REST API (`use-auth-secret` + `static-auth-secret` = [`SECRET`]): the
    /// signaling server hands out `<expiry>:<peer>` credentials, coturn refuses expired ones.
    Secret,
}

/// The `turnserver` argv: credentials as `auth` says, UDP/TCP only (no
/// TLS/DTLS: no certificates to make), no CLI (its port would be one more thing bound),
/// `-v` because the session and usage lines we read are logged only in verbose mode.
/// Everything it writes (log, pid file, the SQLite user db it opens anyway) stays in `dir`.
pub fn argv(ip: Ipv4Addr, dir: &Path, auth: Auth) -> Vec<String> {
    argv_on(ip, PORT, dir, auth)
}

/// [`argv`] on another port (the loopback tests pick a free one).
pub fn argv_on(ip: Ipv4Addr, port: u16, dir: &Path, auth: Auth) -> Vec<String> {
    let d = |name: &str| dir.join(name).display().to_string();
    let credentials = match auth {
        Auth::Static => vec!["--lt-cred-mech".into(), format!("--user={USER}:{PASSWORD}")],
        Auth::Secret => vec![
            "--use-auth-secret".into(),
            format!("--static-auth-secret={SECRET}"),
        ],
    };
    let mut argv: Vec<String> = vec![
        "turnserver".into(),
        "-n".into(), // no config file
        "-v".into(),
        format!("--listening-ip={ip}"),
        format!("--listening-port={port}"),
        format!("--relay-ip={ip}"),
        format!("--realm={REALM}"),
        "--no-tls".into(),
        "--no-dtls".into(),
        "--no-cli".into(),
        "--no-stdout-log".into(),
        "--simple-log".into(),
        format!("--log-file={}", d("turnserver.log")),
        format!("--pidfile={}", d("turnserver.pid")),
        format!("--db={}", d("turndb")),
    ];
    argv.extend(credentials);
    argv
}

/// What the log tells about one run.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Successful ALLOCATE requests.
    pub allocations: u32,
    /// Requests refused for bad credentials (wrong password or unknown user).
    pub auth_failures: u32,
    /// Sessions closed (their usage lines were written).
    pub closed_sessions: u32,
    /// Bytes between the relay and the peers (both directions, closed sessions only):
    /// the traffic the TURN server actually relayed.
    pub peer_bytes: u64,
    /// Bytes between the clients and the server (both directions, closed sessions).
    pub client_bytes: u64,
}

/// Read coturn 4.6's log lines, e.g.
/// `session 000000000000000001: realm <r> user <u>: incoming packet ALLOCATE processed, success`
/// `session 001000000000000002: peer usage: realm=<r>, username=<u>, rp=5, rb=500, sp=5, sb=500`
/// `ERROR: check_stun_auth: user netlab credentials are incorrect`
/// `ERROR: check_stun_auth: Cannot find credentials of user <1000000000:p1>` (expired)
pub fn parse_log(text: &str) -> Usage {
    let mut u = Usage::default();
    for line in text.lines() {
        if line.contains("incoming packet ALLOCATE processed, success") {
            u.allocations += 1;
        } else if line.contains("check_stun_auth") && line.contains("credentials are incorrect")
            || line.contains("check_stun_auth: Cannot find credentials of user")
        {
            u.auth_failures += 1;
        } else if let Some(rest) = line.split_once(": peer usage: ").map(|(_, r)| r) {
            u.peer_bytes += field(rest, "rb") + field(rest, "sb");
        } else if let Some(rest) = line.split_once(": usage: ").map(|(_, r)| r) {
            u.client_bytes += field(rest, "rb") + field(rest, "sb");
            u.closed_sessions += 1;
        }
    }
    u
}

fn field(text: &str, key: &str) -> u64 {
    text.split(", ")
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as coturn 4.6.1 wrote them in a `turnutils_uclient` run and a wrong-password run.
    const LOG: &str = "\
0: : session 000000000000000001: realm <mobilertc.test> user <>: incoming packet message processed, error 401: Unauthorized
0: : session 000000000000000001: new, realm=<mobilertc.test>, username=<alice>, lifetime=777
0: : session 000000000000000001: realm <mobilertc.test> user <alice>: incoming packet ALLOCATE processed, success
1: : session 001000000000000002: realm <mobilertc.test> user <alice>: incoming packet ALLOCATE processed, success
7: : session 001000000000000002: usage: realm=<mobilertc.test>, username=<alice>, rp=13, rb=1400, sp=13, sb=1232
7: : session 001000000000000002: peer usage: realm=<mobilertc.test>, username=<alice>, rp=5, rb=500, sp=5, sb=500
7: : session 001000000000000002: closed (2nd stage), user <alice> realm <mobilertc.test> origin <>, local 10.9.0.1:3478, remote 10.9.0.1:55997, reason: allocation timeout
8: : ERROR: check_stun_auth: user alice credentials are incorrect
";

    #[test]
    fn counts_allocations_auth_failures_and_relayed_bytes() {
        assert_eq!(
            parse_log(LOG),
            Usage {
                allocations: 2,
                auth_failures: 1,
                closed_sessions: 1,
                peer_bytes: 1000,
                client_bytes: 2632,
            }
        );
        assert_eq!(
            parse_log("0: : turn server id=0 created\n"),
            Usage::default()
        );
    }

    #[test]
    fn argv_keeps_every_file_in_the_run_dir() {
        let a = argv(
            Ipv4Addr::new(203, 0, 113, 2),
            Path::new("/tmp/run"),
            Auth::Static,
        );
        assert!(a.contains(&"--listening-ip=203.0.113.2".to_string()));
        assert!(a.contains(&"--relay-ip=203.0.113.2".to_string()));
        assert!(a.contains(&"--lt-cred-mech".to_string()));
        assert!(a.contains(&format!("--user={USER}:{PASSWORD}")));
        for f in ["--log-file=", "--pidfile=", "--db="] {
            let v = a.iter().find(|x| x.starts_with(f)).unwrap();
            assert!(v.starts_with(&format!("{f}/tmp/run/")), "{v}");
        }
        let a = argv(
            Ipv4Addr::new(203, 0, 113, 2),
            Path::new("/tmp/run"),
            Auth::Secret,
        );
        assert!(a.contains(&"--use-auth-secret".to_string()));
        assert!(a.contains(&format!("--static-auth-secret={SECRET}")));
        assert!(!a
            .iter()
            .any(|x| x.starts_with("--user=") || x == "--lt-cred-mech"));
    }
}
