//! What both fetch routes (gclient and tarball) share: steps whose stamp keys form a chain,
//! and the loop that runs them under the checkout lock, skipping what is stamped.

use std::path::Path;

use anyhow::Result;

use crate::config::Config;
use crate::run::{Runner, StepLine};
use crate::state::{step_key, Stamps};

/// A step of a fetch route.
pub trait RouteStep {
    /// Stamp name (stable: changing it re-runs the step everywhere).
    fn id(&self) -> &'static str;
    fn title(&self) -> &'static str;
    /// What the step's result depends on (besides the steps before it).
    fn inputs(&self, cfg: &Config) -> Vec<String>;
}

#[derive(Debug, Clone)]
pub struct Planned<S> {
    pub step: S,
    pub key: String,
}

/// Keys each step by its inputs and the key before it, so a changed input re-runs that
/// step and everything after it.
pub fn chain<S: RouteStep>(steps: Vec<S>, cfg: &Config) -> Vec<Planned<S>> {
    let mut prev = String::new();
    steps
        .into_iter()
        .map(|step| {
            let inputs = step.inputs(cfg);
            let key = step_key(
                &prev,
                step.id(),
                &inputs.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            prev = key.clone();
            Planned { step, key }
        })
        .collect()
}

/// Runs `steps` from `first` on; the caller holds the checkout lock. `run` gets the step,
/// its log file and its progress line; `Ok(Some(text))` replaces the elapsed time shown.
pub fn run_from<S: RouteStep>(
    steps: &[Planned<S>],
    first: usize,
    cfg: &Config,
    stamps: &Stamps,
    runner: &Runner<'_>,
    mut run: impl FnMut(&S, &Path, &StepLine) -> Result<Option<String>>,
) -> Result<()> {
    // Everything from the first pending step on runs again: forget their stamps first, so a
    // run killed half-way can never leave a later step marked done on an older tree.
    for p in &steps[first..] {
        stamps.clear(p.step.id())?;
    }
    let n = steps.len();
    for (i, p) in steps.iter().enumerate() {
        let line = StepLine::start(i + 1, n, p.step.title(), runner.progress);
        if i < first {
            line.finish("up to date");
            continue;
        }
        let log = cfg
            .work_dir
            .join("logs")
            .join(format!("{}-{}.log", i + 1, p.step.id()));
        let _ = std::fs::remove_file(&log);
        match run(&p.step, &log, &line) {
            Ok(Some(outcome)) => line.finish(&outcome),
            Ok(None) => line.finish_timed(),
            Err(e) => {
                line.finish("FAILED");
                return Err(e.context(format!(
                    "[{}/{n}] {} failed; fix the cause and rerun the same `cargo xtask fetch-webrtc` to resume here",
                    i + 1,
                    p.step.title()
                )));
            }
        }
        runner.kill_point(p.step.id(), "unstamped");
        stamps.mark_done(p.step.id(), &p.key)?;
        runner.kill_point(p.step.id(), "stamped");
    }
    eprintln!("WebRTC checkout ready: {}", cfg.src_dir().display());
    Ok(())
}
