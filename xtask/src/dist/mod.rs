//! `cargo xtask dist --target android|linux`: one reproducible archive per target triple
//! from the `source` SDK dirs `cargo xtask build` wrote, exactly what
//! `cargo xtask sdk --provider prebuilt --path|--url` installs.
//!
//! Per target: check the SDK (a `source` one, complete) → its licences (the SDK's
//! LICENSES.md, or assembled from the checkout) → pack `webrtc-sdk-<triple>.tar.gz` (see
//! [`archive`] for what makes it reproducible) with `dist-manifest.toml` inside → its
//! SHA-256 beside it as `<archive>.sha256` (`sha256sum -c` format). A typed plan first;
//! `--dry-run` prints it.

pub mod archive;
pub mod contents;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use webrtc_sdk::{Manifest, Provider};

use crate::build::target::Target;
use crate::build::Platform;
use crate::config::{Config, ConfigArgs};
use crate::host::Host;
use crate::run::StepLine;

#[derive(Debug, Clone, clap::Args)]
pub struct DistArgs {
    /// Which SDKs: every Android ABI of webrtc.toml's [targets], or its Linux targets.
    #[arg(long, value_enum)]
    pub target: Platform,
    /// Only these Android ABIs (arm64-v8a, armeabi-v7a, x86_64, x86); repeatable.
    #[arg(long = "abi")]
    pub abis: Vec<String>,
    /// Where the SDK dirs are (`<dir>/<triple>`), as given to `build --sdk-root`
    /// [default: .mobilertc/sdk].
    #[arg(long, env = "MOBILERTC_SDK_ROOT", value_name = "DIR")]
    pub sdk_root: Option<PathBuf>,
    /// Where the archives go [default: target/dist].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the plan and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// (--work-dir: the checkout whose licence files are packed when the SDK has no
    /// LICENSES.md.)
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// One step of the dist plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Load the SDK's manifest: a `source` SDK whose relative paths exist.
    Check { triple: String, sdk_dir: PathBuf },
    /// The SDK's LICENSES.md, or one assembled from `checkout`'s licence files.
    Licences {
        triple: String,
        sdk_dir: PathBuf,
        checkout: PathBuf,
    },
    /// The archive, under the top directory `top`, with dist-manifest.toml.
    Pack {
        triple: String,
        sdk_dir: PathBuf,
        archive: PathBuf,
        top: String,
    },
    /// `<archive>.sha256`.
    Checksum { archive: PathBuf, sha_file: PathBuf },
}

impl Step {
    fn title(&self) -> String {
        match self {
            Step::Check { triple, .. } => format!("check {triple}"),
            Step::Licences { triple, .. } => format!("licences {triple}"),
            Step::Pack { triple, .. } => format!("pack {triple}"),
            Step::Checksum { .. } => "sha256".into(),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.title())?;
        match self {
            Step::Check { sdk_dir, .. } => writeln!(
                f,
                "    load {}/webrtc-sdk.toml: provider source, include dirs and search paths inside it",
                sdk_dir.display()
            ),
            Step::Licences {
                sdk_dir, checkout, ..
            } => writeln!(
                f,
                "    {}/{} if it is there, else the LICENSE/COPYING/PATENTS files of {} and {}/third_party/*",
                sdk_dir.display(),
                contents::LICENSES,
                checkout.display(),
                checkout.display()
            ),
            Step::Pack {
                sdk_dir,
                archive,
                top,
                ..
            } => writeln!(
                f,
                "    {}/ + {} -> {} (top dir {top}/; sorted entries, mtime {}, uid/gid 0, modes 0644/0755, gzip without name or time)",
                sdk_dir.display(),
                contents::DIST_MANIFEST,
                archive.display(),
                archive::MTIME
            ),
            Step::Checksum { archive, sha_file } => writeln!(
                f,
                "    sha256({}) -> {} (`sha256sum -c` format)",
                archive.display(),
                sha_file.display()
            ),
        }
    }
}

/// The archive's file name for a triple.
pub fn archive_name(triple: &str) -> String {
    format!("webrtc-sdk-{triple}.tar.gz")
}

/// The targets `args` selects from the config (the same selection as `build`).
fn targets(cfg: &Config, args: &DistArgs) -> Result<Vec<Target>> {
    crate::build::targets(cfg, args.target, &args.abis)
}

/// The plan, a pure function of its inputs.
pub fn plan(targets: &[Target], sdk_root: &Path, out: &Path, checkout_src: &Path) -> Vec<Step> {
    let mut steps = Vec::new();
    for t in targets {
        let triple = t.rust_triple().to_owned();
        let sdk_dir = sdk_root.join(&triple);
        let archive = out.join(archive_name(&triple));
        let sha_file = PathBuf::from(format!("{}.sha256", archive.display()));
        steps.push(Step::Check {
            triple: triple.clone(),
            sdk_dir: sdk_dir.clone(),
        });
        steps.push(Step::Licences {
            triple: triple.clone(),
            sdk_dir: sdk_dir.clone(),
            checkout: checkout_src.to_owned(),
        });
        steps.push(Step::Pack {
            triple: triple.clone(),
            sdk_dir,
            archive: archive.clone(),
            top: format!("webrtc-sdk-{triple}"),
        });
        steps.push(Step::Checksum { archive, sha_file });
    }
    steps
}

