//! Step 1 of the tarball route: the tarball on disk, its SHA-256 checked.
//!
//! - `--tarball FILE`: used in place (hashed; `--sha256` checks it).
//! - `--tarball URL`: downloaded with curl (resumable, `--sha256` required) into the download
//!   cache, keyed by checksum: `<cache>/sha256/<hex>/<file name>`. A second checkout, or a
//!   rerun in a fresh work dir, finds it there and downloads nothing.
//! - `--debian-source`: `apt-get source --download-only <pkg>=<ver>` through the private apt
//!   ([`crate::fetch::apt`]) into `<cache>/debian/<pkg>_<ver>/`; both files checked against
//!   `[tarball.debian]`. Files already there with the pinned checksums are not fetched again.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::pin::DebianPin;
use crate::fetch::apt::PrivateApt;
use crate::run::{Cmd, Runner, StepLine};
use crate::state::hex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File {
        path: PathBuf,
        sha256: Option<String>,
    },
    Url {
        url: String,
        sha256: String,
        /// Where the verified download lives in the cache.
        cached: PathBuf,
        partial: PathBuf,
    },
    Debian {
        pin: DebianPin,
        apt: PrivateApt,
        /// apt-get's download directory in the cache.
        dir: PathBuf,
    },
}

/// A checksum that does not match.
#[derive(Debug, thiserror::Error)]
#[error(
    "checksum mismatch for {file}\n  expected sha256 {expected}\n  got      sha256 {actual}\n  \
     hint: {hint}"
)]
pub struct Mismatch {
    pub file: String,
    pub expected: String,
    pub actual: String,
    pub hint: String,
}

/// What step 1 leaves for the next ones.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Obtained {
    pub tarball: PathBuf,
    pub sha256: String,
    /// Debian's packaging (its debian/patches), when there is one.
    pub debian_tar: Option<PathBuf>,
    /// `<package>=<version>`, for --debian-source.
    pub debian: Option<String>,
}

/// SHA-256 of a file, streamed; `line` gets a note every 10 s on big files.
pub fn sha256_file(path: &Path, line: Option<&StepLine>) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let total = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let (mut done, mut last) = (0u64, Instant::now());
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        done += n as u64;
        if let Some(l) = line {
            if last.elapsed() > Duration::from_secs(10) {
                l.note(&format!(
                    "checksumming: {} of {} MB",
                    done >> 20,
                    total >> 20
                ));
                last = Instant::now();
            }
        }
    }
    Ok(hex(&h.finalize()))
}

fn check(path: &Path, expected: &str, hint: &str, line: &StepLine) -> Result<()> {
    let actual = sha256_file(path, Some(line))?;
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(Mismatch {
            file: path.display().to_string(),
            expected: expected.to_lowercase(),
            actual,
            hint: hint.into(),
        }
        .into());
    }
    Ok(())
}

fn file_name(url: &str) -> String {
    let name = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or("");
    if name.is_empty() {
        "chromium.tar.xz".into()
    } else {
        name.into()
    }
}

impl Origin {
    pub fn from_url(url: &str, sha256: &str, cache: &Path) -> Origin {
        let sha = sha256.to_lowercase();
        Origin::Url {
            url: url.into(),
            cached: cache.join("sha256").join(&sha).join(file_name(url)),
            partial: cache.join("partial").join(format!("{sha}.part")),
            sha256: sha,
        }
    }

    pub fn debian(pin: &DebianPin, apt: PrivateApt, cache: &Path) -> Origin {
        Origin::Debian {
            dir: cache.join("debian").join(format!(
                "{}_{}",
                pin.package,
                pin.version.replace(':', "%3a")
            )),
            pin: pin.clone(),
            apt,
        }
    }

    /// Stamp inputs: what identifies the bytes.
    pub fn inputs(&self) -> Vec<String> {
        match self {
            Origin::File { path, sha256 } => vec![
                "file".into(),
                path.display().to_string(),
                sha256.clone().unwrap_or_default(),
            ],
            Origin::Url { url, sha256, .. } => vec!["url".into(), url.clone(), sha256.clone()],
            Origin::Debian { pin, .. } => vec![
                "debian".into(),
                format!("{}={}", pin.package, pin.version),
                pin.orig_sha256.clone(),
                pin.debian_sha256.clone(),
                pin.sources.join("\n"),
            ],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Origin::File {
                path,
                sha256: Some(s),
            } => {
                format!("{} (sha256 {})", path.display(), &s[..12])
            }
            Origin::File { path, sha256: None } => {
                format!(
                    "{} (no --sha256: hashed and recorded, not checked)",
                    path.display()
                )
            }
            Origin::Url { url, cached, .. } => {
                format!("{url}, cached as {}", cached.display())
            }
            Origin::Debian { pin, dir, .. } => format!(
                "Debian source {}={} into {}",
                pin.package,
                pin.version,
                dir.display()
            ),
        }
    }

    /// The commands the step may run (for --dry-run).
    pub fn commands(&self, env: &std::collections::BTreeMap<String, String>) -> Vec<Cmd> {
        match self {
            Origin::File { .. } => vec![],
            Origin::Url { url, partial, .. } => vec![curl(url, partial, env)],
            Origin::Debian { pin, apt, dir } => vec![
                apt.update(env),
                apt.source(&pin.package, &pin.version, dir, env),
            ],
        }
    }

