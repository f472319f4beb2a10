//! `cargo xtask build --target android|linux`: from a fetched checkout to the calling app.
//!
//! Per target: `gn gen` (only when args.gn changed) → ninja (the static library; on
//! Android also libwebrtc's Java classes) → licences → the `source` SDK dir → cargo (the
//! Android cdylib per ABI with the NDK env, or the Linux `call` binary) → on Android the
//! APK step (`crate::apk`). A typed plan first; `--dry-run` prints it.

pub mod android;
pub mod export;
pub mod gn_args;
pub mod ndk;
pub mod ninja;
mod step;
pub mod target;
pub mod toolchain;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::apk;
use crate::config::{Config, ConfigArgs};
use crate::fetch::depot_tools::DepotTools;
use crate::host::{prepend_path, Host};
use crate::run::{Cmd, Runner, StepLine};
use gn_args::GnExtras;
pub use step::Step;
use target::{Profile, Target};

/// Lowest Android API level the app supports (android-app/'s minSdk).
pub const DEFAULT_ANDROID_API: u32 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    Android,
    Linux,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// What to build: every Android ABI of webrtc.toml's [targets], or its Linux targets.
    #[arg(long, value_enum)]
    pub target: Platform,
    /// Only these Android ABIs (arm64-v8a, armeabi-v7a, x86_64, x86); repeatable.
    #[arg(long = "abi")]
    pub abis: Vec<String>,
    /// Debug build (is_debug=true, cargo dev profile, assembleDebug).
    #[arg(long)]
    pub debug: bool,
    /// An extra gn arg, KEY=VALUE in gn syntax; wins over webrtc.toml. Repeatable.
    #[arg(long = "gn-arg", value_name = "KEY=VALUE")]
    pub gn_args: Vec<String>,
    /// Compiler cache for libwebrtc's compiles (gn `cc_wrapper`): sccache, ccache or a path.
    #[arg(long)]
    pub cc_wrapper: Option<String>,
    /// Upstream's remote execution (`use_remoteexec=true`) for teams with an RBE backend.
    #[arg(long)]
    pub remote_exec: bool,
    /// ninja -j (default: cores, at most one per 2 GB of RAM).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// The NDK to build the Rust side with (else ANDROID_NDK_HOME, … see docs/build.md).
    #[arg(long)]
    pub ndk: Option<PathBuf>,
    /// Android API level of the Rust side (`--target=<triple><api>`).
    #[arg(long, default_value_t = DEFAULT_ANDROID_API)]
    pub api: u32,
    /// Where the SDK dirs go (`<dir>/<triple>`); default `.mobilertc/sdk`, where webrtc-sys
    /// looks. Elsewhere, point WEBRTC_SDK_DIR at `<dir>/<triple>`.
    #[arg(long, env = "MOBILERTC_SDK_ROOT")]
    pub sdk_root: Option<PathBuf>,
    /// Stop after the SDK dirs (no cargo, no APK).
    #[arg(long)]
    pub sdk_only: bool,
    /// Print the plan and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stream child output.
    #[arg(long, short)]
    pub verbose: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// What the host offers the plan (gathered once; tests build it by hand).
#[derive(Debug, Clone)]
pub struct Facts {
    pub cores: usize,
    pub ram_bytes: u64,
    /// `rustup target list --installed`; `None` without rustup (then not checked).
    pub rust_targets: Option<Vec<String>>,
    /// depot_tools' autoninja is on the child PATH.
    pub autoninja: bool,
    /// cargo's target directory.
    pub target_dir: PathBuf,
}

