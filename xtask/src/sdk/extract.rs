//! Unpacking a prebuilt SDK (tar, zip, or a directory copy) into a fresh staging directory
//! so that nothing lands outside it, whatever the archive holds.
//!
//! The rules, the same for every source:
//! - an entry's own path must be relative and free of `..` ([`safe_relative`]);
//! - nothing is ever written through a link: every directory on the way to an entry must be
//!   a real directory, and the entry itself is created anew (`O_EXCL`), never opened through
//!   whatever sits at its name;
//! - symbolic links are created last, after every file and directory, so no entry of the
//!   archive can be written through a link of the archive;
//! - then every link of the tree is resolved against the real tree, hop by hop (a link
//!   through a link through a link …), and one whose final target leaves the directory, or
//!   that loops, is refused ([`check_links`]). A lexical check of each link on its own is
//!   not enough: `a/l -> ..` and `a/m -> l/..` are each inside, together they lead out.
//!
//! A refusal fails the whole install; the staging directory is removed by the caller.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

/// Links resolved in a row before a chain is called a loop (Linux's own limit is 40).
const MAX_HOPS: usize = 40;

fn refuse(entry: &Path, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("refusing archive entry `{}`: {why}", entry.display())
}

/// An archive entry's path as a safe relative path, or an error naming it.
pub fn safe_relative(path: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(refuse(
                    path,
                    "it would be written outside the SDK directory",
                ))
            }
        }
    }
    Ok(out)
}

/// A symbolic link at `entry` (relative to the SDK root) pointing at `target`, on its own,
/// stays inside the SDK (a first, lexical check; [`check_links`] does the real one).
pub fn check_link(entry: &Path, target: &Path) -> Result<()> {
    let out = || {
        refuse(
            entry,
            format_args!(
                "link to `{}` points outside the SDK directory",
                target.display()
            ),
        )
    };
    let mut depth = entry.parent().map_or(0, |p| p.components().count());
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => depth = depth.checked_sub(1).ok_or_else(out)?,
            Component::RootDir | Component::Prefix(_) => return Err(out()),
        }
    }
    Ok(())
}

/// Writes entries under `root`, never through a link; links are queued for [`Self::finish`].
struct Writer<'a> {
    root: &'a Path,
    links: Vec<(PathBuf, PathBuf)>,
}

impl<'a> Writer<'a> {
    fn new(root: &'a Path) -> Self {
        Writer {
            root,
            links: Vec::new(),
        }
    }

