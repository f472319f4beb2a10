//! Step 1: a depot_tools for the child processes.
//!
//! Order: `--depot-tools`/`$DEPOT_TOOLS`, then a `gclient` already on PATH, else a clone in
//! the work dir (at the configured commit, if pinned). depot_tools goes on PATH only for the
//! children; a pinned clone also gets `DEPOT_TOOLS_UPDATE=0`, since depot_tools otherwise
//! updates itself to its newest commit on every `gclient` call.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::config::Config;
use crate::host::Host;
use crate::run::Cmd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepotTools {
    /// An existing checkout; `source` says where it was found.
    Existing { dir: PathBuf, source: &'static str },
    /// Clone (or update a previous clone) into `dir`.
    Clone {
        url: String,
        revision: Option<String>,
        dir: PathBuf,
    },
}

impl DepotTools {
    pub fn resolve(cfg: &Config, host: &Host) -> Result<DepotTools> {
        if let Some(dir) = &cfg.depot_tools_dir {
            if !dir.join("gclient").exists() {
                bail!(
                    "{} (from --depot-tools / $DEPOT_TOOLS) has no `gclient`\n  \
                     hint: point it at a depot_tools checkout, or unset it to let the xtask clone one",
                    dir.display()
                );
            }
            return Ok(DepotTools::Existing {
                dir: dir.clone(),
                source: "$DEPOT_TOOLS",
            });
        }
        if let Some(gclient) = host.which("gclient") {
            if let Some(dir) = gclient.parent() {
                return Ok(DepotTools::Existing {
                    dir: dir.to_owned(),
                    source: "PATH",
                });
            }
        }
        Ok(DepotTools::Clone {
            url: cfg.depot_tools_url.clone(),
            revision: cfg.depot_tools_revision.clone(),
            dir: cfg.work_dir.join("depot_tools"),
        })
    }

    pub fn dir(&self) -> &Path {
        match self {
            DepotTools::Existing { dir, .. } | DepotTools::Clone { dir, .. } => dir,
        }
    }

    pub fn pinned(&self) -> bool {
        matches!(
            self,
            DepotTools::Clone {
                revision: Some(_),
                ..
            }
        )
    }

    pub fn gclient(&self) -> String {
        self.dir().join("gclient").display().to_string()
    }

    /// Stamp inputs.
    pub fn inputs(&self) -> Vec<String> {
        match self {
            DepotTools::Existing { dir, .. } => vec!["existing".into(), dir.display().to_string()],
            DepotTools::Clone { url, revision, dir } => vec![
                "clone".into(),
                url.clone(),
                revision.clone().unwrap_or_default(),
                dir.display().to_string(),
            ],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DepotTools::Existing { dir, source } => {
                format!("using {} (from {source})", dir.display())
            }
            DepotTools::Clone {
                url,
                revision: Some(r),
                ..
            } => format!("clone {url} @ {}", crate::config::short(r)),
            DepotTools::Clone {
                url,
                revision: None,
                ..
            } => format!("clone {url} (self-updating)"),
        }
    }

    /// The commands this step runs, given what is on disk now. Cloning goes to `<dir>.partial`
    /// and is renamed when complete, so an interrupted clone is never mistaken for a checkout.
    pub fn commands(
        &self,
        cwd: &Path,
        env: &std::collections::BTreeMap<String, String>,
    ) -> Vec<Cmd> {
        let DepotTools::Clone { url, revision, dir } = self else {
            return Vec::new();
        };
        let d = dir.display().to_string();
        let mut cmds = Vec::new();
        let target = if dir.join(".git").exists() {
            if revision.is_some() {
                cmds.push(Cmd::new(
                    "git",
                    &["-C", &d, "fetch", "--quiet", "origin"],
                    cwd,
                    env,
                ));
            }
            d
        } else {
            let partial = partial_dir(dir).display().to_string();
            cmds.push(Cmd::new(
                "git",
                &["clone", "--quiet", url, &partial],
                cwd,
                env,
            ));
            partial
        };
        if let Some(r) = revision {
            cmds.push(Cmd::new(
                "git",
                &["-C", &target, "checkout", "--quiet", "--detach", r],
                cwd,
                env,
            ));
        }
        cmds
    }
}

pub fn partial_dir(dir: &Path) -> PathBuf {
    let mut s = dir.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// After the commands of [`DepotTools::commands`] ran: move a fresh clone into place.
pub fn finish_clone(dt: &DepotTools) -> Result<()> {
    if let DepotTools::Clone { dir, .. } = dt {
        let partial = partial_dir(dir);
        if partial.exists() {
            std::fs::rename(&partial, dir)
                .with_context(|| format!("moving {} to {}", partial.display(), dir.display()))?;
        }
        if !dir.join("gclient").exists() {
            bail!(
                "{} has no `gclient` after cloning: is {} a depot_tools repository?",
                dir.display(),
                dt.describe()
            );
        }
    }
    Ok(())
}

/// Before cloning: a `.partial` left by an interrupted run is removed.
pub fn clean_partial(dt: &DepotTools) -> Result<()> {
    if let DepotTools::Clone { dir, .. } = dt {
        let partial = partial_dir(dir);
        if partial.exists() {
            std::fs::remove_dir_all(&partial)
                .with_context(|| format!("removing the interrupted clone {}", partial.display()))?;
        }
    }
    Ok(())
}
