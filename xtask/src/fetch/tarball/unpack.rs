//! Step 2 of the tarball route: from the tarball to `src/`, all or nothing.
//!
//! 1. one xz pass extracts the `[tarball].extract` subset into `<work>/.tarball-unpack/`;
//! 2. the tarball's own facts are read and checked: `chrome/VERSION` (version, milestone)
//!    and Chromium's DEPS (the WebRTC revision, which must be the pinned one);
//! 3. Debian's selected patches, cut to the extracted files, with `patch -p1` at the
//!    Chromium root (before re-rooting, where their paths point);
//! 4. the re-root: `third_party/webrtc` → `src.partial/`, every other entry to
//!    `src.partial/<entry>` (WebRTC's DEPS maps Chromium's build/, testing/, tools/ and
//!    third_party/ there);
//! 5. `build/config/gclient_args.gni` from WebRTC's DEPS, as gclient would write it;
//! 6. `src.partial` becomes a git repository with one commit ("chromium-<ver> tarball,
//!    re-rooted"), so the patches machinery (`git apply`, status, revert) works unchanged;
//! 7. `src.partial` replaces `src/` (rename), the staging dir goes.
//!
//! A run killed anywhere in here leaves only `.tarball-unpack`/`src.partial`, which the next
//! run removes before starting again; `src/` is never half-made.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use super::debian;
use super::deps;
use crate::run::{Cmd, Runner, StepLine};

/// What the unpack found in the tarball (recorded in the state dir and the lock).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unpacked {
    pub version: String,
    pub milestone: u32,
    pub webrtc_revision: String,
    pub debian_patches: Vec<String>,
    /// Entries of the extract list the tarball does not have (stripped by a repack).
    pub missing: Vec<String>,
}

/// Entries that are read but not re-rooted under src/.
const READ_ONLY: [&str; 2] = ["DEPS", "chrome/VERSION"];
/// Entries the route cannot do without.
const REQUIRED: [&str; 3] = ["DEPS", "chrome/VERSION", "third_party/webrtc"];

pub struct Inputs<'a> {
    pub tarball: &'a Path,
    pub debian_tar: Option<&'a Path>,
    pub extract: &'a [String],
    pub debian_patches: &'a [String],
    pub work_dir: &'a Path,
    /// The pinned WebRTC revision and milestone (webrtc.toml).
    pub revision: &'a str,
    pub milestone: Option<u32>,
    pub env: &'a BTreeMap<String, String>,
}

pub fn staging(work_dir: &Path) -> PathBuf {
    work_dir.join(".tarball-unpack")
}
pub fn src_partial(work_dir: &Path) -> PathBuf {
    work_dir.join("src.partial")
}

fn remove(p: &Path) -> Result<()> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", p.display())),
    }
}

/// The tarball's top directory (`chromium-150.0.7871.100`), from its first member: xz
/// decodes one block, then the reader is dropped.
pub fn top_dir(tarball: &Path) -> Result<String> {
    let mut child = Command::new("xz")
        .args(["-dc", "--"])
        .arg(tarball)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting `xz` (install xz-utils)")?;
    let out = child.stdout.take().expect("piped");
    let first = (|| -> Result<String> {
        let mut ar = tar::Archive::new(out.take(1 << 20));
        let mut entries = ar.entries()?;
        let e = entries.next().context("the tarball is empty")??;
        let p = e.path()?.into_owned();
        Ok(p.components()
            .next()
            .context("the first member has no path")?
            .as_os_str()
            .to_string_lossy()
            .into_owned())
    })();
    let _ = child.kill();
    let _ = child.wait();
    first.with_context(|| format!("reading the first member of {}", tarball.display()))
}

/// `tar -x` of the subset in one pass. Returns the entries the archive does not have.
fn extract(
    runner: &Runner<'_>,
    inp: &Inputs<'_>,
    top: &str,
    into: &Path,
    log: &Path,
) -> Result<Vec<String>> {
    let mut cmd = tar_cmd(inp.tarball, into, inp.env);
    for e in inp.extract {
        cmd = cmd.arg(format!("{top}/{e}"));
    }
    let (ok, out, err) = runner.probe(&cmd, log)?;
    if ok {
        return Ok(vec![]);
    }
    // GNU tar extracts what it finds and exits 2 naming what it did not: those are the
    // entries a repack stripped. Any other complaint is a real failure.
    let mut missing = Vec::new();
    for l in err.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // `<tar's argv[0]>: <member>: Not found in archive`
        if let Some(m) = l
            .strip_suffix(": Not found in archive")
            .and_then(|l| l.split_once(": "))
            .map(|(_, m)| m)
        {
            missing.push(m.strip_prefix(&format!("{top}/")).unwrap_or(m).to_owned());
        } else if !l.contains(": Exiting with failure status due to previous errors") {
            bail!("`{}` failed:\n{out}{err}", cmd.line());
        }
    }
    if missing.is_empty() {
        bail!("`{}` failed:\n{out}{err}", cmd.line());
    }
    Ok(missing)
}

