//! `netlab`: build the scenario networks, run the calls, check them, clean up.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use mobilertc_netlab::lab;
use mobilertc_netlab::netcheck;
use mobilertc_netlab::run;
use mobilertc_netlab::scenario::Scenario;

#[derive(Parser)]
#[command(about = "ICE connection kinds on Linux network namespaces with coturn (needs root)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run calls with the sample app through a scenario's network and check them: the
    /// selected candidate pair, the tone, the chats, coturn's counters.
    Run {
        /// Scenarios to run, in order (`all`: every one).
        #[arg(required = true)]
        scenarios: Vec<String>,
        /// The calling app binary (`call`, package mobilertc-call).
        #[arg(long, env = "MOBILERTC_CALL_BIN")]
        call_bin: PathBuf,
        /// The signaling server binary (`mobilertc-signaling`).
        #[arg(long, env = "MOBILERTC_SIGNALING_BIN")]
        server_bin: PathBuf,
        /// Leave the networks in place afterwards (remove with `netlab cleanup --all`).
        #[arg(long)]
        keep: bool,
        /// Where logs, summaries and recordings go (default: a fresh temporary directory, kept).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print each scenario's full report as JSON.
        #[arg(long)]
        json: bool,
    },
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
    let res = run(Cli::parse());
    // An interrupted run fails in the main thread too (its processes were killed under
    // it); the signal handler's teardown and exit(130) must win.
    lab::let_interrupt_finish();
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_scenarios(names: &[String]) -> Result<Vec<Scenario>> {
    let mut list = Vec::new();
    for n in names {
        if n == "all" {
            list.extend(Scenario::ALL);
        } else {
            list.push(Scenario::from_str(n, true).map_err(|_| {
                anyhow::anyhow!("unknown scenario {n:?}: use {} or all", names_list())
            })?);
        }
    }
    Ok(list)
}

fn names_list() -> String {
    Scenario::ALL.map(|s| s.name()).join(", ")
}

/// The apps run inside `ip netns exec`, from another cwd: make their paths absolute.
fn absolute(p: &std::path::Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).with_context(|| format!("{} not found", p.display()))
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
        Cmd::Run {
            scenarios,
            call_bin,
            server_bin,
            keep,
            dir,
            json,
        } => {
            need_root()?;
            let list = parse_scenarios(&scenarios)?;
            let apps = run::Apps {
                call: absolute(&call_bin)?,
                server: absolute(&server_bin)?,
            };
            let dir = run_dir(dir)?;
            let mut failed = Vec::new();
            for s in list {
                let d = dir.join(s.name());
                let r = run::run(s, &apps, &d, keep)
                    .with_context(|| format!("scenario {}", s.name()))?;
                println!("{}", r.line());
                for p in &r.problems {
                    println!("    {p}");
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&r)?);
                }
                if !r.passed {
                    failed.push(s.name());
                }
            }
            println!("files: {}", dir.display());
            if !failed.is_empty() {
                bail!("failed: {}", failed.join(", "));
            }
        }
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
