//! `--provider prebuilt`: an SDK the user brings, as a directory holding `webrtc-sdk.toml`
//! or an archive of one (`.tar.gz`/`.tgz`, `.tar`, `.zip`). The manifest may sit at the top
//! of the archive or inside a single top-level directory.
//!
//! Order of operations, so that a bad input never replaces a good SDK:
//! 1. `--sha256`: hash the archive and compare, before reading a single entry;
//! 2. extract (or copy) into a staging directory next to the destination, refusing entries
//!    that would land outside it (`..`, absolute paths, writes through links, links whose
//!    final target is outside: see [`extract`]);
//! 3. load and validate the manifest there (errors name the field);
//! 4. rename into place, keeping the previous SDK until the new one is there.

use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use webrtc_sdk::{Provider, MANIFEST_FILE};

use super::extract;
use super::install::{self, Staging};

pub struct Request<'a> {
    pub path: &'a Path,
    pub sha256: Option<&'a str>,
    pub out: Option<&'a Path>,
    pub triple: Option<&'a str>,
    pub dry_run: bool,
    /// How to name the archive in messages, when `path` is a temporary download (its URL).
    pub label: Option<&'a str>,
    /// How much an archive may unpack to (`--max-unpacked-mib`).
    pub limits: extract::Limits,
}

/// What `--path` points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Dir,
    TarGz,
    Tar,
    Zip,
}

fn source_kind(path: &Path) -> Result<Source> {
    let meta = fs::metadata(path)
        .with_context(|| format!("--path {}: no such file or directory", path.display()))?;
    if meta.is_dir() {
        return Ok(Source::Dir);
    }
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_ascii_lowercase();
    Ok(if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Source::TarGz
    } else if name.ends_with(".tar") {
        Source::Tar
    } else if name.ends_with(".zip") {
        Source::Zip
    } else if name.ends_with(".tar.zst") || name.ends_with(".tar.xz") || name.ends_with(".tar.bz2")
    {
        bail!(
            "{}: only .tar.gz/.tgz, .tar and .zip archives are supported; repack it, e.g. \
             `tar -xf {name} && tar -czf sdk.tar.gz <dir>`",
            path.display()
        )
    } else {
        bail!(
            "{}: not a directory or a .tar.gz/.tgz/.tar/.zip archive of an SDK",
            path.display()
        )
    })
}

pub fn run(req: &Request<'_>, root: &Path) -> Result<()> {
    let kind = source_kind(req.path)?;
    match (kind, req.sha256) {
        (Source::Dir, Some(_)) => bail!(
            "--sha256 verifies an archive; {} is a directory",
            req.path.display()
        ),
        (_, Some(expected)) => verify_sha256(req.path, expected)?,
        _ => {}
    }

    // Stage beside the destination. Without --out the destination depends on the triple
    // in the manifest we have not read yet, but every default SDK dir is a child of the
    // same directory, so stage there.
    let staging_parent = match req.out {
        Some(out) => install::parent_of(out)?,
        None => webrtc_sdk::default_sdk_dir(root, "x")
            .parent()
            .expect("default_sdk_dir has a parent")
            .to_owned(),
    };
    let staging = Staging::in_dir(&staging_parent)?;
    let unpacked = staging.path().join("unpacked");
    fs::create_dir(&unpacked).with_context(|| format!("creating {}", unpacked.display()))?;
    match kind {
        Source::Dir => extract::copy_dir(req.path, &unpacked)?,
        Source::TarGz => {
            let file = open(req.path)?;
            extract::tar(
                flate2::read::GzDecoder::new(BufReader::new(file)),
                &unpacked,
                req.limits,
            )
        }
        .with_context(|| format!("extracting {}", req.path.display()))?,
        Source::Tar => extract::tar(BufReader::new(open(req.path)?), &unpacked, req.limits)
            .with_context(|| format!("extracting {}", req.path.display()))?,
        Source::Zip => extract::zip(open(req.path)?, &unpacked, req.limits)
            .with_context(|| format!("extracting {}", req.path.display()))?,
    }
    let sdk_root = find_sdk_root(&unpacked)
        .with_context(|| format!("looking for {MANIFEST_FILE} in {}", req.path.display()))?;
    if sdk_root != unpacked {
        // The links were checked against the extraction's top; the SDK is the directory
        // below it, and `sdk/l -> ../x` leaves that (the installed SDK's parent).
        let top = sdk_root.strip_prefix(&unpacked).unwrap_or(&sdk_root);
        extract::check_links_named(&sdk_root, top)
            .with_context(|| format!("checking the links of {}", req.path.display()))?;
    }
    let manifest = install::load_checked(&sdk_root)
        .map_err(|e| as_member(e, &sdk_root, &unpacked, req.path, kind == Source::Dir))?;

    let triple = &manifest.target.triple;
    if let Some(want) = req.triple {
        if want != triple {
            bail!(
                "--triple {want} was asked for, but {} is an SDK for {triple}",
                req.path.display()
            );
        }
    }
    let dest = match req.out {
        Some(out) => out.to_owned(),
        None => webrtc_sdk::default_sdk_dir(root, triple),
    };
    let summary = format!(
        "provider {}, M{}, revision {}, {triple}",
        manifest.provider, manifest.webrtc.milestone, manifest.webrtc.revision
    );
    let shown = req
        .label
        .map_or_else(|| req.path.display().to_string(), str::to_owned);
    // `cargo xtask dist` archives keep the `source` their build wrote, on purpose.
    let from_dist = sdk_root
        .join(crate::dist::contents::DIST_MANIFEST)
        .is_file();
    if manifest.provider != Provider::Prebuilt && !from_dist {
        println!(
            "note: {shown} declares provider `{}`; installing it as it is",
            manifest.provider
        );
    }
    if req.dry_run {
        println!("would install {shown} ({summary}) to {}", dest.display());
        return Ok(());
    }
    staging.commit(&sdk_root, &dest)?;
    println!("installed {shown} ({summary}) to {}", dest.display());
    if req.out.is_some() {
        println!(
            "webrtc-sys looks in the default location; point it here with {}={}",
            webrtc_sdk::SDK_DIR_ENV,
            dest.display()
        );
    }
    Ok(())
}