/// `tar -x` with a parallel xz (the tarballs are multi-block, so xz can use every core).
pub fn tar_cmd(tarball: &Path, into: &Path, env: &BTreeMap<String, String>) -> Cmd {
    Cmd::new(
        "tar",
        &[
            "--extract",
            "--no-same-owner",
            "--use-compress-program=xz -T0",
            "--file",
            &tarball.display().to_string(),
            "--directory",
            &into.display().to_string(),
        ],
        into,
        env,
    )
}

pub fn run(runner: &Runner<'_>, inp: &Inputs<'_>, log: &Path, line: &StepLine) -> Result<Unpacked> {
    let staging = staging(inp.work_dir);
    let partial = src_partial(inp.work_dir);
    remove(&staging)?;
    remove(&partial)?;
    fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;

    // 1. One xz pass.
    let top = top_dir(inp.tarball)?;
    line.note(&format!(
        "extracting {} entries of {top}/ (one xz pass)",
        inp.extract.len()
    ));
    let t = std::time::Instant::now();
    let missing = extract(runner, inp, &top, &staging, log)?;
    line.note(&format!(
        "extracted in {}",
        crate::run::format_duration(t.elapsed())
    ));
    if let Some(r) = REQUIRED.iter().find(|r| missing.iter().any(|m| m == *r)) {
        bail!(
            "{} has no {top}/{r}: not a Chromium release tarball?",
            inp.tarball.display()
        );
    }
    for m in &missing {
        line.note(&format!(
            "not in this tarball (stripped by its repack): {m}"
        ));
    }
    let root = staging.join(&top);

    // 2. What the tarball is, checked against the pin.
    let read = |p: &str| -> Result<String> {
        fs::read_to_string(root.join(p)).with_context(|| format!("reading {top}/{p}"))
    };
    let version = deps::parse_chrome_version(&read("chrome/VERSION")?)?;
    let rev = deps::webrtc_revision(&read("DEPS")?)?;
    if rev != inp.revision {
        bail!(
            "Chromium {} pins WebRTC at {rev}, but webrtc.toml pins webrtc.revision = {}\n  \
             hint: use the Chromium release whose DEPS pins the same commit, or move the pin \
             (webrtc.revision, branch, milestone) to {rev} for both routes",
            version.version,
            inp.revision
        );
    }
    if let Some(m) = inp.milestone.filter(|m| *m != version.major) {
        bail!(
            "Chromium {} is milestone {}, but webrtc.toml says webrtc.milestone = {m}\n  \
             hint: fix webrtc.milestone (the revision matches: the file is wrong, not the tarball)",
            version.version,
            version.major
        );
    }
    line.note(&format!(
        "Chromium {} (M{}), WebRTC {}",
        version.version,
        version.major,
        &rev[..12]
    ));

    // 3. Debian's patches, at the Chromium root.
    let mut applied = Vec::new();
    if let Some(deb) = inp.debian_tar {
        applied = debian_patches(runner, inp, deb, &staging, &root, log, line)?;
    }

    // 4. Re-root.
    fs::rename(root.join("third_party/webrtc"), &partial)
        .with_context(|| format!("moving third_party/webrtc to {}", partial.display()))?;
    for e in inp.extract {
        if e == "third_party/webrtc" || READ_ONLY.contains(&e.as_str()) || missing.contains(e) {
            continue;
        }
        let (from, to) = (root.join(e), partial.join(e));
        if to.exists() {
            bail!(
                "re-rooting {e}: {} already exists in WebRTC's tree\n  \
                 hint: drop {e} from [tarball].extract",
                to.display()
            );
        }
        if let Some(d) = to.parent() {
            fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        fs::rename(&from, &to).with_context(|| format!("moving {e} into src/"))?;
    }

    // 5. gclient_args.gni.
    let webrtc_deps = fs::read_to_string(partial.join("DEPS")).context("reading WebRTC's DEPS")?;
    let gni = partial.join("build/config/gclient_args.gni");
    fs::create_dir_all(gni.parent().expect("has a parent"))?;
    fs::write(&gni, deps::gclient_args_gni(&webrtc_deps)?)
        .with_context(|| format!("writing {}", gni.display()))?;

    // 6. One commit.
    let msg = format!("chromium-{} tarball, re-rooted", version.version);
    let t = std::time::Instant::now();
    for args in [
        &["init", "--quiet"][..],
        &["add", "--all", "--force"],
        &["commit", "--quiet", "--no-verify", "-m", &msg],
    ] {
        runner.run(&git(&partial, args, inp.env), log)?;
    }
    line.note(&format!(
        "committed in {}",
        crate::run::format_duration(t.elapsed())
    ));

    // 7. Swap in.
    let src = inp.work_dir.join("src");
    remove(&src)?;
    fs::rename(&partial, &src)
        .with_context(|| format!("moving {} to {}", partial.display(), src.display()))?;
    remove(&staging)?;
    Ok(Unpacked {
        version: version.version,
        milestone: version.major,
        webrtc_revision: rev,
        debian_patches: applied,
        missing,
    })
}

/// git with a fixed identity and no user or system config, so the commit is the same
/// everywhere and works on a machine without `user.name`.
pub fn git(repo: &Path, args: &[&str], env: &BTreeMap<String, String>) -> Cmd {
    let mut env = env.clone();
    for (k, v) in [
        ("GIT_AUTHOR_NAME", "mobilertc"),
        ("GIT_AUTHOR_EMAIL", "mobilertc@localhost"),
        ("GIT_COMMITTER_NAME", "mobilertc"),
        ("GIT_COMMITTER_EMAIL", "mobilertc@localhost"),
        ("GIT_AUTHOR_DATE", "2000-01-01T00:00:00Z"),
        ("GIT_COMMITTER_DATE", "2000-01-01T00:00:00Z"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ] {
        env.insert(k.into(), v.into());
    }
    let mut all = vec![
        "-c",
        "core.autocrlf=false",
        "-c",
        "gc.auto=0",
        "-c",
        "init.defaultBranch=main",
        "-c",
        "core.compression=1",
    ];
    all.extend_from_slice(args);
    Cmd::new("git", &all, repo, &env)
}

fn debian_patches(
    runner: &Runner<'_>,
    inp: &Inputs<'_>,
    deb: &Path,
    staging: &Path,
    root: &Path,
    log: &Path,
    line: &StepLine,
) -> Result<Vec<String>> {
    let dir = staging.join("debian-patches");
    fs::create_dir_all(&dir)?;
    let c = tar_cmd(deb, &dir, inp.env).arg("debian/patches");
    runner.run(&c, log)?;
    let patches = dir.join("debian/patches");
    let series = fs::read_to_string(patches.join("series"))
        .with_context(|| format!("{} has no debian/patches/series", deb.display()))?;
    let order = debian::ordered_selection(&series, inp.debian_patches)?;
    let keep: Vec<String> = inp
        .extract
        .iter()
        .filter(|e| !READ_ONLY.contains(&e.as_str()))
        .cloned()
        .collect();
    let filtered = dir.join("filtered");
    fs::create_dir_all(&filtered)?;
    let mut applied = Vec::new();
    for (i, name) in order.iter().enumerate() {
        let text = fs::read_to_string(patches.join(name))
            .with_context(|| format!("reading debian/patches/{name}"))?;
        let (cut, kept, dropped) = debian::filter_patch(&text, &keep);
        if kept == 0 {
            line.note(&format!(
                "debian/patches/{name}: touches nothing extracted ({dropped} file(s)), skipped"
            ));
            continue;
        }
        let f = filtered.join(format!("{i:03}.patch"));
        fs::write(&f, cut)?;
        // dpkg-source's own flags: no fuzz, forward only, fail on a reversed patch.
        let cmd = Cmd::new(
            "patch",
            &[
                "-p1", "-t", "-F", "0", "-N", "-u", "-V", "never", "-E", "-s", "-i",
            ],
            root,
            inp.env,
        )
        .arg(f.display().to_string());
        runner.run(&cmd, log).with_context(|| {
            format!("Debian's patch {name} does not apply to the extracted tree")
        })?;
        applied.push(name.clone());
    }
    line.note(&format!(
        "{} of Debian's patches applied (of {} selected)",
        applied.len(),
        inp.debian_patches.len()
    ));
    Ok(applied)
}
