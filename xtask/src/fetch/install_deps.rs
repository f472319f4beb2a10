//! Step 4: `build/install-build-deps.sh` (apt packages the build needs; `--android` adds the
//! Android ones). Upstream's script needs root, prompts for font licences unless
//! `--no-prompt`, and supports Debian/Ubuntu only, so the xtask decides up front how (or
//! whether) it can run it and otherwise prints the exact command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::host::Host;
use crate::run::Cmd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallDeps {
    Run(Cmd),
    Skip(String),
    /// Cannot run it here; the message says what to do.
    Manual(String),
}

pub fn script(cfg: &Config) -> PathBuf {
    cfg.src_dir().join("build/install-build-deps.sh")
}

/// Distro id and id_like from an os-release file, lowercased.
pub fn distro(os_release: &str) -> (String, String) {
    let get = |k: &str| {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_lowercase())
            .unwrap_or_default()
    };
    (get("ID"), get("ID_LIKE"))
}

pub struct Inputs<'a> {
    pub skip: bool,
    pub sudo: bool,
    pub os_release: Option<&'a str>,
}

pub fn plan(
    cfg: &Config,
    host: &Host,
    env: &BTreeMap<String, String>,
    inp: Inputs<'_>,
) -> InstallDeps {
    if inp.skip {
        return InstallDeps::Skip("--skip-install-deps".into());
    }
    if std::env::consts::OS != "linux" {
        return InstallDeps::Skip(format!("not a Linux host ({})", std::env::consts::OS));
    }
    let script = script(cfg);
    let mut args: Vec<&str> = Vec::new();
    if cfg.targets.has_android() {
        args.push("--android");
    }
    args.push("--no-prompt");
    let line = format!("{} {}", script.display(), args.join(" "));
    let (id, like) = distro(inp.os_release.unwrap_or(""));
    let debian_like = ["debian", "ubuntu"]
        .iter()
        .any(|d| id == *d || like.split(' ').any(|l| l == *d));
    if !debian_like {
        return InstallDeps::Manual(format!(
            "install-build-deps.sh supports Debian and Ubuntu only; this host is `{}`.\n  \
             hint: install the equivalent packages yourself (the script lists them), then rerun \
             with --skip-install-deps",
            if id.is_empty() { "unknown" } else { &id }
        ));
    }
    let src = cfg.src_dir();
    if host.is_root() {
        InstallDeps::Run(Cmd::new(script.display().to_string(), &args, &src, env))
    } else if inp.sudo {
        let s = script.display().to_string();
        let mut all = vec![s.as_str()];
        all.extend(&args);
        InstallDeps::Run(Cmd::new("sudo", &all, &src, env))
    } else {
        InstallDeps::Manual(format!(
            "install-build-deps.sh needs root to install packages. Run:\n\n    sudo {line}\n\n  \
             then rerun `cargo xtask fetch-webrtc --skip-install-deps` (the sync is kept). \
             Or rerun with --sudo to let the xtask run it through sudo."
        ))
    }
}

pub fn os_release() -> Option<String> {
    std::fs::read_to_string(Path::new("/etc/os-release")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigArgs;
    use crate::host::test_host;

    fn cfg() -> Config {
        crate::config::test_config(ConfigArgs::default())
    }
    const DEBIAN: &str = "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\n";

    /// The plan for a host that is root or not, with `--sudo` or not, on a distro.
    fn plan_for(root: bool, sudo: bool, os_release: Option<&str>) -> InstallDeps {
        let host = test_host(&[("MOBILERTC_ROOT", if root { "1" } else { "0" })]);
        let inputs = Inputs {
            skip: false,
            sudo,
            os_release,
        };
        plan(&cfg(), &host, &BTreeMap::new(), inputs)
    }

    #[test]
    fn root_runs_it_directly() {
        let p = plan_for(true, false, Some(DEBIAN));
        let InstallDeps::Run(c) = p else {
            panic!("{p:?}")
        };
        assert_eq!(
            c.line(),
            "/w/src/build/install-build-deps.sh --android --no-prompt"
        );
    }

    #[test]
    fn sudo_when_allowed() {
        let p = plan_for(false, true, Some(DEBIAN));
        let InstallDeps::Run(c) = p else {
            panic!("{p:?}")
        };
        assert_eq!(
            c.line(),
            "sudo /w/src/build/install-build-deps.sh --android --no-prompt"
        );
    }

    #[test]
    fn otherwise_prints_the_command() {
        let p = plan_for(false, false, Some(DEBIAN));
        let InstallDeps::Manual(m) = p else {
            panic!("{p:?}")
        };
        assert!(
            m.contains("sudo /w/src/build/install-build-deps.sh --android --no-prompt"),
            "{m}"
        );
    }

    #[test]
    fn other_distros_are_told_what_to_do() {
        let p = plan_for(true, false, Some("ID=fedora\n"));
        let InstallDeps::Manual(m) = p else {
            panic!("{p:?}")
        };
        assert!(
            m.contains("`fedora`") && m.contains("--skip-install-deps"),
            "{m}"
        );
        let p = plan_for(true, false, Some("ID=pop\nID_LIKE=\"ubuntu debian\"\n"));
        assert!(matches!(p, InstallDeps::Run(_)), "{p:?}");
    }

    #[test]
    fn skip_flag() {
        let host = test_host(&[]);
        let p = plan(
            &cfg(),
            &host,
            &BTreeMap::new(),
            Inputs {
                skip: true,
                sudo: false,
                os_release: None,
            },
        );
        assert_eq!(p, InstallDeps::Skip("--skip-install-deps".into()));
    }
}
