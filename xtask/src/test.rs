//! `cargo xtask test`: every test of the workspace, on a machine that may have nothing yet.
//!
//! The plan: install the host packages the tests need (Debian/Ubuntu, when allowed), write
//! the distro SDK (`cargo xtask sdk --provider system`) when none is configured, then
//! `cargo test --workspace`. `--ci` adds the format and clippy gates; `--leak-check` reruns
//! the lifecycle test under valgrind. `.ci/run` calls exactly this command.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// Debian packages the tests need, each with why (printed when they are missing).
///
/// Everything else the suite uses (git, python3, gcc/g++) comes with the base image; they
/// are listed anyway so a slimmer machine gets a precise message rather than a test failure.
pub const HOST_PACKAGES: &[(&str, &str)] = &[
    (
        "libtgowt-dev",
        "the distro libwebrtc the shim is built and tested against",
    ),
    (
        "libabsl-dev",
        "abseil headers libwebrtc's headers include (absl::debian3)",
    ),
    ("libclang-dev", "libclang for bindgen (webrtc-sys bindings)"),
    (
        "pkg-config",
        "resolves libtgowt's abseil link set when writing the SDK",
    ),
    ("g++", "compiles the C++ shim"),
    ("git", "the fixture upstream of the fetch-webrtc tests"),
    ("python3", "the stand-in gclient of the fetch-webrtc tests"),
    (
        "valgrind",
        "the leak check of the lifecycle test (--leak-check)",
    ),
];

/// The leak checker and what it counts as a failure: memory nothing points at any more.
const VALGRIND: &str = "valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite --num-callers=30";
/// Call cycles under valgrind (~50x slower than native; 50 run natively in the suite).
const LEAK_CHECK_CYCLES: u32 = 5;

#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// Never install packages: list what is missing and stop.
    #[arg(long)]
    pub no_install: bool,
    /// Allow `sudo apt-get install` when not root (it may ask for a password).
    #[arg(long)]
    pub sudo: bool,
    /// What CI runs: also `cargo fmt --check` and `cargo clippy -D warnings`, and the leak check.
    #[arg(long)]
    pub ci: bool,
    /// Rerun the 50-cycle lifecycle test under valgrind's leak checker.
    #[arg(long)]
    pub leak_check: bool,
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
    InstallPackages { packages: Vec<String>, sudo: bool },
    WriteSystemSdk,
    FmtCheck,
    Clippy,
    CargoTest { extra: Vec<String> },
    LeakCheck,
    RunDemo,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::InstallPackages { packages, sudo } => write!(
                f,
                "{}apt-get update && {}apt-get install -y --no-install-recommends {}",
                if *sudo { "sudo " } else { "" },
                if *sudo { "sudo " } else { "" },
                packages.join(" ")
            ),
            Step::WriteSystemSdk => f.write_str("cargo xtask sdk --provider system"),
            Step::FmtCheck => f.write_str("cargo fmt --all -- --check"),
            Step::Clippy => {
                f.write_str("cargo clippy --workspace --all-targets --locked -- -D warnings")
            }
            Step::CargoTest { extra } => {
                write!(f, "cargo test --workspace --locked")?;
                if !extra.is_empty() {
                    write!(f, " -- {}", extra.join(" "))?;
                }
                Ok(())
            }
            Step::RunDemo => f.write_str(DEMO),
            Step::LeakCheck => write!(
                f,
                "MOBILERTC_CYCLES={LEAK_CHECK_CYCLES} cargo test -p mobilertc --test lifecycle (under {VALGRIND})"
            ),
        }
    }
}

/// What the machine looks like, gathered once so `plan` stays pure and testable.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// `None` when the host has no dpkg (not Debian/Ubuntu): packages can't be checked.
    pub missing_packages: Option<Vec<String>>,
    pub is_root: bool,
    /// `WEBRTC_SDK_DIR` is set: the user brings their own SDK, don't write one.
    pub sdk_dir_from_env: bool,
}

/// `cargo xtask demo`'s own step: the loopback call example on the SDK's libwebrtc.
const DEMO: &str = "cargo run --release --locked -p mobilertc --features testing --example demo";

/// Compute the plan; errors say what to do instead.
pub fn plan(args: &TestArgs, facts: &HostFacts) -> Result<Vec<Step>> {
    let mut steps = host_steps(args.no_install, args.sudo, facts)?;
    if args.ci {
        steps.push(Step::FmtCheck);
        steps.push(Step::Clippy);
    }
    steps.push(Step::CargoTest {
        extra: args.cargo_args.clone(),
    });
    if args.ci || args.leak_check {
        steps.push(Step::LeakCheck);
    }
    Ok(steps)
}

