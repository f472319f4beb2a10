//! Patches on the WebRTC checkout: applied in order after `gclient runhooks`, recognized when
//! already applied, refused (with the patch and hunk named) when they no longer apply, and
//! recorded so `cargo xtask patches status|revert` can show and undo them.
//!
//! Why `git apply` and not commits (as shiguredo's build does): the checkout stays on the
//! pinned commit, so `gclient revinfo` and webrtc.lock keep naming upstream's revision,
//! and `git apply` is atomic per patch (all files or none). Every patch is checked with
//! `git apply --check` before it is applied, and a failure rolls back the patches this
//! run applied, so a failed step leaves the tree as it found it.
//!
//! A copy of every applied patch is kept in the state dir: if a patch file is edited, the
//! old version (the one really in the tree) is what gets reverted.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::run::{Cmd, Runner};
use crate::state::{sha256_hex, state_dir};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// File name, e.g. `0001-foo.patch`.
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
}

/// The patches of `dir` in application order: the names listed in `dir/series` if that file
/// exists (one per line, `#` comments), else every `*.patch` sorted by name. A missing
/// directory is an error (a typo must not turn into "0 applied"); an empty one is an empty
/// series.
pub fn load_series(dir: &Path) -> Result<Vec<Patch>> {
    if !dir.is_dir() {
        bail!(
            "the patches directory {} does not exist\n  hint: fix checkout.patches_dir in \
             webrtc.toml (or --patches-dir / MOBILERTC_PATCHES_DIR); for no patches, point it \
             at an empty directory",
            dir.display()
        );
    }
    let series = dir.join("series");
    let names: Vec<String> = if series.exists() {
        let text =
            fs::read_to_string(&series).with_context(|| format!("reading {}", series.display()))?;
        text.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        let mut names = Vec::new();
        for e in fs::read_dir(dir)
            .with_context(|| format!("listing the patches in {}", dir.display()))?
        {
            let name = e?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".patch") {
                names.push(name);
            }
        }
        names.sort();
        names
    };
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let bytes =
            fs::read(&path).with_context(|| format!("reading the patch {}", path.display()))?;
        out.push(Patch {
            sha256: sha256_hex(&bytes),
            name,
            path,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Record {
    #[serde(default)]
    applied: Vec<Applied>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Applied {
    name: String,
    sha256: String,
}

/// What is applied to a checkout, as recorded in `<work>/.mobilertc-state/patches/`.
struct Store {
    dir: PathBuf,
}

impl Store {
    fn new(work_dir: &Path) -> Store {
        Store {
            dir: state_dir(work_dir).join("patches"),
        }
    }
    fn record_path(&self) -> PathBuf {
        self.dir.join("applied.toml")
    }
    fn copy_path(&self, a: &Applied) -> PathBuf {
        self.dir.join(format!("{}.{}", a.name, &a.sha256[..16]))
    }
    /// The record; an unreadable one (edited, truncated, a merge gone wrong) is set aside
    /// with a warning and the patches are recognised from the tree instead (a patch whose
    /// reverse applies is in the tree).
    fn load(&self) -> Result<Record> {
        let p = self.record_path();
        match fs::read_to_string(&p) {
            Ok(t) => match toml::from_str(&t) {
                Ok(r) => Ok(r),
                Err(e) => {
                    let aside = p.with_extension("toml.invalid");
                    fs::rename(&p, &aside)
                        .with_context(|| format!("setting aside {}", p.display()))?;
                    eprintln!(
                        "warning: the patch record {} is not valid ({}); set aside as {}, the \
                         patches are recognised from the tree instead",
                        p.display(),
                        e.message(),
                        aside.display()
                    );
                    Ok(Record::default())
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Record::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }
    fn save(&self, r: &Record) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let p = self.record_path();
        let tmp = p.with_extension("tmp");
        let text = format!(
            "# Patches applied to src/ by `cargo xtask fetch-webrtc`, in order.\n{}",
            toml::to_string(r).context("serializing the patch record")?
        );
        fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))?;
        // Drop copies nothing refers to any more.
        let keep: Vec<PathBuf> = r.applied.iter().map(|a| self.copy_path(a)).collect();
        for e in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path != p && !keep.contains(&path) {
                let _ = fs::remove_file(path);
            }
        }
        Ok(())
    }
    fn keep_copy(&self, patch: &Patch) -> Result<Applied> {
        let a = Applied {
            name: patch.name.clone(),
            sha256: patch.sha256.clone(),
        };
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        fs::copy(&patch.path, self.copy_path(&a))
            .with_context(|| format!("keeping a copy of {}", patch.path.display()))?;
        Ok(a)
    }
}

/// A patch that does not apply to the checkout.
#[derive(Debug, thiserror::Error)]
#[error(
    "patch {name} does not apply to {src}\n{hunks}\n  the tree was left as it was before this step.\n  \
     hint: refresh the patch against the pinned revision (patches/README.md says how), or drop it \
     from the series; `git apply --check -v {path}` in {src} shows the details"
)]
pub struct PatchConflict {
    pub name: String,
    pub path: String,
    pub src: String,
    pub hunks: String,
}

