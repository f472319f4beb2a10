//! A reproducible `.tar.gz` of a directory: the same bytes from the same tree, whoever packs
//! it, whenever, wherever.
//!
//! - entries sorted by path (component by component), directories included;
//! - every header the same except path, size, type and mode: mtime [`MTIME`], uid/gid 0,
//!   user and group names empty; modes normalised to 0644/0755 (0755 when any exec bit is
//!   set, and for directories), symlinks 0777;
//! - GNU headers (long paths go in GNU long-name entries, which are deterministic too);
//! - gzip header without a name, mtime 0, OS byte 255 ("unknown"), a fixed level; flate2's
//!   pure-Rust backend (miniz_oxide, pinned by Cargo.lock), so the compressor is the same
//!   everywhere.
//!
//! Extra files (`extras`) are added from memory, as if they were in the tree. Written to a
//! temporary file beside `out` and renamed, so `out` is either complete or absent.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Fixed modification time of every entry: 2000-01-01T00:00:00Z (a plausible date: some
/// tar readers warn about 0).
pub const MTIME: u64 = 946_684_800;
/// gzip level: the default trade-off (the M150 Linux SDK, 70 MB, packs to about a third).
const LEVEL: u32 = 6;

/// One entry of the archive, relative to its top directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir(PathBuf),
    File {
        path: PathBuf,
        source: Source,
        executable: bool,
    },
    Symlink {
        path: PathBuf,
        target: PathBuf,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Disk(PathBuf),
    Memory(Vec<u8>),
}

impl Entry {
    pub fn path(&self) -> &Path {
        match self {
            Entry::Dir(p) | Entry::File { path: p, .. } | Entry::Symlink { path: p, .. } => p,
        }
    }
}

/// Every entry under `dir` (not `dir` itself), plus `extras` as files; sorted. An extra
/// with the name of a file of the tree is an error (say which one wins instead).
pub fn entries(dir: &Path, extras: &[(PathBuf, Vec<u8>)]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut out)?;
    for (path, bytes) in extras {
        if out.iter().any(|e| e.path() == path) {
            bail!(
                "{} already has {}; it would be packed twice",
                dir.display(),
                path.display()
            );
        }
        out.push(Entry::File {
            path: path.clone(),
            source: Source::Memory(bytes.clone()),
            executable: false,
        });
    }
    out.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(out)
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<Entry>) -> Result<()> {
    let dir = root.join(rel);
    for e in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let e = e.with_context(|| format!("listing {}", dir.display()))?;
        let path = rel.join(e.file_name());
        let full = root.join(&path);
        let meta = fs::symlink_metadata(&full)
            .with_context(|| format!("inspecting {}", full.display()))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target =
                fs::read_link(&full).with_context(|| format!("reading {}", full.display()))?;
            out.push(Entry::Symlink { path, target });
        } else if kind.is_dir() {
            out.push(Entry::Dir(path.clone()));
            walk(root, &path, out)?;
        } else if kind.is_file() {
            out.push(Entry::File {
                path,
                source: Source::Disk(full),
                executable: meta.permissions().mode() & 0o111 != 0,
            });
        } else {
            bail!(
                "{}: not a file, directory or symlink; an SDK has none of those",
                full.display()
            );
        }
    }
    Ok(())
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> Result<tar::Header> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(MTIME);
    h.set_uid(0);
    h.set_gid(0);
    h.set_username("")?;
    h.set_groupname("")?;
    Ok(h)
}

/// Write `entries` under the top directory `top` as a gzip'd tar to `out`.
pub fn write_tar_gz(entries: &[Entry], top: &str, out: &Path) -> Result<()> {
    let dir = out
        .parent()
        .with_context(|| format!("{} has no parent", out.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".dist-")
        .suffix(".part")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    {
        let gz = flate2::GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(
                BufWriter::new(tmp.as_file()),
                flate2::Compression::new(LEVEL),
            );
        let mut tar = tar::Builder::new(gz);
        let top = Path::new(top);
        let mut h = header(tar::EntryType::Directory, 0o755, 0)?;
        tar.append_data(&mut h, top, io::empty())?;
        for e in entries {
            let path = top.join(e.path());
            match e {
                Entry::Dir(_) => {
                    let mut h = header(tar::EntryType::Directory, 0o755, 0)?;
                    tar.append_data(&mut h, &path, io::empty())?;
                }
                Entry::Symlink { target, .. } => {
                    let mut h = header(tar::EntryType::Symlink, 0o777, 0)?;
                    tar.append_link(&mut h, &path, target)?;
                }
                Entry::File {
                    source, executable, ..
                } => {
                    let mode = if *executable { 0o755 } else { 0o644 };
                    match source {
                        Source::Memory(bytes) => {
                            let mut h = header(tar::EntryType::Regular, mode, bytes.len() as u64)?;
                            tar.append_data(&mut h, &path, bytes.as_slice())?;
                        }
                        Source::Disk(file) => {
                            let f = File::open(file)
                                .with_context(|| format!("opening {}", file.display()))?;
                            let len = f.metadata()?.len();
                            let mut h = header(tar::EntryType::Regular, mode, len)?;
                            // take(len): a file that grows while packing must not overrun
                            // its header's size.
                            tar.append_data(&mut h, &path, f.take(len))
                                .with_context(|| format!("packing {}", file.display()))?;
                        }
                    }
                }
            }
        }
        let gz = tar.into_inner().context("finishing the tar stream")?;
        let mut w = gz.finish().context("finishing the gzip stream")?;
        w.flush()?;
    }
    // tempfile creates 0600; an archive to publish is world-readable like any download.
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
        .with_context(|| format!("setting the mode of {}", tmp.path().display()))?;
    tmp.as_file().sync_all().ok();
    tmp.persist(out)
        .with_context(|| format!("renaming the archive to {}", out.display()))?;
    Ok(())
}

/// SHA-256 of a byte source, hex.
pub fn sha256_hex(mut r: impl Read) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    io::copy(&mut r, &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}

/// `sha256sum`'s line for `archive`: `<hex>  <file name>` (so `sha256sum -c` checks it).
pub fn checksum_line(hex: &str, archive: &Path) -> String {
    format!(
        "{hex}  {}\n",
        archive.file_name().unwrap_or_default().to_string_lossy()
    )
}
