//! The tarball route (`fetch-webrtc --tarball`) interrupted everywhere, as
//! tests/fetch_repair.rs does for the gclient route: killed at every step boundary
//! (MOBILERTC_TEST_KILL_AT, the kill points of fetch/steps.rs), inside each tool the unpack
//! and the patches run (the xz pass, tar, Debian's patches, the commit, git apply), by
//! Ctrl-C/SIGTERM there, and at random moments (the whole process group, SIGKILL). Every
//! rerun converges to what a clean run makes: the same files, commit, `git status`, lock,
//! no staging left, and no hung tool still running.

#[path = "support/tarball_fixture.rs"]
mod fixture;

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fixture::*;

fn git_out(f: &Fixture, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(f.src())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Everything a finished checkout is, with the fixture's temp path replaced.
fn state(f: &Fixture) -> String {
    let leftovers: Vec<String> = ["src.partial", ".tarball-unpack"]
        .into_iter()
        .filter(|p| f.work().join(p).exists())
        .map(str::to_owned)
        .collect();
    format!(
        "{}\nHEAD {}\nstatus:\n{}\nleft: {leftovers:?}\n",
        f.tree(),
        git_out(f, &["rev-parse", "HEAD"]),
        git_out(f, &["status", "--porcelain"]),
    )
    .replace(&f.dir.display().to_string(), "<dir>")
}

fn clean_state() -> String {
    let c = Fixture::new();
    c.fetch_tarball(&[]);
    state(&c)
}

/// Forget the last run's checkout, lock and state (the fixture's tarballs stay).
fn reset(f: &Fixture) {
    let _ = fs::remove_dir_all(f.work());
    let _ = fs::remove_file(f.dir.join("webrtc.lock"));
}

/// `fetch-webrtc --tarball …` in its own process group, with `env`.
fn spawn(f: &Fixture, env: &[(&str, &str)]) -> Child {
    let args = f.tarball_args();
    f.command(&args.iter().map(String::as_str).collect::<Vec<_>>(), env)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn kill(target: &str, sig: &str) {
    let _ = Command::new("kill")
        .args(["-s", sig, "--", target])
        .stderr(Stdio::null())
        .status();
}

fn alive(pid: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .map_or("", |(_, r)| r)
            .trim_start()
            .starts_with('Z')
    })
}

