//! `gn gen` and ninja: the commands, the parallelism, and what the ninja files say about
//! how libwebrtc was compiled (the defines and include dirs the shim must use too).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::run::Cmd;

/// Parallel jobs: one per core, but no more than one per 2 GB of RAM (a libwebrtc compile
/// job peaks around 1–2 GB; running out of memory is slower than fewer jobs).
pub fn default_jobs(cores: usize, ram_bytes: u64) -> usize {
    let by_ram = (ram_bytes / (2 << 30)) as usize;
    cores.min(by_ram).max(1)
}

/// Whether `gn gen` must run: no build.ninja yet, or args.gn differs from `wanted`.
pub fn needs_gen(out_dir: &Path, wanted: &str) -> bool {
    !out_dir.join("build.ninja").is_file()
        || std::fs::read_to_string(out_dir.join("args.gn"))
            .ok()
            .as_deref()
            != Some(wanted)
}

/// `gn gen out/<t>` (args.gn is written first, so gn reads it from the out dir).
pub fn gn_gen(gn: &str, src: &Path, out_dir: &Path, env: &BTreeMap<String, String>) -> Cmd {
    Cmd::new(gn, &["gen"], src, env).arg(out_dir.display().to_string())
}

/// ninja (autoninja when depot_tools provides it: it picks -j for remote execution).
pub fn ninja(
    autoninja: bool,
    src: &Path,
    out_dir: &Path,
    jobs: usize,
    targets: &[&str],
    env: &BTreeMap<String, String>,
) -> Cmd {
    let mut cmd = if autoninja {
        Cmd::new("autoninja", &["-C"], src, env)
    } else {
        Cmd::new("ninja", &["-C"], src, env)
    };
    cmd = cmd.arg(out_dir.display().to_string());
    if !autoninja {
        cmd = cmd.arg("-j").arg(jobs.to_string());
    }
    for t in targets {
        cmd = cmd.arg(*t);
    }
    cmd
}

/// What a target's ninja file says: `-D` defines and `-I` include dirs (relative to the out
/// dir, as gn writes them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompileFlags {
    pub defines: Vec<String>,
    pub include_dirs: Vec<String>,
}

/// Reads `defines = …` and `include_dirs = …` from a ninja file (e.g.
/// `out/<t>/obj/webrtc.ninja`): exactly what the library was compiled with, so the shim
/// sees the same class layouts (DCHECK, RTTI, platform macros).
pub fn compile_flags(ninja_file: &Path) -> Result<CompileFlags> {
    let text = std::fs::read_to_string(ninja_file).with_context(|| {
        format!(
            "reading {} (did ninja build the `webrtc` target?)",
            ninja_file.display()
        )
    })?;
    let mut flags = CompileFlags::default();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("defines = ") {
            for d in split_ninja(v) {
                if let Some(d) = d.strip_prefix("-D") {
                    if !flags.defines.iter().any(|x| x == d) {
                        flags.defines.push(d.to_owned());
                    }
                }
            }
        } else if let Some(v) = line.strip_prefix("include_dirs = ") {
            for d in split_ninja(v) {
                if let Some(d) = d.strip_prefix("-I") {
                    if !flags.include_dirs.iter().any(|x| x == d) {
                        flags.include_dirs.push(d.to_owned());
                    }
                }
            }
        }
    }
    if flags.include_dirs.is_empty() {
        anyhow::bail!("{}: no include_dirs line", ninja_file.display());
    }
    Ok(flags)
}

/// Splits a ninja variable on unescaped spaces (`$ ` is a literal space) and unescapes
/// gn's shell quoting of define values (`-DFOO=\"bar\"`).
fn split_ninja(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' if chars.peek().is_some() => cur.push(chars.next().unwrap()),
            '\\' if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ' ' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// An include dir of the ninja file as a path (relative ones are relative to the out dir).
pub fn resolve(out_dir: &Path, dir: &str) -> PathBuf {
    let p = Path::new(dir);
    let joined = if p.is_absolute() {
        p.to_owned()
    } else {
        out_dir.join(p)
    };
    normalize(&joined)
}

/// `a/b/../c` → `a/c` without touching the filesystem.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_follow_cores_and_ram() {
        assert_eq!(default_jobs(8, 64 << 30), 8);
        assert_eq!(default_jobs(32, 16 << 30), 8);
        assert_eq!(default_jobs(2, 1 << 30), 1);
    }

    #[test]
    fn defines_and_include_dirs_come_from_the_ninja_file() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("webrtc.ninja");
        std::fs::write(
            &f,
            "defines = -DWEBRTC_POSIX -DNAME=\\\"x$ y\\\" -D_LIBCPP_HARDENING_MODE=1 -DWEBRTC_POSIX\n\
             include_dirs = -I../.. -Igen -I../../third_party/abseil-cpp\n\
             cflags = -O2\n",
        )
        .unwrap();
        let flags = compile_flags(&f).unwrap();
        assert_eq!(
            flags.defines,
            ["WEBRTC_POSIX", "NAME=\"x y\"", "_LIBCPP_HARDENING_MODE=1"]
        );
        assert_eq!(
            flags.include_dirs,
            ["../..", "gen", "../../third_party/abseil-cpp"]
        );
        assert_eq!(
            resolve(
                Path::new("/w/src/out/linux-x64"),
                "../../third_party/abseil-cpp"
            ),
            Path::new("/w/src/third_party/abseil-cpp")
        );
    }
}
