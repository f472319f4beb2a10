//! `fetch-webrtc` repairs what an interruption or a user left behind: killed at every step
//! boundary and inside gclient's clone and checkout of src and of a dep, every rerun
//! converges to the reference webrtc.lock and clean trees; the no-op rerun checks the disk
//! instead of trusting its stamps. Same fixture as tests/fetch.rs (stand-in gclient, or
//! real depot_tools with MOBILERTC_TEST_DEPOT_TOOLS).

#[path = "support/fetch_fixture.rs"]
mod fixture;

use std::fs;
use std::path::PathBuf;

use fixture::*;

/// One work dir (with its own git cache and lock file) per scenario, all syncing from the
/// fixture's upstream.
struct Site {
    name: String,
    env: Vec<(String, String)>,
}

impl Site {
    fn new(f: &Fixture, name: &str) -> Site {
        let d = f.dir.join("sites").join(name);
        Site {
            name: name.to_owned(),
            env: vec![
                (
                    "MOBILERTC_WORK_DIR".into(),
                    d.join("work").display().to_string(),
                ),
                (
                    "MOBILERTC_CACHE_DIR".into(),
                    d.join("cache").display().to_string(),
                ),
                (
                    "MOBILERTC_LOCK_FILE".into(),
                    d.join("webrtc.lock").display().to_string(),
                ),
            ],
        }
    }
    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut e = self.env.clone();
        e.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        e
    }
    fn path(&self, i: usize) -> PathBuf {
        PathBuf::from(&self.env[i].1)
    }
    fn work(&self) -> PathBuf {
        self.path(0)
    }
    fn cache(&self) -> PathBuf {
        self.path(1)
    }
    fn lock(&self) -> String {
        fs::read_to_string(self.path(2)).unwrap_or_default()
    }
    fn run(&self, f: &Fixture, extra: &[(&str, &str)]) -> std::process::Output {
        let env = self.env(extra);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        f.xtask(&["fetch-webrtc"], &env)
    }
    fn fetch(&self, f: &Fixture, extra: &[(&str, &str)]) -> String {
        let out = self.run(f, extra);
        assert!(
            out.status.success(),
            "[{}] fetch-webrtc failed:\n{}",
            self.name,
            text(&out)
        );
        text(&out)
    }
}

/// The lock of a clean, uninterrupted fetch.
fn reference(f: &Fixture) -> String {
    let s = Site::new(f, "reference");
    s.fetch(f, &[]);
    s.lock()
}

/// `(path, revision)` of every entry of a webrtc.lock.
fn pins(lock: &str) -> Vec<(String, String)> {
    let v: toml::Value = toml::from_str(lock).unwrap();
    v["deps"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(k, pin)| {
            let rev = pin.as_str().unwrap().rsplit_once('@').unwrap().1.to_owned();
            (k.clone(), rev)
        })
        .collect()
}

/// A rerun succeeded: same lock as the reference, every repo at its pin and clean (src
/// carries exactly our patch), the hook ran, and one more rerun spawns nothing.
fn assert_converged(f: &Fixture, s: &Site, reference: &str, rerun_log: &str) {
    let n = &s.name;
    assert_eq!(
        s.lock(),
        reference,
        "[{n}] lock differs; rerun said:\n{rerun_log}"
    );
    let work = s.work();
    for (path, rev) in pins(reference) {
        let repo = work.join(&path);
        assert_eq!(git(&repo, &["rev-parse", "HEAD"]), rev, "[{n}] {path}");
        let status = git(&repo, &["status", "--porcelain", "--untracked-files=no"]);
        let want = if path == "src" {
            "M api/version.txt"
        } else {
            ""
        };
        assert_eq!(status, want, "[{n}] {path} is not clean:\n{rerun_log}");
    }
    assert!(work.join("src/hook_output.txt").exists(), "[{n}] hooks");
    assert!(
        fs::read_to_string(work.join("src/api/version.txt"))
            .unwrap()
            .contains("patched: yes"),
        "[{n}] patch"
    );
    let before = f.read("trace.txt");
    let again = s.fetch(f, &[]);
    assert_eq!(
        f.read("trace.txt"),
        before,
        "[{n}] the second rerun spawned something:\n{again}"
    );
}