    /// Make the directories leading to `rel` (each must be a real directory, not a link)
    /// and clear whatever file or link sits at `rel` itself. Returns the full path.
    fn prepare(&self, rel: &Path) -> Result<PathBuf> {
        let mut at = self.root.to_path_buf();
        let mut so_far = PathBuf::new();
        let parts: Vec<_> = rel.components().collect();
        let Some((_, parents)) = parts.split_last() else {
            return Err(refuse(rel, "empty path"));
        };
        for c in parents {
            at.push(c);
            so_far.push(c);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(refuse(
                        rel,
                        format_args!(
                            "it would be written through the link `{}`",
                            so_far.display()
                        ),
                    ))
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(refuse(
                        rel,
                        format_args!("`{}` is a file, not a directory", so_far.display()),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&at).with_context(|| format!("creating {}", at.display()))?
                }
                Err(e) => return Err(e).with_context(|| format!("inspecting {}", at.display())),
            }
        }
        let out = self.root.join(rel);
        match fs::symlink_metadata(&out) {
            // A later entry of the same name replaces the earlier one (as tar does); removing
            // a link removes the link, not what it points at.
            Ok(m) if !m.is_dir() => {
                fs::remove_file(&out).with_context(|| format!("replacing {}", out.display()))?
            }
            _ => {}
        }
        Ok(out)
    }

    fn dir(&self, rel: &Path) -> Result<()> {
        if rel.as_os_str().is_empty() {
            return Ok(());
        }
        let out = self.prepare(rel)?;
        if !out.is_dir() {
            fs::create_dir(&out).with_context(|| format!("creating {}", out.display()))?;
        }
        Ok(())
    }

    fn file(&self, rel: &Path, mode: Option<u32>, body: &mut dyn Read) -> Result<()> {
        let out = self.prepare(rel)?;
        // create_new = O_CREAT|O_EXCL: fails on anything already there, links included.
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode.map_or(0o644, |m| m & 0o777))
            .open(&out)
            .with_context(|| format!("creating {}", out.display()))?;
        io::copy(body, &mut f).with_context(|| format!("writing {}", rel.display()))?;
        Ok(())
    }

    fn hard_link(&self, rel: &Path, target: &Path) -> Result<()> {
        let target = safe_relative(target)?;
        // The target must be a file this extraction wrote: reached through real directories
        // only (links are not created yet, but say it plainly if one were in the way).
        let mut at = self.root.to_path_buf();
        for c in target.components() {
            at.push(c);
            let m = fs::symlink_metadata(&at).map_err(|_| {
                refuse(
                    rel,
                    format_args!(
                        "hard link to `{}`, which is not in the archive before it",
                        target.display()
                    ),
                )
            })?;
            if m.file_type().is_symlink() {
                return Err(refuse(rel, "hard link through a link"));
            }
        }
        if !at.is_file() {
            return Err(refuse(rel, "hard link to something that is not a file"));
        }
        let out = self.prepare(rel)?;
        fs::hard_link(&at, &out).with_context(|| format!("linking {}", out.display()))
    }

    fn symlink(&mut self, rel: &Path, target: &Path) -> Result<()> {
        check_link(rel, target)?;
        self.links.push((rel.to_owned(), target.to_owned()));
        Ok(())
    }

    /// Create the queued links, then check every link of the tree.
    fn finish(self) -> Result<()> {
        for (rel, target) in &self.links {
            let out = self.prepare(rel)?;
            if out.is_dir() {
                // Entries were written below this name: they went into a real directory, and
                // the link would make them mean something else.
                return Err(refuse(
                    rel,
                    "a link where the archive also puts files (it would be written through)",
                ));
            }
            std::os::unix::fs::symlink(target, &out)
                .with_context(|| format!("creating symlink {}", out.display()))?;
        }
        check_links(self.root)
    }
}

/// Every symbolic link under `root` must, followed hop by hop through the real tree,
/// end inside `root`; loops are refused too.
pub fn check_links(root: &Path) -> Result<()> {
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let dir = root.join(&rel);
        for e in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let e = e?;
            let child = rel.join(e.file_name());
            let kind = e.file_type()?;
            if kind.is_symlink() {
                resolve_inside(root, &child)?;
            } else if kind.is_dir() {
                todo.push(child);
            }
        }
    }
    Ok(())
}

/// Follow `rel` (a path inside `root`) the way the kernel would, but with `root` as the
/// top: an absolute link or a `..` above `root` is an escape.
fn resolve_inside(root: &Path, rel: &Path) -> Result<()> {
    let escape = |via: &Path, target: &Path| {
        refuse(
            rel,
            format_args!(
                "link to `{}` leads outside the SDK directory (through `{}` -> `{}`)",
                fs::read_link(root.join(rel)).unwrap_or_default().display(),
                via.display(),
                target.display()
            ),
        )
    };
    // Components still to walk, last first.
    let mut todo: Vec<PathBuf> = rel
        .components()
        .rev()
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    let mut at = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = todo.pop() {
        match Path::new(&part).components().next() {
            Some(Component::Normal(n)) => {
                at.push(n);
                let full = root.join(&at);
                let Ok(m) = fs::symlink_metadata(&full) else {
                    continue; // does not exist: nothing to follow (a dangling link is harmless)
                };
                if !m.file_type().is_symlink() {
                    continue;
                }
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(refuse(rel, "links loop"));
                }
                let target = fs::read_link(&full)?;
                let via = at.clone();
                at.pop();
                for c in target.components() {
                    if matches!(c, Component::RootDir | Component::Prefix(_)) {
                        return Err(escape(&via, &target));
                    }
                }
                todo.extend(
                    target
                        .components()
                        .rev()
                        .map(|c| PathBuf::from(c.as_os_str())),
                );
            }
            Some(Component::ParentDir) => at
                .pop()
                .then_some(())
                .ok_or_else(|| refuse(rel, "link leads outside the SDK directory"))?,
            _ => {}
        }
    }
    Ok(())
}

