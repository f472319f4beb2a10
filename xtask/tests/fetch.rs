//! End-to-end tests of `cargo xtask fetch-webrtc`, `doctor` and `patches` against an
//! "upstream" built in a temp dir: local git repos for depot_tools and src (file:// URLs), a
//! src DEPS with a plain dep, a `checkout_android` dep, a `checkout_ios` dep and a hook.
//!
//! depot_tools is tests/fixtures/depot_tools/gclient, a stand-in for the real gclient (see
//! its header). Set MOBILERTC_TEST_DEPOT_TOOLS=<a real depot_tools checkout> to run the same
//! tests with the real one (VPYTHON_BYPASS and DEPOT_TOOLS_UPDATE=0 are set for it).
//! Nothing here touches the network or the real process environment of the xtask: every run
//! gets its own env.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const FIXED_DATE: &str = "2025-01-01T00:00:00Z";

fn git(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_AUTHOR_NAME", "fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@example.org")
        .env("GIT_COMMITTER_NAME", "fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.org")
        .env("GIT_AUTHOR_DATE", FIXED_DATE)
        .env("GIT_COMMITTER_DATE", FIXED_DATE)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        cwd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A run in its own process group, killed (group and all) when dropped, so a failing test
/// cannot leave a hung fetch and its fake git behind.
struct Group(std::process::Child);

impl Group {
    /// Ctrl-C-like: the whole process group (xtask, gclient, git) dies at once.
    fn kill(&mut self) {
        if self.0.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn write_exe(path: &Path, text: &str) {
    write(path, text);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A git repo with the given files, committed; returns the commit.
fn repo(dir: &Path, files: &[(&str, &str)]) -> String {
    fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    for (name, text) in files {
        write(&dir.join(name), text);
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "--quiet", "-m", "fixture"]);
    git(dir, &["rev-parse", "HEAD"])
}

fn url(p: &Path) -> String {
    format!("file://{}", p.display())
}

const INSTALL_DEPS: &str = "#!/bin/sh\n# fixture: records its arguments instead of installing packages\necho \"$@\" >> \"$(dirname \"$0\")/../install-build-deps.args\"\n";
const HOOK: &str = "import os\nwith open(os.path.join('src', 'hook_output.txt'), 'w') as f:\n    f.write('hook ran\\n')\n";
const PATCH_OK: &str = "\
diff --git a/api/version.txt b/api/version.txt
--- a/api/version.txt
+++ b/api/version.txt
@@ -1,3 +1,3 @@
 webrtc fixture
-patched: no
+patched: yes
 end
";
const PATCH_STALE: &str = "\
diff --git a/api/other.txt b/api/other.txt
--- a/api/other.txt
+++ b/api/other.txt
@@ -1,3 +1,3 @@
 line one
-line two as it was in an older revision
+line two, patched
 line three
";

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    src_rev: String,
    real_depot_tools: Option<PathBuf>,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let up = dir.join("upstream");
        let dt_rev = repo(
            &up.join("depot_tools"),
            &[(
                "gclient",
                &fs::read_to_string(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/depot_tools/gclient"
                ))
                .unwrap(),
            )],
        );
        fs::set_permissions(
            up.join("depot_tools/gclient"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        git(&up.join("depot_tools"), &["add", "--chmod=+x", "gclient"]);
        git(
            &up.join("depot_tools"),
            &["commit", "--quiet", "--allow-empty", "-m", "exec bit"],
        );
        let dt_rev = {
            let _ = dt_rev;
            git(&up.join("depot_tools"), &["rev-parse", "HEAD"])
        };
        let common = repo(&up.join("common"), &[("README", "a plain dep\n")]);
        let android = repo(
            &up.join("android_only"),
            &[("README", "only with target_os android\n")],
        );
        let ios = repo(
            &up.join("ios_only"),
            &[("README", "only with target_os ios\n")],
        );
        let deps = format!(
            r#"# fixture DEPS, in the shape of webrtc's
vars = {{
  'fixture_git': '{base}',
  'common_revision': '{common}',
}}
deps = {{
  'src/third_party/common': Var('fixture_git') + '/common' + '@' + Var('common_revision'),
  'src/third_party/android_only': {{
    'url': '{{fixture_git}}/android_only@{android}',
    'condition': 'checkout_android',
  }},
  'src/third_party/ios_only': {{
    'url': Var('fixture_git') + '/ios_only@{ios}',
    'condition': 'checkout_ios',
  }},
}}
hooks = [
  {{
    'name': 'write_hook_output',
    'pattern': '.',
    'action': ['python3', 'src/tools/hook.py'],
  }},
]
"#,
            base = url(&up),
        );
        let src = up.join("src");
        repo(
            &src,
            &[
                ("DEPS", &deps),
                ("api/version.txt", "webrtc fixture\npatched: no\nend\n"),
                ("api/other.txt", "line one\nline two\nline three\n"),
                ("tools/hook.py", HOOK),
                ("build/install-build-deps.sh", INSTALL_DEPS),
                (
                    ".gitignore",
                    "/third_party/\n/hook_output.txt\n/install-build-deps.args\n",
                ),
            ],
        );
        git(
            &src,
            &["update-index", "--chmod=+x", "build/install-build-deps.sh"],
        );
        git(&src, &["commit", "--quiet", "-m", "exec bit"]);
        // The pinned commit lives only on a branch-head (as upstream's milestones do), so the
        // sync must fetch refs/branch-heads/*; main moves on past it.
        git(&src, &["update-ref", "refs/branch-heads/1", "HEAD"]);
        let src_rev = git(&src, &["rev-parse", "HEAD"]);
        write(&src.join("api/version.txt"), "moved on\n");
        git(&src, &["commit", "--quiet", "-am", "main moves on"]);
        git(&src, &["reset", "--quiet", "--hard", "HEAD"]);
        // Make main not contain src_rev: rewrite it from the root.
        git(&src, &["checkout", "--quiet", "--orphan", "tmp"]);
        git(&src, &["commit", "--quiet", "-m", "unrelated main"]);
        git(&src, &["branch", "--quiet", "-D", "main"]);
        git(&src, &["branch", "--quiet", "-m", "main"]);

        write(&dir.join("patches/0001-version.patch"), PATCH_OK);
        write(&dir.join("patches-stale/0001-version.patch"), PATCH_OK);
        write(&dir.join("patches-stale/0002-other.patch"), PATCH_STALE);
        fs::create_dir_all(dir.join("patches-none")).unwrap();

        write(
            &dir.join("webrtc.toml"),
            &format!(
                r#"[webrtc]
url = "{src_url}"
branch = "refs/branch-heads/1"
milestone = 1
revision = "{src_rev}"
[depot_tools]
url = "{dt_url}"
revision = "{dt_rev}"
[checkout]
work_dir = "work"
cache_dir = "cache"
patches_dir = "patches"
lock_file = "webrtc.lock"
sync_attempts = 2
retry_backoff_secs = 0
[targets]
android = ["arm64-v8a"]
linux = ["x64"]
"#,
                src_url = url(&src),
                dt_url = url(&up.join("depot_tools")),
            ),
        );
        fs::create_dir_all(dir.join("home")).unwrap();
        // A pass-through to the real git that can hang on one repository, so a test can kill
        // a sync midway whichever gclient (the stand-in or real depot_tools) runs it: both
        // clone deps with the `git` on PATH.
        let real_git = which::which("git").expect("git on PATH");
        write_exe(
            &dir.join("fake-bin/git"),
            &format!(
                r#"#!/bin/sh
if [ -n "$FAKE_GIT_HANG_ON" ]; then
  case " $* " in
    *"$FAKE_GIT_HANG_ON"*) : > "$FAKE_GIT_HANG_MARKER"; while :; do sleep 60; done ;;
  esac
fi
exec "{}" "$@"
"#,
                real_git.display()
            ),
        );
        let real_depot_tools = std::env::var_os("MOBILERTC_TEST_DEPOT_TOOLS").map(PathBuf::from);
        Fixture {
            _tmp: tmp,
            dir,
            src_rev,
            real_depot_tools,
        }
    }

    fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    fn src(&self) -> PathBuf {
        self.work().join("src")
    }
    fn trace(&self) -> PathBuf {
        self.dir.join("trace.txt")
    }
    fn gclient_log(&self) -> PathBuf {
        self.dir.join("gclient-argv.txt")
    }
    fn read(&self, p: impl AsRef<Path>) -> String {
        fs::read_to_string(self.dir.join(p)).unwrap_or_default()
    }

    /// The environment of one xtask run: nothing inherited but PATH (for git, python3).
    fn env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".into(),
            format!(
                "{}:{}",
                self.dir.join("fake-bin").display(),
                std::env::var("PATH").unwrap()
            ),
        );
        env.insert("HOME".into(), self.dir.join("home").display().to_string());
        env.insert("GIT_CONFIG_NOSYSTEM".into(), "1".into());
        env.insert(
            "MOBILERTC_CONFIG".into(),
            self.dir.join("webrtc.toml").display().to_string(),
        );
        env.insert("MOBILERTC_TRACE".into(), self.trace().display().to_string());
        env.insert("MOBILERTC_ROOT".into(), "1".into());
        env.insert("MOBILERTC_MIN_FREE_GB".into(), "0".into());
        env.insert(
            "FAKE_GCLIENT_LOG".into(),
            self.gclient_log().display().to_string(),
        );
        if let Some(real) = &self.real_depot_tools {
            env.insert("DEPOT_TOOLS".into(), real.display().to_string());
            env.insert("DEPOT_TOOLS_UPDATE".into(), "0".into());
            env.insert(
                "VPYTHON_BYPASS".into(),
                "manually managed python not supported by chrome operations".into(),
            );
        }
        env
    }

    fn command(&self, args: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.args(args)
            .current_dir(&self.dir)
            .env_clear()
            .envs(self.env());
        for (k, v) in extra {
            c.env(k, v);
        }
        c
    }

    /// A `fetch-webrtc` in its own process group, returned once its sync hangs in the fake
    /// git on the plain dep (the solution is cloned by then, the dep is not).
    fn start_fetch_hanging_in_sync(&self) -> Group {
        let marker = self.dir.join("hanging");
        let mut child = Group(
            self.command(
                &["fetch-webrtc"],
                &[
                    ("FAKE_GIT_HANG_ON", "upstream/common"),
                    ("FAKE_GIT_HANG_MARKER", marker.to_str().unwrap()),
                ],
            )
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        );
        let start = Instant::now();
        while !marker.exists() {
            // The guard kills the run on the way out.
            if start.elapsed() > Duration::from_secs(60) || child.0.try_wait().unwrap().is_some() {
                panic!("the sync never reached the dep");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    fn xtask(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        self.command(args, extra).output().unwrap()
    }

    fn ok(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let out = self.xtask(args, extra);
        assert!(
            out.status.success(),
            "xtask {args:?} failed:\n{}",
            text(&out)
        );
        out
    }

    fn fetch(&self, extra: &[(&str, &str)]) -> Output {
        self.ok(&["fetch-webrtc"], extra)
    }

    /// `git status --porcelain` + `git diff` of src: the whole tree state.
    fn tree_state(&self) -> String {
        let src = self.src();
        format!(
            "{}\n{}",
            git(&src, &["status", "--porcelain", "--ignored"]),
            git(&src, &["diff"])
        )
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn fresh_fetch_then_rerun_spawns_nothing() {
    let f = Fixture::new();
    let out = f.fetch(&[]);
    let log = text(&out);
    assert!(log.contains("[3/7] gclient sync"), "{log}");

    let src = f.src();
    assert!(src.join("third_party/common/README").exists(), "plain dep");
    assert!(
        src.join("third_party/android_only/README").exists(),
        "checkout_android dep"
    );
    assert!(
        !src.join("third_party/ios_only").exists(),
        "checkout_ios dep must not be synced"
    );
    assert_eq!(
        fs::read_to_string(src.join("hook_output.txt")).unwrap(),
        "hook ran\n"
    );
    assert!(fs::read_to_string(src.join("api/version.txt"))
        .unwrap()
        .contains("patched: yes"));
    assert_eq!(git(&src, &["rev-parse", "HEAD"]), f.src_rev);
    assert!(f.work().join(".gclient").exists());
    if f.real_depot_tools.is_none() {
        assert!(
            f.work().join("depot_tools/gclient").exists(),
            "depot_tools cloned into the work dir"
        );
        assert_eq!(
            fs::read_to_string(src.join("install-build-deps.args")).unwrap(),
            "--android --no-prompt\n"
        );
        let argv = f.read("gclient-argv.txt");
        assert!(
            argv.contains(&format!(
                r#"["sync", "--with_branch_heads", "-D", "--nohooks", "--revision", "src@{}"]"#,
                f.src_rev
            )),
            "{argv}"
        );
        assert!(
            argv.contains(r#"["runhooks"]"#) && argv.contains(r#"["revinfo"]"#),
            "{argv}"
        );
    }
    let lock = f.read("webrtc.lock");
    assert!(
        lock.contains(&format!("revision = \"{}\"", f.src_rev)),
        "{lock}"
    );
    assert!(lock.contains("\"src/third_party/android_only\""), "{lock}");
    assert!(!lock.contains("ios_only"), "{lock}");

    // The rerun: no process spawned at all, and quick.
    let trace_before = f.read("trace.txt");
    let argv_before = f.read("gclient-argv.txt");
    assert!(!trace_before.is_empty());
    let t = Instant::now();
    let out = f.fetch(&[]);
    let took = t.elapsed();
    assert_eq!(
        f.read("trace.txt"),
        trace_before,
        "rerun spawned something:\n{}",
        text(&out)
    );
    assert_eq!(f.read("gclient-argv.txt"), argv_before);
    assert!(took < Duration::from_secs(1), "no-op rerun took {took:?}");
    assert_eq!(
        text(&out).matches("up to date").count(),
        7,
        "{}",
        text(&out)
    );
}

#[test]
fn dry_run_prints_the_plan_and_runs_nothing() {
    let f = Fixture::new();
    let out = f.ok(&["fetch-webrtc", "--dry-run"], &[]);
    assert!(!f.work().exists(), "dry run created the work dir");
    assert!(!f.trace().exists(), "dry run spawned something");
    let mut plan = String::from_utf8(out.stdout).unwrap();
    plan = plan.replace(&f.src_rev, "[SRC_REV]");
    let dt_rev = git(&f.dir.join("upstream/depot_tools"), &["rev-parse", "HEAD"]);
    plan = plan.replace(&dt_rev, "[DEPOT_TOOLS_REV]");
    plan = plan.replace(&f.dir.display().to_string(), "[TMP]");
    for (hex, short) in [(&f.src_rev, &f.src_rev[..12]), (&dt_rev, &dt_rev[..12])] {
        let _ = hex;
        plan = plan.replace(short, "[SHORT_REV]");
    }
    if f.real_depot_tools.is_none() {
        insta::assert_snapshot!("dry_run_plan", plan);
    }
}

#[test]
fn interrupted_sync_resumes_and_converges_to_the_same_lock() {
    let f = Fixture::new();
    f.start_fetch_hanging_in_sync().kill();
    assert!(
        f.src().join(".git").exists(),
        "the solution was cloned before the kill"
    );
    assert!(!f.src().join("third_party/common").exists());

    fs::remove_file(f.trace()).unwrap();
    let out = f.fetch(&[]);
    let log = text(&out);
    assert!(
        log.contains("[1/7] depot_tools          up to date"),
        "{log}"
    );
    assert!(
        log.contains("[2/7] .gclient             up to date"),
        "{log}"
    );
    let trace = f.read("trace.txt");
    let first = trace.lines().next().unwrap();
    assert!(
        first.contains("gclient sync"),
        "resumed at the sync, first spawn was: {first}"
    );
    assert!(f.src().join("third_party/common/README").exists());

    // A clean fetch of the same upstream elsewhere pins exactly the same.
    let clean_work = f.dir.join("work2");
    let clean_lock = f.dir.join("clean.lock");
    f.fetch(&[
        ("MOBILERTC_WORK_DIR", clean_work.to_str().unwrap()),
        ("MOBILERTC_LOCK_FILE", clean_lock.to_str().unwrap()),
    ]);
    assert_eq!(f.read("webrtc.lock"), f.read("clean.lock"));
}

#[test]
fn failed_sync_is_retried() {
    let f = Fixture::new();
    if f.real_depot_tools.is_some() {
        return; // fault injection is the stand-in's
    }
    let counter = f.dir.join("fail-counter");
    let out = f.fetch(&[
        ("FAKE_GCLIENT_FAIL_TIMES", "1"),
        ("FAKE_GCLIENT_FAIL_COUNTER", counter.to_str().unwrap()),
    ]);
    let log = text(&out);
    assert!(log.contains("attempt 1/2 failed; retrying in 0s"), "{log}");
    assert_eq!(f.read("gclient-argv.txt").matches(r#"["sync""#).count(), 2);
    assert!(f.src().join("third_party/android_only/README").exists());
}

#[test]
fn patch_already_applied_is_skipped() {
    let f = Fixture::new();
    let none = f.dir.join("patches-none");
    f.fetch(&[("MOBILERTC_PATCHES_DIR", none.to_str().unwrap())]);
    // Someone applied it by hand.
    git(
        &f.src(),
        &[
            "apply",
            f.dir.join("patches/0001-version.patch").to_str().unwrap(),
        ],
    );
    let out = f.fetch(&[]);
    assert!(
        text(&out).contains("0001-version.patch already applied, skipped"),
        "{}",
        text(&out)
    );
    let v = fs::read_to_string(f.src().join("api/version.txt")).unwrap();
    assert_eq!(v.matches("patched: yes").count(), 1, "{v}");
    // And it is recorded: status knows it.
    let status = f.ok(&["patches", "status"], &[]);
    assert!(
        text(&status).contains("0001-version.patch"),
        "{}",
        text(&status)
    );
    assert!(text(&status).contains(" applied"), "{}", text(&status));
}

#[test]
fn stale_patch_fails_naming_patch_and_hunk_and_leaves_the_tree_unchanged() {
    let f = Fixture::new();
    let none = f.dir.join("patches-none");
    f.fetch(&[("MOBILERTC_PATCHES_DIR", none.to_str().unwrap())]);
    let before = f.tree_state();
    let stale = f.dir.join("patches-stale");
    let out = f.xtask(
        &["fetch-webrtc"],
        &[("MOBILERTC_PATCHES_DIR", stale.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let err = text(&out);
    assert!(err.contains("[6/7] patches failed"), "{err}");
    assert!(
        err.contains("patch 0002-other.patch does not apply"),
        "{err}"
    );
    assert!(
        err.contains("hunk #1 `@@ -1,3 +1,3 @@` of api/other.txt (at line 1)"),
        "{err}"
    );
    assert!(err.contains("the tree was left as it was"), "{err}");
    assert_eq!(
        f.tree_state(),
        before,
        "0001 was applied and must have been rolled back"
    );
    // The failure is not stamped: the next run tries the patches again (and fails again).
    let again = f.xtask(
        &["fetch-webrtc"],
        &[("MOBILERTC_PATCHES_DIR", stale.to_str().unwrap())],
    );
    assert!(!again.status.success());
    assert!(
        text(&again).contains("[5/7] gclient runhooks     up to date"),
        "{}",
        text(&again)
    );
}

#[test]
fn concurrent_run_is_refused() {
    let f = Fixture::new();
    let mut first = f.start_fetch_hanging_in_sync();
    let second = f.xtask(&["fetch-webrtc"], &[]);
    first.kill();
    assert!(!second.status.success());
    let err = text(&second);
    assert!(err.contains("another `cargo xtask` run (pid"), "{err}");
    assert!(
        err.contains("running `fetch-webrtc`) is working on"),
        "{err}"
    );
}

#[test]
fn doctor_names_a_missing_tool_and_the_fix() {
    let f = Fixture::new();
    let bin = f.dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "python3"] {
        let real = which(tool);
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let out = f.xtask(&["doctor"], &[("PATH", bin.to_str().unwrap())]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("[FAIL] curl: not found on PATH"), "{t}");
    assert!(
        t.contains("fix: install it: `sudo apt-get install curl`"),
        "{t}"
    );
    assert!(t.contains("[ok  ] git:"), "{t}");
    // fetch-webrtc runs the same checks first and stops...
    let out = f.xtask(&["fetch-webrtc"], &[("PATH", bin.to_str().unwrap())]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("pass --force to go on anyway"),
        "{}",
        text(&out)
    );
    assert!(!f.work().exists(), "nothing was started");
}

fn which(tool: &str) -> PathBuf {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{tool} not on PATH"))
}

#[test]
fn install_build_deps_without_root_prints_the_command_and_stops() {
    let f = Fixture::new();
    let out = f.xtask(&["fetch-webrtc"], &[("MOBILERTC_ROOT", "0")]);
    assert!(!out.status.success());
    let err = text(&out);
    let cmd = format!(
        "sudo {}/build/install-build-deps.sh --android --no-prompt",
        f.src().display()
    );
    assert!(err.contains(&cmd), "{err}");
    assert!(err.contains("[4/7] install-build-deps failed"), "{err}");
    assert!(!f.src().join("install-build-deps.args").exists());
    // The user ran it; the sync is kept, the rest runs.
    fs::remove_file(f.trace()).unwrap();
    let out = f.fetch(&[
        ("MOBILERTC_ROOT", "0"),
        ("MOBILERTC_SKIP_INSTALL_DEPS", "1"),
    ]);
    assert!(
        text(&out).contains("[3/7] gclient sync         up to date"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("skipped (--skip-install-deps)"),
        "{}",
        text(&out)
    );
    // Without the flag afterwards: nothing to do, nothing asked.
    let before = f.read("trace.txt");
    f.fetch(&[("MOBILERTC_ROOT", "0")]);
    assert_eq!(f.read("trace.txt"), before);
}

#[test]
fn install_build_deps_through_sudo_when_allowed() {
    let f = Fixture::new();
    if f.real_depot_tools.is_some() {
        return;
    }
    // A fake sudo: records that it was used, then runs the command.
    let bin = f.dir.join("sudo-bin");
    write_exe(
        &bin.join("sudo"),
        &format!(
            "#!/bin/sh\necho sudo >> {}/sudo-used\nexec \"$@\"\n",
            f.dir.display()
        ),
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    f.ok(
        &["fetch-webrtc", "--sudo"],
        &[("MOBILERTC_ROOT", "0"), ("PATH", &path)],
    );
    assert_eq!(f.read("sudo-used"), "sudo\n");
    assert_eq!(
        fs::read_to_string(f.src().join("install-build-deps.args")).unwrap(),
        "--android --no-prompt\n"
    );
}

#[test]
fn patches_status_and_revert() {
    let f = Fixture::new();
    f.fetch(&[]);
    let version = f.src().join("api/version.txt");
    let status = text(&f.ok(&["patches", "status"], &[]));
    assert!(
        status.contains("0001-version.patch") && status.contains(" applied"),
        "{status}"
    );
    let out = text(&f.ok(&["patches", "revert"], &[]));
    assert!(out.contains("reverted 0001-version.patch"), "{out}");
    assert!(fs::read_to_string(&version)
        .unwrap()
        .contains("patched: no"));
    let status = text(&f.ok(&["patches", "status"], &[]));
    assert!(status.contains("not applied (applies cleanly)"), "{status}");
    // The next fetch puts it back (and only the patch and lock steps run).
    fs::remove_file(f.trace()).unwrap();
    f.fetch(&[]);
    assert!(fs::read_to_string(&version)
        .unwrap()
        .contains("patched: yes"));
    assert!(!f.read("trace.txt").contains("gclient sync"));
}

#[test]
fn changed_patch_is_reverted_and_reapplied() {
    let f = Fixture::new();
    f.fetch(&[]);
    // The patch file is edited: the old version (in the tree) must come out first.
    write(
        &f.dir.join("patches/0001-version.patch"),
        &PATCH_OK.replace("+patched: yes", "+patched: twice"),
    );
    let out = text(&f.fetch(&[]));
    assert!(out.contains("reverted 0001-version.patch"), "{out}");
    let v = fs::read_to_string(f.src().join("api/version.txt")).unwrap();
    assert!(
        v.contains("patched: twice") && !v.contains("patched: yes"),
        "{v}"
    );
}

#[test]
fn moved_checkout_is_resynced() {
    let f = Fixture::new();
    f.fetch(&[]);
    // Someone checks out something else in src/ (with the patch reverted so git allows it).
    f.ok(&["patches", "revert"], &[]);
    git(&f.src(), &["checkout", "--quiet", "--detach", "HEAD~1"]);
    let out = text(&f.fetch(&[]));
    assert!(
        out.contains("someone moved the checkout; syncing again"),
        "{out}"
    );
    assert_eq!(git(&f.src(), &["rev-parse", "HEAD"]), f.src_rev);
}

#[test]
fn bad_config_names_key_and_file() {
    let f = Fixture::new();
    let cfg = f.dir.join("webrtc.toml");
    let text0 = fs::read_to_string(&cfg).unwrap();
    fs::write(
        &cfg,
        text0.replace("[targets]\n", "[targets]\nios = [\"arm64\"]\n"),
    )
    .unwrap();
    let out = f.xtask(&["fetch-webrtc", "--dry-run"], &[]);
    assert!(!out.status.success());
    let err = text(&out);
    assert!(
        err.contains(&cfg.display().to_string()) && err.contains("ios"),
        "{err}"
    );
}