/// Git operations on `src`, with the pipeline's environment and log.
pub struct Git<'a> {
    pub runner: &'a Runner<'a>,
    pub src: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    pub log: &'a Path,
}

impl Git<'_> {
    fn apply_cmd(&self, patch: &Path, extra: &[&str]) -> Cmd {
        let mut c = Cmd::new("git", &["apply"], self.src, self.env);
        for e in extra {
            c = c.arg(*e);
        }
        c.arg(patch.display().to_string())
    }
    /// Whether `patch` is already in the tree (its reverse applies).
    pub fn is_applied(&self, patch: &Path) -> Result<bool> {
        Ok(self
            .runner
            .probe(&self.apply_cmd(patch, &["--reverse", "--check"]), self.log)?
            .0)
    }
    /// `Ok(())` if `patch` applies cleanly, else git's explanation.
    pub fn check(&self, patch: &Path) -> Result<Result<(), String>> {
        let (ok, out, err) = self
            .runner
            .probe(&self.apply_cmd(patch, &["--check", "-v"]), self.log)?;
        Ok(if ok {
            Ok(())
        } else {
            Err(format!("{out}{err}"))
        })
    }
    pub fn apply(&self, patch: &Path) -> Result<()> {
        self.runner.run(&self.apply_cmd(patch, &[]), self.log)
    }
    pub fn reverse(&self, patch: &Path) -> Result<()> {
        self.runner
            .run(&self.apply_cmd(patch, &["--reverse"]), self.log)
    }
}

/// What happened to each patch, for the step's notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied(String),
    AlreadyApplied(String),
    Reverted(String),
}

/// The commands `--dry-run` shows for one patch.
pub fn planned_commands(src: &Path, env: &BTreeMap<String, String>, patch: &Path) -> Vec<Cmd> {
    let p = patch.display().to_string();
    vec![
        Cmd::new("git", &["apply", "--reverse", "--check", &p], src, env),
        Cmd::new("git", &["apply", "--check", "-v", &p], src, env),
        Cmd::new("git", &["apply", &p], src, env),
    ]
}