    pub fn obtain(
        &self,
        runner: &Runner<'_>,
        env: &std::collections::BTreeMap<String, String>,
        log: &Path,
        line: &StepLine,
    ) -> Result<Obtained> {
        match self {
            Origin::File { path, sha256 } => {
                if !path.is_file() {
                    bail!("{} does not exist (from --tarball)", path.display());
                }
                let actual = sha256_file(path, Some(line))?;
                match sha256 {
                    Some(e) if !e.eq_ignore_ascii_case(&actual) => {
                        return Err(Mismatch {
                            file: path.display().to_string(),
                            expected: e.to_lowercase(),
                            actual,
                            hint:
                                "a different or damaged file; compare with the published checksum"
                                    .into(),
                        }
                        .into())
                    }
                    Some(_) => {}
                    None => line.note(&format!(
                        "sha256 {actual} (not checked: pass --sha256 to check it)"
                    )),
                }
                Ok(Obtained {
                    tarball: path.clone(),
                    sha256: actual,
                    debian_tar: None,
                    debian: None,
                })
            }
            Origin::Url {
                url,
                sha256,
                cached,
                partial,
            } => {
                if cached.is_file() {
                    line.note(&format!("in the download cache: {}", cached.display()));
                } else {
                    download(runner, url, partial, env, log, line)?;
                    let actual = sha256_file(partial, Some(line))?;
                    if actual != *sha256 {
                        let _ = fs::remove_file(partial);
                        return Err(Mismatch {
                            file: url.clone(),
                            expected: sha256.clone(),
                            actual,
                            hint: "the download was removed; check the URL and the checksum".into(),
                        }
                        .into());
                    }
                    let dir = cached.parent().expect("cache path has a parent");
                    fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    fs::rename(partial, cached)
                        .with_context(|| format!("moving the download to {}", cached.display()))?;
                }
                // Checked when it entered the cache; checked again here, cheaply enough,
                // in case the cache was tampered with or damaged.
                check(
                    cached,
                    sha256,
                    "remove the cached file and rerun to download it again",
                    line,
                )?;
                Ok(Obtained {
                    tarball: cached.clone(),
                    sha256: sha256.clone(),
                    debian_tar: None,
                    debian: None,
                })
            }
            Origin::Debian { pin, apt, dir } => {
                let orig = dir.join(pin.orig_file());
                let deb = dir.join(pin.debian_file());
                let have = |p: &Path, sha: &str| {
                    p.is_file() && sha256_file(p, Some(line)).is_ok_and(|a| a == sha)
                };
                // The small file first: a miss there saves hashing the big one twice.
                if have(&deb, &pin.debian_sha256) && have(&orig, &pin.orig_sha256) {
                    line.note(&format!("in the download cache: {}", dir.display()));
                } else {
                    apt.write()?;
                    fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    line.note(&format!(
                        "apt-get update (private config {})",
                        apt.conf_path().display()
                    ));
                    runner.run(&apt.update(env), log)?;
                    line.note(&format!(
                        "apt-get source --download-only {}={}",
                        pin.package, pin.version
                    ));
                    runner.run(&apt.source(&pin.package, &pin.version, dir, env), log)?;
                    let hint = "the archive serves different bytes than webrtc.toml pins: check [tarball.debian]";
                    for (p, sha) in [(&orig, &pin.orig_sha256), (&deb, &pin.debian_sha256)] {
                        if !p.is_file() {
                            bail!("apt-get source did not write {}", p.display());
                        }
                        check(p, sha, hint, line)?;
                    }
                }
                Ok(Obtained {
                    tarball: orig,
                    sha256: pin.orig_sha256.clone(),
                    debian_tar: Some(deb),
                    debian: Some(format!("{}={}", pin.package, pin.version)),
                })
            }
        }
    }
}

fn curl(url: &str, partial: &Path, env: &std::collections::BTreeMap<String, String>) -> Cmd {
    Cmd::new(
        "curl",
        &[
            "--fail",
            "--location",
            "--silent",
            "--show-error",
            "--retry",
            "3",
            "--continue-at",
            "-",
            "--output",
            &partial.display().to_string(),
            url,
        ],
        partial.parent().unwrap_or(Path::new("/")),
        env,
    )
}

/// curl into `partial` (resumed if a previous run left one), a progress line every 10 s.
fn download(
    runner: &Runner<'_>,
    url: &str,
    partial: &Path,
    env: &std::collections::BTreeMap<String, String>,
    log: &Path,
    line: &StepLine,
) -> Result<()> {
    let dir = partial.parent().expect("partial path has a parent");
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let partial = partial.to_owned();
        let started = Instant::now();
        let start_len = fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        std::thread::spawn(move || {
            let mut last = Instant::now();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                if last.elapsed() >= Duration::from_secs(10) {
                    last = Instant::now();
                    let len = fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
                    let rate = (len.saturating_sub(start_len)) as f64
                        / started.elapsed().as_secs_f64().max(0.001)
                        / 1e6;
                    eprintln!(
                        "      downloading: {} MB so far ({rate:.1} MB/s)",
                        len >> 20
                    );
                }
            }
        })
    };
    line.note(&format!("downloading {url}"));
    let r = runner.run(&curl(url, partial, env), log);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watcher.join();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_cache_is_keyed_by_checksum() {
        let o = Origin::from_url(
            "https://example.org/x/chromium-150.0.7871.100.tar.xz?a=b",
            &"AB".repeat(32),
            Path::new("/c"),
        );
        let Origin::Url {
            cached, partial, ..
        } = o
        else {
            unreachable!()
        };
        assert_eq!(
            cached,
            Path::new(&format!(
                "/c/sha256/{}/chromium-150.0.7871.100.tar.xz",
                "ab".repeat(32)
            ))
        );
        assert_eq!(
            partial,
            Path::new(&format!("/c/partial/{}.part", "ab".repeat(32)))
        );
    }

    #[test]
    fn sha256_of_a_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, "abc").unwrap();
        assert_eq!(
            sha256_file(&p, None).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
