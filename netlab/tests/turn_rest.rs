//! The signaling server's short-lived TURN credentials against a real coturn in
//! `use-auth-secret` mode, on loopback (no namespaces, no root): a fresh credential from a
//! join allocates a relay, the same credential after its expiry is refused. Needs
//! `turnserver` and `turnutils_uclient` (Debian coturn); without them it prints why and
//! passes, unless MOBILERTC_REQUIRE_NETNS is set (`cargo xtask test --ci`: the same package).

use std::net::{Ipv4Addr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mobilertc_netlab::coturn;
use mobilertc_signaling::{spawn_background, Config, IceConfig};

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// A coturn child killed (and waited for) on drop.
struct Coturn(std::process::Child);

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(path: &std::path::Path, text: &str, limit: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if std::fs::read_to_string(path).is_ok_and(|l| l.contains(text)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// POST /rooms/{room}/join over a plain TCP socket; the answer's JSON.
fn join(addr: std::net::SocketAddr, room: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /rooms/{room}/join HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let body = out.split_once("\r\n\r\n").expect("an HTTP answer").1;
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// One allocation attempt with `user`/`password`; its outcome is read from coturn's log.
fn uclient(port: u16, user: &str, password: &str) {
    let out = Command::new("turnutils_uclient")
        .args(["-u", user, "-w", password, "-p", &port.to_string()])
        // One client pair (-y: client to client), one message: an allocation each, fast.
        .args(["-n", "1", "-m", "1", "-y"])
        .arg("127.0.0.1")
        .stdin(Stdio::null())
        .output()
        .expect("running turnutils_uclient");
    // Its exit status also reflects the channel binding to the loopback peer, which coturn
    // forbids by default (403): not what this test checks.
    let _ = out;
}

#[test]
fn join_credentials_allocate_on_coturn_until_they_expire() {
    let missing: Vec<_> = ["turnserver", "turnutils_uclient"]
        .into_iter()
        .filter(|t| !on_path(t))
        .collect();
    if !missing.is_empty() {
        let why = format!("missing {missing:?} (Debian package coturn)");
        if std::env::var_os("MOBILERTC_REQUIRE_NETNS").is_some() {
            panic!("MOBILERTC_REQUIRE_NETNS is set but this test cannot run: {why}");
        }
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED join_credentials_allocate_on_coturn_until_they_expire: {why}"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let argv = coturn::argv_on(Ipv4Addr::LOCALHOST, port, dir.path(), coturn::Auth::Secret);
    let _turn = Coturn(
        Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting turnserver"),
    );
    let log = dir.path().join("turnserver.log");
    assert!(
        wait_for(&log, "UDP listener opened", Duration::from_secs(10)),
        "coturn did not start"
    );

    let ttl = Duration::from_secs(2);
    let server = spawn_background(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            ice: IceConfig {
                stun_urls: vec![format!("stun:127.0.0.1:{port}")],
                turn_urls: vec![format!("turn:127.0.0.1:{port}?transport=udp")],
                turn_secret: Some(coturn::SECRET.into()),
                turn_ttl: ttl,
            },
            log: false,
            ..Config::default()
        },
    )
    .unwrap();
    let joined = join(server.addr(), "turn");
    assert_eq!(joined["ice_servers_ttl_s"], 2);
    let servers = joined["ice_servers"].as_array().unwrap();
    assert_eq!(servers[0]["urls"][0], format!("stun:127.0.0.1:{port}"));
    let turn = &servers[1];
    let user = turn["username"].as_str().unwrap().to_string();
    let password = turn["credential"].as_str().unwrap().to_string();
    let (expiry, peer) = user.split_once(':').unwrap();
    assert_eq!(peer, joined["peer_id"].as_str().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        expiry > now && expiry <= now + 2,
        "expiry {expiry}, now {now}"
    );

    // Fresh: coturn checks the HMAC with its copy of the secret and allocates.
    uclient(port, &user, &password);
    let success = format!("user <{user}>: incoming packet ALLOCATE processed, success");
    assert!(
        wait_for(&log, &success, Duration::from_secs(10)),
        "coturn did not allocate with a fresh credential:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let allocations = |text: &str| text.matches(&success).count();
    let before = allocations(&std::fs::read_to_string(&log).unwrap());

    // Expired: the same username and credential, a little after the expiry.
    while std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        <= expiry + 1
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    uclient(port, &user, &password);
    let refused = format!("Cannot find credentials of user <{user}>");
    assert!(
        wait_for(&log, &refused, Duration::from_secs(10)),
        "coturn did not refuse the expired credential:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        allocations(&text),
        before,
        "an expired credential allocated"
    );
    assert!(coturn::parse_log(&text).auth_failures > 0);

    // A credential for another user name (the peer part changed) is refused too.
    let forged = format!("{}:p999", expiry + 3600);
    uclient(port, &forged, &password);
    assert!(wait_for(
        &log,
        &format!("user <{forged}>: incoming packet message processed, error 401"),
        Duration::from_secs(10)
    ));
    assert!(!std::fs::read_to_string(&log).unwrap().contains(&format!(
        "user <{forged}>: incoming packet ALLOCATE processed, success"
    )));
}
