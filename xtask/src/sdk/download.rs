//! `--provider prebuilt --url URL --sha256 HEX`: download an SDK archive (a release asset of
//! the release workflow, docs/dist.md) and install it like `--path`.
//!
//! With curl, the HTTP client the xtask already uses for the Chromium tarball
//! (`fetch/tarball/source.rs`): `--fail --location --retry 3`, into a directory beside the
//! SDK's destination that is removed whatever happens. A progress bar (indicatif) follows the
//! file as curl writes it: hidden when stderr is not a terminal, forced with
//! `MOBILERTC_PROGRESS=1`. The SHA-256 is compared before anything is extracted; a mismatch
//! names the URL and both hashes, and nothing is installed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::run::{Cmd, Runner};

/// What the download step does, computed before anything runs (`--dry-run` prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub url: String,
    pub sha256: String,
    /// The file name the archive is saved under (its type comes from it).
    pub file_name: String,
    /// `curl -sSIL`: the size for the progress bar (best effort).
    pub head: Cmd,
    /// `curl` itself, writing `<dir>/<file_name>`; `dir` is a placeholder until run.
    pub get: Cmd,
}

/// The last path segment of the URL, without query or fragment.
pub fn file_name(url: &str) -> Result<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || !path.contains("://") {
        bail!("--url {url}: not a URL of an archive (http(s)://…/NAME.tar.gz)");
    }
    Ok(name.to_owned())
}

/// Lower-case 64 hex digits (an optional `sha256:` prefix dropped), or an error.
pub fn normalize_sha256(hex: &str) -> Result<String> {
    let hex = hex.trim();
    let hex = hex
        .strip_prefix("sha256:")
        .unwrap_or(hex)
        .to_ascii_lowercase();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--sha256 `{hex}` is not 64 hex digits");
    }
    Ok(hex)
}

fn curl(args: &[&str], url: &str, dir: &Path, env: &BTreeMap<String, String>) -> Cmd {
    let mut c = Cmd::new(
        "curl",
        &["--fail", "--location", "--silent", "--show-error"],
        dir,
        env,
    );
    for a in args {
        c = c.arg(*a);
    }
    c.arg(url)
}

pub fn plan(url: &str, sha256: Option<&str>, dir: &Path) -> Result<Plan> {
    let sha256 = normalize_sha256(sha256.context(
        "--url needs --sha256 HEX (the release's .sha256 file has it): a download is only \
         installed once it is known to be the archive you meant",
    )?)?;
    let file_name = file_name(url)?;
    let env = BTreeMap::new();
    let out = dir.join(&file_name).display().to_string();
    Ok(Plan {
        url: url.to_owned(),
        sha256,
        head: curl(&["--head"], url, dir, &env),
        get: curl(&["--retry", "3", "--output", &out], url, dir, &env),
        file_name,
    })
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "download {} (progress bar from its size):", self.url)?;
        writeln!(f, "    $ {}", self.head.line())?;
        writeln!(f, "    $ {}", self.get.line())?;
        writeln!(
            f,
            "verify sha256 {} (a mismatch installs nothing)",
            self.sha256
        )
    }
}

/// The `content-length` of the last response of `curl --head --location` (redirects first).
pub fn content_length(head: &str) -> Option<u64> {
    head.lines().rev().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

/// Download into `dir` and check the SHA-256. Returns the file's path.
pub fn fetch(plan: &Plan, runner: &Runner<'_>, dir: &Path, progress: bool) -> Result<PathBuf> {
    let log = dir.join("curl.log");
    let file = dir.join(&plan.file_name);
    let total = runner
        .probe(&plan.head, &log)
        .ok()
        .and_then(|(ok, out, _)| ok.then(|| content_length(&out))?);
    let bar = ProgressBar::with_draw_target(
        total,
        if progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(if total.is_some() {
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
        } else {
            "{msg} {spinner} {bytes} {bytes_per_sec}"
        })
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(format!("downloading {}", plan.file_name));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, bar, file) = (stop.clone(), bar.clone(), file.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                bar.set_position(fs::metadata(&file).map(|m| m.len()).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let r = runner.run(&plan.get, &log);
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    bar.finish_and_clear();
    r.with_context(|| format!("downloading {}", plan.url))?;
    let actual = super::prebuilt::sha256_file(&file)?;
    if actual != plan.sha256 {
        bail!(
            "checksum mismatch for {}:\n  expected sha256 {}\n  actual   sha256 {actual}\n\
             The download is not the archive the checksum is for (a wrong URL or checksum, \
             or a damaged download); it was deleted and nothing was installed.",
            plan.url,
            plan.sha256
        );
    }
    let size = fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "downloaded {} ({}), sha256 verified",
        plan.url,
        crate::apk::human_size(size)
    );
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sizes() {
        assert_eq!(
            file_name("https://github.com/o/r/releases/download/m150/webrtc-sdk-x.tar.gz?x=1")
                .unwrap(),
            "webrtc-sdk-x.tar.gz"
        );
        assert!(file_name("webrtc-sdk.tar.gz").is_err());
        assert!(file_name("https://example.org/").is_err());
        let head = "HTTP/2 302\r\ncontent-length: 0\r\nlocation: https://cdn/x\r\n\r\n\
                    HTTP/2 200\r\nContent-Length: 15404412\r\n\r\n";
        assert_eq!(content_length(head), Some(15_404_412));
        assert_eq!(content_length("HTTP/1.0 200 OK\r\n\r\n"), None);
        assert_eq!(
            normalize_sha256(&format!("sha256:{}", "AB".repeat(32))).unwrap(),
            "ab".repeat(32)
        );
        assert!(normalize_sha256("abc").is_err());
    }

    #[test]
    fn the_plan_needs_a_checksum() {
        let err = plan("https://example.org/a.tar.gz", None, Path::new("/d")).unwrap_err();
        assert!(
            format!("{err:#}").contains("--url needs --sha256"),
            "{err:#}"
        );
        let p = plan(
            "https://example.org/a.tar.gz",
            Some(&"0".repeat(64)),
            Path::new("/d"),
        )
        .unwrap();
        assert_eq!(
            p.get.line(),
            "curl --fail --location --silent --show-error --retry 3 --output /d/a.tar.gz https://example.org/a.tar.gz"
        );
    }
}
