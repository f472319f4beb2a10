//! The Chromium-tarball route of `fetch-webrtc`: `--tarball FILE|URL [--sha256 HEX]` or
//! `--debian-source`. No depot_tools, no gclient: a Chromium release tarball holds WebRTC at
//! the revision Chromium pins, with build/, testing/, tools/ and the third_party it needs.
//!
//! tarball → unpack (extract, Debian's patches, re-root, gclient_args.gni, one commit) →
//! patches (patches/tarball/*.patch, then the shared patches/) → webrtc.lock. Same work dir
//! layout, stamps, lock, resume and `--dry-run` as the gclient route ([`super::execute`]'s
//! rules); see docs/fetch.md#the-tarball-route.

pub mod debian;
pub mod deps;
pub mod pin;
mod render;
pub mod source;
pub mod unpack;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub use pin::TarballPin;

use super::apt::PrivateApt;
use super::lockfile::{Lock, TarballLock};
use crate::config::Config;
use crate::fetch::steps::RouteStep;
use crate::host::Host;
use crate::patches::{self, Git, Outcome, Patch};
use crate::run::{Runner, StepLine};
use crate::state::{state_dir, CheckoutLock, Stamps};
use source::{Obtained, Origin};
use unpack::Unpacked;

/// The flags that choose the tarball route (flattened into `fetch-webrtc`'s).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TarballArgs {
    /// Build the checkout from a Chromium release tarball (chromium-<version>.tar.xz): a
    /// file, or an http(s)/file URL downloaded into the download cache (needs --sha256).
    #[arg(long, value_name = "FILE|URL", conflicts_with = "debian_source")]
    pub tarball: Option<String>,
    /// The tarball's SHA-256: checked before anything is extracted.
    #[arg(long, value_name = "HEX", requires = "tarball")]
    pub sha256: Option<String>,
    /// Debian's packaging of that tarball (<pkg>_<ver>.debian.tar.xz), for its patch series.
    #[arg(long, value_name = "FILE", requires = "tarball")]
    pub debian_tar: Option<PathBuf>,
    /// Fetch the Chromium source package pinned in webrtc.toml's [tarball.debian] with
    /// `apt-get source --download-only`, through a private apt configuration.
    #[arg(long)]
    pub debian_source: bool,
    /// Download cache, keyed by SHA-256 [default: $XDG_CACHE_HOME/mobilertc or
    /// ~/.cache/mobilertc].
    #[arg(long, env = "MOBILERTC_DOWNLOAD_CACHE", value_name = "DIR")]
    pub download_cache: Option<PathBuf>,
    /// The private apt configuration's directory [default: .mobilertc/apt].
    #[arg(long, env = "MOBILERTC_APT_DIR", value_name = "DIR")]
    pub apt_dir: Option<PathBuf>,
}

impl TarballArgs {
    pub fn selected(&self) -> bool {
        self.tarball.is_some() || self.debian_source
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The tarball, and Debian's packaging given with `--debian-tar`.
    Tarball(Origin, Option<PathBuf>),
    Unpack {
        extract: Vec<String>,
        debian_patches: Vec<String>,
    },
    Patches(Vec<Patch>),
    Lock(PathBuf),
}

impl crate::fetch::steps::RouteStep for Step {
    fn id(&self) -> &'static str {
        match self {
            Step::Tarball(..) => "tarball",
            Step::Unpack { .. } => "unpack",
            Step::Patches(_) => "patches",
            Step::Lock(_) => "lock",
        }
    }
    fn title(&self) -> &'static str {
        match self {
            Step::Tarball(..) => "tarball",
            Step::Unpack { .. } => "unpack + re-root",
            Step::Patches(_) => "patches",
            Step::Lock(_) => "webrtc.lock",
        }
    }
    fn inputs(&self, cfg: &Config) -> Vec<String> {
        match self {
            Step::Tarball(o, deb) => {
                let mut i = o.inputs();
                i.extend(deb.iter().map(|d| d.display().to_string()));
                i
            }
            Step::Unpack {
                extract,
                debian_patches,
            } => vec![
                cfg.revision.clone(),
                extract.join("\n"),
                debian_patches.join("\n"),
            ],
            Step::Patches(series) => series
                .iter()
                .map(|p| format!("{} {}", p.name, p.sha256))
                .collect(),
            Step::Lock(path) => vec![path.display().to_string()],
        }
    }
}

pub type Planned = crate::fetch::steps::Planned<Step>;

#[derive(Debug, Clone)]
pub struct Plan {
    pub cfg: Config,
    pub env: BTreeMap<String, String>,
    pub steps: Vec<Planned>,
}