/// Start a run that hangs in `tool` when its arguments match the shell pattern `glob`;
/// returns it and the hung tool's pid.
fn start_hanging(f: &Fixture, tool: &str, glob: &str) -> (Child, String) {
    let marker = f.dir.join("hanging");
    let _ = fs::remove_file(&marker);
    let m = marker.display().to_string();
    let mut child = spawn(
        f,
        &[
            ("FAKE_HANG_TOOL", tool),
            ("FAKE_HANG_GLOB", glob),
            ("FAKE_HANG_MARKER", &m),
        ],
    );
    let start = Instant::now();
    while !marker.exists() {
        if start.elapsed() > Duration::from_secs(120) || child.try_wait().unwrap().is_some() {
            kill(&format!("-{}", child.id()), "KILL");
            panic!("the run never reached `{tool} {glob}`");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = fs::read_to_string(&marker).unwrap().trim().to_owned();
    (child, pid)
}

/// After a kill: the rerun converges, and the hung tool is gone (it died with the run, or
/// the rerun killed what the killed run left).
fn rerun_converges(f: &Fixture, expected: &str, what: &str, hung: Option<&str>) {
    f.fetch_tarball(&[]);
    assert_eq!(state(f), expected, "[{what}] the rerun did not converge");
    if let Some(pid) = hung {
        let t = Instant::now();
        while alive(pid) && t.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let alive = alive(pid);
        kill(pid, "KILL");
        assert!(
            !alive,
            "[{what}] the hung tool ({pid}) outlived the run and the rerun"
        );
    }
}

#[test]
fn tarball_route_killed_at_every_step_boundary_converges() {
    let expected = clean_state();
    let f = Fixture::new();
    for step in ["tarball", "unpack", "patches", "lock"] {
        for when in ["unstamped", "stamped"] {
            if step == "lock" && when == "stamped" {
                continue; // the run is over by then
            }
            reset(&f);
            let point = format!("{step}:{when}");
            let args = f.tarball_args();
            let out = f.xtask(
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                &[("MOBILERTC_TEST_KILL_AT", &point)],
            );
            assert!(
                !out.status.success(),
                "[{point}] was not killed:\n{}",
                text(&out)
            );
            rerun_converges(&f, &expected, &point, None);
        }
    }
}

/// Inside every tool of the unpack and the patches step: SIGKILL of the run's group (the
/// tools lead groups of their own and must die with the run), then Ctrl-C and SIGTERM to
/// the xtask alone in the unpack's xz pass and in `git apply`.
#[test]
fn tarball_route_killed_inside_its_tools_converges() {
    let expected = clean_state();
    let f = Fixture::new();
    let points = [
        ("xz", "* -dc *"),        // reading the top dir
        ("tar", "* --extract *"), // the one pass over the subset
        ("xz", "* -T0 *"),        // the decompressor tar runs
        ("patch", "* -p1 *"),     // Debian's patches
        ("git", "* init *"),      // the re-rooted tree's commit
        ("git", "* add *"),
        ("git", "* commit *"),
        ("git", "* apply *"), // our patches
    ];
    for (tool, arg1) in points {
        reset(&f);
        let (mut child, pid) = start_hanging(&f, tool, arg1);
        kill(&format!("-{}", child.id()), "KILL");
        let _ = child.wait();
        rerun_converges(&f, &expected, &format!("KILL in {tool} {arg1}"), Some(&pid));
    }
    for (tool, arg1) in [("xz", "* -T0 *"), ("git", "* apply *")] {
        for sig in ["INT", "TERM"] {
            reset(&f);
            let what = format!("SIG{sig} in {tool} {arg1}");
            let (mut child, pid) = start_hanging(&f, tool, arg1);
            kill(&child.id().to_string(), sig);
            let t = Instant::now();
            let status = loop {
                if let Some(st) = child.try_wait().unwrap() {
                    break st;
                }
                if t.elapsed() > Duration::from_secs(60) {
                    kill(&format!("-{}", child.id()), "KILL");
                    panic!("[{what}] the run ignored it");
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            assert!(!status.success(), "[{what}] {status:?}");
            rerun_converges(&f, &expected, &what, Some(&pid));
        }
    }
}

/// The whole process group SIGKILLed after random delays spread over a clean run's
/// duration (MOBILERTC_TEST_KILLS, default 4; MOBILERTC_TEST_KILL_SEED to replay).
#[test]
fn tarball_route_killed_at_random_moments_converges() {
    let f = Fixture::new();
    let t = Instant::now();
    f.fetch_tarball(&[]);
    let clean = t.elapsed();
    let expected = state(&f);
    let kills: u64 = std::env::var("MOBILERTC_TEST_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let seed: u64 = std::env::var("MOBILERTC_TEST_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("clean run {clean:?}; {kills} kills, MOBILERTC_TEST_KILL_SEED={seed}");
    let mut x = seed | 1;
    let mut killed = 0;
    for i in 0..kills {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = clean.mul_f64((x % 1000) as f64 / 1000.0 * 1.1);
        reset(&f);
        let mut child = spawn(&f, &[]);
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        kill(&format!("-{}", child.id()), "KILL");
        let _ = child.wait();
        killed += usize::from(!finished);
        let lock = fs::read_to_string(f.dir.join("webrtc.lock")).unwrap_or_default();
        assert!(
            lock.is_empty() || toml::from_str::<toml::Value>(&lock).is_ok(),
            "seed {seed}, killed after {delay:?}: webrtc.lock is partial:\n{lock}"
        );
        eprintln!(
            "kill {i} after {delay:?}: {}",
            if finished { "had finished" } else { "killed" }
        );
        rerun_converges(
            &f,
            &expected,
            &format!("seed {seed}, killed after {delay:?}"),
            None,
        );
    }
    eprintln!("{killed} of {kills} runs were killed before they finished");
}
