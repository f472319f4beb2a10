//! What `dist` adds to an SDK dir inside the archive: `dist-manifest.toml` (what the archive
//! is and how it was built) and, when the SDK has none, `LICENSES.md` assembled from the
//! checkout's licence files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use webrtc_sdk::{CxxStdlib, Manifest};

use super::archive::{self, Entry, Source};

/// File name of the archive's own manifest.
pub const DIST_MANIFEST: &str = "dist-manifest.toml";
/// The licence texts, as the SDK export names upstream's generate_licenses.py output.
pub const LICENSES: &str = "LICENSES.md";
/// Format version of [`DIST_MANIFEST`].
pub const FORMAT: u32 = 1;

/// `dist-manifest.toml`. Everything in it comes from the SDK dir (and the licence source),
/// so the same tree gives the same file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DistManifest {
    pub format: u32,
    pub triple: String,
    pub provider: String,
    pub milestone: u32,
    pub revision: String,
    /// Absolute paths the manifest names (the Linux toolchain's libc++ and clang): the
    /// installing machine must have them.
    pub needs_on_host: Vec<String>,
    pub cxx_runtime: CxxStdlib,
    pub licences: Licences,
    /// args.gn as `key = value`, values in gn syntax.
    pub gn_args: BTreeMap<String, String>,
    /// SHA-256 of every file of the archive but this one.
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Licences {
    pub file: String,
    /// Where the texts come from.
    pub from: String,
}

/// Parse args.gn (`key = value` lines, `#` comments) into a map.
pub fn parse_args_gn(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Absolute paths among the manifest's include dirs, search paths and compiler.
pub fn host_paths(m: &Manifest) -> Vec<String> {
    let mut out: Vec<String> = m
        .compile
        .include_dirs
        .iter()
        .chain(&m.link.search_paths)
        .filter(|p| p.is_absolute())
        .map(|p| p.display().to_string())
        .chain(m.compile.cxx.iter().filter(|c| c.starts_with('/')).cloned())
        .collect();
    out.dedup();
    out
}

/// Build the dist manifest for `entries` (the SDK's files plus the extras).
pub fn dist_manifest(
    m: &Manifest,
    args_gn: &str,
    licences: Licences,
    entries: &[Entry],
) -> Result<DistManifest> {
    let mut files = BTreeMap::new();
    for e in entries {
        if let Entry::File { path, source, .. } = e {
            let hex = match source {
                Source::Memory(b) => archive::sha256_hex(b.as_slice())?,
                Source::Disk(p) => archive::sha256_hex(
                    fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
                )
                .with_context(|| format!("reading {}", p.display()))?,
            };
            files.insert(path.display().to_string(), format!("sha256:{hex}"));
        }
    }
    Ok(DistManifest {
        format: FORMAT,
        triple: m.target.triple.clone(),
        provider: m.provider.to_string(),
        milestone: m.webrtc.milestone,
        revision: m.webrtc.revision.clone(),
        needs_on_host: host_paths(m),
        cxx_runtime: m.cxx_stdlib.clone(),
        licences,
        gn_args: parse_args_gn(args_gn),
        files,
    })
}

impl DistManifest {
    pub fn to_toml(&self) -> Result<String> {
        Ok(format!(
            "# What this archive holds and how it was built. Written by `cargo xtask dist` \
             (docs/dist.md).\n{}",
            toml::to_string(self).context("serialising dist-manifest.toml")?
        ))
    }
}

/// The licence files of a directory of the checkout: README.chromium's `License File:`
/// entries when they exist, else LICENSE*/COPYING*/PATENTS in it and in its `src/`.
fn licence_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(readme) = fs::read_to_string(dir.join("README.chromium")) {
        for line in readme.lines() {
            if let Some(list) = line.strip_prefix("License File:") {
                for f in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    let p = dir.join(f.trim_start_matches('/'));
                    if p.is_file() && !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
        }
    }
    if out.is_empty() {
        for d in [dir.to_owned(), dir.join("src")] {
            let Ok(rd) = fs::read_dir(&d) else { continue };
            let mut found: Vec<PathBuf> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    let n = p
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_ascii_uppercase();
                    p.is_file()
                        && (n.starts_with("LICENSE") || n.starts_with("COPYING") || n == "PATENTS")
                })
                .collect();
            found.sort();
            out.extend(found);
        }
    }
    out
}

/// LICENSES.md from a checkout's `src/`: WebRTC's LICENSE and PATENTS, then every
/// `third_party/<name>` with its licence files, sorted; directories without one are listed
/// as such (upstream's generate_licenses.py, when it can run, is the authoritative list).
pub fn licences_from_checkout(src: &Path) -> Result<String> {
    let mut md = String::from(
        "# Licences\n\nAssembled by `cargo xtask dist` from the licence files of the WebRTC \
         checkout (upstream's tools_webrtc/libs/generate_licenses.py needs depot_tools and \
         did not run).\n",
    );
    let mut dirs = vec![src.to_owned()];
    let tp = src.join("third_party");
    let mut third: Vec<PathBuf> = fs::read_dir(&tp)
        .with_context(|| format!("listing {}", tp.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    third.sort();
    dirs.extend(third);
    let mut missing = Vec::new();
    for d in &dirs {
        let name = d.strip_prefix(src).unwrap_or(d);
        let name = if name.as_os_str().is_empty() {
            "webrtc".to_owned()
        } else {
            name.display().to_string()
        };
        let files = if d == src {
            ["LICENSE", "PATENTS"]
                .iter()
                .map(|f| src.join(f))
                .filter(|p| p.is_file())
                .collect()
        } else {
            licence_files(d)
        };
        if files.is_empty() {
            missing.push(name);
            continue;
        }
        for f in files {
            let text =
                fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            let rel = f.strip_prefix(src).unwrap_or(&f);
            write!(
                md,
                "\n## {name}: {}\n\n```text\n{}\n```\n",
                rel.display(),
                text.trim_end()
            )?;
        }
    }
    if !missing.is_empty() {
        write!(
            md,
            "\n## No licence file in this checkout\n\n{}\n",
            missing
                .iter()
                .map(|m| format!("- {m}"))
                .collect::<Vec<_>>()
                .join("\n")
        )?;
    }
    Ok(md)
}
