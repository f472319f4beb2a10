//! What a checkout remembers between runs: per-step stamps and the exclusive lock.
//!
//! A stamp is a file holding the hash of everything the step's result depends on (the
//! revision, the rendered .gclient, the patch hashes, …) chained with the previous step's
//! key. A step is skipped only if its stamp matches *and* no earlier step ran in this
//! invocation, so an interrupted run resumes at the first step without a matching stamp and
//! redoes everything after it.
//!
//! The lock is an `flock(2)` on a file in the state directory: the kernel drops it when the
//! process dies, so a `kill -9` never leaves a stale lock behind.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// `<work_dir>/.mobilertc-state`
pub fn state_dir(work_dir: &Path) -> PathBuf {
    work_dir.join(".mobilertc-state")
}

/// Hash of the inputs of one step, chained with the key of the step before it.
pub fn step_key(previous: &str, step: &str, inputs: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(previous.as_bytes());
    h.update([0]);
    h.update(step.as_bytes());
    for i in inputs {
        h.update([0]);
        h.update(i.as_bytes());
    }
    hex(&h.finalize())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The stamps of one work dir.
#[derive(Debug, Clone)]
pub struct Stamps {
    dir: PathBuf,
}

impl Stamps {
    pub fn new(work_dir: &Path) -> Stamps {
        Stamps {
            dir: state_dir(work_dir).join("stamps"),
        }
    }

    fn path(&self, step: &str) -> PathBuf {
        self.dir.join(format!("{step}.stamp"))
    }

    /// Whether `step` finished with exactly these inputs. Never fails: an unreadable stamp
    /// just means the step runs again.
    pub fn is_done(&self, step: &str, key: &str) -> bool {
        fs::read_to_string(self.path(step))
            .map(|s| s.trim() == key)
            .unwrap_or(false)
    }

    /// Record `step` as done. Written to a temporary file and renamed so a crash mid-write
    /// cannot leave a stamp that matches by accident.
    pub fn mark_done(&self, step: &str, key: &str) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating the stamp directory {}", self.dir.display()))?;
        let path = self.path(step);
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, format!("{key}\n"))
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// Forget `step` (it, and the steps after it, will run again).
    pub fn clear(&self, step: &str) -> Result<()> {
        match fs::remove_file(self.path(step)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", self.path(step).display())),
        }
    }
}

/// A second run on the same checkout while one holds the lock.
#[derive(Debug, thiserror::Error)]
#[error(
    "another `cargo xtask` run ({holder}) is working on {work_dir}\n  \
     hint: wait for it to finish; the lock ({lock}) is released when that process exits, \
     even if it is killed"
)]
pub struct Busy {
    pub work_dir: String,
    pub lock: String,
    pub holder: String,
}

/// Exclusive lock on a work dir; released on drop (or when the process dies).
#[derive(Debug)]
pub struct CheckoutLock {
    _file: File,
}

impl CheckoutLock {
    pub fn acquire(work_dir: &Path, what: &str) -> Result<CheckoutLock> {
        let dir = state_dir(work_dir);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Busy {
                    work_dir: work_dir.display().to_string(),
                    lock: path.display().to_string(),
                    holder: if holder.is_empty() {
                        "unknown process".into()
                    } else {
                        holder.into()
                    },
                }
                .into());
            }
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("locking {}", path.display()))
            }
        }
        // Who holds it, for the other side's message. Best effort: the flock is the lock.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(file, "pid {} running `{what}`", std::process::id());
        // Children of a run that was killed may still be at work here: stop them first.
        if let Some(note) = crate::proc::adopt_state_dir(&dir) {
            eprintln!("note: {note}");
        }
        Ok(CheckoutLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chain() {
        let a = step_key("", "sync", &["rev1"]);
        assert_eq!(a, step_key("", "sync", &["rev1"]));
        assert_ne!(a, step_key("", "sync", &["rev2"]));
        assert_ne!(step_key(&a, "hooks", &[]), step_key("x", "hooks", &[]));
        // The separator keeps ["ab", "c"] and ["a", "bc"] apart.
        assert_ne!(
            step_key("", "s", &["ab", "c"]),
            step_key("", "s", &["a", "bc"])
        );
    }

    #[test]
    fn stamps_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let s = Stamps::new(dir.path());
        assert!(!s.is_done("sync", "k"));
        s.mark_done("sync", "k").unwrap();
        assert!(s.is_done("sync", "k"));
        assert!(!s.is_done("sync", "other"));
        s.clear("sync").unwrap();
        assert!(!s.is_done("sync", "k"));
        s.clear("sync").unwrap();
    }

    #[test]
    fn second_lock_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = CheckoutLock::acquire(dir.path(), "fetch-webrtc").unwrap();
        let err = CheckoutLock::acquire(dir.path(), "fetch-webrtc").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("another `cargo xtask` run"), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        CheckoutLock::acquire(dir.path(), "fetch-webrtc").unwrap();
    }
}