/// Rewrite an error about the staging copy (deleted on return) to name what the user
/// has: `sdk.zip:webrtc-sdk.toml`, or the file in their directory.
fn as_member(
    e: anyhow::Error,
    sdk_root: &Path,
    unpacked: &Path,
    source: &Path,
    is_dir: bool,
) -> anyhow::Error {
    let staged = unpacked.display().to_string();
    let shown = source.display().to_string();
    let sep = if is_dir { "/" } else { ":" };
    let text = format!("{e:#}")
        .replace(
            &format!("validating the new SDK in {}: ", sdk_root.display()),
            "",
        )
        .replace(&format!("{staged}/"), &format!("{shown}{sep}"))
        .replace(&staged, &shown);
    anyhow::anyhow!("{text}")
}

fn open(path: &Path) -> Result<File> {
    File::open(path).with_context(|| format!("opening {}", path.display()))
}

/// Compare the file's SHA-256 with `expected` (hex, any case, optional `sha256:` prefix).
fn verify_sha256(path: &Path, expected: &str) -> Result<()> {
    let expected = expected.trim();
    let expected = expected
        .strip_prefix("sha256:")
        .unwrap_or(expected)
        .to_ascii_lowercase();
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--sha256 `{expected}` is not 64 hex digits");
    }
    let actual = sha256_file(path)?;
    if actual != expected {
        bail!(
            "checksum mismatch for {}:\n  expected sha256 {expected}\n  actual   sha256 {actual}\n\
             The download may be truncated or not the file you meant; nothing was extracted.",
            path.display()
        );
    }
    Ok(())
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    io::copy(&mut open(path)?, &mut hasher)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// The directory holding the manifest: the top of the extraction, or its single
/// top-level directory (`webrtc-sdk-m120/webrtc-sdk.toml`).
fn find_sdk_root(unpacked: &Path) -> Result<PathBuf> {
    if unpacked.join(MANIFEST_FILE).is_file() {
        return Ok(unpacked.to_owned());
    }
    let entries: Vec<PathBuf> = fs::read_dir(unpacked)
        .with_context(|| format!("listing {}", unpacked.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    if let [only] = entries.as_slice() {
        let real_dir = fs::symlink_metadata(only).is_ok_and(|m| m.is_dir());
        if real_dir && only.join(MANIFEST_FILE).is_file() {
            return Ok(only.clone());
        }
    }
    let mut names: Vec<String> = entries
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    bail!(
        "no {MANIFEST_FILE} at the top level or inside a single top-level directory \
         (top level holds: {})",
        if names.is_empty() {
            "nothing".to_owned()
        } else {
            names.join(", ")
        }
    )
}

#[cfg(test)]
#[path = "prebuilt_tests.rs"]
mod tests;