/// Check that `sdk_dir` holds a `source` SDK that can be archived.
pub fn check_sdk(sdk_dir: &Path) -> Result<Manifest> {
    let m = crate::sdk::install::load_checked(sdk_dir).with_context(|| {
        format!(
            "no complete SDK at {}: run `cargo xtask build --target … --sdk-only` first",
            sdk_dir.display()
        )
    })?;
    match m.provider {
        Provider::Source => Ok(m),
        Provider::System => bail!(
            "{} is a `system` SDK: a manifest pointing at this machine's distro libwebrtc \
             (/usr/lib/…/libtg_owt.a), with no library of its own to pack. On another \
             machine, install libtgowt-dev and run `cargo xtask sdk --provider system` there; \
             `dist` packs `source` SDKs (`cargo xtask build`).",
            sdk_dir.display()
        ),
        Provider::Prebuilt => bail!(
            "{} is a `prebuilt` SDK, installed from an archive: publish that archive again \
             instead of repacking it (`dist` packs `source` SDKs from `cargo xtask build`).",
            sdk_dir.display()
        ),
    }
}

/// Pack one SDK dir into `archive` under `top/`, with dist-manifest.toml and, when the SDK
/// has no LICENSES.md, `licences` (text, where it comes from) as one.
pub fn pack(
    sdk_dir: &Path,
    licences: Option<(String, String)>,
    archive: &Path,
    top: &str,
) -> Result<()> {
    let m = check_sdk(sdk_dir)?;
    let args_gn = std::fs::read_to_string(sdk_dir.join("args.gn")).unwrap_or_default();
    let own = sdk_dir.join(contents::LICENSES).is_file();
    let (lic, mut extras) = match (own, licences) {
        (true, _) => (
            contents::Licences {
                file: contents::LICENSES.into(),
                from: "the SDK's LICENSES.md (upstream's generate_licenses.py)".into(),
            },
            vec![],
        ),
        (false, Some((text, from))) => (
            contents::Licences {
                file: contents::LICENSES.into(),
                from,
            },
            vec![(PathBuf::from(contents::LICENSES), text.into_bytes())],
        ),
        (false, None) => bail!(
            "{} has no {} and no checkout to take the licence texts from: pass --work-dir \
             with the checkout it was built from",
            sdk_dir.display(),
            contents::LICENSES
        ),
    };
    let entries = archive::entries(sdk_dir, &extras)?;
    let dm = contents::dist_manifest(&m, &args_gn, lic, &entries)?;
    extras.push((
        PathBuf::from(contents::DIST_MANIFEST),
        dm.to_toml()?.into_bytes(),
    ));
    let entries = archive::entries(sdk_dir, &extras)?;
    archive::write_tar_gz(&entries, top, archive)
}

/// Entry point of `cargo xtask dist`. `sh` is rooted at the workspace root.
pub fn run(sh: &xshell::Shell, args: DistArgs) -> Result<()> {
    let root = sh.current_dir();
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let host = Host::from_process(cwd.clone());
    let cfg = Config::load(&root, &host, &args.config)?;
    let targets = targets(&cfg, &args)?;
    let sdk_root = match &args.sdk_root {
        Some(d) => cwd.join(d),
        None => root.join(".mobilertc/sdk"),
    };
    let out = match &args.out {
        Some(d) => cwd.join(d),
        None => root.join("target/dist"),
    };
    let steps = plan(&targets, &sdk_root, &out, &cfg.src_dir());
    if args.dry_run {
        for (i, s) in steps.iter().enumerate() {
            print!("[{}/{}] {s}", i + 1, steps.len());
        }
        return Ok(());
    }
    execute(&steps, crate::run::progress_wanted(&host))
}

/// Run the plan. Licence texts found by a `Licences` step go to the next `Pack`.
pub fn execute(steps: &[Step], progress: bool) -> Result<()> {
    let n = steps.len();
    let mut licences: Option<(String, String)> = None;
    for (i, step) in steps.iter().enumerate() {
        let line = StepLine::start(i + 1, n, &step.title(), progress);
        match step {
            Step::Check { sdk_dir, .. } => {
                let m = check_sdk(sdk_dir)?;
                line.note(&format!(
                    "M{} {} ({}, {})",
                    m.webrtc.milestone, m.webrtc.revision, m.target.triple, m.cxx_stdlib.namespace
                ));
                for p in contents::host_paths(&m) {
                    line.note(&format!("the installing machine needs {p}"));
                }
            }
            Step::Licences {
                sdk_dir, checkout, ..
            } => {
                licences = None;
                if sdk_dir.join(contents::LICENSES).is_file() {
                    line.finish("the SDK's LICENSES.md");
                    continue;
                }
                if !checkout.is_dir() {
                    bail!(
                        "{} has no {} and there is no checkout at {} to take the licence \
                         texts from: pass --work-dir with the checkout it was built from",
                        sdk_dir.display(),
                        contents::LICENSES,
                        checkout.display()
                    );
                }
                let text = contents::licences_from_checkout(checkout)?;
                line.note(&format!("from the checkout {}", checkout.display()));
                // Not the checkout's path: it would make the archive depend on where the
                // checkout happens to be.
                licences = Some((
                    text,
                    "the LICENSE/COPYING/PATENTS files of the WebRTC checkout (src/, \
                     src/third_party/*)"
                        .into(),
                ));
            }
            Step::Pack {
                sdk_dir,
                archive,
                top,
                ..
            } => {
                pack(sdk_dir, licences.take(), archive, top)?;
                let size = std::fs::metadata(archive).map(|m| m.len()).unwrap_or(0);
                line.note(&format!(
                    "{} ({})",
                    archive.display(),
                    crate::apk::human_size(size)
                ));
            }
            Step::Checksum { archive, sha_file } => {
                let f = std::fs::File::open(archive)
                    .with_context(|| format!("opening {}", archive.display()))?;
                let hex = archive::sha256_hex(f)
                    .with_context(|| format!("reading {}", archive.display()))?;
                std::fs::write(sha_file, archive::checksum_line(&hex, archive))
                    .with_context(|| format!("writing {}", sha_file.display()))?;
                line.note(&format!("sha256 {hex}"));
            }
        }
        line.finish_timed();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
