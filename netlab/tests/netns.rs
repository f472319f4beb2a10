//! The scenarios on real network namespaces, nftables and coturn. They need root and the
//! tools; without them they print why and pass, unless MOBILERTC_REQUIRE_NETNS is set
//! (`cargo xtask test --ci` sets it), which turns the skip into a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mobilertc_netlab::lab;
use mobilertc_netlab::netcheck;
use mobilertc_netlab::run::{self, Apps};
use mobilertc_netlab::scenario::Scenario;

const TOOLS: [&str; 5] = ["ip", "nft", "sysctl", "turnserver", "turnutils_uclient"];

/// Straight to the process's stderr: the test harness captures `eprintln!` of passing
/// tests, and a skip must be seen.
fn skip_notice(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// `Some(why)` when these tests cannot run here.
fn unavailable() -> Option<String> {
    if !lab::is_root() {
        return Some("not root (network namespaces need CAP_NET_ADMIN)".into());
    }
    let missing: Vec<_> = TOOLS.iter().filter(|t| !on_path(t)).collect();
    if !missing.is_empty() {
        return Some(format!(
            "missing {missing:?} (Debian packages iproute2, nftables, procps, coturn)"
        ));
    }
    None
}

/// One test at a time: the calls measure tones and time-outs on a 2-core machine, and
/// must not share it with another test's network.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Skip (print and return false) or, when MOBILERTC_REQUIRE_NETNS is set, fail.
fn can_run(test: &str, why: Option<String>) -> bool {
    let Some(why) = why else { return true };
    if std::env::var_os("MOBILERTC_REQUIRE_NETNS").is_some() {
        panic!("{test}: MOBILERTC_REQUIRE_NETNS is set but this test cannot run: {why}");
    }
    skip_notice(&format!(
        "SKIPPED {test}: {why} (set MOBILERTC_REQUIRE_NETNS=1 to make this a failure)"
    ));
    false
}

fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("netlab-{name}-"))
        .tempdir()
        .expect("temp dir")
}

/// The network side alone: LAN reachability, stable NAT (one mapping, hole punching),
/// symmetric NAT (a port per destination, only TURN through coturn). ~12 s.
#[test]
fn networks_behave_as_each_scenario_needs() {
    if !can_run("networks_behave_as_each_scenario_needs", unavailable()) {
        return;
    }
    let _one = serial();
    let tmp = scratch("net");
    for s in [Scenario::Local, Scenario::Srflx, Scenario::Relay] {
        let r = netcheck::check(s, &tmp.path().join(s.name()))
            .unwrap_or_else(|e| panic!("{}: {e:#}", s.name()));
        eprintln!("{}: {}", s.name(), serde_json::to_string(&r).unwrap());
    }
}

fn apps() -> Result<Apps, String> {
    let get = |var: &str| -> Result<PathBuf, String> {
        let p = std::env::var_os(var).map(PathBuf::from).ok_or_else(|| {
            format!("{var} is not set (`cargo build --release -p mobilertc-call -p mobilertc-signaling --bins`, then point it at the binary)")
        })?;
        // cargo runs tests in the package directory: a relative path means the workspace's.
        let p = match p.is_relative() {
            true => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p),
            false => p,
        };
        std::fs::canonicalize(&p).map_err(|e| format!("{var}={}: {e}", p.display()))
    };
    Ok(Apps {
        call: get("MOBILERTC_CALL_BIN")?,
        server: get("MOBILERTC_SIGNALING_BIN")?,
    })
}

/// Every scenario with the real apps: host/host, srflx, relay (coturn's counters agree),
/// a wrong TURN password, an unreachable STUN server. ~1.5 min, sequential (2 cores).
#[test]
fn calls_show_each_connection_kind() {
    let apps = match unavailable().map_or_else(apps, Err) {
        Ok(a) => a,
        Err(why) => {
            can_run("calls_show_each_connection_kind", Some(why));
            return;
        }
    };
    let _one = serial();
    let tmp = scratch("calls");
    let mut failures = Vec::new();
    for s in Scenario::ALL {
        let r = run::run(s, &apps, &tmp.path().join(s.name()), false)
            .unwrap_or_else(|e| panic!("{}: {e:#}", s.name()));
        eprintln!("{}", r.line());
        if !r.passed {
            failures.push(format!("{}: {}", s.name(), r.problems.join("; ")));
        }
    }
    if !failures.is_empty() {
        let kept = tmp.keep();
        panic!("{}\nfiles kept in {}", failures.join("\n"), kept.display());
    }
}

fn our_namespaces_of(pid: u32) -> Vec<String> {
    lab::our_namespaces()
        .expect("ip netns list")
        .into_iter()
        .filter(|(_, p)| *p == pid)
        .map(|(n, _)| n)
        .collect()
}

/// Start `netlab check-net relay` and wait until its network is up (all 9 namespaces).
fn start_netlab(dir: &Path) -> std::process::Child {
    let child = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["check-net", "relay", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start netlab");
    let end = Instant::now() + Duration::from_secs(20);
    // The turnserver log appears once the network is complete and coturn is starting.
    while !dir.join("net-relay/turnserver.log").exists() {
        assert!(Instant::now() < end, "netlab never got its network up");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// SIGINT and SIGTERM in the middle of a run: the namespaces (and coturn in them) go.
#[test]
fn an_interrupted_run_removes_its_namespaces() {
    if !can_run("an_interrupted_run_removes_its_namespaces", unavailable()) {
        return;
    }
    let _one = serial();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let tmp = scratch("int");
        let mut child = start_netlab(tmp.path());
        let pid = child.id();
        assert_eq!(our_namespaces_of(pid).len(), 9);
        // SAFETY: our own child.
        unsafe { libc::kill(pid as i32, sig) };
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(130), "signal {sig}");
        assert_eq!(our_namespaces_of(pid), Vec::<String>::new(), "signal {sig}");
    }
}

/// A run killed outright (no handler runs) leaves its namespaces; `netlab cleanup`
/// removes them, coturn inside included, and leaves the namespaces of live runs alone.
#[test]
fn cleanup_removes_what_a_killed_run_left() {
    if !can_run("cleanup_removes_what_a_killed_run_left", unavailable()) {
        return;
    }
    let _one = serial();
    let tmp = scratch("kill");
    let mut child = start_netlab(tmp.path());
    let pid = child.id();
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    assert_eq!(our_namespaces_of(pid).len(), 9, "SIGKILL leaves them");
    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .arg("cleanup")
        .output()
        .expect("netlab cleanup");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("removed mrtc{pid}-")), "{text}");
    assert_eq!(our_namespaces_of(pid), Vec::<String>::new());
}
