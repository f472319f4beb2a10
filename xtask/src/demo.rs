//! `cargo xtask demo`: a real call on the distro libwebrtc, on any Debian/Ubuntu machine.
//!
//! Same host preparation as `cargo xtask test` (packages, then the system SDK), then the
//! `mobilertc` demo example: two peers, chat, a tone, a test pattern, the stats.

use anyhow::Result;
use xshell::Shell;

use crate::test::{execute_plan, host_facts, host_steps, Step, BUILD_PACKAGES};

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Never install packages: list what is missing and stop.
    #[arg(long)]
    pub no_install: bool,
    /// Install missing packages with `sudo apt-get` without asking first (when not root;
    /// sudo itself may still ask for a password). Without it a terminal session asks.
    #[arg(long, short = 'y', alias = "sudo")]
    pub yes: bool,
    /// Print the plan and run nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(sh: &Shell, args: DemoArgs) -> Result<()> {
    let mut steps = host_steps(
        args.no_install,
        args.yes,
        &host_facts(sh, &[BUILD_PACKAGES]),
    )?;
    steps.push(Step::RunDemo);
    execute_plan(sh, &steps, args.dry_run)
}