/// Kill the run at a step boundary: after the step's work, before (`unstamped`) or after
/// (`stamped`) its stamp is written. The xtask kills itself there (MOBILERTC_TEST_KILL_AT).
#[test]
fn killed_at_every_step_boundary_a_rerun_converges() {
    let f = Fixture::new();
    let reference = reference(&f);
    for step in [
        "depot_tools",
        "gclient",
        "sync",
        "install_deps",
        "runhooks",
        "patches",
        "lock",
    ] {
        for when in ["unstamped", "stamped"] {
            // `stamped` is the boundary to the next step; `unstamped` (the work done, the
            // stamp not written) where redoing the work is not trivially safe. Kept to
            // these to keep the test fast.
            let redo_matters = matches!(step, "sync" | "patches" | "lock");
            if (when == "stamped" && step == "lock") || (when == "unstamped" && !redo_matters) {
                continue;
            }
            let point = format!("{step}:{when}");
            let s = Site::new(&f, &point.replace(':', "-"));
            let out = s.run(&f, &[("MOBILERTC_TEST_KILL_AT", &point)]);
            assert!(
                !out.status.success(),
                "[{point}] was not killed:\n{}",
                text(&out)
            );
            let log = s.fetch(&f, &[]);
            assert_converged(&f, &s, &reference, &log);
        }
    }
}

