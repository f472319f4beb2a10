//! Step 3: `gclient sync`, pinned, without hooks, retried with backoff.
//!
//! `--with_branch_heads` makes the branch-head refs fetchable (the pinned commit lives on
//! one), `-D` deletes deps the DEPS file no longer lists, `--nohooks` leaves the hooks to
//! their own step (so a failed hook does not redo the sync). Retries are cheap because
//! gclient keeps what it already fetched, more so with a `cache_dir`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::plan::Plan;
use super::verify::{self, PatchedFiles};
use crate::config::Config;
use crate::patches::{self, Git};
use crate::run::{Cmd, Runner, StepLine};
use crate::state::state_dir;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sync {
    pub cmd: Cmd,
    pub attempts: u32,
    pub backoff: Duration,
}

impl Sync {
    pub fn plan(cfg: &Config, gclient: &str, env: &BTreeMap<String, String>) -> Sync {
        let rev = format!("src@{}", cfg.revision);
        let mut cmd = Cmd::new(
            gclient,
            &[
                "sync",
                "--with_branch_heads",
                "-D",
                "--nohooks",
                "--revision",
                &rev,
            ],
            &cfg.work_dir,
            env,
        );
        if cfg.no_history {
            cmd = cmd.arg("--no-history");
        }
        Sync {
            cmd,
            attempts: cfg.sync_attempts,
            backoff: cfg.retry_backoff,
        }
    }

    /// How long to wait before attempt `n` (2-based): backoff, 2×backoff, 4×…
    pub fn wait_before(&self, attempt: u32) -> Duration {
        self.backoff * 2u32.saturating_pow(attempt.saturating_sub(2))
    }
}

/// Present while a sync of ours is unfinished: written before gclient starts, removed once
/// the sync is verified. A rerun that finds it resets src/ and the deps to their pins.
fn unfinished_marker(work_dir: &Path) -> PathBuf {
    state_dir(work_dir).join("sync-unfinished")
}

/// Run the sync step: repair what gclient cannot, take our patches out, sync (resetting
/// when resuming), verify the result against `gclient revinfo`.
///
/// gclient moves a clone's `.git` into place before it checks the tree out; killed in
/// between, a rerun of plain `gclient sync` calls the empty tree up to date (pin = branch
/// tip) or fails rebasing it forever. `--reset --force` brings every repo back to its pin;
/// it is used when our own previous sync did not finish (or with `--force`), never over
/// changes of the user's: those stop the step first.
pub fn execute(
    plan: &Plan,
    s: &Sync,
    runner: &Runner<'_>,
    log: &Path,
    line: &StepLine,
) -> Result<()> {
    let cfg = &plan.cfg;
    for note in verify::repair(cfg)? {
        line.note(&note);
    }
    let src = cfg.src_dir();
    let git = Git {
        runner,
        src: &src,
        env: &plan.env,
        log,
    };
    // gclient refuses to sync over local changes; ours are the patches.
    if src.join(".git").exists() {
        for name in patches::revert_recorded(&git, &cfg.work_dir)? {
            line.note(&format!("reverted {name} before syncing"));
        }
        let series = plan.steps.iter().find_map(|p| match &p.step {
            super::plan::Step::Patches { series, .. } => Some(series.as_slice()),
            _ => None,
        });
        for name in patches::revert_unrecorded(&git, series.unwrap_or_default())? {
            line.note(&format!(
                "reverted {name} before syncing (in the tree, though not recorded)"
            ));
        }
    } else {
        patches::forget_recorded(&cfg.work_dir)?;
    }
    PatchedFiles::clear(&cfg.work_dir)?;

    let marker = unfinished_marker(&cfg.work_dir);
    let unfinished = marker.exists();
    if unfinished {
        line.note("the previous sync did not finish: resetting src/ and the deps to their pins (gclient sync --reset --force)");
    }
    if !unfinished && !plan.redo && src.join(".git").exists() {
        let changes = verify::local_changes(cfg, runner, &plan.env, log)?;
        if !changes.is_empty() {
            bail!(
                "local changes in the checkout (the sync would have to discard them):\n  {}\n  \
                 hint: commit or stash them, or rerun with --force to reset everything to the pins",
                changes.join("\n  ")
            );
        }
    }
    std::fs::write(
        &marker,
        "a gclient sync started and has not been verified\n",
    )
    .with_context(|| format!("writing {}", marker.display()))?;
    let mut attempt = 1;
    loop {
        // After a failed attempt the tree is ours to reset, as after an interrupted one.
        let cmd = if unfinished || plan.redo || attempt > 1 {
            s.cmd.clone().arg("--reset").arg("--force")
        } else {
            s.cmd.clone()
        };
        match runner.run(&cmd, log) {
            Ok(()) => break,
            Err(_) if attempt < s.attempts => {
                let wait = s.wait_before(attempt + 1);
                line.note(&format!(
                    "attempt {attempt}/{} failed; retrying in {}s (log: {})",
                    s.attempts,
                    wait.as_secs(),
                    log.display()
                ));
                std::thread::sleep(wait);
                attempt += 1;
            }
            Err(e) => return Err(e.context(format!("gclient sync failed {attempt} time(s)"))),
        }
    }
    let revinfo = Cmd::new(&s.cmd.program, &["revinfo"], &cfg.work_dir, &s.cmd.env);
    verify::after_sync(cfg, runner, &revinfo, log)?;
    std::fs::remove_file(&marker).with_context(|| format!("removing {}", marker.display()))?;
    Ok(())
}

/// Step 5: `gclient runhooks`, after the sync and install-build-deps.
pub fn runhooks(work_dir: &Path, gclient: &str, env: &BTreeMap<String, String>) -> Cmd {
    Cmd::new(gclient, &["runhooks"], work_dir, env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles() {
        let s = Sync {
            cmd: Cmd::new("g", &[], Path::new("/"), &BTreeMap::new()),
            attempts: 4,
            backoff: Duration::from_secs(30),
        };
        assert_eq!(s.wait_before(2), Duration::from_secs(30));
        assert_eq!(s.wait_before(3), Duration::from_secs(60));
        assert_eq!(s.wait_before(4), Duration::from_secs(120));
    }
}
