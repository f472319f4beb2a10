//! The disk is checked, not trusted.
//!
//! - [`quick`]: the no-op rerun's check, reading files only (no process): `.gclient` as
//!   rendered, `src/` and every dep of the last lock present at its pin (their `.git/HEAD`),
//!   the objects they borrow from the git cache still there, the files our patches touched
//!   as the patch step left them, the lock file present. Well under 100 ms on a real
//!   checkout (a few hundred small reads). Any difference names the step to resume at.
//! - [`broken_repos`] / [`repair`]: before a sync, repos gclient cannot update any more
//!   (no `.git/HEAD`, or objects borrowed from a deleted git cache) are removed so gclient
//!   clones them again.
//! - [`local_changes`]: before re-syncing a finished checkout, changes that are not ours are
//!   reported instead of being reset away.
//! - [`after_sync`]: after every sync, each dep `gclient revinfo` lists is present, at its
//!   pin and clean, and src/ has DEPS and build/.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::lockfile::{self, Lock};
use crate::config::{is_commit, Config};
use crate::patches::Patch;
use crate::run::{Cmd, Runner};
use crate::state::{sha256_hex, state_dir};

/// The pins of the last finished fetch, kept in the state dir (the lock file itself may be
/// shared or edited; this copy is what the checkout on disk was made from).
pub fn pins_path(work_dir: &Path) -> PathBuf {
    state_dir(work_dir).join("checkout.lock")
}

/// `(path, revision)` of every repo of a lock (src included); revisions that are not
/// commits (a branch pin) are left out of the HEAD check.
fn pinned_repos(lock: &Lock) -> Vec<(String, Option<String>)> {
    lock.deps
        .iter()
        .map(|(path, pin)| {
            let rev = pin.rsplit_once('@').map(|(_, r)| r.to_owned());
            (path.clone(), rev.filter(|r| is_commit(r)))
        })
        .collect()
}

/// The repos we know of: src plus the deps of the last finished fetch.
fn known_repos(cfg: &Config) -> Vec<(String, Option<String>)> {
    let mut repos = vec![("src".to_owned(), Some(cfg.revision.clone()))];
    if let Ok(Some(lock)) = Lock::read(&pins_path(&cfg.work_dir)) {
        repos.extend(pinned_repos(&lock).into_iter().filter(|(p, _)| p != "src"));
    }
    repos
}

/// Directories a repo borrows objects from (`git clone --reference/--shared`, as gclient
/// does from its cache_dir) that do not exist any more.
fn missing_alternates(repo: &Path) -> Vec<PathBuf> {
    let objects = repo.join(".git/objects");
    let Ok(text) = fs::read_to_string(objects.join("info/alternates")) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| objects.join(l))
        .filter(|p| !p.is_dir())
        .collect()
}

/// Why `repo` (with a `.git`) cannot be updated by gclient any more, if it cannot.
fn broken(repo: &Path) -> Option<String> {
    if !repo.join(".git").exists() {
        return None;
    }
    if lockfile::read_head(repo).is_none() {
        return Some("its .git has no readable HEAD".into());
    }
    if let Some(gone) = missing_alternates(repo).first() {
        return Some(format!(
            "it borrows objects from {}, which is gone (was the git cache deleted?)",
            gone.display()
        ));
    }
    None
}

/// Repos (src, and the deps of the last fetch) that are damaged beyond what gclient repairs.
pub fn broken_repos(cfg: &Config) -> Vec<(PathBuf, String)> {
    known_repos(cfg)
        .into_iter()
        .filter_map(|(p, _)| {
            let repo = cfg.work_dir.join(&p);
            broken(&repo).map(|why| (repo, why))
        })
        .collect()
}