/// `$XDG_CACHE_HOME/mobilertc`, else `~/.cache/mobilertc`.
pub fn default_cache(host: &Host) -> Result<PathBuf> {
    if let Some(x) = host.var("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("mobilertc"));
    }
    match host.var("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".cache/mobilertc")),
        None => bail!("no HOME or XDG_CACHE_HOME for the download cache: pass --download-cache"),
    }
}

/// The tarball patches (`<patches>/tarball/`, recorded as `tarball-<file>`), for a repack
/// that strips bundled libraries also `<patches>/tarball/repack/` (gn shims that create
/// files an official tarball already has), then the shared ones.
pub fn patch_series(cfg: &Config, repack: bool) -> Result<Vec<Patch>> {
    let tarball = cfg.patches_dir.join("tarball");
    let mut dirs = vec![tarball.clone()];
    // Optional: a patches dir of one's own need not have it.
    if repack && tarball.join("repack").is_dir() {
        dirs.push(tarball.join("repack"));
    }
    let mut series = Vec::new();
    for dir in dirs {
        series.extend(patches::load_series(&dir)?.into_iter().map(|p| Patch {
            name: format!("tarball-{}", p.name),
            ..p
        }));
    }
    series.extend(patches::load_series(&cfg.patches_dir)?);
    Ok(series)
}

/// Whether the tarball checkout in `work_dir` came from a repack that stripped bundled
/// libraries (its unpack found extract entries missing).
pub fn is_repack_checkout(work_dir: &Path) -> bool {
    read_toml::<CheckoutRecord>(&checkout_path(work_dir))
        .map(|r| !r.unpacked.missing.is_empty())
        .unwrap_or(false)
}

pub fn make(root: &Path, cfg: &Config, host: &Host, args: &TarballArgs) -> Result<Plan> {
    let pin = cfg.tarball.as_ref();
    let cache = match &args.download_cache {
        Some(d) => host.cwd.join(d),
        None => default_cache(host)?,
    };
    let (origin, debian_patches) = if args.debian_source {
        let Some(deb) = pin.and_then(|p| p.debian.as_ref()) else {
            bail!(
                "--debian-source needs [tarball.debian] in {}\n  hint: see docs/fetch.md#the-tarball-route",
                cfg.file.display()
            );
        };
        let apt = PrivateApt {
            dir: args
                .apt_dir
                .as_ref()
                .map(|d| host.cwd.join(d))
                .unwrap_or_else(|| root.join(".mobilertc/apt")),
            sources: deb.sources.clone(),
        };
        (Origin::debian(deb, apt, &cache), deb.patches.clone())
    } else {
        let t = args.tarball.as_deref().expect("the route is selected");
        let sha = args.sha256.as_deref().map(str::to_lowercase);
        if let Some(s) = &sha {
            if !pin::is_sha256(s) {
                bail!("--sha256 {s} is not a SHA-256 (64 hex digits)");
            }
        }
        let origin = if t.contains("://") {
            let Some(s) = sha else {
                bail!("--tarball {t}: a download needs --sha256 (the published checksum)");
            };
            Origin::from_url(t, &s, &cache)
        } else {
            Origin::File {
                path: host.cwd.join(t),
                sha256: sha,
            }
        };
        let patches = if args.debian_tar.is_some() {
            if pin.and_then(|p| p.debian.as_ref()).is_none() {
                bail!(
                    "--debian-tar needs [tarball.debian].patches in {}: which patches to apply",
                    cfg.file.display()
                );
            }
            pin.and_then(|p| p.debian.as_ref())
                .map(|d| d.patches.clone())
                .unwrap_or_default()
        } else {
            vec![]
        };
        (origin, patches)
    };
    let Some(pin) = pin else {
        bail!(
            "the tarball route needs [tarball] (at least `version` and `extract`) in {}",
            cfg.file.display()
        );
    };
    let env = BTreeMap::new();
    let steps = vec![
        Step::Tarball(
            origin,
            (!args.debian_source)
                .then(|| args.debian_tar.as_ref().map(|d| host.cwd.join(d)))
                .flatten(),
        ),
        Step::Unpack {
            extract: pin.extract.clone(),
            debian_patches,
        },
        // Debian's repack strips bundled libraries; an official tarball has them.
        Step::Patches(patch_series(
            cfg,
            args.debian_source || args.debian_tar.is_some() || is_repack_checkout(&cfg.work_dir),
        )?),
        Step::Lock(cfg.lock_file.clone()),
    ];
    let steps = crate::fetch::steps::chain(steps, cfg);
    Ok(Plan {
        cfg: cfg.clone(),
        env,
        steps,
    })
}