/// The kill points inside gclient: the hung git (and the whole run, as Ctrl-C would) is
/// killed while the repo's cache mirror is cloned, while the repo itself is cloned, and
/// between the clone and the checkout (the checkout command never runs).
fn kill_inside_gclient(f: &Fixture, repo: &str, rev: &str, reference: &str) {
    let points = [
        ("mirror", format!("*upstream-{repo}: fetch*")),
        ("clone", format!("*clone*--no-checkout*{repo}*")),
        ("checkout", format!("*checkout*{rev}*")),
    ];
    for (what, glob) in points {
        let s = Site::new(f, &format!("{repo}-{what}"));
        let env = s.env(&[("FAKE_GIT_HANG_GLOB", &glob)]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        f.start_hanging(&env, &[], None).kill();
        let log = s.fetch(f, &[]);
        assert_converged(f, &s, reference, &log);
    }
}

#[test]
fn killed_inside_the_clone_and_checkout_of_src_a_rerun_converges() {
    let f = Fixture::new();
    let reference = reference(&f);
    kill_inside_gclient(&f, "src", &f.src_rev, &reference);
}

#[test]
fn killed_inside_the_clone_and_checkout_of_a_dep_a_rerun_converges() {
    let f = Fixture::new();
    let reference = reference(&f);
    let common = pins(&reference)
        .into_iter()
        .find(|(p, _)| p.ends_with("/common"))
        .unwrap()
        .1;
    kill_inside_gclient(&f, "common", &common, &reference);
}

/// The disk is checked, not the stamps: each damage is noticed by the next run (which
/// says so) and repaired, and `--force` redoes every step.
#[test]
fn damage_on_disk_is_noticed_and_repaired() {
    let f = Fixture::new();
    let reference = reference(&f);
    let s = Site::new(&f, "damage");
    s.fetch(&f, &[]);
    let work = s.work();
    let src = work.join("src");
    type Damage = Box<dyn Fn()>;
    let cases: Vec<(&str, Damage)> = vec![
        ("rm -rf src", {
            let src = src.clone();
            Box::new(move || fs::remove_dir_all(&src).unwrap())
        }),
        ("src/.git/HEAD deleted", {
            let src = src.clone();
            Box::new(move || fs::remove_file(src.join(".git/HEAD")).unwrap())
        }),
        ("a dep deleted", {
            let src = src.clone();
            Box::new(move || fs::remove_dir_all(src.join("third_party/common")).unwrap())
        }),
        (".gclient deleted", {
            let work = work.clone();
            Box::new(move || fs::remove_file(work.join(".gclient")).unwrap())
        }),
        ("the patch undone by hand", {
            let src = src.clone();
            Box::new(move || {
                git(&src, &["checkout", "--", "api/version.txt"]);
            })
        }),
        ("the git cache deleted", {
            let cache = s.cache();
            Box::new(move || fs::remove_dir_all(&cache).unwrap())
        }),
    ];
    for (what, damage) in cases {
        damage();
        let out = s.run(&f, &[]);
        let log = text(&out);
        assert!(out.status.success(), "[{what}] {log}");
        assert!(
            log.contains("note: "),
            "[{what}] the rerun did not say what it found:\n{log}"
        );
        assert_converged(&f, &s, &reference, &log);
    }
    // --force: every step runs again.
    let before = f.read("trace.txt");
    let out = s.run(&f, &[]);
    assert!(out.status.success());
    assert_eq!(f.read("trace.txt"), before);
    let env = s.env(&[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = f.ok(&["fetch-webrtc", "--force"], &env);
    assert!(!text(&out).contains("up to date"), "{}", text(&out));
    assert!(f.read("trace.txt")[before.len()..].contains("gclient sync"));
    assert_converged(&f, &s, &reference, &text(&out));
}

/// A `fetch-webrtc` of site `s` in its own process group (stderr to `log`), as a CI job or a
/// terminal runs it; killed on drop if still running.
fn spawn(f: &Fixture, s: &Site, extra: &[(&str, &str)], log: &std::path::Path) -> Group {
    use std::os::unix::process::CommandExt;
    let env = s.env(extra);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let child = f
        .command(&["fetch-webrtc"], &env)
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    Group(child, Some(f.dir.join("hanging")))
}

/// The lock file is whole whenever a run dies: absent, or a lock that parses.
fn assert_lock_whole(s: &Site, when: &str) {
    let text = s.lock();
    if !text.is_empty() {
        assert!(
            toml::from_str::<toml::Value>(&text).is_ok_and(|v| v.get("deps").is_some()),
            "[{}] killed {when}, webrtc.lock is partial:\n{text}",
            s.name
        );
    }
}

/// Not only at chosen points: the whole process group is SIGKILLed after a random delay
/// spread over a clean run's duration (mostly inside the sync, the longest step). Each
/// rerun converges. MOBILERTC_TEST_KILLS sets the number of kills (default 3),
/// MOBILERTC_TEST_KILL_SEED the seed (printed, to replay a failure).
#[test]
fn killed_at_random_moments_a_rerun_converges() {
    let f = Fixture::new();
    let t = std::time::Instant::now();
    let reference = reference(&f);
    let clean = t.elapsed();
    let kills: u64 = std::env::var("MOBILERTC_TEST_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
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
        // xorshift64: deterministic for a seed.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = clean.mul_f64((x % 1000) as f64 / 1000.0 * 1.1);
        let s = Site::new(&f, &format!("random-{i}"));
        let log = f.dir.join(format!("random-{i}.log"));
        let mut g = spawn(&f, &s, &[], &log);
        std::thread::sleep(delay);
        let finished = g.0.try_wait().unwrap().is_some();
        g.kill();
        let said = fs::read_to_string(&log).unwrap_or_default();
        let last = said.lines().last().unwrap_or("").to_owned();
        eprintln!(
            "kill {i} after {delay:?}: {}; last line: {last}",
            if finished { "had finished" } else { "killed" }
        );
        killed += usize::from(!finished);
        assert_lock_whole(&s, &format!("after {delay:?} (seed {seed})"));
        let out = s.run(&f, &[]);
        assert!(
            out.status.success(),
            "[{}] seed {seed}, killed after {delay:?} ({last}); the rerun failed:\n{}",
            s.name,
            text(&out)
        );
        assert_converged(&f, &s, &reference, &text(&out));
    }
    eprintln!("{killed} of {kills} runs were killed before they finished");
}

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP while gclient syncs a dep, and Ctrl-C while
/// `git apply` applies our patch: the run stops (exit 130) at once, takes the hung git with it, and a
/// rerun converges.
#[test]
fn interrupted_by_a_signal_in_the_sync_or_the_patches_a_rerun_converges() {
    let f = Fixture::new();
    let reference = reference(&f);
    let points = [
        ("sync", "*upstream-common: fetch*"),
        ("patches", "*: apply [!-]*version.patch*"),
    ];
    for (what, glob) in points {
        // All three in the sync; Ctrl-C alone in the patches (the handling is the same).
        let sigs: &[&str] = if what == "sync" {
            &["INT", "TERM", "HUP"]
        } else {
            &["INT"]
        };
        for &sig in sigs {
            let s = Site::new(&f, &format!("{what}-{sig}"));
            let env = s.env(&[("FAKE_GIT_HANG_GLOB", glob)]);
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut g = f.start_hanging(&env, &[], None);
            let git = f.hung_git_pid();
            // To the xtask alone: its children lead their own groups, so a terminal's
            // Ctrl-C reaches only it too.
            let st = std::process::Command::new("kill")
                .args(["-s", sig, &g.0.id().to_string()])
                .status()
                .unwrap();
            assert!(st.success());
            let t = std::time::Instant::now();
            let status = loop {
                if let Some(st) = g.0.try_wait().unwrap() {
                    break st;
                }
                assert!(
                    t.elapsed() < std::time::Duration::from_secs(60),
                    "[{what}-{sig}] the run ignored SIG{sig}"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            };
            assert!(!status.success(), "[{what}-{sig}] {status:?}");
            let t = std::time::Instant::now();
            while alive(git) && t.elapsed() < std::time::Duration::from_secs(30) {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            assert!(!alive(git), "[{what}-{sig}] the hung git outlived the run");
            g.kill();
            assert_lock_whole(&s, &format!("by SIG{sig} in the {what}"));
            let log = s.fetch(&f, &[]);
            assert_converged(&f, &s, &reference, &log);
        }
    }
}