pub fn tar(reader: impl Read, dest: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    let mut w = Writer::new(dest);
    for entry in archive.entries().context("reading the archive")? {
        let mut entry = entry.context("reading an archive entry")?;
        let raw = entry
            .path()
            .context("an archive entry has an invalid path")?
            .into_owned();
        let rel = safe_relative(&raw)?;
        let kind = entry.header().entry_type();
        let link = || -> Result<PathBuf> {
            Ok(entry
                .link_name()?
                .with_context(|| format!("link {} has no target", raw.display()))?
                .into_owned())
        };
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mode = entry.header().mode().ok();
                w.file(&rel, mode, &mut entry)?
            }
            tar::EntryType::Directory => w.dir(&rel)?,
            tar::EntryType::Symlink => {
                let target = link()?;
                w.symlink(&rel, &target)?
            }
            tar::EntryType::Link => {
                let target = link()?;
                w.hard_link(&rel, &target)?
            }
            // Metadata entries (pax headers) carry no file.
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => bail!(
                "refusing archive entry `{}`: unsupported entry type {other:?}",
                raw.display()
            ),
        }
    }
    w.finish()
}

pub fn zip(file: File, dest: &Path) -> Result<()> {
    let mut archive =
        zip::ZipArchive::new(io::BufReader::new(file)).context("reading the zip index")?;
    let mut w = Writer::new(dest);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).context("reading a zip entry")?;
        let name = entry.name().to_owned();
        let rel = safe_relative(Path::new(&name))?;
        if entry.enclosed_name().is_none() {
            return Err(refuse(
                Path::new(&name),
                "it would be written outside the SDK directory",
            ));
        }
        if entry.is_dir() {
            w.dir(&rel)?;
        } else if entry.is_symlink() {
            let mut target = String::new();
            entry.read_to_string(&mut target)?;
            w.symlink(&rel, Path::new(&target))?;
        } else {
            let mode = entry.unix_mode();
            w.file(&rel, mode, &mut entry)
                .with_context(|| format!("extracting {name}"))?;
        }
    }
    w.finish()
}

/// Copy a directory tree; symlinks are copied as symlinks, and checked like an archive's.
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    copy_tree(from, to)?;
    check_links(to)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let target = fs::read_link(&src)?;
            std::os::unix::fs::symlink(&target, &dst)
                .with_context(|| format!("creating symlink {}", dst.display()))?;
        } else if kind.is_dir() {
            fs::create_dir(&dst).with_context(|| format!("creating {}", dst.display()))?;
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(links: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a/b")).unwrap();
        fs::write(d.path().join("a/b/f"), "x").unwrap();
        for (name, target) in links {
            std::os::unix::fs::symlink(target, d.path().join(name)).unwrap();
        }
        d
    }

    #[test]
    fn links_are_followed_through_the_real_tree() {
        for ok in [
            &[("a/l", "b/f")][..],
            &[("a/b/up", ".."), ("a/b/g", "up/b/f")],
            &[("a/dangling", "nope/../b")],
            &[("a/b/top", "../.."), ("a/b/t2", "top/a")],
        ] {
            let d = tree(ok);
            check_links(d.path()).unwrap_or_else(|e| panic!("{ok:?}: {e:#}"));
        }
        for bad in [
            &[("a/b/top", "../.."), ("a/b/out", "top/..")][..],
            &[("a/l", "/etc")],
            &[("a/x", "y"), ("a/y", "x")],
            &[
                ("a/b/up", ".."),
                ("a/b/up2", "up/.."),
                ("a/b/out", "up2/.."),
            ],
        ] {
            let d = tree(bad);
            let err = format!("{:#}", check_links(d.path()).unwrap_err());
            assert!(err.contains("refusing archive entry"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn lexical_link_check() {
        check_link(Path::new("lib/libwebrtc.so"), Path::new("libwebrtc.so.1")).unwrap();
        check_link(Path::new("include/a/b.h"), Path::new("../c.h")).unwrap();
        assert!(check_link(Path::new("a.h"), Path::new("../a.h")).is_err());
    }
}