/// `<state>/tarball.toml` (step 1's result) and `<state>/checkout.toml` (step 2's).
fn obtained_path(work: &Path) -> PathBuf {
    state_dir(work).join("tarball.toml")
}
fn checkout_path(work: &Path) -> PathBuf {
    state_dir(work).join("checkout.toml")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutRecord {
    route: String,
    obtained: Obtained,
    unpacked: Unpacked,
}

fn write_toml<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::create_dir_all(path.parent().expect("state path has a parent"))?;
    fs::write(&tmp, toml::to_string(v).context("serializing")?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let t = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&t).with_context(|| format!("invalid {}", path.display()))
}

/// Whether `work_dir` holds a checkout made by this route (its unpack finished once).
pub fn is_tarball_checkout(work_dir: &Path) -> bool {
    checkout_path(work_dir).exists()
}

/// The milestone of a tarball-route checkout in `work_dir` (from its chrome/VERSION), if
/// that checkout is at `revision`. This is how `cargo xtask build` learns it: `Config::load`
/// puts it in `cfg.milestone`.
pub fn checkout_milestone(work_dir: &Path, revision: &str) -> Option<u32> {
    let r: CheckoutRecord = read_toml(&checkout_path(work_dir)).ok()?;
    (r.unpacked.webrtc_revision == revision).then_some(r.unpacked.milestone)
}

pub fn run(
    runner: &Runner<'_>,
    plan: &Plan,
    stamps: &Stamps,
    dry_run: bool,
    host: &Host,
) -> Result<()> {
    if dry_run {
        print!("{}", render::render(plan, stamps, host));
        return Ok(());
    }
    execute(plan, stamps, runner)
}

pub(crate) fn first_pending(plan: &Plan, stamps: &Stamps) -> usize {
    let first = plan
        .steps
        .iter()
        .position(|p| !stamps.is_done(p.step.id(), &p.key))
        .unwrap_or(plan.steps.len());
    // A checkout whose src/ went away is unpacked again even if stamped.
    let unpack = 1;
    if first > unpack && !plan.cfg.src_dir().join(".git").exists() {
        return unpack.min(first);
    }
    first
}

pub fn execute(plan: &Plan, stamps: &Stamps, runner: &Runner<'_>) -> Result<()> {
    let cfg = &plan.cfg;
    fs::create_dir_all(&cfg.work_dir)
        .with_context(|| format!("creating the work dir {}", cfg.work_dir.display()))?;
    let _lock = CheckoutLock::acquire(&cfg.work_dir, "fetch-webrtc")?;
    if cfg.work_dir.join(".gclient").exists() {
        bail!(
            "{} holds a gclient checkout (it has a .gclient)\n  \
             hint: use another --work-dir for the tarball route, or remove this one",
            cfg.work_dir.display()
        );
    }
    let first = first_pending(plan, stamps);
    eprintln!(
        "fetch-webrtc (tarball route): {} into {}",
        cfg.describe_revision(),
        cfg.work_dir.display()
    );
    crate::fetch::steps::run_from(
        &plan.steps,
        first,
        cfg,
        stamps,
        runner,
        |step, log, line| run_step(plan, step, runner, log, line),
    )
}

