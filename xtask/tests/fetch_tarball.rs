//! `cargo xtask fetch-webrtc --tarball …` and `--debian-source` against a Chromium-shaped
//! fixture tarball built in a temp dir (stands in for the real 941 MB
//! chromium_150.0.7871.100.orig.tar.xz: the same top dir, DEPS line, chrome/VERSION,
//! third_party/webrtc with its DEPS `gclient_gn_args`, build/, testing/, tools/, one
//! third_party lib, files outside the extract list) and a Debian packaging tarball (a
//! `debian/patches/series` with selected, unselected and partly-outside patches).
//! `--debian-source` runs tests/fixtures/apt/apt-get, a stand-in for Debian's apt-get (see
//! its header). Real tar, xz, patch, git and curl run. Nothing touches the network.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const VERSION: &str = "150.0.7871.100";
const TOP: &str = "chromium-150.0.7871.100";
const REV: &str = "1f975dfd761af6e5d76d28333191973b258d82a8";
const DEB_VERSION: &str = "150.0.7871.100-1~deb12u1";

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn write_exe(path: &Path, text: &str) {
    write(path, text);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn run(cwd: &Path, prog: &str, args: &[&str]) {
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
fn tar_c(cwd: &Path, out: &Path, what: &str) {
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

fn sha256(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const WEBRTC_DEPS: &str = "gclient_gn_args_file = 'src/build/config/gclient_args.gni'\n\
gclient_gn_args = [\n  'android_ndk_version',\n  'generate_location_tags',\n]\n\n\
vars = {\n  'generate_location_tags': True,\n  'android_ndk_version': Str('2@30.0.14608247'),\n}\n";

// Debian's patches, paths at the Chromium root (-p1).
const DEB_BUILD: &str = "Description: touches build/ and chrome/ (outside the subset)\n\n\
--- a/build/config/BUILD.gn\n+++ b/build/config/BUILD.gn\n@@ -1,2 +1,2 @@\n # build config\n-use_gold = true\n+use_gold = false\n\
--- a/chrome/browser/browser.cc\n+++ b/chrome/browser/browser.cc\n@@ -1 +1 @@\n-browser\n+patched browser\n";
const DEB_WEBRTC: &str = "--- a/third_party/webrtc/BUILD.gn\n+++ b/third_party/webrtc/BUILD.gn\n@@ -1 +1,2 @@\n group(\"webrtc\") {}\n+# debian was here\n";
const DEB_UNSELECTED: &str =
    "--- a/tools/t.py\n+++ b/tools/t.py\n@@ -1 +1 @@\n-print(1)\n+print(2)\n";
// Ours, paths relative to src/ (after the re-root).
const TARBALL_PATCH: &str = "why: fixture tarball fix-up\n\ndiff --git a/.gn b/.gn\n--- a/.gn\n+++ b/.gn\n@@ -1 +1 @@\n-exec_script_allowlist = []\n+exec_script_whitelist = []\n";
const SHARED_PATCH: &str = "why: mark the tree\n\ndiff --git a/mobilertc/README.md b/mobilertc/README.md\nnew file mode 100644\n--- /dev/null\n+++ b/mobilertc/README.md\n@@ -0,0 +1 @@\n+patched by mobilertc\n";

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    tarball: PathBuf,
    debian_tar: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_deps_revision(REV)
    }

    fn with_deps_revision(rev: &str) -> Fixture {
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
        // Pass-throughs to the real patch and git that can hang, so a test can kill a run
        // inside the unpack (Debian's patches) or the patches step (git apply).
        for tool in ["patch", "git"] {
            let real = which::which(tool).unwrap();
            write_exe(
                &f.dir.join("fake-bin").join(tool),
                &format!(
                    "#!/bin/sh\nif [ \"$FAKE_HANG_TOOL\" = {tool} ] && [ \"$1\" = \"$FAKE_HANG_ARG1\" ]; then : > \"$FAKE_HANG_MARKER\"; while :; do sleep 60; done; fi\nexec \"{}\" \"$@\"\n",
                    real.display()
                ),
            );
        }
        let apt = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/apt/apt-get");
        fs::create_dir_all(f.dir.join("apt-bin")).unwrap();
        std::os::unix::fs::symlink(apt, f.dir.join("apt-bin/apt-get")).unwrap();
        f
    }

    fn write_config(&self, revision: &str, milestone: u32) {
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

    fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    fn src(&self) -> PathBuf {
        self.work().join("src")
    }
    fn trace(&self) -> PathBuf {
        self.dir.join("trace.txt")
    }

    fn env(&self) -> BTreeMap<String, String> {
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

    fn xtask(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        self.command(args, extra).output().unwrap()
    }

    fn ok(&self, args: &[&str], extra: &[(&str, &str)]) -> String {
        let out = self.xtask(args, extra);
        assert!(
            out.status.success(),
            "xtask {args:?} failed:\n{}",
            text(&out)
        );
        text(&out)
    }

    fn tarball_args(&self) -> Vec<String> {
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

    fn fetch_tarball(&self, extra: &[(&str, &str)]) -> String {
        let a = self.tarball_args();
        self.ok(&a.iter().map(String::as_str).collect::<Vec<_>>(), extra)
    }

    /// A run killed (with its process group) once `tool` is called with `arg1`.
    fn kill_when(&self, args: &[String], tool: &str, arg1: &str) {
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
    fn tree(&self) -> String {
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

#[test]
fn tarball_makes_the_gclient_layout_and_a_rerun_does_nothing() {
    let f = Fixture::new();
    let log = f.fetch_tarball(&[]);
    assert!(log.contains("[4/4] webrtc.lock"), "{log}");
    assert!(
        log.contains("not in this tarball (stripped by its repack): third_party/opus"),
        "{log}"
    );
    assert!(
        log.contains("2 of Debian's patches applied (of 2 selected)"),
        "{log}"
    );
    let src = f.src();
    // The gclient layout: WebRTC at src/, Chromium's pieces under it.
    for p in [
        "DEPS",
        "BUILD.gn",
        "api/peer_connection_interface.h",
        "testing/test.gni",
        "tools/t.py",
        "third_party/abseil-cpp/absl/base/config.h",
    ] {
        assert!(src.join(p).is_file(), "src/{p} missing");
    }
    assert!(
        !src.join("chrome").exists() && !src.join("third_party/skia").exists(),
        "only the subset"
    );
    assert!(!f.work().join(".tarball-unpack").exists() && !f.work().join("src.partial").exists());
    // gclient_args.gni from WebRTC's DEPS, not Chromium's.
    assert_eq!(
        fs::read_to_string(src.join("build/config/gclient_args.gni")).unwrap(),
        "# Generated from WebRTC's DEPS (gclient_gn_args)\nandroid_ndk_version = \"2@30.0.14608247\"\ngenerate_location_tags = true\n"
    );
    // Debian's selected patches (the hunk outside the subset dropped), the unselected not.
    assert!(fs::read_to_string(src.join("build/config/BUILD.gn"))
        .unwrap()
        .contains("use_gold = false"));
    assert!(fs::read_to_string(src.join("BUILD.gn"))
        .unwrap()
        .contains("# debian was here"));
    assert_eq!(
        fs::read_to_string(src.join("tools/t.py")).unwrap(),
        "print(1)\n"
    );
    // Ours: patches/tarball then patches/.
    assert_eq!(
        fs::read_to_string(src.join(".gn")).unwrap(),
        "exec_script_whitelist = []\n"
    );
    assert!(src.join("mobilertc/README.md").is_file());
    // The lock: WebRTC's revision, the tarball's version, checksum and milestone.
    let lock = fs::read_to_string(f.dir.join("webrtc.lock")).unwrap();
    assert!(lock.contains(&format!("revision = \"{REV}\"")), "{lock}");
    assert!(
        lock.contains(&format!("sha256 = \"{}\"", sha256(&f.tarball))),
        "{lock}"
    );
    assert!(
        lock.contains("milestone = 150") && lock.contains(&format!("version = \"{VERSION}\"")),
        "{lock}"
    );
    assert!(
        lock.contains("debian_patches = [\"fixes/build.patch\", \"upstream/webrtc.patch\"]"),
        "{lock}"
    );
    // patches status sees them (src/ is a git repo with the tarball as its one commit).
    let status = f.ok(&["patches", "status"], &[]);
    for p in ["tarball-0001-gn-whitelist.patch", "0001-mark.patch"] {
        let l = status.lines().find(|l| l.contains(p)).unwrap_or_default();
        assert!(l.trim_end().ends_with(" applied"), "{p}: {status}");
    }
    // The gclient route does not take this work dir over.
    let out = f.xtask(&["fetch-webrtc"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("holds a checkout made from a Chromium tarball"),
        "{}",
        text(&out)
    );

    // The rerun: every step up to date, nothing spawned.
    let _ = fs::remove_file(f.trace());
    let again = f.fetch_tarball(&[]);
    assert_eq!(again.matches("up to date").count(), 4, "{again}");
    assert_eq!(
        fs::read_to_string(f.trace()).unwrap_or_default(),
        "",
        "a rerun spawns nothing"
    );
}

#[test]
fn debian_source_goes_through_a_private_apt_and_the_cache() {
    let f = Fixture::new();
    let log = f.ok(&["fetch-webrtc", "--debian-source"], &[]);
    assert!(log.contains("apt-get source --download-only"), "{log}");
    let apt_log = fs::read_to_string(f.dir.join("apt-log.txt")).unwrap();
    let conf = f.dir.join("apt/etc/apt.conf");
    let dl = f.dir.join(format!("cache/debian/chromium_{DEB_VERSION}"));
    assert_eq!(
        apt_log,
        format!(
            "{apt}\tAPT_CONFIG={conf}\tupdate\n{dl}\tAPT_CONFIG={conf}\tsource --download-only chromium={DEB_VERSION}\n",
            apt = f.dir.join("apt").display(),
            conf = conf.display(),
            dl = dl.display()
        )
    );
    assert!(fs::read_to_string(f.dir.join("apt/etc/sources.list"))
        .unwrap()
        .contains("deb-src http://deb.debian.org/debian bookworm main"));
    assert!(fs::read_to_string(f.src().join("BUILD.gn"))
        .unwrap()
        .contains("# debian was here"));
    let lock = fs::read_to_string(f.dir.join("webrtc.lock")).unwrap();
    assert!(
        lock.contains(&format!("debian = \"chromium={DEB_VERSION}\"")),
        "{lock}"
    );
    let same = f.tree();

    // A second checkout with the same cache: no apt at all, the same tree.
    fs::remove_dir_all(f.work()).unwrap();
    fs::remove_file(f.dir.join("apt-log.txt")).unwrap();
    f.ok(&["fetch-webrtc", "--debian-source"], &[]);
    assert!(
        !f.dir.join("apt-log.txt").exists(),
        "the cache served both files"
    );
    assert_eq!(f.tree(), same);

    // An archive that does not have the pinned version: apt's error, exit code and all.
    fs::remove_dir_all(f.work()).unwrap();
    fs::remove_dir_all(f.dir.join("cache")).unwrap();
    fs::rename(f.dir.join("archive"), f.dir.join("archive-gone")).unwrap();
    fs::create_dir_all(f.dir.join("archive")).unwrap();
    let out = f.xtask(&["fetch-webrtc", "--debian-source"], &[]);
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(
        msg.contains("exit status: 100") && msg.contains("Can not find version"),
        "{msg}"
    );
}

#[test]
fn checksum_mismatch_is_refused_before_anything_is_extracted() {
    let f = Fixture::new();
    let wrong = "0".repeat(64);
    let t = f.tarball.display().to_string();
    let out = f.xtask(&["fetch-webrtc", "--tarball", &t, "--sha256", &wrong], &[]);
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(msg.contains(&format!("checksum mismatch for {t}")), "{msg}");
    assert!(
        msg.contains(&format!("expected sha256 {wrong}"))
            && msg.contains(&format!("got      sha256 {}", sha256(&f.tarball))),
        "{msg}"
    );
    assert!(!f.src().exists());

    // A download (curl, file:// URL) with a wrong checksum is refused and not cached…
    let url = format!("file://{t}");
    let out = f.xtask(
        &["fetch-webrtc", "--tarball", &url, "--sha256", &wrong],
        &[],
    );
    assert!(
        !out.status.success() && text(&out).contains("checksum mismatch"),
        "{}",
        text(&out)
    );
    assert!(!f.dir.join(format!("cache/sha256/{wrong}")).exists());
    assert!(!f.dir.join(format!("cache/partial/{wrong}.part")).exists());
    // …with the right one it lands in the cache, keyed by its checksum.
    let sha = sha256(&f.tarball);
    let log = f.ok(&["fetch-webrtc", "--tarball", &url, "--sha256", &sha], &[]);
    assert!(log.contains("downloading file://"), "{log}");
    assert!(f
        .dir
        .join(format!("cache/sha256/{sha}/{TOP}.tar.xz"))
        .is_file());
    // A URL without a checksum is refused up front.
    let out = f.xtask(&["fetch-webrtc", "--tarball", &url], &[]);
    assert!(
        text(&out).contains("a download needs --sha256"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_tarball_pinning_another_webrtc_is_refused() {
    // The tarball's DEPS pins another commit than webrtc.toml.
    let f = Fixture::with_deps_revision(&"a".repeat(40));
    let a = f.tarball_args();
    let out = f.xtask(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(
        msg.contains(&format!(
            "Chromium {VERSION} pins WebRTC at {}, but webrtc.toml pins webrtc.revision = {REV}",
            "a".repeat(40)
        )),
        "{msg}"
    );
    assert!(!f.src().exists(), "nothing was made");
    // The right revision with a wrong milestone is refused too.
    let f = Fixture::new();
    f.write_config(REV, 148);
    let a = f.tarball_args();
    let out = f.xtask(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(
        text(&out).contains("is milestone 150, but webrtc.toml says webrtc.milestone = 148"),
        "{}",
        text(&out)
    );
}

#[test]
fn killed_runs_resume_and_converge_to_the_same_checkout() {
    let clean = Fixture::new();
    clean.fetch_tarball(&[]);
    let expected = clean
        .tree()
        .replace(&clean.dir.display().to_string(), "<dir>");

    let f = Fixture::new();
    let args = f.tarball_args();
    // Killed inside the unpack (Debian's patches), then inside the patches step (git apply).
    f.kill_when(&args, "patch", "-p1");
    assert!(!f.src().exists(), "src/ is never half-made");
    f.kill_when(&args, "git", "apply");
    assert!(f.src().join(".git").exists(), "the unpack had finished");
    let log = f.fetch_tarball(&[]);
    assert!(
        log.contains("[1/4] tarball              up to date"),
        "{log}"
    );
    assert!(
        log.contains("[2/4] unpack + re-root     up to date"),
        "{log}"
    );
    assert_eq!(
        f.tree().replace(&f.dir.display().to_string(), "<dir>"),
        expected
    );
    // A removed src/ is unpacked again although stamped.
    fs::remove_dir_all(f.src()).unwrap();
    f.fetch_tarball(&[]);
    assert_eq!(
        f.tree().replace(&f.dir.display().to_string(), "<dir>"),
        expected
    );
}

#[test]
fn dry_run_prints_the_tarball_plan_and_runs_nothing() {
    let f = Fixture::new();
    let mut a = f.tarball_args();
    a.push("--dry-run".into());
    let out = f.ok(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    for want in [
        "[1/4] tarball (will run)",
        "[2/4] unpack + re-root (will run)",
        "2 Debian patches",
        "git apply --check -v",
        "[4/4] webrtc.lock (will run)",
    ] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
    assert!(!f.trace().exists() && !f.work().join("src").exists());
    let deb = f.ok(&["fetch-webrtc", "--debian-source", "--dry-run"], &[]);
    assert!(
        deb.contains(&format!(
            "$ apt-get source --download-only 'chromium={DEB_VERSION}'"
        )),
        "{deb}"
    );
    assert!(!f.dir.join("apt-log.txt").exists());
}

/// The gn shims for libraries a repack strips (`patches/tarball/repack/`) create files an
/// official tarball already has: only a repack (`--debian-source`, `--debian-tar`, or a
/// checkout whose unpack found them missing) gets them.
#[test]
fn repack_patches_only_for_a_repack() {
    let f = Fixture::new();
    write(
        &f.dir.join("patches/tarball/repack/0002-unbundle.patch"),
        TARBALL_PATCH,
    );
    let repack = "patches/tarball/repack/0002-unbundle.patch";
    let plan = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.push("--dry-run");
        f.ok(&a, &[])
    };
    let sha = sha256(&f.tarball);
    let tarball = f.tarball.display().to_string();
    let official = plan(&["fetch-webrtc", "--tarball", &tarball, "--sha256", &sha]);
    assert!(official.contains("2 patch(es)"), "{official}");
    assert!(!official.contains(repack), "{official}");
    let with_debian_tar = f.tarball_args();
    let with_debian_tar = plan(
        &with_debian_tar
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(with_debian_tar.contains("3 patch(es)"), "{with_debian_tar}");
    assert!(with_debian_tar.contains(repack), "{with_debian_tar}");
    let debian = plan(&["fetch-webrtc", "--debian-source"]);
    assert!(debian.contains(repack), "{debian}");
}
