//! `cargo xtask test --upstream` (and `--ci`): the call tests on upstream libwebrtc, built
//! here from the pinned Chromium release (Debian's source package), beside the distro leg.
//!
//! fetch-webrtc --debian-source → build --target linux --sdk-only → dist (twice: the same
//! bytes) → sdk --provider prebuilt of that archive (the release path of docs/dist.md on the
//! real M150 SDK, for the price of packing it twice) → the call, lifecycle,
//! hostile-input, calling-app, netlab and browser tests against the installed SDK, then the
//! lifecycle tests under valgrind and (with a nightly toolchain) the native API's tests
//! under AddressSanitizer, as the distro leg does. The checkout and
//! its out/ dir live outside the clone, in a cache keyed by the pinned WebRTC revision
//! (gn gen and ninja then skip what is unchanged), so a rerun on the same machine does not
//! compile libwebrtc again; a fresh machine builds it once (~25 min on 2 cores).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

/// Where the upstream checkout and its build go.
pub const DIR_ENV: &str = "MOBILERTC_UPSTREAM_DIR";

/// The leg's places, all derived from the pin and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    /// fetch-webrtc's --work-dir (the checkout, out/, its lock file).
    pub work_dir: PathBuf,
    /// build's --sdk-root; the SDK is `<sdk_root>/<triple>`.
    pub sdk_root: PathBuf,
    /// Where dist writes its two archives (`a/`, `b/`) and prebuilt installs the first
    /// (`installed/<triple>`): the SDK the tests link.
    pub dist_dir: PathBuf,
    /// cargo's target dir for the upstream-linked test binaries (kept apart from the
    /// distro-linked ones so neither rebuilds the other).
    pub target_dir: PathBuf,
    pub triple: String,
}

/// The cache root: `$MOBILERTC_UPSTREAM_DIR`, else `$XDG_CACHE_HOME/mobilertc`, else
/// `~/.cache/mobilertc` (outside the clone: CI clones are fresh, the cache need not be).
pub fn cache_root(var: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(d) = var(DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = var("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(Path::new(&d).join("mobilertc"));
    }
    var("HOME")
        .filter(|d| !d.is_empty())
        .map(|h| Path::new(&h).join(".cache/mobilertc"))
}

impl Leg {
    /// A pure function of the cache root, the workspace, the pinned revision and the host.
    pub fn new(cache: &Path, workspace: &Path, revision: &str, triple: &str) -> Leg {
        let key: String = revision.chars().take(12).collect();
        Leg {
            work_dir: cache.join(format!("upstream-{key}")),
            sdk_root: workspace.join(".mobilertc/sdk-upstream"),
            dist_dir: workspace.join(".mobilertc/dist-upstream"),
            target_dir: workspace.join("target/upstream"),
            triple: triple.to_owned(),
        }
    }

    pub fn sdk_dir(&self) -> PathBuf {
        self.sdk_root.join(&self.triple)
    }

    /// The SDK installed from the archive: what the tests link.
    pub fn installed_sdk_dir(&self) -> PathBuf {
        self.dist_dir.join("installed").join(&self.triple)
    }

    fn archive(&self, run: &str) -> PathBuf {
        self.dist_dir
            .join(run)
            .join(crate::dist::archive_name(&self.triple))
    }

    /// The ASan build's own target dir (instrumented objects apart from the plain ones).
    fn asan_target_dir(&self) -> PathBuf {
        self.target_dir.with_file_name("upstream-asan")
    }

    fn lock_file(&self) -> PathBuf {
        self.work_dir.join("webrtc.lock")
    }
}

/// The leg's steps, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Fetch,
    Build,
    /// dist twice (byte-identical), then install the archive with --provider prebuilt.
    Dist,
    Tests,
    /// The native API's tests under AddressSanitizer on the upstream SDK.
    Asan,
    /// The lifecycle tests under valgrind on the upstream SDK.
    LeakCheck,
}

