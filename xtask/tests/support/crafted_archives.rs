//! Crafted archives for tests/sdk_crafted.rs, written byte by byte (tar headers by hand,
//! zips patched after writing), and the checks run after each install. `#[path]`-included.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const MANIFEST: &str = include_str!("../fixtures/sdk/prebuilt-android-arm64.toml");

/// The entries of a valid SDK under `sdk/`, which every crafted archive starts with (so a
/// refusal is about the crafted entry, not a missing manifest).
pub fn base_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("sdk/webrtc-sdk.toml", MANIFEST.as_bytes().to_vec()),
        ("sdk/include/api/x.h", b"// header\n".to_vec()),
        ("sdk/lib/libwebrtc.a", b"!<arch>\n".to_vec()),
    ]
}

// ---------------------------------------------------------------- tar, byte by byte

#[derive(Clone)]
pub enum T {
    File(&'static [u8], Vec<u8>),
    /// A file whose header declares `size` bytes but carries `body`.
    Declared(&'static [u8], u64, Vec<u8>),
    Dir(&'static [u8]),
    Sym(&'static [u8], &'static [u8]),
    Hard(&'static [u8], &'static [u8]),
    Special(&'static [u8], tar::EntryType),
    /// A pax `path=` record (may hold bytes an old header cannot), then a file.
    PaxFile(&'static [u8], Vec<u8>),
    Mode(&'static [u8], u32),
}

pub fn header(name: &[u8], kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    // Raw bytes: tar::Header::set_path refuses `..` and absolute names, an attacker doesn't.
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(0);
    h
}

pub fn push(out: &mut Vec<u8>, mut h: tar::Header, body: &[u8]) {
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

pub fn tar_bytes(extra: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, body) in base_files() {
        push(
            &mut out,
            header(name.as_bytes(), tar::EntryType::Regular, body.len() as u64),
            &body,
        );
    }
    for e in extra {
        match e {
            T::File(name, body) => push(
                &mut out,
                header(name, tar::EntryType::Regular, body.len() as u64),
                body,
            ),
            T::Declared(name, size, body) => {
                let mut h = header(name, tar::EntryType::Regular, *size);
                h.set_cksum();
                out.extend_from_slice(h.as_bytes());
                out.extend_from_slice(body);
                out.resize(out.len().div_ceil(512) * 512, 0);
            }
            T::Dir(name) => push(&mut out, header(name, tar::EntryType::Directory, 0), &[]),
            T::Sym(name, target) | T::Hard(name, target) => {
                let kind = if matches!(e, T::Sym(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                let mut h = header(name, kind, 0);
                h.as_old_mut().linkname[..target.len()].copy_from_slice(target);
                push(&mut out, h, &[]);
            }
            T::Special(name, kind) => {
                let mut h = header(name, *kind, 0);
                if *kind == tar::EntryType::GNUSparse {
                    h.as_gnu_mut().unwrap().set_real_size(0);
                }
                if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
                    h.set_device_major(1).unwrap();
                    h.set_device_minor(5).unwrap();
                }
                push(&mut out, h, &[]);
            }
            T::PaxFile(path, body) => {
                let mut rec = b" path=".to_vec();
                rec.extend_from_slice(path);
                rec.push(b'\n');
                // "<len> path=...\n" where len counts its own digits.
                let mut len = rec.len() + 1;
                while format!("{len}").len() + rec.len() != len {
                    len += 1;
                }
                let mut pax = format!("{len}").into_bytes();
                pax.extend_from_slice(&rec);
                push(
                    &mut out,
                    header(b"PaxHeaders/x", tar::EntryType::XHeader, pax.len() as u64),
                    &pax,
                );
                push(
                    &mut out,
                    header(b"placeholder", tar::EntryType::Regular, body.len() as u64),
                    body,
                );
            }
            T::Mode(name, mode) => {
                let mut h = header(name, tar::EntryType::Regular, 2);
                h.set_mode(*mode);
                push(&mut out, h, b"#!");
            }
        }
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

// ---------------------------------------------------------------- zip, then patched

#[derive(Clone)]
pub enum Z {
    File(&'static str, Vec<u8>),
    Dir(&'static str),
    Sym(&'static str, String),
}

/// After writing: rename entries (same length, every occurrence), set a central-directory
/// entry's Unix mode, or its declared uncompressed size.
#[derive(Clone)]
pub enum Patch {
    Rename(&'static [u8], &'static [u8]),
    Mode(&'static [u8], u32),
    Size(&'static [u8], u32),
}

pub fn zip_bytes(extra: &[Z], patches: &[Patch]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (name, body) in base_files() {
        z.start_file(name, opts).unwrap();
        z.write_all(&body).unwrap();
    }
    for e in extra {
        match e {
            Z::File(name, body) => {
                z.start_file(*name, opts).unwrap();
                z.write_all(body).unwrap();
            }
            Z::Dir(name) => z.add_directory(*name, opts).unwrap(),
            Z::Sym(name, target) => z.add_symlink(*name, target, opts).unwrap(),
        }
    }
    let mut bytes = z.finish().unwrap().into_inner();
    for p in patches {
        match p {
            Patch::Rename(from, to) => {
                assert_eq!(from.len(), to.len());
                let mut i = 0;
                let mut n = 0;
                while i + from.len() <= bytes.len() {
                    if &bytes[i..i + from.len()] == *from {
                        bytes[i..i + from.len()].copy_from_slice(to);
                        n += 1;
                    }
                    i += 1;
                }
                assert!(n >= 2, "rename: local and central names");
            }
            Patch::Mode(name, mode) => central(&mut bytes, name, |h| {
                h[4..6].copy_from_slice(&(3u16 << 8 | 63).to_le_bytes()); // made by Unix
                h[38..42].copy_from_slice(&(mode << 16).to_le_bytes());
            }),
            Patch::Size(name, size) => central(&mut bytes, name, |h| {
                h[24..28].copy_from_slice(&size.to_le_bytes());
            }),
        }
    }
    bytes
}

/// Apply `f` to the 46-byte central-directory header of the entry named `name`.
pub fn central(bytes: &mut [u8], name: &[u8], mut f: impl FnMut(&mut [u8])) {
    let sig = 0x0201_4b50u32.to_le_bytes();
    let mut i = 0;
    while i + 46 <= bytes.len() {
        if bytes[i..i + 4] == sig {
            let len = u16::from_le_bytes([bytes[i + 28], bytes[i + 29]]) as usize;
            if &bytes[i + 46..i + 46 + len] == name {
                f(&mut bytes[i..i + 46]);
                return;
            }
        }
        i += 1;
    }
    panic!("no central entry {}", String::from_utf8_lossy(name));
}

// ---------------------------------------------------------------- the checks

/// What the tree looks like: path -> kind and content (file bytes' length and a cheap sum,
/// link target, "dir").
pub fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_owned()];
    while let Some(dir) = todo.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p == skip {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("link {}", fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                todo.push(p.clone());
                "dir".to_owned()
            } else if m.is_file() {
                let body = fs::read(&p).unwrap();
                let sum: u64 = body
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (i as u64 + 1) * *b as u64)
                    .sum();
                format!("file {} {sum} {:o}", body.len(), m.mode() & 0o7777)
            } else {
                format!("special {:o}", m.mode())
            };
            out.insert(p.strip_prefix(root).unwrap().to_owned(), what);
        }
    }
    out
}

pub struct Site {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
}

impl Site {
    pub fn new() -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("archives")).unwrap();
        fs::write(root.join("victim"), "untouched\n").unwrap();
        fs::create_dir_all(root.join("out/outside")).unwrap();
        let site = Site { _tmp: tmp, root };
        // The good SDK a bad archive must not damage.
        let good = site.archive("good.tar", tar_bytes(&[]));
        let out = site.install(&good, &[]);
        assert!(out.status.success(), "{}", text(&out));
        site
    }
    pub fn dest(&self) -> PathBuf {
        self.root.join("out/sdks/sdk")
    }
    /// Writes an archive as `a<n>.tar|.tar.gz|.zip` (of `name`'s kind): a descriptive file
    /// name would show up in the error and satisfy the test's needles by itself.
    pub fn archive(&self, name: &str, bytes: Vec<u8>) -> PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let ext = [".tar.gz", ".tar", ".zip"]
            .into_iter()
            .find(|e| name.ends_with(e))
            .expect("an archive kind");
        let p = self.root.join("archives").join(format!("a{n}{ext}"));
        fs::write(&p, bytes).unwrap();
        p
    }
    /// Runs the install with a generous timeout (a FIFO read would hang forever).
    pub fn install(&self, archive: &Path, extra: &[&str]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["sdk", "--provider", "prebuilt", "--path"])
            .arg(archive)
            .arg("--out")
            .arg(self.dest())
            .args(extra)
            .current_dir(&self.root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "{} did not finish in 120 s (hung?):\n{}",
                    archive.display(),
                    text(&out)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }
    /// The tree without the archives (which the test writes).
    pub fn state(&self) -> BTreeMap<PathBuf, String> {
        snapshot(&self.root, &self.root.join("archives"))
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What a case must end in.
pub enum Want {
    /// Refused; the error contains each of these.
    Refused(&'static [&'static str]),
    /// Installed (or refused: either is fine), and then the SDK checks apply; with `Some`,
    /// if installed, this file holds these bytes (the archive's last entry of that name
    /// wins, as with tar(1)).
    Safe(Option<(&'static str, &'static [u8])>),
}

/// `Err(why)` when `cond` does not hold (a case's failures are collected, not fatal, so one
/// run lists every case that fails).
macro_rules! ensure {
    ($cond:expr, $($why:tt)*) => {
        if !$cond {
            return Err(format!($($why)*));
        }
    };
}

/// Every case's outcome; the test fails at the end listing each case that failed.
#[derive(Default)]
pub struct Report {
    cases: usize,
    failed: Vec<String>,
}

impl Report {
    pub fn add(&mut self, r: Result<bool, String>) -> bool {
        self.cases += 1;
        r.unwrap_or_else(|e| {
            self.failed.push(e);
            false
        })
    }
    pub fn finish(self) {
        assert!(
            self.failed.is_empty(),
            "{} of {} cases failed:\n\n{}",
            self.failed.len(),
            self.cases,
            self.failed.join("\n\n")
        );
        eprintln!("{} cases, all refused or harmless", self.cases);
    }
}

/// Run one crafted archive and check everything the module doc promises. Returns whether
/// it was installed.
pub fn check(
    site: &Site,
    label: &str,
    archive: &Path,
    extra: &[&str],
    want: &Want,
) -> Result<bool, String> {
    let before = site.state();
    let out = site.install(archive, extra);
    let log = text(&out);
    let after = site.state();
    let dest = site.dest();
    let rel_dest = dest.strip_prefix(&site.root).unwrap().to_owned();
    // Nothing changed outside the SDK dir (staging dirs included: none may be left).
    let outside = |m: &BTreeMap<PathBuf, String>| -> BTreeMap<PathBuf, String> {
        m.iter()
            .filter(|(p, _)| !p.starts_with(&rel_dest))
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect()
    };
    ensure!(
        outside(&after) == outside(&before),
        "[{label}] something changed outside the SDK dir:\n{log}"
    );
    if !out.status.success() {
        ensure!(
            after == before,
            "[{label}] a refused archive changed the SDK:\n{log}"
        );
        ensure!(
            log.contains("error: "),
            "[{label}] no error message:\n{log}"
        );
        if let Want::Refused(needles) = want {
            for n in *needles {
                ensure!(
                    log.contains(n),
                    "[{label}] the error does not say `{n}`:\n{log}"
                );
            }
        }
        let why = log.lines().find(|l| l.starts_with("error: ")).unwrap_or("");
        eprintln!("[{label}] refused: {why}");
        return Ok(false);
    }
    if let Want::Refused(_) = want {
        return Err(format!("[{label}] was installed, must be refused:\n{log}"));
    }
    // Installed: inspect it as a consumer would meet it.
    for (p, what) in &after {
        let Ok(inside) = p.strip_prefix(&rel_dest) else {
            continue;
        };
        let full = dest.join(inside);
        ensure!(
            !what.starts_with("special"),
            "[{label}] {} is a {what}",
            inside.display()
        );
        if let Some(mode) = what
            .strip_prefix("file ")
            .and_then(|s| s.rsplit(' ').next())
        {
            let mode = u32::from_str_radix(mode, 8).unwrap();
            ensure!(
                mode & 0o7000 == 0,
                "[{label}] {} is set-id",
                inside.display()
            );
        }
        if what.starts_with("link") {
            let real = Command::new("realpath")
                .args(["-m", "--"])
                .arg(&full)
                .output()
                .unwrap();
            let real = PathBuf::from(String::from_utf8_lossy(&real.stdout).trim());
            ensure!(
                real.starts_with(&dest),
                "[{label}] link {} ({what}) resolves to {}, outside the SDK {}",
                inside.display(),
                real.display(),
                dest.display()
            );
        }
    }
    if let Want::Safe(Some((file, bytes))) = want {
        ensure!(
            fs::read(dest.join(file)).ok().as_deref() == Some(*bytes),
            "[{label}] {file} does not hold the archive's last entry of that name"
        );
    }
    eprintln!("[{label}] installed, checked harmless");
    Ok(true)
}

/// Each tar case as `.tar` and as `.tar.gz`.
pub fn check_tar(
    rep: &mut Report,
    site: &Site,
    label: &str,
    entries: &[T],
    extra: &[&str],
    want: Want,
) {
    let raw = tar_bytes(entries);
    let name = label.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let a = check(
        site,
        &format!("{label} (.tar)"),
        &site.archive(&format!("{name}.tar"), raw.clone()),
        extra,
        &want,
    );
    let b = check(
        site,
        &format!("{label} (.tar.gz)"),
        &site.archive(&format!("{name}.tar.gz"), gz(&raw)),
        extra,
        &want,
    );
    if let (Ok(a), Ok(b)) = (&a, &b) {
        if a != b {
            rep.add(Err(format!("[{label}] .tar and .tar.gz disagree")));
        }
    }
    rep.add(a);
    rep.add(b);
}

pub fn check_zip(
    rep: &mut Report,
    site: &Site,
    label: &str,
    entries: &[Z],
    patches: &[Patch],
    want: Want,
) {
    let name = label.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    rep.add(check(
        site,
        &format!("{label} (.zip)"),
        &site.archive(&format!("{name}.zip"), zip_bytes(entries, patches)),
        &[],
        &want,
    ));
}
