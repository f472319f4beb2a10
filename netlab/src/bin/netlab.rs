//! `netlab`: build the scenario networks, run the calls, check them, clean up.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use mobilertc_netlab::lab;
use mobilertc_netlab::netcheck;
use mobilertc_netlab::scenario::Scenario;

#[derive(Parser)]
#[command(about = "ICE connection kinds on Linux network namespaces with coturn (needs root)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build a scenario's network and prove its properties with real packets (no WebRTC):
    /// reachability, NAT mappings, hole punching, TURN through coturn.
    CheckNet {
        #[arg(value_enum, required = true)]
        scenarios: Vec<Scenario>,
        /// Where logs and rulesets go (default: a fresh temporary directory, kept).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Remove the namespaces of netlab runs whose process is gone.
    Cleanup {
        /// Also those of runs still alive.
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn need_root() -> Result<()> {
    if !lab::is_root() {
        bail!("netlab needs root (network namespaces, veths, nftables): rerun with sudo");
    }
    Ok(())
}

fn run_dir(dir: Option<PathBuf>) -> Result<PathBuf> {
    match dir {
        Some(d) => Ok(d),
        None => Ok(tempfile::Builder::new()
            .prefix("netlab-")
            .tempdir()
            .context("creating a run directory")?
            .keep()),
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::CheckNet { scenarios, dir } => {
            need_root()?;
            let dir = run_dir(dir)?;
            for s in scenarios {
                let d = dir.join(format!("net-{}", s.name()));
                let r = netcheck::check(s, &d)
                    .with_context(|| format!("network check {}", s.name()))?;
                println!("{}: ok\n{}", s.name(), serde_json::to_string_pretty(&r)?);
            }
            println!("logs: {}", dir.display());
        }
        Cmd::Cleanup { all } => {
            need_root()?;
            let removed = lab::cleanup(all)?;
            if removed.is_empty() {
                println!("nothing to remove");
            }
            for ns in removed {
                println!("removed {ns}");
            }
        }
    }
    Ok(())
}
