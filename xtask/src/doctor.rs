//! `cargo xtask doctor`: can this host fetch (and later build) WebRTC? Each problem comes
//! with what to do. `fetch-webrtc` runs the same checks first.
//!
//! The checks never spawn a process (tools are looked up on the injected PATH), so running
//! them before a no-op `fetch-webrtc` keeps that rerun spawn-free. Facts about the machine
//! are gathered once ([`Facts::gather`]) and judged by a pure function ([`checks`]).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::config::{Config, ConfigArgs};
use crate::fetch::depot_tools::DepotTools;
use crate::host::Host;

/// The config flags doctor uses (only these: `--help` lists no flag it would ignore).
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    /// Config file [default: webrtc.toml at the workspace root].
    #[arg(long, env = "MOBILERTC_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Directory holding .gclient and src/ (its disk is checked).
    #[arg(long, env = "MOBILERTC_WORK_DIR", value_name = "DIR")]
    pub work_dir: Option<std::path::PathBuf>,
    /// WebRTC commit (40 hex digits) instead of the pinned one.
    #[arg(long, env = "MOBILERTC_WEBRTC_REVISION", value_name = "SHA")]
    pub revision: Option<String>,
    /// depot_tools repository URL, used when depot_tools has to be cloned.
    #[arg(long, env = "MOBILERTC_DEPOT_TOOLS_URL", value_name = "URL")]
    pub depot_tools_url: Option<String>,
    /// depot_tools commit to pin a clone to.
    #[arg(long, env = "MOBILERTC_DEPOT_TOOLS_REVISION", value_name = "SHA")]
    pub depot_tools_revision: Option<String>,
    /// An existing depot_tools checkout to use instead of cloning one.
    #[arg(long, env = "DEPOT_TOOLS", value_name = "DIR")]
    pub depot_tools: Option<std::path::PathBuf>,
}

impl From<DoctorArgs> for ConfigArgs {
    fn from(d: DoctorArgs) -> ConfigArgs {
        ConfigArgs {
            config: d.config,
            work_dir: d.work_dir,
            revision: d.revision,
            depot_tools_url: d.depot_tools_url,
            depot_tools_revision: d.depot_tools_revision,
            depot_tools: d.depot_tools,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    pub fn is_problem(&self) -> bool {
        self.level == Level::Fail
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        writeln!(f, "  [{tag:<4}] {}: {}", self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            writeln!(f, "         fix: {fix}")?;
        }
        Ok(())
    }
}

/// What the checks look at. Filled from the machine by [`Facts::gather`], by hand in tests.
#[derive(Debug, Clone)]
pub struct Facts {
    pub os: String,
    pub arch: String,
    pub mem_total_bytes: Option<u64>,
    pub cores: usize,
    /// The nearest existing ancestor of the work dir, and its free bytes.
    pub free: Option<(PathBuf, u64)>,
    pub checkout_exists: bool,
}

impl Facts {
    pub fn gather(cfg: &Config) -> Facts {
        Facts {
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            mem_total_bytes: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|m| mem_total(&m)),
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            free: free_space(&cfg.work_dir),
            checkout_exists: cfg.src_dir().join(".git").exists(),
        }
    }
}

/// `MemTotal` from /proc/meminfo, in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let l = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn free_space(dir: &Path) -> Option<(PathBuf, u64)> {
    let mut d = dir;
    loop {
        if d.exists() {
            let s = rustix::fs::statvfs(d).ok()?;
            return Some((d.to_owned(), s.f_bavail * s.f_frsize));
        }
        d = d.parent()?;
    }
}

const GB: u64 = 1 << 30;

fn gb(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / GB as f64)
}

