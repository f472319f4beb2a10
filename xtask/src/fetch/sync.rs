//! Step 3: `gclient sync`, pinned, without hooks, retried with backoff.
//!
//! `--with_branch_heads` makes the branch-head refs fetchable (the pinned commit lives on
//! one), `-D` deletes deps the DEPS file no longer lists, `--nohooks` leaves the hooks to
//! their own step (so a failed hook does not redo the sync). Retries are cheap because
//! gclient keeps what it already fetched, more so with a `cache_dir`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::run::Cmd;

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
