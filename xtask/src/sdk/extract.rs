//! Unpacking a prebuilt SDK (tar, zip, or a directory copy) into a fresh staging directory
//! so that nothing lands outside it, whatever the archive holds.
//!
//! The rules, the same for every source:
//! - an entry's own path must be relative and free of `..`, NUL bytes and backslashes
//!   ([`safe_relative`]);
//! - what is written adds up to at most [`Limits::max_bytes`] (`--max-unpacked-mib`): an
//!   entry declaring more is refused before a byte of it is written, and the bytes are
//!   counted as written too, since a zip's or tar's declared size can lie;
//! - only regular files, directories, hard links to files of the archive and symbolic links
//!   (target at most [`MAX_LINK_TARGET`] bytes) are made: devices, FIFOs and sparse files are
//!   refused, and modes keep only the permission bits (no set-id);
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

/// Longest symbolic link target accepted (Linux's PATH_MAX less its NUL).
pub const MAX_LINK_TARGET: usize = 4095;

/// The default of `--max-unpacked-mib`: 8 GiB, generous for a libwebrtc SDK (headers and
/// a static library), far below what a zip bomb expands to.
pub const DEFAULT_MAX_UNPACKED_MIB: u64 = 8 * 1024;

/// How much one extraction may write.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_UNPACKED_MIB << 20,
        }
    }
}

impl Limits {
    fn over(&self, entry: &Path, what: impl std::fmt::Display) -> anyhow::Error {
        refuse(
            entry,
            format_args!(
                "{what}: the SDK would unpack to more than {} MiB (a zip bomb?); if it really \
                 is that big, raise the limit with --max-unpacked-mib",
                self.max_bytes >> 20
            ),
        )
    }
}

fn refuse(entry: &Path, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("refusing archive entry `{}`: {why}", entry.display())
}

/// An archive entry's path as a safe relative path, or an error naming it.
pub fn safe_relative(path: &Path) -> Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&0) {
        return Err(refuse(
            path,
            "its name holds a NUL byte (no file can have that name)",
        ));
    }
    if bytes.contains(&b'\\') {
        // A Windows separator: `..\x` climbs out for extractors that convert it.
        return Err(refuse(
            path,
            "its name holds a backslash (a Windows path separator); repack it with `/`",
        ));
    }
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
    use std::os::unix::ffi::OsStrExt;
    let raw = target.as_os_str().as_bytes();
    if raw.len() > MAX_LINK_TARGET || raw.contains(&0) || raw.is_empty() {
        return Err(refuse(
            entry,
            format_args!(
                "its link target is not a path (empty, longer than {MAX_LINK_TARGET} bytes \
                 or holding a NUL)"
            ),
        ));
    }
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
    limits: Limits,
    written: u64,
}

impl<'a> Writer<'a> {
    fn new(root: &'a Path, limits: Limits) -> Self {
        Writer {
            root,
            links: Vec::new(),
            limits,
            written: 0,
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

    /// A regular file of `declared` bytes (as the archive says: checked against what is left
    /// of the limit first, then the bytes really written are counted).
    fn file(
        &mut self,
        rel: &Path,
        mode: Option<u32>,
        declared: u64,
        body: &mut dyn Read,
    ) -> Result<()> {
        let left = self.limits.max_bytes - self.written;
        if declared > left {
            return Err(self
                .limits
                .over(rel, format_args!("it declares {declared} bytes")));
        }
        self.forget_link(rel);
        let out = self.prepare(rel)?;
        // create_new = O_CREAT|O_EXCL: fails on anything already there, links included.
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode.map_or(0o644, |m| m & 0o777))
            .open(&out)
            .with_context(|| format!("creating {}", out.display()))?;
        let n = io::copy(&mut body.take(left + 1), &mut f)
            .with_context(|| format!("writing {}", rel.display()))?;
        if n > left {
            return Err(self.limits.over(
                rel,
                format_args!("it holds more than the {declared} bytes it declares"),
            ));
        }
        self.written += n;
        Ok(())
    }

    /// A later entry of the same name replaces a queued link, as it would have replaced
    /// the link on disk (tar's order).
    fn forget_link(&mut self, rel: &Path) {
        self.links.retain(|(r, _)| r != rel);
    }

    fn hard_link(&mut self, rel: &Path, target: &Path) -> Result<()> {
        // The error names this entry, not the target it points at.
        let target = safe_relative(target).map_err(|_| {
            refuse(
                rel,
                format_args!("hard link to `{}` leads outside the SDK", target.display()),
            )
        })?;
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
        self.forget_link(rel);
        let out = self.prepare(rel)?;
        fs::hard_link(&at, &out).with_context(|| format!("linking {}", out.display()))
    }

    fn symlink(&mut self, rel: &Path, target: &Path) -> Result<()> {
        check_link(rel, target)?;
        self.forget_link(rel);
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
    check_links_named(root, Path::new(""))
}

/// [`check_links`], naming entries as `prefix/<path under root>` (the archive member,
/// when `root` is a directory of the archive).
pub fn check_links_named(root: &Path, prefix: &Path) -> Result<()> {
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let dir = root.join(&rel);
        for e in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let e = e?;
            let child = rel.join(e.file_name());
            let kind = e.file_type()?;
            if kind.is_symlink() {
                resolve_inside(root, &child, prefix)?;
            } else if kind.is_dir() {
                todo.push(child);
            }
        }
    }
    Ok(())
}

/// Follow `rel` (a path inside `root`) the way the kernel would, but with `root` as the
/// top: an absolute link or a `..` above `root` is an escape.
fn resolve_inside(root: &Path, rel: &Path, prefix: &Path) -> Result<()> {
    let named = prefix.join(rel);
    let escape = |via: &Path, target: &Path| {
        refuse(
            &named,
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
                    return Err(refuse(&named, "links loop"));
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
                .ok_or_else(|| refuse(&named, "link leads outside the SDK directory"))?,
            _ => {}
        }
    }
    Ok(())
}

pub fn tar(reader: impl Read, dest: &Path, limits: Limits) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    let mut w = Writer::new(dest, limits);
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
                let declared = entry.size();
                w.file(&rel, mode, declared, &mut entry)?
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

pub fn zip(file: File, dest: &Path, limits: Limits) -> Result<()> {
    let mut archive =
        zip::ZipArchive::new(io::BufReader::new(file)).context("reading the zip index")?;
    let mut w = Writer::new(dest, limits);
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
            let mut target = Vec::new();
            (&mut entry)
                .take(MAX_LINK_TARGET as u64 + 1)
                .read_to_end(&mut target)?;
            use std::os::unix::ffi::OsStrExt;
            w.symlink(&rel, Path::new(std::ffi::OsStr::from_bytes(&target)))?;
        } else {
            // Whatever file type the mode claims (FIFO, device …), a plain file is written.
            let mode = entry.unix_mode();
            let declared = entry.size();
            w.file(&rel, mode, declared, &mut entry)
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
        } else if !kind.is_file() {
            // Reading a FIFO blocks forever, a device never ends: neither belongs in an SDK.
            return Err(refuse(
                &src,
                "not a regular file, directory or link (a FIFO, socket or device)",
            ));
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
