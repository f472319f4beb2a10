//! `cargo xtask fetch-webrtc`: from nothing to a patched, pinned WebRTC checkout.
//!
//! depot_tools → .gclient → gclient sync → install-build-deps → gclient runhooks → patches →
//! webrtc.lock. The plan ([`plan::make`]) is computed first; `--dry-run` prints it, otherwise
//! [`execute`] runs it under the checkout lock, skipping steps whose stamps match. See
//! docs/fetch.md.

pub mod apt;
pub mod depot_tools;
pub mod gclient;
pub mod hooks;
pub mod install_deps;
pub mod lockfile;
pub mod mirrors;
pub mod plan;
pub mod steps;
pub mod sync;
pub mod tarball;
pub mod verify;

use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::config::{Config, ConfigArgs};
use crate::host::Host;
use crate::patches::{self, Git, Outcome};
use crate::run::{Runner, StepLine};
use crate::state::{CheckoutLock, Stamps};
use install_deps::InstallDeps;
use lockfile::Lock;
use plan::{Plan, Step};

#[derive(Debug, Clone, clap::Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print every step and command (with cwd and env) and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stream child output (it always goes to the step's log under <work dir>/logs).
    #[arg(short, long)]
    pub verbose: bool,
    /// Redo every step whatever the stamps say, the sync with `gclient sync --reset --force`
    /// (local changes in src/ and the deps are discarded); also goes on if `doctor` finds a
    /// problem.
    #[arg(long)]
    pub force: bool,
    /// Don't run build/install-build-deps.sh (also: MOBILERTC_SKIP_INSTALL_DEPS=1).
    #[arg(long)]
    pub skip_install_deps: bool,
    /// Allow running build/install-build-deps.sh through sudo when not root.
    #[arg(long)]
    pub sudo: bool,
    /// The Chromium-tarball route (docs/fetch.md#the-tarball-route).
    #[command(flatten)]
    pub tarball: tarball::TarballArgs,
}

pub fn run(sh: &Shell, args: FetchArgs) -> Result<()> {
    let root = sh.current_dir();
    let host =
        Host::from_process(std::env::current_dir().context("reading the current directory")?);
    let cfg = Config::load(&root, &host, &args.config)?;

    let checks = crate::doctor::checks(&cfg, &host, &crate::doctor::Facts::gather(&cfg));
    let problems: Vec<_> = checks.iter().filter(|c| c.is_problem()).collect();
    if !problems.is_empty() {
        let text: String = problems.iter().map(|c| c.to_string()).collect();
        if args.force || args.dry_run {
            eprintln!("warning: `cargo xtask doctor` found problems (going on):\n{text}");
        } else {
            bail!(
                "`cargo xtask doctor` found problems:\n{text}  hint: fix them, or pass --force to go on anyway"
            );
        }
    }

    if args.tarball.selected() {
        let plan = tarball::make(&root, &cfg, &host, &args.tarball)?;
        let stamps = Stamps::new(&cfg.work_dir);
        let runner = Runner::new(sh, args.verbose, &host);
        return tarball::run(&runner, &plan, &stamps, args.dry_run, &host);
    }
    if tarball::is_tarball_checkout(&cfg.work_dir) {
        bail!(
            "{} holds a checkout made from a Chromium tarball, not by gclient\n  \
             hint: rerun with the same --tarball/--debian-source, or use another --work-dir for gclient",
            cfg.work_dir.display()
        );
    }
    let opts = plan::Options {
        redo: args.force,
        skip_install_deps: args.skip_install_deps || host.flag("MOBILERTC_SKIP_INSTALL_DEPS"),
        sudo: args.sudo,
        os_release: install_deps::os_release(),
    };
    let plan = plan::make(&root, &cfg, &host, &opts)?;
    let stamps = Stamps::new(&cfg.work_dir);
    if args.dry_run {
        print!("{}", plan.render(&stamps, &host));
        return Ok(());
    }
    let runner = Runner::new(sh, args.verbose, &host);
    execute(&plan, &stamps, &runner)
}

