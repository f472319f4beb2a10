//! Running the APK plan: staging, keystore, Gradle, the 16 KB check.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{align, Plan, Profile, Step};
use crate::run::{Runner, StepLine};

/// The result: the checked APK.
#[derive(Debug, Clone)]
pub struct Built {
    pub apk: PathBuf,
    /// What the check found (size, ABIs, each library's alignment), for callers that report it.
    #[allow(dead_code)]
    pub report: align::Report,
}

/// Run the plan; logs go to `logs/apk-<n>-<step>.log`.
pub fn execute(plan: &Plan, runner: &Runner<'_>, logs: &Path) -> Result<Built> {
    let n = plan.steps.len();
    let mut report = None;
    for (i, step) in plan.steps.iter().enumerate() {
        let line = StepLine::start(i + 1, n, step.title(), runner.progress);
        let log = logs.join(format!(
            "apk-{}-{}.log",
            i + 1,
            step.title().replace(' ', "-")
        ));
        let _ = std::fs::remove_file(&log);
        let outcome = run_step(step, runner, &log, &mut report);
        match outcome {
            Ok(Some(text)) => line.finish(&text),
            Ok(None) => line.finish_timed(),
            Err(e) => {
                line.finish("FAILED");
                return Err(e.context(format!("[{}/{n}] {} failed", i + 1, step.title())));
            }
        }
    }
    let report = report.context("the plan has no check step")?;
    let signed = match plan.profile {
        Profile::Debug => "signed with the debug key",
        Profile::Release => "signed with the debug key; for Play, sign with your own key",
    };
    eprintln!(
        "APK: {} ({}, {}, {})",
        plan.apk.display(),
        human_size(report.size),
        plan.profile.name(),
        signed
    );
    Ok(Built {
        apk: plan.apk.clone(),
        report,
    })
}

fn run_step(
    step: &Step,
    runner: &Runner<'_>,
    log: &Path,
    report: &mut Option<align::Report>,
) -> Result<Option<String>> {
    match step {
        Step::StageLibs { jni_libs, copies } => {
            if jni_libs.exists() {
                std::fs::remove_dir_all(jni_libs)
                    .with_context(|| format!("removing the old {}", jni_libs.display()))?;
            }
            for (from, to) in copies {
                copy(from, to)?;
            }
            Ok(Some(format!("{} file(s)", copies.len())))
        }
        Step::StageJava { from: Some(f), to } => {
            copy(f, to)?;
            Ok(None)
        }
        Step::StageJava { from: None, .. } => Ok(Some("kept the jar in app/libs".into())),
        Step::DebugKeystore { create: None, .. } => Ok(Some("exists".into())),
        Step::DebugKeystore {
            path,
            create: Some(c),
        } => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            runner.run(c, log)?;
            Ok(Some(format!("created {}", path.display())))
        }
        Step::Gradle(c) => {
            runner.run(c, log)?;
            Ok(None)
        }
        Step::Check { apk, expect } => {
            if !apk.is_file() {
                anyhow::bail!(
                    "Gradle succeeded but wrote no {}\n  hint: check the Gradle log; is the Android Gradle Plugin's output layout different?",
                    apk.display()
                );
            }
            let r = align::check_apk(apk, expect)?;
            let text = format!(
                "{} .so checked ({})",
                r.libs.len(),
                r.abis
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            *report = Some(r);
            Ok(Some(text))
        }
    }
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

pub fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}