/// The leg's steps; `asan`: a nightly toolchain with rust-src can build the ASan run.
pub fn steps(asan: bool) -> Vec<Step> {
    let mut steps = vec![
        Step::Fetch,
        Step::Build,
        Step::Dist,
        Step::Tests,
        Step::LeakCheck,
    ];
    if asan {
        steps.push(Step::Asan);
    }
    steps
}

/// libc++ (which the upstream SDK's shim uses) annotates its strings and vectors for ASan
/// only in instrumented code: a string libwebrtc (not instrumented) made and the shim reads
/// is a false "container-overflow" (seen in VideoDecoderFactoryTemplate::IsFormatInList).
/// ASan's own advice for partly instrumented programs is to turn that one check off.
const ASAN_OPTIONS: &str = "detect_container_overflow=0";

/// What the tests run on the upstream SDK: every call test, not the pipeline's own tests
/// (they don't depend on which libwebrtc is linked).
const TEST_PACKAGES: &[&str] = &[
    "-p",
    "mobilertc",
    "-p",
    "mobilertc-call",
    "-p",
    "mobilertc-netlab",
    "-p",
    "mobilertc-e2e",
];

impl Step {
    pub fn show(&self, leg: &Leg, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = leg.work_dir.display();
        match self {
            Step::Fetch => write!(
                f,
                "upstream: cargo xtask fetch-webrtc --debian-source --work-dir {w} --lock-file {}",
                leg.lock_file().display()
            ),
            Step::Build => write!(
                f,
                "upstream: cargo xtask build --target linux --sdk-only --work-dir {w} --lock-file {} --sdk-root {}",
                leg.lock_file().display(),
                leg.sdk_root.display()
            ),
            Step::Dist => write!(
                f,
                "upstream: cargo xtask dist --target linux --sdk-root {} --work-dir {w} --out {}/a, again to …/b (same bytes), then cargo xtask sdk --provider prebuilt --path {} --sha256 <its .sha256> --out {}",
                leg.sdk_root.display(),
                leg.dist_dir.display(),
                leg.archive("a").display(),
                leg.installed_sdk_dir().display()
            ),
            Step::Tests => write!(
                f,
                "upstream: WEBRTC_SDK_DIR={} CARGO_TARGET_DIR={} cargo build (call, signaling) && cargo test {}",
                leg.installed_sdk_dir().display(),
                leg.target_dir.display(),
                TEST_PACKAGES.join(" ")
            ),
            Step::Asan => write!(
                f,
                "upstream: WEBRTC_SDK_DIR={} ASAN_OPTIONS={ASAN_OPTIONS} CARGO_TARGET_DIR={} {}",
                leg.installed_sdk_dir().display(),
                leg.asan_target_dir().display(),
                crate::test::ASAN_SHOWN
            ),
            Step::LeakCheck => write!(
                f,
                "upstream: WEBRTC_SDK_DIR={} CARGO_TARGET_DIR={} {}",
                leg.installed_sdk_dir().display(),
                leg.target_dir.display(),
                crate::test::leak_check_shown()
            ),
        }
    }