/// Judge the facts. Disk need: upstream says ~16 GB for an android+unix checkout (about half
/// is the Android SDK/NDK); a Linux-only one is smaller, ~8 GB is our estimate. An existing
/// checkout only needs headroom. `MOBILERTC_MIN_FREE_GB` overrides the number.
pub fn checks(cfg: &Config, host: &Host, facts: &Facts) -> Vec<Check> {
    let mut out = Vec::new();
    let android = cfg.targets.has_android();

    let linux_x64 = facts.os == "linux" && facts.arch == "x86_64";
    out.push(Check {
        name: "host",
        level: if linux_x64 { Level::Ok } else if android { Level::Fail } else { Level::Warn },
        detail: format!("{}/{}", facts.os, facts.arch),
        fix: (!linux_x64).then(|| {
            if android {
                "Android checkouts and builds are supported on Linux x86_64 hosts only (upstream); \
                 use such a machine, or remove targets.android from webrtc.toml"
                    .to_owned()
            } else {
                "upstream's toolchains for this build are downloaded for Linux x86_64; other hosts may fail in runhooks".to_owned()
            }
        }),
    });

    for (tool, why, pkg) in [
        ("git", "gclient clones every repository with it", "git"),
        ("python3", "depot_tools' gclient is Python 3", "python3"),
        (
            "curl",
            "depot_tools downloads its tools (cipd) with it",
            "curl",
        ),
    ] {
        out.push(match host.which(tool) {
            Some(p) => Check {
                name: tool,
                level: Level::Ok,
                detail: p.display().to_string(),
                fix: None,
            },
            None => Check {
                name: tool,
                level: Level::Fail,
                detail: format!("not found on PATH ({why})"),
                fix: Some(format!(
                    "install it: `sudo apt-get install {pkg}` (Debian/Ubuntu), then rerun"
                )),
            },
        });
    }

    out.push(match DepotTools::resolve(cfg, host) {
        Ok(dt) => Check {
            name: "depot_tools",
            level: Level::Ok,
            detail: dt.describe(),
            fix: None,
        },
        Err(e) => Check {
            name: "depot_tools",
            level: Level::Fail,
            detail: format!("{e:#}"),
            fix: Some(
                "unset DEPOT_TOOLS (the xtask then clones depot_tools) or point it at a checkout"
                    .into(),
            ),
        },
    });

    let need_gb: u64 = host
        .var("MOBILERTC_MIN_FREE_GB")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if facts.checkout_exists {
            2
        } else if android {
            16
        } else {
            8
        });
    out.push(match &facts.free {
        Some((dir, free)) if *free >= need_gb * GB => Check {
            name: "disk",
            level: Level::Ok,
            detail: format!("{} free at {} (need ~{need_gb} GB)", gb(*free), dir.display()),
            fix: None,
        },
        Some((dir, free)) => Check {
            name: "disk",
            level: Level::Fail,
            detail: format!(
                "{} free at {}, the {} needs ~{need_gb} GB",
                gb(*free),
                dir.display(),
                if facts.checkout_exists { "existing checkout" } else if android { "android+unix checkout" } else { "checkout" }
            ),
            fix: Some("free space there, or put the checkout elsewhere with --work-dir / MOBILERTC_WORK_DIR".into()),
        },
        None => Check {
            name: "disk",
            level: Level::Warn,
            detail: format!("could not read the free space for {}", cfg.work_dir.display()),
            fix: None,
        },
    });

    out.push(match facts.mem_total_bytes {
        Some(m) if m < 8 * GB => Check {
            name: "memory",
            level: Level::Warn,
            detail: format!("{} RAM", gb(m)),
            fix: Some("linking libwebrtc with less than ~8 GB is slow or fails; add swap or build with fewer jobs".into()),
        },
        Some(m) => Check { name: "memory", level: Level::Ok, detail: format!("{} RAM", gb(m)), fix: None },
        None => Check { name: "memory", level: Level::Warn, detail: "unknown (no /proc/meminfo)".into(), fix: None },
    });

    out.push(Check {
        name: "cores",
        level: if facts.cores < 4 { Level::Warn } else { Level::Ok },
        detail: facts.cores.to_string(),
        fix: (facts.cores < 4).then(|| "a full build takes hours with fewer than 4 cores; consider a bigger machine or sccache (gn cc_wrapper)".to_owned()),
    });
    out
}

pub fn run(_sh: &xshell::Shell, root: &Path, args: DoctorArgs) -> Result<()> {
    let host = Host::from_process(std::env::current_dir()?);
    let cfg = Config::load(root, &host, &args.into())?;
    println!(
        "mobilertc doctor: {} for {:?} targets",
        cfg.describe_revision(),
        cfg.targets.gclient_target_os()
    );
    println!("  work dir: {}", cfg.work_dir.display());
    let checks = checks(&cfg, &host, &Facts::gather(&cfg));
    for c in &checks {
        print!("{c}");
    }
    let failed = checks.iter().filter(|c| c.is_problem()).count();
    if failed > 0 {
        bail!("{failed} problem(s) found; see the `fix:` lines above");
    }
    println!("all checks passed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::test_host;

    fn cfg() -> Config {
        crate::config::test_config(ConfigArgs::default())
    }
    fn facts() -> Facts {
        Facts {
            os: "linux".into(),
            arch: "x86_64".into(),
            mem_total_bytes: Some(16 * GB),
            cores: 8,
            free: Some(("/".into(), 100 * GB)),
            checkout_exists: false,
        }
    }
    fn level(checks: &[Check], name: &str) -> Level {
        checks.iter().find(|c| c.name == name).unwrap().level
    }

    #[test]
    fn missing_tool_says_how_to_install_it() {
        let checks = checks(&cfg(), &test_host(&[("PATH", "/nonexistent")]), &facts());
        let curl = checks.iter().find(|c| c.name == "curl").unwrap();
        assert_eq!(curl.level, Level::Fail);
        assert!(
            curl.to_string()
                .contains("fix: install it: `sudo apt-get install curl`"),
            "{curl}"
        );
    }

    #[test]
    fn android_needs_linux_x86_64() {
        let f = Facts {
            os: "macos".into(),
            arch: "aarch64".into(),
            ..facts()
        };
        let c = checks(&cfg(), &test_host(&[]), &f);
        assert_eq!(level(&c, "host"), Level::Fail);
        assert!(
            c[0].to_string().contains("Linux x86_64 hosts only"),
            "{}",
            c[0]
        );
    }

    #[test]
    fn disk_memory_cores() {
        let f = Facts {
            free: Some(("/".into(), 10 * GB)),
            mem_total_bytes: Some(4 * GB),
            cores: 2,
            ..facts()
        };
        let c = checks(&cfg(), &test_host(&[]), &f);
        assert_eq!(level(&c, "disk"), Level::Fail);
        assert_eq!(level(&c, "memory"), Level::Warn);
        assert_eq!(level(&c, "cores"), Level::Warn);
        let c = checks(&cfg(), &test_host(&[("MOBILERTC_MIN_FREE_GB", "1")]), &f);
        assert_eq!(level(&c, "disk"), Level::Ok);
        let existing = Facts {
            checkout_exists: true,
            ..f
        };
        assert_eq!(
            level(&checks(&cfg(), &test_host(&[]), &existing), "disk"),
            Level::Ok
        );
    }

    #[test]
    fn meminfo() {
        assert_eq!(
            mem_total("MemTotal:       16384 kB\nMemFree: 1 kB\n"),
            Some(16384 * 1024)
        );
        assert_eq!(mem_total("nothing"), None);
    }
}