/// Bring the tree to "exactly `series` applied". See the module docs.
pub fn apply_series(git: &Git<'_>, work_dir: &Path, series: &[Patch]) -> Result<Vec<Outcome>> {
    let store = Store::new(work_dir);
    let mut record = store.load()?;
    let mut outcomes = Vec::new();

    // Recorded patches that match the series' prefix stay; everything recorded after the
    // first difference is reverted (newest first: later patches may depend on earlier ones).
    let mut keep = record
        .applied
        .iter()
        .zip(series)
        .take_while(|(a, p)| a.name == p.name && a.sha256 == p.sha256)
        .count();
    // The record is checked against the tree: a patch undone by hand is applied again.
    if let Some(i) = (0..keep).find(|&i| {
        !git.is_applied(&store.copy_path(&record.applied[i]))
            .unwrap_or(false)
    }) {
        keep = i;
    }
    while record.applied.len() > keep {
        let a = record.applied.pop().expect("len > keep");
        let copy = store.copy_path(&a);
        if git.is_applied(&copy)? {
            git.reverse(&copy).with_context(|| {
                format!(
                    "reverting {} (changed or dropped from the series since it was applied)",
                    a.name
                )
            })?;
            outcomes.push(Outcome::Reverted(a.name));
        }
        store.save(&record)?;
    }

    let mut applied_now: Vec<Patch> = Vec::new();
    for patch in &series[keep..] {
        if git.is_applied(&patch.path)? {
            outcomes.push(Outcome::AlreadyApplied(patch.name.clone()));
        } else {
            if let Err(detail) = git.check(&patch.path)? {
                rollback(git, &store, &mut record, &applied_now)?;
                return Err(PatchConflict {
                    name: patch.name.clone(),
                    path: patch.path.display().to_string(),
                    src: git.src.display().to_string(),
                    hunks: describe_failure(&patch.path, &detail),
                }
                .into());
            }
            if let Err(e) = git.apply(&patch.path) {
                rollback(git, &store, &mut record, &applied_now)?;
                return Err(e.context(format!("applying {} after a clean check", patch.name)));
            }
            applied_now.push(patch.clone());
            outcomes.push(Outcome::Applied(patch.name.clone()));
        }
        record.applied.push(store.keep_copy(patch)?);
        store.save(&record)?;
    }
    Ok(outcomes)
}

fn rollback(
    git: &Git<'_>,
    store: &Store,
    record: &mut Record,
    applied_now: &[Patch],
) -> Result<()> {
    for p in applied_now.iter().rev() {
        git.reverse(&p.path)
            .with_context(|| format!("rolling back {} after a failed patch", p.name))?;
        if let Some(i) = record.applied.iter().rposition(|a| a.name == p.name) {
            record.applied.remove(i);
        }
        store.save(record)?;
    }
    Ok(())
}

/// Revert every recorded patch (newest first) and forget them. Used before `gclient sync`
/// (which refuses a dirty tree) and by `cargo xtask patches revert`.
pub fn revert_recorded(git: &Git<'_>, work_dir: &Path) -> Result<Vec<String>> {
    let store = Store::new(work_dir);
    let mut record = store.load()?;
    let mut reverted = Vec::new();
    while let Some(a) = record.applied.last().cloned() {
        let copy = store.copy_path(&a);
        if git.is_applied(&copy)? {
            git.reverse(&copy)
                .with_context(|| format!("reverting {}", a.name))?;
        } else if !git.src.join(".git").exists() {
            bail!(
                "{} has no git checkout; cannot revert {}",
                git.src.display(),
                a.name
            );
        }
        // Not applied any more (someone reset the tree): nothing to undo, just forget it.
        record.applied.pop();
        store.save(&record)?;
        reverted.push(a.name);
    }
    Ok(reverted)
}

/// Revert, newest first, every patch of `series` that is in the tree though not recorded
/// (the state dir was lost, or its record): its reverse applies, so it is exactly ours.
pub fn revert_unrecorded(git: &Git<'_>, series: &[Patch]) -> Result<Vec<String>> {
    let mut reverted = Vec::new();
    for p in series.iter().rev() {
        if git.is_applied(&p.path)? {
            git.reverse(&p.path)
                .with_context(|| format!("reverting {}", p.name))?;
            reverted.push(p.name.clone());
        }
    }
    Ok(reverted)
}

/// Forget every recorded patch without touching the tree (src/ is gone: nothing to revert).
pub fn forget_recorded(work_dir: &Path) -> Result<()> {
    let store = Store::new(work_dir);
    if store.record_path().exists() {
        store.save(&Record::default())?;
    }
    Ok(())
}

/// Names recorded as applied, oldest first.
pub fn recorded(work_dir: &Path) -> Result<Vec<(String, String)>> {
    Ok(Store::new(work_dir)
        .load()?
        .applied
        .into_iter()
        .map(|a| (a.name, a.sha256))
        .collect())
}