    pub fn execute(&self, sh: &Shell, leg: &Leg, require_vars: &[&str]) -> Result<()> {
        let xtask: PathBuf = crate::self_exe()?;
        let (w, lock, sdk_root) = (&leg.work_dir, leg.lock_file(), &leg.sdk_root);
        match self {
            Step::Fetch => {
                std::fs::create_dir_all(w).with_context(|| format!("creating {}", w.display()))?;
                cmd!(
                    sh,
                    "{xtask} fetch-webrtc --debian-source --work-dir {w} --lock-file {lock}"
                )
                .run()?;
            }
            Step::Build => cmd!(
                sh,
                "{xtask} build --target linux --sdk-only --work-dir {w} --lock-file {lock} --sdk-root {sdk_root}"
            )
            .run()?,
            Step::Dist => {
                let d = &leg.dist_dir;
                eprintln!("upstream: packing {}", leg.sdk_dir().display());
                let _ = std::fs::remove_dir_all(d);
                for run in ["a", "b"] {
                    let out = d.join(run);
                    cmd!(
                        sh,
                        "{xtask} dist --target linux --sdk-root {sdk_root} --work-dir {w} --out {out}"
                    )
                    .run()?;
                }
                let (a, b) = (leg.archive("a"), leg.archive("b"));
                let same = std::fs::read(&a).with_context(|| format!("reading {}", a.display()))?
                    == std::fs::read(&b).with_context(|| format!("reading {}", b.display()))?;
                anyhow::ensure!(
                    same,
                    "dist is not reproducible: {} and {} differ (the same SDK packed twice)",
                    a.display(),
                    b.display()
                );
                let sha_file = format!("{}.sha256", a.display());
                let line = std::fs::read_to_string(&sha_file)
                    .with_context(|| format!("reading {sha_file}"))?;
                let sha = line.split_whitespace().next().unwrap_or_default();
                let installed = leg.installed_sdk_dir();
                cmd!(
                    sh,
                    "{xtask} sdk --provider prebuilt --path {a} --sha256 {sha} --out {installed}"
                )
                .run()?;
            }
            Step::Tests => {
                let manifest = webrtc_sdk::Manifest::load(&leg.installed_sdk_dir())?;
                eprintln!(
                    "upstream SDK: provider {}, M{}, {}",
                    manifest.provider, manifest.webrtc.milestone, manifest.webrtc.revision
                );
                let bins = leg.target_dir.join("debug");
                let _env = [
                    sh.push_env(webrtc_sdk::SDK_DIR_ENV, leg.installed_sdk_dir()),
                    sh.push_env("CARGO_TARGET_DIR", &leg.target_dir),
                    sh.push_env("MOBILERTC_CALL_BIN", bins.join("call")),
                    sh.push_env("MOBILERTC_SIGNALING_BIN", bins.join("mobilertc-signaling")),
                ];
                let _require: Vec<_> = require_vars.iter().map(|v| sh.push_env(v, "1")).collect();
                cmd!(
                    sh,
                    "cargo build --locked -p mobilertc-call -p mobilertc-signaling --bins"
                )
                .run()?;
                cmd!(sh, "cargo test --locked {TEST_PACKAGES...}").run()?;
            }
            Step::Asan => {
                let _env = [
                    sh.push_env(webrtc_sdk::SDK_DIR_ENV, leg.installed_sdk_dir()),
                    sh.push_env("ASAN_OPTIONS", ASAN_OPTIONS),
                ];
                crate::test::run_asan(sh, &leg.asan_target_dir())?;
            }
            Step::LeakCheck => {
                let _env = [
                    sh.push_env(webrtc_sdk::SDK_DIR_ENV, leg.installed_sdk_dir()),
                    sh.push_env("CARGO_TARGET_DIR", &leg.target_dir),
                ];
                crate::test::run_leak_check(sh)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_outside_the_clone_and_keyed_by_the_pin() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            cache_root(env(&[(DIR_ENV, "/ci/cache"), ("HOME", "/root")])),
            Some(PathBuf::from("/ci/cache"))
        );
        assert_eq!(
            cache_root(env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/root")])),
            Some(PathBuf::from("/x/mobilertc"))
        );
        assert_eq!(
            cache_root(env(&[("HOME", "/root")])),
            Some(PathBuf::from("/root/.cache/mobilertc"))
        );
        assert_eq!(cache_root(env(&[])), None);

        let leg = Leg::new(
            Path::new("/c"),
            Path::new("/ws"),
            "1f975dfd761af6e5d76d28333191973b258d82a8",
            "x86_64-unknown-linux-gnu",
        );
        assert_eq!(leg.work_dir, PathBuf::from("/c/upstream-1f975dfd761a"));
        assert_eq!(
            leg.sdk_dir(),
            PathBuf::from("/ws/.mobilertc/sdk-upstream/x86_64-unknown-linux-gnu")
        );
        assert_eq!(leg.target_dir, PathBuf::from("/ws/target/upstream"));
        assert_eq!(
            leg.installed_sdk_dir(),
            PathBuf::from("/ws/.mobilertc/dist-upstream/installed/x86_64-unknown-linux-gnu")
        );
    }
}
