//! Child processes of `fetch-webrtc` and `build`: they die with the xtask, the checkout lock
//! covers build too, and a run without a terminal still says what it is doing. Same fixture
//! as tests/fetch.rs.

#[path = "support/fetch_fixture.rs"]
mod fixture;

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use fixture::*;

fn signal(sig: &str, target: &str) {
    let ok = Command::new("kill")
        .args(["-s", sig, "--", target])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -s {sig} {target}");
}

fn wait_dead(pid: i32) -> bool {
    let start = Instant::now();
    while alive(pid) {
        if start.elapsed() > Duration::from_secs(30) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// `kill -9` of the xtask alone: gclient dies with it (PR_SET_PDEATHSIG); the git gclient
/// started lives on in its process group until the next run, which kills it before doing
/// anything else (and says so), then converges.
#[test]
fn killing_the_xtask_alone_leaves_nothing_running_into_the_next_run() {
    let f = Fixture::new();
    let mut run = f.start_fetch_hanging_in_sync();
    let git = f.hung_git_pid();
    signal("KILL", &run.0.id().to_string());
    let _ = run.0.wait();
    let out = f.fetch(&[]);
    let log = text(&out);
    assert!(
        !alive(git),
        "the git of the killed run is still running (pid {git}):\n{log}"
    );
    assert!(
        log.contains("note: killed ") && log.contains("an interrupted run left running"),
        "{log}"
    );
    assert!(f.src().join("third_party/common/README").exists(), "{log}");
}

/// Ctrl-C: the terminal signals the xtask's process group; the children have their own
/// group, so the xtask kills theirs before it exits.
#[test]
fn ctrl_c_stops_the_children_too() {
    let f = Fixture::new();
    let mut run = f.start_fetch_hanging_in_sync();
    let git = f.hung_git_pid();
    signal("INT", &format!("-{}", run.0.id()));
    let status = run.0.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(
        wait_dead(git),
        "the git of the interrupted run is still running"
    );
}

/// build and fetch-webrtc share the checkout lock.
#[test]
fn build_takes_the_checkout_lock() {
    let f = Fixture::new();
    let mut run = f.start_fetch_hanging_in_sync();
    let out = f.xtask(&["build", "--target", "linux"], &[]);
    run.kill();
    assert!(!out.status.success());
    let err = text(&out);
    assert!(
        err.contains("another `cargo xtask` run (pid") && err.contains("running `fetch-webrtc`"),
        "{err}"
    );
}

/// Without a terminal (CI), a step that runs long prints a line every
/// MOBILERTC_HEARTBEAT_SECS (default 60): the step, the time, the log's last line.
#[test]
fn a_long_step_without_a_terminal_says_it_is_still_running() {
    let f = Fixture::new();
    let stderr = f.dir.join("stderr.txt");
    let mut run = f.start_hanging(
        &[
            ("FAKE_GIT_HANG_ON", "upstream/common"),
            ("MOBILERTC_HEARTBEAT_SECS", "1"),
        ],
        &[],
        Some(&stderr),
    );
    let start = Instant::now();
    let line = loop {
        let text = fs::read_to_string(&stderr).unwrap_or_default();
        if let Some(l) = text
            .lines()
            .find(|l| l.contains("gclient sync") && l.contains("still running"))
        {
            break l.to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no progress line:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    run.kill();
    assert!(line.starts_with("[3/7] gclient sync"), "{line}");
    // What is being done: the last line of the sync's log (gclient names the git command).
    assert!(
        line.contains("still running, ") && line.contains(": "),
        "{line}"
    );
}
