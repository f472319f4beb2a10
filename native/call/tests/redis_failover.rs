//! Two `call` processes on two signaling instances that share a private `redis-server`; the
//! callee's instance is killed (SIGKILL) mid-call and the callee carries on through the
//! other: the caller's `bye`, queued in Redis, reaches it there. Skipped without
//! redis-server unless MOBILERTC_REQUIRE_REDIS is set (`cargo xtask test --ci`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mobilertc_signaling::testing::{redis_or_skip, RedisServer, ServerProcess, REQUIRE_REDIS_ENV};

mod app;
use app::{summary, App};

/// The signaling binary: `MOBILERTC_SIGNALING_BIN` (set by `cargo xtask test`), else next
/// to `call` when a workspace build put it there.
fn signaling_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MOBILERTC_SIGNALING_BIN") {
        return Some(PathBuf::from(p));
    }
    let sibling = Path::new(env!("CARGO_BIN_EXE_call")).with_file_name("mobilertc-signaling");
    if sibling.is_file() {
        return Some(sibling);
    }
    let why = "no mobilertc-signaling binary (set MOBILERTC_SIGNALING_BIN or \
               `cargo build -p mobilertc-signaling`)";
    if std::env::var_os(REQUIRE_REDIS_ENV).is_some() {
        panic!("{REQUIRE_REDIS_ENV} is set but {why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

impl App {
    fn start(servers: &[&str], args: &[&str]) -> App {
        let mut all: Vec<&str> = servers.iter().flat_map(|s| ["--server", s]).collect();
        all.extend(["--room", "failover", "--no-stdin"]);
        all.extend(args);
        App::spawn(&all)
    }
}

impl App {
    /// Its stderr, collected by a thread; the receiver gets `()` on its first
    /// `connected` line.
    fn watch_stderr(&mut self) -> (std::sync::mpsc::Receiver<()>, Arc<Mutex<String>>) {
        use std::io::BufRead;
        let stderr = self.0.as_mut().unwrap().stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let text = Arc::new(Mutex::new(String::new()));
        let t = text.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.starts_with("connected") {
                    let _ = tx.send(());
                }
                let mut t = t.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        });
        (rx, text)
    }
}

#[test]
fn the_callee_carries_on_through_the_other_instance_when_its_own_is_killed() {
    let Some(redis_bin) = redis_or_skip("redis_failover") else {
        return;
    };
    let Some(bin) = signaling_bin() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(&redis_bin, dir.path());
    let url = redis.url();
    let mut s1 = ServerProcess::start(&bin, &["--redis", &url]);
    let s2 = ServerProcess::start(&bin, &["--redis", &url]);
    let (a_json, b_json) = (dir.path().join("a.json"), dir.path().join("b.json"));
    // The callee uses s1 (then s2), the caller s2 (then s1).
    let mut callee = App::start(
        &[&s1.url, &s2.url],
        &[
            "--tone-hz",
            "660",
            "--expect-tone",
            "440",
            "--json",
            a_json.to_str().unwrap(),
            "--chat",
            "from the callee",
        ],
    );
    let (connected, callee_log) = callee.watch_stderr();
    std::thread::sleep(Duration::from_millis(500));
    let caller = App::start(
        &[&s2.url, &s1.url],
        &[
            "--tone-hz",
            "440",
            "--expect-tone",
            "660",
            "--duration",
            "8",
            "--json",
            b_json.to_str().unwrap(),
            "--chat",
            "from the caller",
        ],
    );
    // Mid-call (connected, media flowing): the callee's long poll waits in s1, which dies
    // without a word.
    if connected.recv_timeout(Duration::from_secs(40)).is_err() {
        panic!(
            "the callee did not connect; its stderr:\n{}",
            callee_log.lock().unwrap()
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    s1.kill();
    let caller_out = caller.wait(Duration::from_secs(60));
    let callee_out = callee.wait(Duration::from_secs(30));
    let (sa, sb) = (summary(&a_json, &callee_out), summary(&b_json, &caller_out));
    assert!(
        callee_out.status.success(),
        "{sa:#}\n{}",
        callee_log.lock().unwrap()
    );
    assert!(caller_out.status.success(), "{sb:#}");
    assert_eq!(
        (&sa["role"], &sb["role"]),
        (&"callee".into(), &"caller".into())
    );
    assert_eq!(sb["hangup"], "duration", "{sb:#}");
    // The caller's bye went into Redis through s2; the callee, its s1 gone, polled s2 and
    // got it: nothing was lost with the instance.
    assert_eq!(sa["hangup"], "remote_bye", "{sa:#}");
    for s in [&sa, &sb] {
        assert_eq!(s["result"], "ok", "{s:#}");
        assert_eq!(s["audio"]["received"]["tone_detected"], true, "{s:#}");
    }
    assert_eq!(
        sa["chat"]["received"],
        serde_json::json!(["from the caller"])
    );
    assert_eq!(
        sb["chat"]["received"],
        serde_json::json!(["from the callee"])
    );
    drop(s2);
}
