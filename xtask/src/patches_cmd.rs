//! `cargo xtask patches status|revert`: show and undo the patches on the checkout.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::config::{Config, ConfigArgs};
use crate::host::Host;
use crate::patches::{self, Git};
use crate::run::Runner;
use crate::state::{CheckoutLock, Stamps};

#[derive(Debug, Clone, clap::Args)]
pub struct PatchesArgs {
    #[command(subcommand)]
    pub action: Action,
    #[command(flatten)]
    pub config: PatchesConfig,
}

/// The config flags `patches` uses (only these: the others would be ignored), accepted
/// before or after the action (`patches status --config F` and `patches --config F status`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PatchesConfig {
    /// Config file [default: webrtc.toml at the workspace root].
    #[arg(long, env = "MOBILERTC_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<std::path::PathBuf>,
    /// Directory holding .gclient and src/.
    #[arg(long, env = "MOBILERTC_WORK_DIR", value_name = "DIR", global = true)]
    pub work_dir: Option<std::path::PathBuf>,
    /// Directory of *.patch files.
    #[arg(long, env = "MOBILERTC_PATCHES_DIR", value_name = "DIR", global = true)]
    pub patches_dir: Option<std::path::PathBuf>,
}

impl From<PatchesConfig> for ConfigArgs {
    fn from(p: PatchesConfig) -> ConfigArgs {
        ConfigArgs {
            config: p.config,
            work_dir: p.work_dir,
            patches_dir: p.patches_dir,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// For every patch of the series: applied, applies cleanly, or conflicts.
    Status,
    /// Undo every recorded patch (newest first); the next fetch-webrtc applies them again.
    Revert,
}

pub fn run(sh: &Shell, root: &Path, args: PatchesArgs) -> Result<()> {
    let host =
        Host::from_process(std::env::current_dir().context("reading the current directory")?);
    let cfg = Config::load(root, &host, &args.config.clone().into())?;
    let src = cfg.src_dir();
    if !src.join(".git").exists() {
        bail!(
            "no checkout at {}\n  hint: run `cargo xtask fetch-webrtc` first",
            src.display()
        );
    }
    let runner = Runner::new(sh, false, &host);
    let env = BTreeMap::new();
    let log = cfg.work_dir.join("logs/patches.log");
    let git = Git {
        runner: &runner,
        src: &src,
        env: &env,
        log: &log,
    };
    match args.action {
        Action::Status => {
            // A tarball checkout also carries patches/tarball/ (recorded as tarball-<name>).
            let series = if crate::fetch::tarball::is_tarball_checkout(&cfg.work_dir) {
                crate::fetch::tarball::patch_series(
                    &cfg,
                    crate::fetch::tarball::is_repack_checkout(&cfg.work_dir),
                )?
            } else {
                patches::load_series(&cfg.patches_dir)?
            };
            let recorded = patches::recorded(&cfg.work_dir)?;
            println!(
                "patches in {} for {}:",
                cfg.patches_dir.display(),
                src.display()
            );
            if series.is_empty() {
                println!("  (none)");
            }
            // Wide enough for the longest name, so a state never runs into a name.
            let width = series
                .iter()
                .map(|p| p.name.len())
                .chain(recorded.iter().map(|(n, _)| n.len()))
                .max()
                .unwrap_or(0)
                .max(40);
            for p in &series {
                let rec = recorded.iter().find(|(n, _)| *n == p.name);
                let state = if git.is_applied(&p.path)? {
                    match rec {
                        Some((_, sha)) if *sha == p.sha256 => "applied".to_owned(),
                        Some(_) => {
                            "applied (the file changed since; fetch-webrtc will re-apply it)"
                                .to_owned()
                        }
                        None => "applied (not by fetch-webrtc)".to_owned(),
                    }
                } else {
                    match git.check(&p.path)? {
                        Ok(()) => "not applied (applies cleanly)".to_owned(),
                        Err(out) => format!(
                            "CONFLICT: does not apply\n{}",
                            patches::describe_failure(&p.path, &out)
                        ),
                    }
                };
                println!("  {:<width$}  {state}", p.name);
            }
            for (n, _) in recorded
                .iter()
                .filter(|(n, _)| !series.iter().any(|p| p.name == *n))
            {
                println!(
                    "  {n:<width$}  applied, but no longer in the series (fetch-webrtc will revert it)"
                );
            }
            Ok(())
        }
        Action::Revert => {
            let _lock = CheckoutLock::acquire(&cfg.work_dir, "patches revert")?;
            let reverted = patches::revert_recorded(&git, &cfg.work_dir)?;
            // The checkout no longer matches the patches/lock stamps.
            let stamps = Stamps::new(&cfg.work_dir);
            stamps.clear("patches")?;
            stamps.clear("lock")?;
            if reverted.is_empty() {
                println!("no recorded patches to revert in {}", src.display());
            }
            for n in reverted {
                println!("reverted {n}");
            }
            Ok(())
        }
    }
}
