//! Putting an SDK directory in place so that no reader ever sees a half-written one.
//!
//! Everything is assembled in a staging directory created next to the destination (same
//! file system, so `rename` is atomic), the manifest is loaded and validated there, and
//! only then renamed into place. An existing SDK is moved aside first and removed only
//! once the new one is in place; if the final rename fails, it is moved back.
//!
//! A run killed half-way (SIGKILL, power loss) leaves its staging directory, or the previous
//! SDK moved aside, next to the destination. Both carry the pid of the run that made them
//! (`.webrtc-sdk-new-<pid>-…`, `.webrtc-sdk-old-<pid>-…`); the next install in that directory
//! removes those whose run is gone, after putting an SDK that was moved aside back where it
//! was if nothing took its place.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use webrtc_sdk::Manifest;

/// A staging directory beside the destination; removed on drop unless its contents were
/// installed.
pub struct Staging {
    dir: tempfile::TempDir,
}

impl Staging {
    /// Create a staging directory in `parent` (created if needed). Install from it only to
    /// destinations in that same directory: `rename` is atomic only within a file system.
    pub fn in_dir(parent: &Path) -> Result<Self> {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        clean_after_killed_runs(parent);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{NEW}{}-", std::process::id()))
            .tempdir_in(parent)
            .with_context(|| format!("creating a staging directory in {}", parent.display()))?;
        Ok(Self { dir })
    }

    /// A staging directory beside `dest`.
    pub fn for_dest(dest: &Path) -> Result<Self> {
        Self::in_dir(&parent_of(dest)?)
    }

    /// The staging directory: write the SDK (or an archive's contents) here.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Validate `sdk_root` (the staging dir itself or a directory inside it) and rename it
    /// to `dest`. Returns the manifest that is now in place.
    pub fn commit(self, sdk_root: &Path, dest: &Path) -> Result<Manifest> {
        let manifest = load_checked(sdk_root)?;
        replace_dir(sdk_root, dest)?;
        // Dropping `self.dir` removes what is left of the staging directory (nothing when
        // sdk_root was the staging dir itself).
        Ok(manifest)
    }
}

/// Load and validate the manifest of an SDK directory, including that its relative paths
/// exist inside it.
pub fn load_checked(sdk_root: &Path) -> Result<Manifest> {
    let manifest = Manifest::load(sdk_root)
        .with_context(|| format!("validating the new SDK in {}", sdk_root.display()))?;
    let fields = [
        ("compile.include_dirs", &manifest.compile.include_dirs),
        ("link.search_paths", &manifest.link.search_paths),
    ];
    for (field, paths) in fields {
        for p in paths.iter().filter(|p| p.is_relative()) {
            if !sdk_root.join(p).is_dir() {
                anyhow::bail!(
                    "{}: field `{field}`: `{}` is not a directory inside the SDK",
                    sdk_root.join(webrtc_sdk::MANIFEST_FILE).display(),
                    p.display()
                );
            }
        }
    }
    Ok(manifest)
}

/// Rename `new` to `dest`, keeping the old `dest` until the new one is in place.
fn replace_dir(new: &Path, dest: &Path) -> Result<()> {
    let old = if dest.exists() || dest.is_symlink() {
        let parent = parent_of(dest)?;
        let aside = tempfile::Builder::new()
            .prefix(&format!("{OLD}{}-", std::process::id()))
            .tempdir_in(&parent)
            .with_context(|| format!("creating a directory in {}", parent.display()))?
            .keep();
        // Where it came from, for the next install if this one is killed before the end.
        fs::write(aside.join("dest"), dest.as_os_str().as_encoded_bytes())
            .with_context(|| format!("writing {}", aside.join("dest").display()))?;
        let aside = aside.join("sdk");
        fs::rename(dest, &aside).with_context(|| {
            format!(
                "moving the existing SDK {} aside to {}",
                dest.display(),
                aside.display()
            )
        })?;
        Some(aside)
    } else {
        None
    };
    if let Err(e) = fs::rename(new, dest) {
        if let Some(old) = &old {
            // Put the previous SDK back; the error below is what matters to the user.
            let _ = fs::rename(old, dest);
        }
        return Err(e).with_context(|| format!("renaming {} to {}", new.display(), dest.display()));
    }
    if let Some(old) = old {
        let holder = old.parent().expect("aside path has a parent");
        fs::remove_dir_all(holder)
            .with_context(|| format!("removing the previous SDK at {}", holder.display()))?;
    }
    Ok(())
}

const NEW: &str = ".webrtc-sdk-new-";
const OLD: &str = ".webrtc-sdk-old-";