fn run_step(
    plan: &Plan,
    step: &Step,
    runner: &Runner<'_>,
    log: &Path,
    line: &StepLine,
) -> Result<Option<String>> {
    let cfg = &plan.cfg;
    let work = &cfg.work_dir;
    match step {
        Step::Tarball(origin, debian_tar) => {
            let mut got = origin.obtain(runner, &plan.env, log, line)?;
            if let Some(d) = debian_tar {
                if !d.is_file() {
                    bail!("{} does not exist (from --debian-tar)", d.display());
                }
                got.debian_tar = Some(d.clone());
            }
            write_toml(&obtained_path(work), &got)?;
            Ok(None)
        }
        Step::Unpack {
            extract,
            debian_patches,
        } => {
            let got: Obtained = read_toml(&obtained_path(work))?;
            let inp = unpack::Inputs {
                tarball: &got.tarball,
                debian_tar: got.debian_tar.as_deref(),
                extract,
                debian_patches,
                work_dir: work,
                revision: &cfg.revision,
                milestone: cfg.milestone,
                env: &plan.env,
            };
            let _ = fs::remove_file(checkout_path(work));
            let unpacked = unpack::run(runner, &inp, log, line)?;
            // A new tree: nothing of patches/ is applied to it.
            let rec = state_dir(work).join("patches");
            if rec.exists() {
                fs::remove_dir_all(&rec).with_context(|| format!("removing {}", rec.display()))?;
            }
            let route = if got.debian.is_some() {
                "debian-source"
            } else {
                "tarball"
            };
            write_toml(
                &checkout_path(work),
                &CheckoutRecord {
                    route: route.into(),
                    obtained: got,
                    unpacked,
                },
            )?;
            line.note(&format!("{} ready", cfg.src_dir().display()));
            Ok(None)
        }
        Step::Patches(series) => {
            let git = Git {
                runner,
                src: &cfg.src_dir(),
                env: &plan.env,
                log,
            };
            for o in patches::apply_series(&git, work, series)? {
                line.note(&match o {
                    Outcome::Applied(n) => format!("applied {n}"),
                    Outcome::AlreadyApplied(n) => format!("{n} already applied, skipped"),
                    Outcome::Reverted(n) => format!("reverted {n} (changed or removed)"),
                });
            }
            Ok(Some(format!("{} applied", series.len())))
        }
        Step::Lock(path) => {
            let rec: CheckoutRecord = read_toml(&checkout_path(work))?;
            let u = &rec.unpacked;
            if u.webrtc_revision != cfg.revision {
                bail!(
                    "the checkout is WebRTC {}, not the pinned {}",
                    u.webrtc_revision,
                    cfg.revision
                );
            }
            let file = rec
                .obtained
                .tarball
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut deps = BTreeMap::new();
            deps.insert(
                "src".to_owned(),
                format!("{}@{}", cfg.webrtc_url, u.webrtc_revision),
            );
            if let Some(pin) = &cfg.tarball {
                for e in pin.extract.iter().filter(|e| {
                    !["third_party/webrtc", "DEPS", "chrome/VERSION"].contains(&e.as_str())
                        && !u.missing.contains(e)
                }) {
                    deps.insert(
                        format!("src/{e}"),
                        format!(
                            "chromium-{} tarball@sha256:{}",
                            u.version, rec.obtained.sha256
                        ),
                    );
                }
            }
            let lock = Lock {
                revision: u.webrtc_revision.clone(),
                deps,
                tarball: Some(TarballLock {
                    version: u.version.clone(),
                    milestone: u.milestone,
                    file,
                    sha256: rec.obtained.sha256.clone(),
                    debian: rec.obtained.debian.clone(),
                    debian_patches: u.debian_patches.clone(),
                }),
            };
            match Lock::read(path)? {
                Some(old) => {
                    let drift = old.drift(&lock);
                    if !drift.is_empty() || old.tarball != lock.tarball {
                        line.note(&format!("drift against the previous {}:", path.display()));
                        for d in drift {
                            line.note(&format!("  {d}"));
                        }
                        if old.tarball != lock.tarball {
                            line.note(&format!(
                                "  tarball: {:?} -> {:?}",
                                old.tarball.map(|t| t.file),
                                lock.tarball.as_ref().map(|t| &t.file)
                            ));
                        }
                    }
                }
                None => line.note(&format!("wrote {}", path.display())),
            }
            lock.write(path)?;
            Ok(Some(format!("Chromium {} (M{})", u.version, u.milestone)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigArgs;
    use crate::host::test_host;

    const REV: &str = "1f975dfd761af6e5d76d28333191973b258d82a8";

    fn record(work: &Path, revision: &str, milestone: u32) {
        write_toml(
            &checkout_path(work),
            &CheckoutRecord {
                route: "tarball".into(),
                obtained: Obtained {
                    tarball: "/t/chromium-151.0.1.2.tar.xz".into(),
                    sha256: "0".repeat(64),
                    debian_tar: None,
                    debian: None,
                },
                unpacked: Unpacked {
                    version: format!("{milestone}.0.1.2"),
                    milestone,
                    webrtc_revision: revision.into(),
                    debian_patches: vec![],
                    missing: vec![],
                },
            },
        )
        .unwrap();
    }

    /// The interface to `cargo xtask build`: a tarball checkout's milestone is cfg.milestone.
    #[test]
    fn build_gets_the_tarball_milestone_through_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let load = |revision: Option<&str>| {
            let args = ConfigArgs {
                work_dir: Some(work.clone()),
                revision: revision.map(str::to_owned),
                ..Default::default()
            };
            Config::load(&crate::project_root(), &test_host(&[]), &args).unwrap()
        };
        // No checkout: webrtc.toml's milestone; an overridden revision has none.
        assert_eq!(load(None).milestone, Some(150));
        let other = "a".repeat(40);
        assert_eq!(load(Some(&other)).milestone, None);
        // A tarball checkout at that revision: its chrome/VERSION milestone.
        record(&work, &other, 151);
        assert_eq!(checkout_milestone(&work, &other), Some(151));
        assert_eq!(load(Some(&other)).milestone, Some(151));
        // …but not for another revision (a stale record says nothing about the pin).
        assert_eq!(checkout_milestone(&work, REV), None);
        assert_eq!(load(None).milestone, Some(150));
    }
}
