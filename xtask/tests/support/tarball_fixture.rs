//! The tarball route's fixture for tests/fetch_tarball.rs and tests/fetch_tarball_kills.rs
//! (`#[path]`-included by each): a Chromium-shaped tarball and a Debian packaging tarball
//! built in a temp dir, pass-throughs to patch and git (and tar) that can hang on demand,
//! and helpers to run the xtask against it. See tests/fetch_tarball.rs for what it stands for.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const VERSION: &str = "150.0.7871.100";
pub const TOP: &str = "chromium-150.0.7871.100";
pub const REV: &str = "1f975dfd761af6e5d76d28333191973b258d82a8";
pub const DEB_VERSION: &str = "150.0.7871.100-1~deb12u1";

pub fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

pub fn write_exe(path: &Path, text: &str) {
    write(path, text);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn run(cwd: &Path, prog: &str, args: &[&str]) {
    let out = Command::new(prog)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `tar -cJf`, the same bytes every time (the kill test compares two fixtures' results,
/// checksums included).
pub fn tar_c(cwd: &Path, out: &Path, what: &str) {
    let o = out.to_str().unwrap();
    run(
        cwd,
        "tar",
        &[
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-cJf",
            o,
            what,
        ],
    );
}

pub fn sha256(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_owned()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub const WEBRTC_DEPS: &str = "gclient_gn_args_file = 'src/build/config/gclient_args.gni'\n\
gclient_gn_args = [\n  'android_ndk_version',\n  'generate_location_tags',\n]\n\n\
vars = {\n  'generate_location_tags': True,\n  'android_ndk_version': Str('2@30.0.14608247'),\n}\n";

// Debian's patches, paths at the Chromium root (-p1).
pub const DEB_BUILD: &str = "Description: touches build/ and chrome/ (outside the subset)\n\n\
--- a/build/config/BUILD.gn\n+++ b/build/config/BUILD.gn\n@@ -1,2 +1,2 @@\n # build config\n-use_gold = true\n+use_gold = false\n\
--- a/chrome/browser/browser.cc\n+++ b/chrome/browser/browser.cc\n@@ -1 +1 @@\n-browser\n+patched browser\n";
pub const DEB_WEBRTC: &str = "--- a/third_party/webrtc/BUILD.gn\n+++ b/third_party/webrtc/BUILD.gn\n@@ -1 +1,2 @@\n group(\"webrtc\") {}\n+# debian was here\n";
pub const DEB_UNSELECTED: &str =
    "--- a/tools/t.py\n+++ b/tools/t.py\n@@ -1 +1 @@\n-print(1)\n+print(2)\n";
// Ours, paths relative to src/ (after the re-root).
pub const TARBALL_PATCH: &str = "why: fixture tarball fix-up\n\ndiff --git a/.gn b/.gn\n--- a/.gn\n+++ b/.gn\n@@ -1 +1 @@\n-exec_script_allowlist = []\n+exec_script_whitelist = []\n";
pub const SHARED_PATCH: &str = "why: mark the tree\n\ndiff --git a/mobilertc/README.md b/mobilertc/README.md\nnew file mode 100644\n--- /dev/null\n+++ b/mobilertc/README.md\n@@ -0,0 +1 @@\n+patched by mobilertc\n";

pub struct Fixture {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub tarball: PathBuf,
    pub debian_tar: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_deps_revision(REV)
    }

    pub fn with_deps_revision(rev: &str) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let c = dir.join("tree").join(TOP);
        let chromium_deps = format!(
            "vars = {{\n  'webrtc_git': 'https://webrtc.googlesource.com',\n}}\ndeps = {{\n  \
             'src/third_party/webrtc':\n    Var('webrtc_git') + '/src.git' + '@' + '{rev}',\n\n  \
             'src/third_party/zlib': 'x@{z}',\n}}\n",
            z = "0".repeat(40)
        );
        for (p, t) in [
            ("DEPS", chromium_deps.as_str()),
            (
                "chrome/VERSION",
                "MAJOR=150\nMINOR=0\nBUILD=7871\nPATCH=100\n",
            ),
            ("chrome/browser/browser.cc", "browser\n"),
            ("third_party/webrtc/DEPS", WEBRTC_DEPS),
            ("third_party/webrtc/.gn", "exec_script_allowlist = []\n"),
            ("third_party/webrtc/BUILD.gn", "group(\"webrtc\") {}\n"),
            (
                "third_party/webrtc/api/peer_connection_interface.h",
                "// api\n",
            ),
            ("build/config/BUILD.gn", "# build config\nuse_gold = true\n"),
            (
                "build/config/gclient_args.gni",
                "build_with_chromium = true\n",
            ),
            ("testing/test.gni", "# testing\n"),
            ("tools/t.py", "print(1)\n"),
            ("third_party/abseil-cpp/absl/base/config.h", "// absl\n"),
            ("third_party/skia/BUILD.gn", "# not extracted\n"),
        ] {
            write(&c.join(p), t);
        }
        let tarball = dir.join(format!("{TOP}.tar.xz"));
        tar_c(&dir.join("tree"), &tarball, TOP);

        let deb = dir.join("deb/debian/patches");
        write(
            &deb.join("series"),
            "# fixture series\nfixes/build.patch\ndisable/unselected.patch\n#fixes/commented.patch\nupstream/webrtc.patch\n",
        );
        write(&deb.join("fixes/build.patch"), DEB_BUILD);
        write(&deb.join("disable/unselected.patch"), DEB_UNSELECTED);
        write(&deb.join("upstream/webrtc.patch"), DEB_WEBRTC);
        let debian_tar = dir.join(format!("chromium_{DEB_VERSION}.debian.tar.xz"));
        tar_c(&dir.join("deb"), &debian_tar, "debian");

        // The apt archive the fake apt-get serves: the same two files under Debian's names.
        let pool = dir.join("archive").join(format!("chromium_{DEB_VERSION}"));
        fs::create_dir_all(&pool).unwrap();
        fs::copy(
            &tarball,
            pool.join(format!("chromium_{VERSION}.orig.tar.xz")),
        )
        .unwrap();
        fs::copy(
            &debian_tar,
            pool.join(format!("chromium_{DEB_VERSION}.debian.tar.xz")),
        )
        .unwrap();
        write(
            &pool.join(format!("chromium_{DEB_VERSION}.dsc")),
            "Format: 3.0 (quilt)\n",
        );

        write(
            &dir.join("patches/tarball/0001-gn-whitelist.patch"),
            TARBALL_PATCH,
        );
        write(&dir.join("patches/0001-mark.patch"), SHARED_PATCH);
        fs::create_dir_all(dir.join("home")).unwrap();
        let f = Fixture {
            _tmp: tmp,
            dir,
            tarball,
            debian_tar,
        };
        f.write_config(REV, 150);
        // Pass-throughs to the real patch, git, tar and xz that can hang, so a test can kill
        // a run inside the unpack (the xz pass: tar runs `xz -T0 -d` from PATH; Debian's
        // patches; the commit) or the patches step (git apply). The hung tool's pid goes to
        // the marker (written whole, then renamed).
        for tool in ["patch", "git", "tar", "xz"] {
            let real = which::which(tool).unwrap();
            write_exe(
                &f.dir.join("fake-bin").join(tool),
                &format!(
                    r#"#!/bin/sh
# Hangs when it is $FAKE_HANG_TOOL and its first argument is $FAKE_HANG_ARG1 or its
# arguments match the shell pattern $FAKE_HANG_GLOB (over " $* ").
hang=
if [ "$FAKE_HANG_TOOL" = {tool} ]; then
  if [ -n "$FAKE_HANG_ARG1" ] && [ "$1" = "$FAKE_HANG_ARG1" ]; then hang=1; fi
  if [ -n "$FAKE_HANG_GLOB" ]; then case " $* " in $FAKE_HANG_GLOB) hang=1 ;; esac; fi
fi
if [ -n "$hang" ]; then
  echo $$ > "$FAKE_HANG_MARKER.tmp"; mv "$FAKE_HANG_MARKER.tmp" "$FAKE_HANG_MARKER"
  while :; do sleep 60; done
fi
exec "{}" "$@"
"#,
                    real.display()
                ),
            );
        }
        let apt = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/apt/apt-get");
        fs::create_dir_all(f.dir.join("apt-bin")).unwrap();
        std::os::unix::fs::symlink(apt, f.dir.join("apt-bin/apt-get")).unwrap();
        f
    }

    pub fn write_config(&self, revision: &str, milestone: u32) {
        let orig = self
            .dir
            .join("archive")
            .join(format!("chromium_{DEB_VERSION}"))
            .join(format!("chromium_{VERSION}.orig.tar.xz"));
        write(
            &self.dir.join("webrtc.toml"),
            &format!(
                r#"[webrtc]
url = "https://webrtc.googlesource.com/src.git"
branch = "refs/branch-heads/7871"
milestone = {milestone}
revision = "{revision}"
[depot_tools]
url = "https://example.org/depot_tools.git"
[checkout]
work_dir = "work"
patches_dir = "patches"
lock_file = "webrtc.lock"
[targets]
linux = ["x64"]
[tarball]
version = "{VERSION}"
extract = ["DEPS", "chrome/VERSION", "third_party/webrtc", "build", "testing", "tools",
           "third_party/abseil-cpp", "third_party/opus"]
[tarball.debian]
package = "chromium"
version = "{DEB_VERSION}"
orig_sha256 = "{orig}"
debian_sha256 = "{deb}"
sources = ["deb-src http://deb.debian.org/debian bookworm main"]
patches = ["upstream/webrtc.patch", "fixes/build.patch"]
"#,
                orig = sha256(&orig),
                deb = sha256(&self.debian_tar),
            ),
        );
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

    pub fn env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".into(),
            format!(
                "{}:{}:{}",
                self.dir.join("fake-bin").display(),
                self.dir.join("apt-bin").display(),
                std::env::var("PATH").unwrap()
            ),
        );
        for (k, v) in [
            ("HOME", self.dir.join("home")),
            ("MOBILERTC_CONFIG", self.dir.join("webrtc.toml")),
            ("MOBILERTC_TRACE", self.trace()),
            ("MOBILERTC_DOWNLOAD_CACHE", self.dir.join("cache")),
            ("MOBILERTC_APT_DIR", self.dir.join("apt")),
            ("FAKE_APT_ARCHIVE", self.dir.join("archive")),
            ("FAKE_APT_LOG", self.dir.join("apt-log.txt")),
        ] {
            env.insert(k.into(), v.display().to_string());
        }
        env.insert("MOBILERTC_ROOT".into(), "1".into());
        env.insert("MOBILERTC_MIN_FREE_GB".into(), "0".into());
        env.insert("GIT_CONFIG_NOSYSTEM".into(), "1".into());
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

    pub fn xtask(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        self.command(args, extra).output().unwrap()
    }

    pub fn ok(&self, args: &[&str], extra: &[(&str, &str)]) -> String {
        let out = self.xtask(args, extra);
        assert!(
            out.status.success(),
            "xtask {args:?} failed:\n{}",
            text(&out)
        );
        text(&out)
    }

    pub fn tarball_args(&self) -> Vec<String> {
        vec![
            "fetch-webrtc".into(),
            "--tarball".into(),
            self.tarball.display().to_string(),
            "--sha256".into(),
            sha256(&self.tarball),
            "--debian-tar".into(),
            self.debian_tar.display().to_string(),
        ]
    }

    pub fn fetch_tarball(&self, extra: &[(&str, &str)]) -> String {
        let a = self.tarball_args();
        self.ok(&a.iter().map(String::as_str).collect::<Vec<_>>(), extra)
    }

    /// A run killed (with its process group) once `tool` is called with `arg1`.
    pub fn kill_when(&self, args: &[String], tool: &str, arg1: &str) {
        let marker = self.dir.join("hanging");
        let _ = fs::remove_file(&marker);
        let mut child = self
            .command(
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                &[
                    ("FAKE_HANG_TOOL", tool),
                    ("FAKE_HANG_ARG1", arg1),
                    ("FAKE_HANG_MARKER", marker.to_str().unwrap()),
                ],
            )
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !marker.exists() {
            if start.elapsed() > Duration::from_secs(120) || child.try_wait().unwrap().is_some() {
                let _ = Command::new("kill")
                    .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                    .status();
                panic!("the run never reached `{tool} {arg1}`");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
    }

    /// The whole result: every file under src/ (but .git) with its bytes, and the lock.
    pub fn tree(&self) -> String {
        let mut out = String::new();
        fn walk(d: &Path, root: &Path, out: &mut Vec<String>) {
            for e in fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.file_name().unwrap() == ".git" {
                    continue;
                }
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    out.push(format!(
                        "{}: {}",
                        p.strip_prefix(root).unwrap().display(),
                        fs::read_to_string(&p)
                            .unwrap_or_default()
                            .replace('\n', "\\n")
                    ));
                }
            }
        }
        let mut files = Vec::new();
        walk(&self.src(), &self.src(), &mut files);
        files.sort();
        for f in files {
            out.push_str(&f);
            out.push('\n');
        }
        out.push_str(&fs::read_to_string(self.dir.join("webrtc.lock")).unwrap_or_default());
        out
    }
}