/// The targets `--target platform [--abi …]` selects from the config (`build` and `dist`).
pub fn targets(cfg: &Config, platform: Platform, abi_args: &[String]) -> Result<Vec<Target>> {
    let targets: Vec<Target> = match platform {
        Platform::Android => {
            let mut abis = cfg.targets.android.clone();
            if !abi_args.is_empty() {
                abis.retain(|a| abi_args.iter().any(|n| n == a.name()));
                for n in abi_args {
                    if !cfg.targets.android.iter().any(|a| a.name() == n) {
                        bail!(
                            "--abi {n}: not one of webrtc.toml's [targets] android ({})",
                            cfg.targets
                                .android
                                .iter()
                                .map(|a| a.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                }
            }
            abis.into_iter().map(Target::Android).collect()
        }
        Platform::Linux => cfg
            .targets
            .linux
            .iter()
            .copied()
            .map(Target::Linux)
            .collect(),
    };
    if targets.is_empty() {
        bail!("webrtc.toml's [targets] lists nothing for {platform:?}");
    }
    Ok(targets)
}

/// The plan. `ndk` is `Err` when none was found: fatal, except in a dry run, which shows
/// the NDK-dependent commands with `$ANDROID_NDK_HOME`.
pub fn plan(
    root: &Path,
    cfg: &Config,
    args: &BuildArgs,
    host: &Host,
    facts: &Facts,
    ndk: Result<ndk::Ndk>,
) -> Result<Vec<Step>> {
    let profile = if args.debug {
        Profile::Debug
    } else {
        Profile::Release
    };
    let extras = GnExtras {
        args: args
            .gn_args
            .iter()
            .map(|s| gn_args::parse_gn_arg(s))
            .collect::<Result<_>>()?,
        cc_wrapper: args.cc_wrapper.clone(),
        remote_exec: args.remote_exec,
        android_api: Some(args.api),
    };
    let targets = targets(cfg, args.target, &args.abis)?;
    let src = cfg.src_dir();
    let dt = DepotTools::resolve(cfg, host)?;
    let mut env = BTreeMap::new();
    env.insert("PATH".to_owned(), prepend_path(dt.dir(), host.var("PATH")));
    let jobs = args
        .jobs
        .unwrap_or_else(|| ninja::default_jobs(facts.cores, facts.ram_bytes));
    let lock = std::fs::read_to_string(&cfg.lock_file).unwrap_or_default();
    let android = args.target == Platform::Android;
    let ndk = match (android, ndk) {
        (false, _) => None,
        (true, Ok(n)) => Some(n),
        (true, Err(e)) if args.dry_run => {
            eprintln!("note: {e:#}\n      (the plan below shows $ANDROID_NDK_HOME in its place)");
            Some(ndk::Ndk {
                root: "$ANDROID_NDK_HOME".into(),
                revision: "?".into(),
                major: 0,
                from: "missing".into(),
                warnings: vec![],
            })
        }
        (true, Err(e)) => return Err(e),
    };
    if let Some(n) = &ndk {
        for w in &n.warnings {
            eprintln!("warning: {w}");
        }
    }
    if android {
        if let Err(e) = android::check_webrtc_has_sdk(&src) {
            if !args.dry_run {
                return Err(e);
            }
            eprintln!("warning: {e:#}");
        }
    }

    let mut steps = Vec::new();
    let mut abi_libs = Vec::new();
    let mut webrtc_java = None;
    let cargo_profile_dir = if args.debug { "debug" } else { "release" };
    for &t in &targets {
        let out_dir = src.join("out").join(t.name());
        let args_map = gn_args::gn_args(&cfg.gn, t, profile, &extras);
        let custom_libcxx = args_map.get("use_custom_libcxx").map(String::as_str) == Some("true");
        let system_llvm = match t {
            Target::Linux(_) => toolchain::SystemLlvm::from_gn_args(&args_map),
            Target::Android(_) => None,
        };
        let mut env = env.clone();
        if let Some(llvm) = &system_llvm {
            let path = env.get("PATH").cloned().unwrap_or_default();
            env.extend(llvm.env(&path));
        }
        steps.push(Step::GnGen {
            target: t,
            out_dir: out_dir.clone(),
            args_gn: gn_args::render(&args_map),
            cmd: ninja::gn_gen("gn", &src, &out_dir, &env),
        });
        // One target: on Android `webrtc` depends on `sdk/android` (the native API, the JNI
        // code, libwebrtc.jar and libjingle_peerconnection_so), see `android::check_webrtc_has_sdk`.
        let ninja_targets = ["webrtc"];
        if let Target::Android(_) = t {
            // The Java half libwebrtc's Android audio/video code calls back into.
            webrtc_java = Some(out_dir.join("lib.java/sdk/android/libwebrtc.jar"));
        }
        steps.push(Step::Ninja {
            target: t,
            cmd: ninja::ninja(facts.autoninja, &src, &out_dir, jobs, &ninja_targets, &env),
        });
        steps.push(Step::Licenses {
            target: t,
            cmd: Cmd::new(
                "python3",
                &[
                    "tools_webrtc/libs/generate_licenses.py",
                    "--target",
                    "//:webrtc",
                ],
                &src,
                &env,
            )
            .arg(out_dir.join("licenses").display().to_string())
            .arg(out_dir.display().to_string()),
        });
        let sdk_dir = match &args.sdk_root {
            Some(dir) => host.cwd.join(dir).join(t.rust_triple()),
            None => webrtc_sdk::default_sdk_dir(root, t.rust_triple()),
        };
        let mut versions = format!(
            "webrtc {} (M{})\ntarget {} ({})\nprofile {}\n",
            cfg.revision,
            cfg.milestone.unwrap_or(0),
            t,
            t.rust_triple(),
            profile.name()
        );
        if let (Target::Android(_), Some(n)) = (t, &ndk) {
            versions.push_str(&format!("ndk {} ({})\n", n.revision, n.root.display()));
        }
        versions.push_str("\n# DEPS revisions (webrtc.lock, from gclient revinfo)\n");
        versions.push_str(if lock.is_empty() {
            "(no webrtc.lock yet)\n"
        } else {
            &lock
        });
        let libs_cmd = Cmd::new("gn", &["desc"], &src, &env)
            .arg(out_dir.display().to_string())
            .arg("//:webrtc")
            .arg("libs");
        steps.push(Step::ExportSdk {
            libs_cmd,
            inputs: Box::new(export::ExportInputs {
                target: t,
                src: src.clone(),
                out_dir: out_dir.clone(),
                sdk_dir: sdk_dir.clone(),
                revision: cfg.revision.clone(),
                milestone: cfg.milestone.unwrap_or(0),
                android_api: matches!(t, Target::Android(_)).then_some(args.api),
                custom_libcxx,
                library: "obj/libwebrtc.a".into(),
                versions,
                system_llvm,
                system_libs: vec![],
            }),
        });
        if args.sdk_only {
            continue;
        }
        let triple = t.rust_triple();
        if let Some(installed) = &facts.rust_targets {
            if !installed.iter().any(|i| i == triple) && !args.dry_run {
                bail!(
                    "the Rust target {triple} is not installed: run `rustup target add {triple}`"
                );
            }
        }
        let release: &[&str] = if args.debug { &[] } else { &["--release"] };
        match t {
            Target::Android(abi) => {
                let n = ndk.as_ref().expect("android has an NDK");
                let (cenv, warnings) = ndk::cargo_env(n, abi, args.api, &sdk_dir, host);
                let mut cmd = Cmd::new("cargo", &["rustc"], root, &cenv);
                for a in release {
                    cmd = cmd.arg(*a);
                }
                // The package is an rlib for host tests; the APK needs the cdylib.
                for a in [
                    "--locked",
                    "-p",
                    "mobilertc-android",
                    "--lib",
                    "--target",
                    triple,
                    "--crate-type",
                    "cdylib",
                ] {
                    cmd = cmd.arg(a);
                }
                let output = facts
                    .target_dir
                    .join(triple)
                    .join(cargo_profile_dir)
                    .join("libmobilertc_app.so");
                abi_libs.push((abi, output.clone()));
                steps.push(Step::Cargo {
                    target: t,
                    cmd,
                    output,
                    warnings,
                });
            }
            Target::Linux(_) => {
                let mut cenv = BTreeMap::new();
                cenv.insert(
                    webrtc_sdk::SDK_DIR_ENV.to_owned(),
                    sdk_dir.display().to_string(),
                );
                let mut cmd = Cmd::new("cargo", &["build"], root, &cenv);
                for a in release {
                    cmd = cmd.arg(*a);
                }
                for a in [
                    "--locked",
                    "-p",
                    "mobilertc-call",
                    "--bins",
                    "--target",
                    triple,
                ] {
                    cmd = cmd.arg(a);
                }
                let output = facts
                    .target_dir
                    .join(triple)
                    .join(cargo_profile_dir)
                    .join("call");
                steps.push(Step::Cargo {
                    target: t,
                    cmd,
                    output,
                    warnings: vec![],
                });
            }
        }
    }
    if android && !args.sdk_only {
        steps.push(Step::Apk(apk::ApkInputs {
            project: root.join("android-app"),
            abi_libs,
            libcxx_shared: vec![],
            webrtc_java,
            profile,
        }));
    }
    Ok(steps)
}

fn facts(sh: &Shell, host: &Host, env_path: &str) -> Result<Facts> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ram_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(8 << 30, |kb| kb * 1024);
    let rust_targets = xshell::cmd!(sh, "rustup target list --installed")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .map(|s| s.lines().map(str::to_owned).collect());
    let autoninja = which::which_in("autoninja", Some(env_path), &host.cwd).is_ok();
    Ok(Facts {
        cores,
        ram_bytes,
        rust_targets,
        autoninja,
        target_dir: crate::demo::target_dir(sh)?,
    })
}

pub fn run(sh: &Shell, args: BuildArgs) -> Result<()> {
    let root = crate::project_root();
    let host = Host::from_process(root.clone());
    let mut cfg = Config::load(&root, &host, &args.config)?;
    // The same lock as fetch-webrtc: no sync or patch step changes the tree under ninja.
    let _lock = if !args.dry_run && cfg.work_dir.is_dir() {
        Some(crate::state::CheckoutLock::acquire(&cfg.work_dir, "build")?)
    } else {
        None
    };
    let src = cfg.src_dir();
    if !args.dry_run && !src.join(".gn").is_file() {
        bail!(
            "no WebRTC checkout at {}: run `cargo xtask fetch-webrtc` first (or pass --work-dir)",
            src.display()
        );
    }
    if cfg.milestone.is_none() && src.join(".gn").is_file() {
        // No milestone in webrtc.toml, or --revision said another commit: read it off the
        // checkout's API now, not after ninja (the manifest needs it).
        let (m, evidence) =
            crate::sdk::system::milestone_from_headers(&src).with_context(|| {
                format!(
                "webrtc.milestone is not set (or --revision overrides it) and {} does not tell; \
                 set webrtc.milestone in {}",
                src.display(),
                cfg.file.display()
            )
            })?;
        eprintln!(
            "note: milestone M{m} read off the checkout's API ({}); set webrtc.milestone for the exact one",
            evidence.join("; ")
        );
        cfg.milestone = Some(m);
    }
    let ndk = ndk::discover(&host, args.ndk.as_deref(), &src);
    let dt = DepotTools::resolve(&cfg, &host)?;
    let path = prepend_path(dt.dir(), host.var("PATH"));
    let facts = facts(sh, &host, &path)?;
    let steps = plan(&root, &cfg, &args, &host, &facts, ndk)?;
    if args.dry_run {
        for (i, s) in steps.iter().enumerate() {
            print!("[{}/{}] {s}", i + 1, steps.len());
        }
        return Ok(());
    }
    let runner = Runner::new(sh, args.verbose, &host);
    let logs = cfg.work_dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    execute(&steps, &runner, &logs, &host)
}

/// Runs the steps in order; each step's log is `logs/build-<n>-<title>.log`.
pub fn execute(steps: &[Step], runner: &Runner<'_>, logs: &Path, host: &Host) -> Result<()> {
    let n = steps.len();
    for (i, step) in steps.iter().enumerate() {
        let title = step.title();
        let line = StepLine::start(i + 1, n, &title, runner.progress);
        let log = logs.join(format!(
            "build-{}-{}.log",
            i + 1,
            title.replace([' ', '/'], "-")
        ));
        match step {
            Step::GnGen {
                out_dir,
                args_gn,
                cmd,
                ..
            } => {
                if !ninja::needs_gen(out_dir, args_gn) {
                    line.finish("args unchanged, skipped");
                    continue;
                }
                std::fs::create_dir_all(out_dir)?;
                std::fs::write(out_dir.join("args.gn"), args_gn)
                    .with_context(|| format!("writing {}/args.gn", out_dir.display()))?;
                runner.run(cmd, &log)?;
            }
            Step::Ninja { cmd, .. } | Step::Cargo { cmd, .. } => runner.run(cmd, &log)?,
            Step::Licenses { cmd, .. } => {
                let script = cmd.cwd.join(&cmd.args[0]);
                if !script.is_file() {
                    line.finish("no generate_licenses.py in this checkout, skipped");
                    continue;
                }
                // The script imports depot_tools' modules (find_depot_tools); a checkout made
                // from a Chromium tarball has no depot_tools.
                let depot_tools = cmd.env.get("PATH").is_some_and(|p| {
                    std::env::split_paths(p).any(|d| d.join("gclient.py").is_file())
                });
                if !depot_tools {
                    line.finish(
                        "skipped: generate_licenses.py needs depot_tools on PATH (a tarball checkout has none; the licence texts are the LICENSE files under src/ and src/third_party/)",
                    );
                    continue;
                }
                runner.run(cmd, &log)?;
            }
            Step::ExportSdk { inputs, libs_cmd } => {
                if export::up_to_date(inputs) {
                    line.finish(&format!("{} up to date", inputs.sdk_dir.display()));
                    continue;
                }
                let (ok, out, err) = runner.probe(libs_cmd, &log)?;
                let mut inputs = inputs.clone();
                inputs.system_libs = match toolchain::gn_desc_libs(ok, &out) {
                    Some(libs) => libs,
                    None => bail!("`{}` failed: {}{}", libs_cmd.line(), out.trim(), err.trim()),
                };
                let m = export::export(&inputs)?;
                let licences = inputs.out_dir.join("licenses/LICENSE.md");
                if licences.is_file() {
                    std::fs::copy(&licences, inputs.sdk_dir.join("LICENSES.md"))?;
                }
                line.note(&format!(
                    "{} ({} defines, {} include dirs)",
                    inputs.sdk_dir.display(),
                    m.compile.defines.len(),
                    m.compile.include_dirs.len()
                ));
            }
            Step::Apk(inputs) => {
                let sdk = apk::AndroidSdk::discover(host)?;
                let plan = apk::plan(inputs, &sdk, host)?;
                let built = apk::execute(&plan, runner, logs)?;
                let size = std::fs::metadata(&built.apk).map(|m| m.len()).unwrap_or(0);
                line.note(&format!(
                    "{} ({})",
                    built.apk.display(),
                    apk::human_size(size)
                ));
            }
        }
        line.finish_timed();
    }
    Ok(())
}
