//! `cargo xtask sdk`: write an SDK directory (`webrtc-sdk.toml` + whatever it points at)
//! that `webrtc-sys`'s build script reads. See docs/sdk.md for the contract.
//!
//! Providers:
//! - `system`: the distro libwebrtc (Debian/Ubuntu `libtgowt-dev`), derived from its CMake
//!   package config and pkg-config ([`system`]).
//! - `prebuilt`: a directory or archive the user brings ([`prebuilt`]).
//! - `source`: written by `cargo xtask build`, not here.
//!
//! Every provider ends in [`install::Staging::commit`]: the SDK is assembled in a temporary
//! directory next to the destination, its manifest validated, then renamed into place.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

pub mod download;
pub mod extract;
pub mod install;
pub mod prebuilt;
pub mod system;

/// Which provider fills the SDK directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProviderArg {
    /// The distro libwebrtc (Debian/Ubuntu `libtgowt-dev`).
    System,
    /// A directory or archive (.tar.gz, .tgz, .tar, .zip) holding a webrtc-sdk.toml.
    Prebuilt,
    /// Built from a gclient checkout: written by `cargo xtask build --target …`.
    Source,
}

/// `cargo xtask sdk`: write a WebRTC SDK directory for webrtc-sys.
#[derive(Debug, Clone, clap::Args)]
pub struct SdkArgs {
    /// Where the libwebrtc comes from.
    #[arg(long, value_enum)]
    pub provider: ProviderArg,
    /// Prebuilt SDK: a directory containing webrtc-sdk.toml, or an archive of one.
    #[arg(long, conflicts_with = "url")]
    pub path: Option<PathBuf>,
    /// Prebuilt archive to download (e.g. a release asset made by `cargo xtask dist`);
    /// needs --sha256.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Prebuilt archive: expected SHA-256 (hex), verified before extraction.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// SDK directory to write [default: .mobilertc/sdk/<triple> under the workspace root].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Rust target triple [default: the host's; prebuilt: the manifest's].
    #[arg(long, value_name = "TRIPLE")]
    pub triple: Option<String>,
    /// Print what would be written and where, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Prebuilt archive: refuse one that unpacks to more than this (a zip bomb).
    #[arg(long, value_name = "MIB", default_value_t = extract::DEFAULT_MAX_UNPACKED_MIB)]
    pub max_unpacked_mib: u64,
}

/// Entry point of `cargo xtask sdk`. `sh` is rooted at the workspace root.
pub fn run(sh: &Shell, args: SdkArgs) -> Result<()> {
    let root = sh.current_dir();
    // Relative --path/--out are relative to where the user is, as fetch-webrtc's flags are
    // (not to the workspace root the Shell is rooted at).
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let args = SdkArgs {
        path: args.path.map(|p| cwd.join(p)),
        out: args.out.map(|o| cwd.join(o)),
        ..args
    };
    match args.provider {
        ProviderArg::System => {
            reject(&args.path, "--path", "prebuilt")?;
            reject(&args.url, "--url", "prebuilt")?;
            reject(&args.sha256, "--sha256", "prebuilt")?;
            let triple = match &args.triple {
                Some(t) => t.clone(),
                None => host_triple(sh)?,
            };
            system::run(sh, &root, &triple, args.out.as_deref(), args.dry_run)
        }
        ProviderArg::Prebuilt => {
            if let Some(url) = &args.url {
                return from_url(sh, &root, &cwd, url, &args);
            }
            let path = args
                .path
                .as_deref()
                .context("--provider prebuilt needs --path DIR|ARCHIVE or --url URL")?;
            prebuilt::run(
                &prebuilt::Request {
                    path,
                    sha256: args.sha256.as_deref(),
                    out: args.out.as_deref(),
                    triple: args.triple.as_deref(),
                    dry_run: args.dry_run,
                    label: None,
                    limits: extract::Limits {
                        max_bytes: args.max_unpacked_mib.saturating_mul(1 << 20),
                    },
                },
                &root,
            )
        }
        ProviderArg::Source => bail!(
            "the `source` SDK is written by `cargo xtask build --target …` from out/<target>/ \
             of a `cargo xtask fetch-webrtc` checkout (with the defines the build really used); \
             run that instead. `cargo xtask sdk` only writes `system` and `prebuilt` SDKs."
        ),
    }
}

/// `--provider prebuilt --url`: download beside the destination, verify, install like
/// `--path`; the download is removed whatever happens.
fn from_url(
    sh: &Shell,
    root: &std::path::Path,
    cwd: &std::path::Path,
    url: &str,
    args: &SdkArgs,
) -> Result<()> {
    let parent = match &args.out {
        Some(out) => install::parent_of(out)?,
        None => webrtc_sdk::default_sdk_dir(root, "x")
            .parent()
            .expect("default_sdk_dir has a parent")
            .to_owned(),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let dir = tempfile::Builder::new()
        .prefix(".webrtc-sdk-download-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a download directory in {}", parent.display()))?;
    let plan = download::plan(url, args.sha256.as_deref(), dir.path())?;
    if args.dry_run {
        print!("{plan}");
        println!(
            "install it as --path would, to {}",
            match &args.out {
                Some(o) => o.display().to_string(),
                None => format!("{}/<the manifest's triple>", parent.display()),
            }
        );
        return Ok(());
    }
    let host = crate::host::Host::from_process(cwd.to_owned());
    let runner = crate::run::Runner::new(sh, false, &host);
    let file = download::fetch(
        &plan,
        &runner,
        dir.path(),
        crate::run::progress_wanted(&host),
    )?;
    prebuilt::run(
        &prebuilt::Request {
            path: &file,
            // Verified against the URL's checksum just now.
            sha256: None,
            out: args.out.as_deref(),
            triple: args.triple.as_deref(),
            dry_run: false,
            label: Some(url),
            limits: extract::Limits {
                max_bytes: args.max_unpacked_mib.saturating_mul(1 << 20),
            },
        },
        root,
    )
}

fn reject<T>(value: &Option<T>, flag: &str, provider: &str) -> Result<()> {
    if value.is_some() {
        bail!("{flag} only applies to --provider {provider}");
    }
    Ok(())
}

/// The host's Rust target triple, from `rustc -vV`.
pub fn host_triple(sh: &Shell) -> Result<String> {
    let out = cmd!(sh, "rustc -vV")
        .quiet()
        .read()
        .context("running `rustc -vV` to find the host triple (pass --triple to skip)")?;
    parse_host_triple(&out).context("`rustc -vV` printed no `host:` line; pass --triple")
}

fn parse_host_triple(rustc_vv: &str) -> Option<String> {
    rustc_vv
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_triple_from_rustc_vv() {
        let out = "rustc 1.95.0\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(
            parse_host_triple(out).as_deref(),
            Some("x86_64-unknown-linux-gnu")
        );
        assert_eq!(parse_host_triple("rustc 1.0"), None);
    }

    #[test]
    fn source_provider_points_at_the_build_command() {
        let sh = Shell::new().unwrap();
        let args = SdkArgs {
            provider: ProviderArg::Source,
            path: None,
            url: None,
            sha256: None,
            out: None,
            triple: None,
            dry_run: false,
            max_unpacked_mib: extract::DEFAULT_MAX_UNPACKED_MIB,
        };
        let msg = format!("{:#}", run(&sh, args).unwrap_err());
        assert!(msg.contains("cargo xtask build --target"), "{msg}");
        assert!(msg.contains("out/<target>"), "{msg}");
    }
}