/// Remove the broken repos (outermost first: removing src removes the deps inside it) so
/// the sync clones them again. Returns what was done, for the step's notes.
pub fn repair(cfg: &Config) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let mut removed: Vec<PathBuf> = Vec::new();
    for (repo, why) in broken_repos(cfg) {
        if removed.iter().any(|r| repo.starts_with(r)) {
            continue;
        }
        fs::remove_dir_all(&repo)
            .with_context(|| format!("removing the broken checkout {}", repo.display()))?;
        notes.push(format!(
            "removed {} ({why}); the sync clones it again",
            repo.display()
        ));
        removed.push(repo);
    }
    Ok(notes)
}

/// Where a no-op rerun has to resume, and why: `Some((step id, reason))`.
pub fn quick(cfg: &Config, gclient_text: &str) -> Option<(&'static str, String)> {
    let gclient = cfg.work_dir.join(".gclient");
    if fs::read_to_string(&gclient).ok().as_deref() != Some(gclient_text) {
        return Some((
            "gclient",
            format!("{} is missing or was edited", gclient.display()),
        ));
    }
    for (path, rev) in known_repos(cfg) {
        let repo = cfg.work_dir.join(&path);
        let Some(head) = lockfile::read_head(&repo) else {
            return Some((
                "sync",
                format!("{} is missing (or has no .git/HEAD)", repo.display()),
            ));
        };
        if let Some(rev) = rev.filter(|r| *r != head) {
            let hint = if path == "src" {
                "someone moved the checkout; syncing again"
            } else {
                "a dep was moved; syncing again"
            };
            return Some((
                "sync",
                format!("{path} is at {head}, not the pinned {rev}: {hint}"),
            ));
        }
        if let Some(why) = broken(&repo) {
            return Some(("sync", format!("{path}: {why}")));
        }
    }
    if let Some(why) = PatchedFiles::load(&cfg.work_dir).changed(&cfg.src_dir()) {
        return Some(("patches", why));
    }
    if !cfg.lock_file.exists() {
        return Some(("lock", format!("{} is missing", cfg.lock_file.display())));
    }
    None
}

/// The files our patches touched, with their SHA-256 after the patch step ("-" when the
/// patches delete it): a patch undone (or a file edited) by hand is noticed without git.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchedFiles {
    files: BTreeMap<String, String>,
}

impl PatchedFiles {
    fn path(work_dir: &Path) -> PathBuf {
        state_dir(work_dir).join("patched-files.toml")
    }

    fn load(work_dir: &Path) -> PatchedFiles {
        fs::read_to_string(Self::path(work_dir))
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default()
    }

    fn hash(file: &Path) -> String {
        fs::read(file).map_or_else(|_| "-".to_owned(), |b| sha256_hex(&b))
    }

