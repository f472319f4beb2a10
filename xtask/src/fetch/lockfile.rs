//! Step 7: `webrtc.lock`, what the checkout really is: the solution commit and every dep
//! `gclient revinfo` reports (`<path>: <url>@<revision>` per line). Written after a
//! successful fetch and compared with the previous one, so drift (a moved dep, a different
//! DEPS) is reported instead of going unnoticed.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// The `src` solution's commit.
    pub revision: String,
    /// Every checkout path → `url@revision`, as `gclient revinfo` printed it.
    pub deps: BTreeMap<String, String>,
    /// The Chromium tarball a tarball-route checkout came from (none for gclient's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tarball: Option<TarballLock>,
}

/// What `fetch-webrtc --tarball/--debian-source` extracted: enough to fetch the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TarballLock {
    /// Chromium version (chrome/VERSION) and its milestone.
    pub version: String,
    pub milestone: u32,
    /// The tarball's file name and SHA-256.
    pub file: String,
    pub sha256: String,
    /// `<package>=<version>` of the Debian source package, for `--debian-source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debian: Option<String>,
    /// The Debian patches applied, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub debian_patches: Vec<String>,
}

/// Parse `gclient revinfo` output.
pub fn parse_revinfo(out: &str) -> Result<BTreeMap<String, String>> {
    let mut deps = BTreeMap::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((path, pin)) = line.split_once(": ") else {
            bail!("unexpected `gclient revinfo` line: {line:?}");
        };
        deps.insert(path.to_owned(), pin.to_owned());
    }
    Ok(deps)
}

impl Lock {
    pub fn from_revinfo(out: &str, solution: &str) -> Result<Lock> {
        let deps = parse_revinfo(out)?;
        let Some(pin) = deps.get(solution) else {
            bail!("`gclient revinfo` did not list the `{solution}` solution:\n{out}");
        };
        let revision = pin
            .rsplit_once('@')
            .map(|(_, r)| r.to_owned())
            .unwrap_or_default();
        Ok(Lock {
            revision,
            deps,
            tarball: None,
        })
    }

    pub fn to_text(&self) -> String {
        let from = if self.tarball.is_some() {
            "from the Chromium tarball's DEPS and chrome/VERSION"
        } else {
            "from `gclient revinfo`"
        };
        format!(
            "# Written by `cargo xtask fetch-webrtc` {from} after a successful fetch.\n\
             # Compared on the next fetch to report drift. Do not edit.\n{}",
            toml::to_string(self).expect("a Lock always serializes")
        )
    }

    pub fn read(path: &Path) -> Result<Option<Lock>> {
        match fs::read_to_string(path) {
            Ok(t) => {
                Ok(Some(toml::from_str(&t).with_context(|| {
                    format!("invalid lock file {}", path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(d) = path.parent() {
            fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let tmp = path.with_extension("lock.tmp");
        fs::write(&tmp, self.to_text()).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    }

    /// Human lines describing how `new` differs from `self`; empty when identical.
    pub fn drift(&self, new: &Lock) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in &new.deps {
            match self.deps.get(k) {
                None => out.push(format!("+ {k}: {v}")),
                Some(old) if old != v => out.push(format!("~ {k}: {old} -> {v}")),
                _ => {}
            }
        }
        for (k, v) in &self.deps {
            if !new.deps.contains_key(k) {
                out.push(format!("- {k}: {v}"));
            }
        }
        out
    }
}

/// The commit `src/` has checked out, read from its `.git` without spawning git (so a no-op
/// rerun can notice a checkout that moved). `None` when it cannot tell.
pub fn read_head(repo: &Path) -> Option<String> {
    let git = repo.join(".git");
    let head = fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(r) = head.strip_prefix("ref: ") else {
        return Some(head.to_owned());
    };
    if let Ok(s) = fs::read_to_string(git.join(r)) {
        return Some(s.trim().to_owned());
    }
    let packed = fs::read_to_string(git.join("packed-refs")).ok()?;
    packed.lines().find_map(|l| {
        let (sha, name) = l.split_once(' ')?;
        (name == r).then(|| sha.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REVINFO: &str = "src: file:///up/src@aaaa\nsrc/third_party/a: file:///up/a@bbbb\n";

    #[test]
    fn lock_from_revinfo_and_drift() {
        let l = Lock::from_revinfo(REVINFO, "src").unwrap();
        assert_eq!(l.revision, "aaaa");
        assert_eq!(l.deps["src/third_party/a"], "file:///up/a@bbbb");
        let back: Lock = toml::from_str(&l.to_text()).unwrap();
        assert_eq!(back, l);
        let new = Lock::from_revinfo(
            "src: file:///up/src@aaaa\nsrc/third_party/a: file:///up/a@cccc\nsrc/b: x@1\n",
            "src",
        )
        .unwrap();
        assert_eq!(
            l.drift(&new),
            [
                "+ src/b: x@1",
                "~ src/third_party/a: file:///up/a@bbbb -> file:///up/a@cccc",
            ]
        );
        assert!(l.drift(&l).is_empty());
    }

    #[test]
    fn revinfo_without_solution_is_an_error() {
        assert!(Lock::from_revinfo("other: x@1\n", "src").is_err());
        assert!(parse_revinfo("garbage\n").is_err());
    }

    #[test]
    fn head_detached_and_symbolic() {
        let d = tempfile::tempdir().unwrap();
        let git = d.path().join(".git");
        fs::create_dir_all(git.join("refs/heads")).unwrap();
        fs::write(git.join("HEAD"), "abc\n").unwrap();
        assert_eq!(read_head(d.path()).as_deref(), Some("abc"));
        fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(
            git.join("packed-refs"),
            "# pack-refs\ndef refs/heads/main\n",
        )
        .unwrap();
        assert_eq!(read_head(d.path()).as_deref(), Some("def"));
        fs::write(git.join("refs/heads/main"), "123\n").unwrap();
        assert_eq!(read_head(d.path()).as_deref(), Some("123"));
    }
}