/// Turn `git apply --check -v` output into "hunk #N (@@ … @@) of FILE at line L" lines.
pub fn describe_failure(patch: &Path, git_output: &str) -> String {
    let text = fs::read_to_string(patch).unwrap_or_default();
    let mut lines = Vec::new();
    for l in git_output.lines() {
        if let Some(rest) = l.trim().strip_prefix("error: patch failed: ") {
            if let Some((file, line)) = rest.rsplit_once(':') {
                let hunk = line
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| find_hunk(&text, file, n))
                    .map(|(i, h)| format!("hunk #{i} `{h}`"))
                    .unwrap_or_else(|| "a hunk".to_owned());
                lines.push(format!(
                    "  {hunk} of {file} (at line {line}) does not match the tree"
                ));
            }
        } else if let Some(rest) = l.trim().strip_prefix("error: ") {
            if !rest.starts_with("while searching for") {
                lines.push(format!("  git: {rest}"));
            }
        }
    }
    if lines.is_empty() {
        lines.push(format!("  git apply --check said:\n{git_output}"));
    }
    lines.join("\n")
}

/// The (1-based index, header) of the hunk of `file` whose old range starts at `line`.
fn find_hunk(patch: &str, file: &str, line: u64) -> Option<(usize, String)> {
    let mut in_file = false;
    let mut index = 0;
    for l in patch.lines() {
        if let Some(f) = l.strip_prefix("--- ") {
            let f = f.split('\t').next().unwrap_or(f);
            in_file = f.strip_prefix("a/").unwrap_or(f) == file;
            index = 0;
        } else if let Some(f) = l.strip_prefix("+++ ") {
            let f = f.split('\t').next().unwrap_or(f);
            in_file = in_file || f.strip_prefix("b/").unwrap_or(f) == file;
        } else if in_file && l.starts_with("@@ -") {
            index += 1;
            let start: u64 = l[4..].split([',', ' ']).next()?.parse().ok()?;
            if start == line {
                return Some((index, l.to_owned()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "\
diff --git a/x.txt b/x.txt
--- a/x.txt
+++ b/x.txt
@@ -1,2 +1,2 @@
 a
-b
+B
@@ -10,2 +10,2 @@ fn ctx
 j
-k
+K
";

    #[test]
    fn hunk_is_found_by_its_start_line() {
        assert_eq!(
            find_hunk(PATCH, "x.txt", 10),
            Some((2, "@@ -10,2 +10,2 @@ fn ctx".into()))
        );
        assert_eq!(find_hunk(PATCH, "x.txt", 1).unwrap().0, 1);
        assert_eq!(find_hunk(PATCH, "y.txt", 1), None);
    }

    #[test]
    fn failure_names_the_hunk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0001-x.patch");
        fs::write(&p, PATCH).unwrap();
        let out = "Checking patch x.txt...\nerror: while searching for:\nj\nk\n\nerror: patch failed: x.txt:10\nerror: x.txt: patch does not apply\n";
        let d = describe_failure(&p, out);
        assert!(
            d.contains("hunk #2 `@@ -10,2 +10,2 @@ fn ctx` of x.txt (at line 10)"),
            "{d}"
        );
        assert!(d.contains("git: x.txt: patch does not apply"), "{d}");
    }

    #[test]
    fn series_order() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["0002-b.patch", "0001-a.patch", "notes.md"] {
            fs::write(dir.path().join(n), n).unwrap();
        }
        let names: Vec<_> = load_series(dir.path())
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["0001-a.patch", "0002-b.patch"]);
        fs::write(
            dir.path().join("series"),
            "# order\n0002-b.patch\n0001-a.patch # first? no\n",
        )
        .unwrap();
        let names: Vec<_> = load_series(dir.path())
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["0002-b.patch", "0001-a.patch"]);
        fs::write(dir.path().join("series"), "0003-missing.patch\n").unwrap();
        let err = format!("{:#}", load_series(dir.path()).unwrap_err());
        assert!(err.contains("0003-missing.patch"), "{err}");
        let err = format!("{:#}", load_series(&dir.path().join("none")).unwrap_err());
        assert!(
            err.contains("does not exist") && err.contains("patches_dir"),
            "{err}"
        );
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).unwrap();
        assert!(load_series(&empty).unwrap().is_empty());
    }
}