/// Run the plan: take the lock, skip what is stamped, run the rest in order.
pub fn execute(plan: &Plan, stamps: &Stamps, runner: &Runner<'_>) -> Result<()> {
    let cfg = &plan.cfg;
    std::fs::create_dir_all(&cfg.work_dir)
        .with_context(|| format!("creating the work dir {}", cfg.work_dir.display()))?;
    let _lock = CheckoutLock::acquire(&cfg.work_dir, "fetch-webrtc")?;
    // Stamps are read under the lock: another run may just have finished.
    let (first, why) = plan.first_pending(stamps);
    eprintln!(
        "fetch-webrtc: {} into {}",
        cfg.describe_revision(),
        cfg.work_dir.display()
    );
    if let Some(w) = why {
        eprintln!("note: {w}");
    }
    steps::run_from(
        &plan.steps,
        first,
        cfg,
        stamps,
        runner,
        |step, log, line| run_step(plan, step, runner, log, line),
    )
}

/// Runs one step. `Ok(Some(text))` replaces the elapsed time on the step line.
fn run_step(
    plan: &Plan,
    step: &Step,
    runner: &Runner<'_>,
    log: &Path,
    line: &StepLine,
) -> Result<Option<String>> {
    let cfg = &plan.cfg;
    let git = Git {
        runner,
        src: &cfg.src_dir(),
        env: &plan.env,
        log,
    };
    match step {
        Step::DepotTools(dt) => {
            depot_tools::clean_partial(dt)?;
            let cmds = dt.commands(&cfg.work_dir, &plan.env);
            if cmds.is_empty() {
                return Ok(Some(dt.describe()));
            }
            for c in &cmds {
                runner.run(c, log)?;
            }
            depot_tools::finish_clone(dt)?;
            Ok(None)
        }
        Step::Gclient { path, text } => {
            if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
                std::fs::write(path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(Some(format!(
                "target_os {:?}",
                cfg.targets.gclient_target_os()
            )))
        }
        Step::Sync(s) => {
            sync::execute(plan, s, runner, log, line)?;
            Ok(None)
        }
        Step::InstallDeps(InstallDeps::Run(c)) => {
            let script = install_deps::script(cfg);
            if !script.exists() {
                bail!(
                    "{} does not exist: the sync did not bring build/",
                    script.display()
                );
            }
            runner.run(c, log)?;
            Ok(None)
        }
        Step::InstallDeps(InstallDeps::Skip(why)) => Ok(Some(format!("skipped ({why})"))),
        Step::InstallDeps(InstallDeps::Manual(msg)) => bail!("{msg}"),
        Step::RunHooks(c) => {
            runner.run(c, log)?;
            Ok(None)
        }
        Step::Patches { series, .. } => {
            let outcomes = patches::apply_series(&git, &cfg.work_dir, series)?;
            verify::PatchedFiles::record(&cfg.work_dir, &cfg.src_dir(), series)?;
            for o in &outcomes {
                line.note(&match o {
                    Outcome::Applied(n) => format!("applied {n}"),
                    Outcome::AlreadyApplied(n) => format!("{n} already applied, skipped"),
                    Outcome::Reverted(n) => format!("reverted {n} (changed or removed)"),
                });
            }
            Ok(Some(format!("{} applied", series.len())))
        }
        Step::Lock { revinfo, path } => {
            let (ok, out, err) = runner.probe(revinfo, log)?;
            if !ok {
                bail!("`{}` failed:\n{out}{err}", revinfo.line());
            }
            let lock = Lock::from_revinfo(&out, "src")?;
            if lock.revision != cfg.revision {
                bail!(
                    "after the sync src/ is at {}, not the pinned {}\n  hint: check {} for errors",
                    lock.revision,
                    cfg.revision,
                    log.display()
                );
            }
            let previous = Lock::read(path).unwrap_or_else(|e| {
                line.note(&format!(
                    "the previous {} is not a valid lock ({e:#}); writing a new one (no drift report this time)",
                    path.display()
                ));
                None
            });
            match previous {
                Some(old) => {
                    let drift = old.drift(&lock);
                    if !drift.is_empty() {
                        line.note(&format!("drift against the previous {}:", path.display()));
                        for d in drift {
                            line.note(&format!("  {d}"));
                        }
                    }
                }
                None => line.note(&format!("wrote {}", path.display())),
            }
            lock.write(path)?;
            lock.write(&verify::pins_path(&cfg.work_dir))?;
            Ok(Some(format!("{} deps pinned", lock.deps.len())))
        }
    }
}