/// What makes a host ready to build the native crates: the packages, then the SDK.
/// Shared by `test` and `demo`.
pub fn host_steps(no_install: bool, sudo: bool, facts: &HostFacts) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    if let Some(missing) = facts.missing_packages.as_ref().filter(|m| !m.is_empty()) {
        let install = Step::InstallPackages {
            packages: missing.clone(),
            sudo: !facts.is_root,
        };
        if no_install || (!facts.is_root && !sudo) {
            let why: Vec<String> = HOST_PACKAGES
                .iter()
                .filter(|(p, _)| missing.iter().any(|m| m == p))
                .map(|(p, why)| format!("  {p}: {why}"))
                .collect();
            bail!(
                "the tests need host packages that are not installed:\n{}\ninstall them with:\n  {install}\n{}",
                why.join("\n"),
                if no_install {
                    "(--no-install was given)"
                } else {
                    "or rerun as root, or with --sudo to let this command use sudo"
                }
            );
        }
        steps.push(install);
    }
    if !facts.sdk_dir_from_env {
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

fn is_root(sh: &Shell) -> bool {
    cmd!(sh, "id -u")
        .quiet()
        .read()
        .map(|uid| uid.trim() == "0")
        .unwrap_or(false)
}

/// Look at the host once: missing packages, root, a user-provided SDK.
pub fn host_facts(sh: &Shell) -> HostFacts {
    let packages: Vec<&str> = HOST_PACKAGES.iter().map(|(p, _)| *p).collect();
    let facts = HostFacts {
        missing_packages: missing_packages(sh, &packages),
        is_root: is_root(sh),
        sdk_dir_from_env: std::env::var_os(webrtc_sdk::SDK_DIR_ENV).is_some(),
    };
    if facts.missing_packages.is_none() {
        eprintln!(
            "warning: no dpkg on this host; make sure these are installed: {}",
            packages.join(", ")
        );
    }
    facts
}

pub fn run(sh: &Shell, args: TestArgs) -> Result<()> {
    let steps = plan(&args, &host_facts(sh))?;
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
        Step::InstallPackages { packages, sudo } => {
            // sudo runs apt-get itself; -E keeps DEBIAN_FRONTEND so no debconf prompt waits.
            let (program, pre): (&str, &[&str]) = if *sudo {
                ("sudo", &["-E", "apt-get"])
            } else {
                ("apt-get", &[])
            };
            let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
            cmd!(sh, "{program} {pre...} update -q").run()?;
            cmd!(
                sh,
                "{program} {pre...} install -y -q --no-install-recommends {packages...}"
            )
            .run()?;
        }
        Step::WriteSystemSdk => {
            let xtask: PathBuf = std::env::current_exe().context("locating the xtask binary")?;
            cmd!(sh, "{xtask} sdk --provider system").run()?;
        }
        Step::FmtCheck => cmd!(sh, "cargo fmt --all -- --check").run()?,
        Step::RunDemo => {
            let args: Vec<&str> = DEMO.split_whitespace().skip(1).collect();
            cmd!(sh, "cargo {args...}").run()?
        }
        Step::Clippy => cmd!(
            sh,
            "cargo clippy --workspace --all-targets --locked -- -D warnings"
        )
        .run()?,
        Step::CargoTest { extra } => {
            let sep: Vec<OsString> = if extra.is_empty() {
                vec![]
            } else {
                vec!["--".into()]
            };
            cmd!(sh, "cargo test --workspace --locked {sep...} {extra...}").run()?
        }
        Step::LeakCheck => {
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
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> TestArgs {
        TestArgs {
            no_install: false,
            sudo: false,
            ci: false,
            leak_check: false,
            dry_run: false,
            cargo_args: vec![],
        }
    }

    #[test]
    fn fresh_root_machine_installs_then_tests() {
        let facts = HostFacts {
            missing_packages: Some(vec!["libtgowt-dev".into(), "libclang-dev".into()]),
            is_root: true,
            sdk_dir_from_env: false,
        };
        let steps = plan(&TestArgs { ci: true, ..args() }, &facts).unwrap();
        let shown: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            shown,
            [
                "apt-get update && apt-get install -y --no-install-recommends libtgowt-dev libclang-dev",
                "cargo xtask sdk --provider system",
                "cargo fmt --all -- --check",
                "cargo clippy --workspace --all-targets --locked -- -D warnings",
                "cargo test --workspace --locked",
                "MOBILERTC_CYCLES=5 cargo test -p mobilertc --test lifecycle (under valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite --num-callers=30)",
            ]
        );
    }

    #[test]
    fn non_root_without_sudo_flag_names_the_command() {
        let facts = HostFacts {
            missing_packages: Some(vec!["libtgowt-dev".into()]),
            is_root: false,
            sdk_dir_from_env: false,
        };
        let err = plan(&args(), &facts).unwrap_err().to_string();
        assert!(
            err.contains("sudo apt-get install -y --no-install-recommends libtgowt-dev"),
            "{err}"
        );
        assert!(err.contains("the distro libwebrtc"), "{err}");
        assert!(err.contains("--sudo"), "{err}");
    }

    #[test]
    fn user_sdk_and_installed_packages_go_straight_to_tests() {
        let facts = HostFacts {
            missing_packages: Some(vec![]),
            is_root: false,
            sdk_dir_from_env: true,
        };
        let steps = plan(
            &TestArgs {
                cargo_args: vec!["call".into()],
                ..args()
            },
            &facts,
        )
        .unwrap();
        assert_eq!(
            steps,
            [Step::CargoTest {
                extra: vec!["call".into()]
            }]
        );
    }
}