    /// Record the files `series` touches, as they are now in `src`.
    pub fn record(work_dir: &Path, src: &Path, series: &[Patch]) -> Result<()> {
        let mut files = BTreeMap::new();
        for p in series {
            let text = fs::read_to_string(&p.path)
                .with_context(|| format!("reading {}", p.path.display()))?;
            for f in touched_files(&text) {
                let h = Self::hash(&src.join(&f));
                files.insert(f, h);
            }
        }
        let path = Self::path(work_dir);
        if let Some(d) = path.parent() {
            fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let text = toml::to_string(&PatchedFiles { files }).context("serializing")?;
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// Forget (the checkout is being synced again, or the patches were reverted).
    pub fn clear(work_dir: &Path) -> Result<()> {
        match fs::remove_file(Self::path(work_dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).context("removing the patched-files record")
            }
            _ => Ok(()),
        }
    }

    fn changed(&self, src: &Path) -> Option<String> {
        self.files.iter().find_map(|(f, want)| {
            (Self::hash(&src.join(f)) != *want).then(|| {
                format!(
                    "src/{f} is not as the patch step left it (a patch undone or the file edited)"
                )
            })
        })
    }
}

/// Paths a unified diff touches (`+++ b/x`, and `--- a/x` for deletions).
fn touched_files(patch: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in patch.lines() {
        let path = l
            .strip_prefix("+++ b/")
            .or_else(|| l.strip_prefix("--- a/"))
            .map(|p| p.split('\t').next().unwrap_or(p).trim().to_owned());
        if let Some(p) = path {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn status(
    runner: &Runner<'_>,
    repo: &Path,
    env: &BTreeMap<String, String>,
    log: &Path,
) -> Result<String> {
    let cmd = Cmd::new(
        "git",
        &["status", "--porcelain", "--untracked-files=no"],
        repo,
        env,
    );
    let (ok, out, err) = runner.probe(&cmd, log)?;
    if !ok {
        bail!("`git status` failed in {}: {err}", repo.display());
    }
    Ok(out)
}

/// Before re-syncing a finished checkout: local changes in src/ or a dep that are not ours
/// (our patches are reverted by then). A repo without an index was never checked out (a
/// clone gclient did not finish) and holds nobody's changes.
pub fn local_changes(
    cfg: &Config,
    runner: &Runner<'_>,
    env: &BTreeMap<String, String>,
    log: &Path,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (path, _) in known_repos(cfg) {
        let repo = cfg.work_dir.join(&path);
        if !repo.join(".git/index").exists() {
            continue;
        }
        let s = status(runner, &repo, env, log)?;
        if !s.trim().is_empty() {
            let first: Vec<&str> = s.lines().take(5).collect();
            out.push(format!("{path}: {}", first.join("; ")));
        }
    }
    Ok(out)
}

/// After a sync: every dep of `gclient revinfo` present, at its pin, its tree clean; src/ has
/// DEPS and build/. Returns the revinfo's lock.
pub fn after_sync(cfg: &Config, runner: &Runner<'_>, revinfo: &Cmd, log: &Path) -> Result<Lock> {
    let src = cfg.src_dir();
    let mut problems = Vec::new();
    for need in ["DEPS", "build"] {
        if !src.join(need).exists() {
            problems.push(format!("src/{need} is missing"));
        }
    }
    let (ok, out, err) = runner.probe(revinfo, log)?;
    if !ok {
        bail!("`{}` failed:\n{out}{err}", revinfo.line());
    }
    let lock = Lock::from_revinfo(&out, "src")?;
    for (path, rev) in pinned_repos(&lock) {
        let repo = cfg.work_dir.join(&path);
        let Some(head) = lockfile::read_head(&repo) else {
            problems.push(format!("{path} is missing"));
            continue;
        };
        if let Some(rev) = rev.filter(|r| *r != head) {
            problems.push(format!("{path} is at {head}, not at its pin {rev}"));
            continue;
        }
        let s = status(runner, &repo, &revinfo.env, log)?;
        if !s.trim().is_empty() {
            let n = s.lines().count();
            problems.push(format!(
                "{path} is not clean ({n} changed files, e.g. {})",
                s.lines().next().unwrap_or("").trim()
            ));
        }
    }
    if !problems.is_empty() {
        bail!(
            "the sync finished but the checkout is not what the pins say:\n  {}\n  \
             hint: rerun `cargo xtask fetch-webrtc` (it resets src/ and the deps to their pins: \
             `gclient sync --reset --force`); the log is {}",
            problems.join("\n  "),
            log.display()
        );
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_files_of_a_patch() {
        let p = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n\
                 diff --git a/gone b/gone\n--- a/gone\n+++ /dev/null\n";
        assert_eq!(touched_files(p), ["x", "gone"]);
    }

    #[test]
    fn missing_alternates_are_found() {
        let d = tempfile::tempdir().unwrap();
        let info = d.path().join(".git/objects/info");
        fs::create_dir_all(&info).unwrap();
        fs::write(d.path().join(".git/HEAD"), "0".repeat(40)).unwrap();
        assert_eq!(broken(d.path()), None);
        fs::write(info.join("alternates"), "/nonexistent/objects\n").unwrap();
        assert!(broken(d.path()).unwrap().contains("/nonexistent/objects"));
        fs::remove_file(d.path().join(".git/HEAD")).unwrap();
        assert!(broken(d.path()).unwrap().contains("HEAD"));
    }
}