/// Remove what installs killed half-way left in `parent` (see the module docs). Best
/// effort: an install must not fail on someone else's leftovers.
fn clean_after_killed_runs(parent: &Path) {
    let Ok(rd) = fs::read_dir(parent) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let (kind, rest) = if let Some(r) = name.strip_prefix(NEW) {
            (NEW, r)
        } else if let Some(r) = name.strip_prefix(OLD) {
            (OLD, r)
        } else {
            continue;
        };
        // The run's pid; a name without one (made before pids were added) counts as gone.
        let pid = rest
            .split_once('-')
            .and_then(|(p, _)| p.parse::<u32>().ok());
        if pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists()) {
            continue; // still running (or the pid is in use again: keep it, to be safe)
        }
        let dir = e.path();
        if kind == OLD {
            // Killed between moving the previous SDK aside and renaming the new one in:
            // no SDK is in place. Put it back unless something took its place since.
            let prev = dir.join("sdk");
            if let Some(dest) = fs::read_to_string(dir.join("dest")).ok().map(PathBuf::from) {
                if prev.is_dir() && !dest.exists() && fs::rename(&prev, &dest).is_ok() {
                    eprintln!(
                        "note: put back the SDK {} that an interrupted install had moved aside",
                        dest.display()
                    );
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

pub fn parent_of(dest: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(dest).with_context(|| format!("resolving {}", dest.display()))?;
    abs.parent()
        .map(Path::to_owned)
        .with_context(|| format!("{} has no parent directory", abs.display()))
}

/// Write a one-file SDK (just the manifest) to `dest` atomically.
pub fn install_manifest(dest: &Path, manifest_toml: &str) -> Result<Manifest> {
    let staging = Staging::for_dest(dest)?;
    let path = staging.path().join(webrtc_sdk::MANIFEST_FILE);
    fs::write(&path, manifest_toml).with_context(|| format!("writing {}", path.display()))?;
    let root = staging.path().to_owned();
    staging.commit(&root, dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = include_str!("../../tests/fixtures/sdk/webrtc-sdk.toml");

    fn leftovers(parent: &Path) -> Vec<String> {
        fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".webrtc-sdk-"))
            .collect()
    }

    #[test]
    fn installs_and_replaces_without_leftovers() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("sdk/x86_64-unknown-linux-gnu");
        install_manifest(&dest, GOOD).unwrap();
        fs::write(dest.join("stale"), "from the old SDK").unwrap();
        install_manifest(&dest, GOOD).unwrap();
        assert!(dest.join(webrtc_sdk::MANIFEST_FILE).is_file());
        assert!(!dest.join("stale").exists(), "old SDK replaced as a whole");
        assert!(leftovers(dest.parent().unwrap()).is_empty());
    }

    /// What a SIGKILLed install leaves (a staging dir; or the previous SDK moved aside and
    /// none in place) is cleaned by the next one; a live run's are left alone.
    #[test]
    fn leftovers_of_killed_installs_are_cleaned_and_a_moved_aside_sdk_put_back() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path().join("sdk");
        let dest = parent.join("x86_64-unknown-linux-gnu");
        // A pid that is gone: a child that has exited and been reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale_new = parent.join(format!("{NEW}{dead}-abc"));
        fs::create_dir_all(stale_new.join("unpacked/lib")).unwrap();
        fs::write(stale_new.join("unpacked/lib/big"), "half an SDK").unwrap();
        let live_new = parent.join(format!("{NEW}{}-live", std::process::id()));
        fs::create_dir_all(&live_new).unwrap();
        // Killed between the two renames: the previous SDK aside, nothing at dest.
        let stale_old = parent.join(format!("{OLD}{dead}-xyz"));
        fs::create_dir_all(stale_old.join("sdk")).unwrap();
        fs::write(stale_old.join("sdk").join(webrtc_sdk::MANIFEST_FILE), GOOD).unwrap();
        fs::write(stale_old.join("dest"), dest.as_os_str().as_encoded_bytes()).unwrap();
        let pre_pid = parent.join(".webrtc-sdk-new-Ab3xYz");
        fs::create_dir_all(&pre_pid).unwrap();

        let staging = Staging::for_dest(&parent.join("other")).unwrap();
        assert!(!stale_new.exists() && !stale_old.exists() && !pre_pid.exists());
        assert!(live_new.exists(), "a running install's staging dir is kept");
        assert_eq!(
            fs::read_to_string(dest.join(webrtc_sdk::MANIFEST_FILE)).unwrap(),
            GOOD,
            "the SDK moved aside is back"
        );
        drop(staging);
        fs::remove_dir(&live_new).unwrap();
        assert!(leftovers(&parent).is_empty(), "{:?}", leftovers(&parent));
    }

    #[test]
    fn invalid_manifest_keeps_the_old_sdk() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("sdk");
        install_manifest(&dest, GOOD).unwrap();
        let bad = GOOD.replace("cxx_std = \"c++20\"", "cxx_std = \"c++98\"");
        let err = format!("{:#}", install_manifest(&dest, &bad).unwrap_err());
        assert!(err.contains("compile.cxx_std"), "{err}");
        assert_eq!(
            fs::read_to_string(dest.join(webrtc_sdk::MANIFEST_FILE)).unwrap(),
            GOOD
        );
        assert!(leftovers(tmp.path()).is_empty());
    }
}
