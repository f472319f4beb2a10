//! `cargo xtask`: the mobilertc orchestrator (the rust-analyzer xtask layout: this file parses
//! flags and dispatches, one module per task, one xshell Shell rooted at the workspace root).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod apk;
mod apt;
mod build;
mod config;
mod demo;
mod dist;
mod doctor;
mod fetch;
mod host;
mod install;
mod patches;
mod patches_cmd;
mod proc;
mod run;
mod sdk;
mod state;
mod test;
mod upstream_leg;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "mobilertc tasks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build libwebrtc (gn + ninja), its SDK dir and the calling app for Android or Linux.
    Build(Box<build::BuildArgs>),
    /// A real call on the distro libwebrtc (installs what it needs, like `test`).
    Demo(demo::DemoArgs),
    /// Pack the `source` SDK dirs into reproducible archives (+ .sha256) for `sdk --provider prebuilt`.
    Dist(Box<dist::DistArgs>),
    /// Check this host for fetching and building WebRTC; say what to fix.
    Doctor(doctor::DoctorArgs),
    /// Install the Android app on a device (adb install -r) and start it.
    Install(install::InstallArgs),
    /// Fetch the pinned, patched WebRTC checkout (depot_tools, gclient sync, hooks, patches).
    FetchWebrtc(Box<fetch::FetchArgs>),
    /// Show (`status`) or undo (`revert`) the patches on the WebRTC checkout.
    Patches(patches_cmd::PatchesArgs),
    /// Write a WebRTC SDK directory (webrtc-sdk.toml) for webrtc-sys.
    Sdk(sdk::SdkArgs),
    /// Run every test of the workspace.
    Test(test::TestArgs),
}

/// The workspace root (xtask/ is one of its members).
pub fn project_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is inside the workspace")
        .to_path_buf()
}

/// This xtask's own binary, to run a sub-command as a child. A later cargo step of the same
/// run (clippy, the workspace tests) may rebuild `target/debug/xtask` under us; the running
/// image is then only reachable through `/proc/self/exe` (the child inherits it before exec).
pub fn self_exe() -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    if exe.is_file() {
        return Ok(exe);
    }
    let proc_exe = PathBuf::from("/proc/self/exe");
    anyhow::ensure!(
        proc_exe.exists(),
        "the xtask binary {} was replaced while it ran; rerun `cargo xtask`",
        exe.display()
    );
    Ok(proc_exe)
}

fn main() {
    let cli = Cli::parse();
    let result = (|| {
        let sh = xshell::Shell::new()?;
        let root = project_root();
        sh.change_dir(&root);
        match cli.command {
            Command::Build(args) => build::run(&sh, *args),
            Command::Demo(args) => demo::run(&sh, args),
            Command::Dist(args) => dist::run(&sh, *args),
            Command::Doctor(args) => doctor::run(&sh, &root, args),
            Command::FetchWebrtc(args) => fetch::run(&sh, *args),
            Command::Install(args) => install::run(&sh, args),
            Command::Patches(args) => patches_cmd::run(&sh, &root, args),
            Command::Sdk(args) => sdk::run(&sh, args),
            Command::Test(args) => test::run(&sh, args),
        }
    })();
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
