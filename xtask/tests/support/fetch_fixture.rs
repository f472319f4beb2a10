//! The fetch tests' fixture: an "upstream" built in a temp dir (local git repos for
//! depot_tools and src with file:// URLs, a src DEPS with a plain dep, a `checkout_android`
//! dep, a `checkout_ios` dep and a hook), a webrtc.toml pointing at it, a `git`
//! pass-through that can hang on demand, and helpers to run the xtask against it.
//! Shared by tests/fetch.rs and tests/fetch_repair.rs (`#[path]`-included by each).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const FIXED_DATE: &str = "2025-01-01T00:00:00Z";

pub fn git(cwd: &Path, args: &[&str]) -> String {
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
/// cannot leave a hung fetch and its fake git behind. The xtask starts its children in
/// process groups of their own: the group of the hung git (its pid in the marker file) is
/// killed too.
pub struct Group(pub std::process::Child, pub Option<PathBuf>);

impl Group {
    /// Ctrl-C-like: the whole process group (xtask, gclient, git) dies at once.
    pub fn kill(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", self.0.id())])
                .status();
            let _ = self.0.wait();
        }
        let hung = self
            .1
            .as_ref()
            .and_then(|m| fs::read_to_string(m).ok())
            .and_then(|p| p.trim().parse::<i32>().ok())
            // Still our fake git (a pid can be reused once it is gone).
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("fake-bin/git"))
            });
        if let Some(pid) = hung {
            let pgid = fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit_once(')')?.1.to_owned();
                    rest.split_whitespace().nth(2)?.parse::<i32>().ok()
                });
            for target in [pgid.map(|g| format!("-{g}")), Some(pid.to_string())]
                .into_iter()
                .flatten()
            {
                let _ = Command::new("kill")
                    .args(["-s", "KILL", "--", &target])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

pub fn write_exe(path: &Path, text: &str) {
    write(path, text);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A git repo with the given files, committed; returns the commit.
pub fn repo(dir: &Path, files: &[(&str, &str)]) -> String {
    fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    for (name, text) in files {
        write(&dir.join(name), text);
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "--quiet", "-m", "fixture"]);
    git(dir, &["rev-parse", "HEAD"])
}

pub fn url(p: &Path) -> String {
    format!("file://{}", p.display())
}

pub const INSTALL_DEPS: &str = "#!/bin/sh\n# fixture: records its arguments instead of installing packages\necho \"$@\" >> \"$(dirname \"$0\")/../install-build-deps.args\"\n";
pub const HOOK: &str = "import os\nwith open(os.path.join('src', 'hook_output.txt'), 'w') as f:\n    f.write('hook ran\\n')\n";
pub const PATCH_OK: &str = "\
diff --git a/api/version.txt b/api/version.txt
--- a/api/version.txt
+++ b/api/version.txt
@@ -1,3 +1,3 @@
 webrtc fixture
-patched: no
+patched: yes
 end
";
pub const PATCH_STALE: &str = "\
diff --git a/api/other.txt b/api/other.txt
--- a/api/other.txt
+++ b/api/other.txt
@@ -1,3 +1,3 @@
 line one
-line two as it was in an older revision
+line two, patched
 line three
";

pub struct Fixture {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub src_rev: String,
    pub real_depot_tools: Option<PathBuf>,
}

impl Fixture {
    pub fn new() -> Fixture {
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
if [ -n "$FAKE_GIT_LOG" ]; then echo "$PWD: $*" >> "$FAKE_GIT_LOG"; fi
if [ -n "$FAKE_GIT_HANG_ON" ]; then
  case " $* " in
    *"$FAKE_GIT_HANG_ON"*) echo $$ > "$FAKE_GIT_HANG_MARKER"; while :; do sleep 60; done ;;
  esac
fi
# A shell pattern over "<cwd>: <args>", e.g. '*checkout*<sha>*'.
if [ -n "$FAKE_GIT_HANG_GLOB" ]; then
  case "$PWD: $* " in
    $FAKE_GIT_HANG_GLOB) echo $$ > "$FAKE_GIT_HANG_MARKER"; while :; do sleep 60; done ;;
  esac
fi
# Fail (like a dropped connection) the first $FAKE_GIT_FAIL_TIMES commands matching the
# pattern, counting in $FAKE_GIT_FAIL_COUNTER.
if [ -n "$FAKE_GIT_FAIL_GLOB" ]; then
  case "$PWD: $* " in
    $FAKE_GIT_FAIL_GLOB)
      n=$(cat "$FAKE_GIT_FAIL_COUNTER" 2>/dev/null || echo 0)
      if [ "$n" -lt "$FAKE_GIT_FAIL_TIMES" ]; then
        echo $((n + 1)) > "$FAKE_GIT_FAIL_COUNTER"
        echo "fatal: (fault injected) the remote end hung up unexpectedly" >&2
        exit 128
      fi ;;
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

    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn src(&self) -> PathBuf {
        self.work().join("src")
    }
    pub fn trace(&self) -> PathBuf {
        self.dir.join("trace.txt")
    }
    pub fn gclient_log(&self) -> PathBuf {
        self.dir.join("gclient-argv.txt")
    }
    pub fn read(&self, p: impl AsRef<Path>) -> String {
        fs::read_to_string(self.dir.join(p)).unwrap_or_default()
    }

    /// The environment of one xtask run: nothing inherited but PATH (for git, python3).
    pub fn env(&self) -> BTreeMap<String, String> {
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

    pub fn command(&self, args: &[&str], extra: &[(&str, &str)]) -> Command {
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
    pub fn start_fetch_hanging_in_sync(&self) -> Group {
        self.start_hanging(&[("FAKE_GIT_HANG_ON", "upstream/common")], &[], None)
    }

    /// A `fetch-webrtc` (with `env`, and `extra` args) in its own process group, returned
    /// once the fake git hangs (FAKE_GIT_HANG_ON / FAKE_GIT_HANG_GLOB in `env`); the hung
    /// git's pid is in `self.dir/hanging`. Its stderr goes to `stderr` if given.
    pub fn start_hanging(
        &self,
        env: &[(&str, &str)],
        extra: &[&str],
        stderr: Option<&Path>,
    ) -> Group {
        let marker = self.dir.join("hanging");
        let _ = fs::remove_file(&marker);
        let mut env = env.to_vec();
        env.push(("FAKE_GIT_HANG_MARKER", marker.to_str().unwrap()));
        let mut args = vec!["fetch-webrtc"];
        args.extend_from_slice(extra);
        let mut child = Group(
            self.command(&args, &env)
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(match stderr {
                    Some(p) => Stdio::from(fs::File::create(p).unwrap()),
                    None => Stdio::null(),
                })
                .spawn()
                .unwrap(),
            Some(marker.clone()),
        );
        let start = Instant::now();
        while fs::read_to_string(&marker).map_or(true, |s| !s.ends_with('\n')) {
            // The guard kills the run on the way out.
            if start.elapsed() > Duration::from_secs(120) || child.0.try_wait().unwrap().is_some() {
                panic!("the run never reached the hang point {env:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    /// The pid the hung fake git wrote.
    pub fn hung_git_pid(&self) -> i32 {
        self.read("hanging").trim().parse().unwrap()
    }

    pub fn xtask(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        self.command(args, extra).output().unwrap()
    }

    pub fn ok(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let out = self.xtask(args, extra);
        assert!(
            out.status.success(),
            "xtask {args:?} failed:\n{}",
            text(&out)
        );
        out
    }

    pub fn fetch(&self, extra: &[(&str, &str)]) -> Output {
        self.ok(&["fetch-webrtc"], extra)
    }

    /// `git status --porcelain` + `git diff` of src: the whole tree state.
    pub fn tree_state(&self) -> String {
        let src = self.src();
        format!(
            "{}\n{}",
            git(&src, &["status", "--porcelain", "--ignored"]),
            git(&src, &["diff"])
        )
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn which(tool: &str) -> PathBuf {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{tool} not on PATH"))
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .map_or("", |(_, r)| r)
            .trim_start()
            .starts_with('Z')
    })
}
