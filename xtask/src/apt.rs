//! Installing the Debian packages `cargo xtask test` and `demo` need, without leaving
//! services running.
//!
//! Some of them ship a daemon that Debian enables and starts on install: coturn's
//! `coturn.service` would listen on 0.0.0.0:3478 with its default config from then on (the
//! tests start their own turnserver, on loopback, in network namespaces). So:
//! 1. `/usr/sbin/policy-rc.d` answering 101 ("action forbidden") is in place while apt-get
//!    runs, so maintainer scripts (`invoke-rc.d`, `deb-systemd-invoke`) start nothing; it is
//!    removed afterwards, unless the machine had its own;
//! 2. after the install, every systemd service unit the newly installed packages ship
//!    (those dpkg did not list as installed before, dependencies included) is disabled and
//!    stopped (`systemctl disable --now`), when systemd runs the machine, and the xtask says
//!    which. Whether it does is systemctl's own answer: `systemctl is-system-running` prints
//!    `offline` (exit 1) when systemd is not PID 1 (a container, this CI), and a state such
//!    as `running` or `degraded` (exit 1 too) when it is; without systemctl there is no
//!    systemd to ask.
//!
//! Packages that were installed before are not touched, even when asked for again.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

pub const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// The command lines of one install, in order; `cleanup` runs even if an earlier one fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub commands: Vec<Vec<String>>,
    pub cleanup: Vec<Vec<String>>,
}

fn line(sudo: bool, keep_env: bool, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if sudo {
        v.push("sudo".into());
        if keep_env {
            v.push("-E".into());
        }
    }
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

/// What installing `packages` runs. `have_policy`: the machine already has a policy-rc.d
/// (then it is left alone, as it is).
pub fn plan(packages: &[String], sudo: bool, have_policy: bool) -> Plan {
    let mut commands = Vec::new();
    let mut cleanup = Vec::new();
    if !have_policy {
        commands.push(line(
            sudo,
            false,
            &[
                "sh",
                "-c",
                &format!(
                    "printf '#!/bin/sh\\nexit 101\\n' > {POLICY_RC_D} && chmod 755 {POLICY_RC_D}"
                ),
            ],
        ));
        cleanup.push(line(sudo, false, &["rm", "-f", POLICY_RC_D]));
    }
    commands.push(line(sudo, true, &["apt-get", "update", "-q"]));
    let mut install = line(
        sudo,
        true,
        &["apt-get", "install", "-y", "-q", "--no-install-recommends"],
    );
    install.extend(packages.iter().cloned());
    commands.push(install);
    Plan { commands, cleanup }
}

/// Service units among the files of packages (`dpkg-query -L` output).
pub fn service_units(dpkg_files: &str) -> Vec<String> {
    let mut units: Vec<String> = dpkg_files
        .lines()
        .map(str::trim)
        .filter(|l| {
            (l.starts_with("/lib/systemd/system/") || l.starts_with("/usr/lib/systemd/system/"))
                && l.ends_with(".service")
                && !l.contains('@')
        })
        .filter_map(|l| Path::new(l).file_name()?.to_str().map(str::to_owned))
        .collect();
    units.sort();
    units.dedup();
    units
}

/// The command that stops and disables `units` (none when there are none).
pub fn disable_command(units: &[String], sudo: bool) -> Option<Vec<String>> {
    if units.is_empty() {
        return None;
    }
    let mut c = line(sudo, false, &["systemctl", "disable", "--now"]);
    c.extend(units.iter().cloned());
    Some(c)
}

fn run(sh: &Shell, c: &[String]) -> Result<()> {
    let (program, args) = c.split_first().expect("a command line");
    cmd!(sh, "{program} {args...}").run()?;
    Ok(())
}

/// Install `packages` (see the module docs).
pub fn install(sh: &Shell, packages: &[String], sudo: bool) -> Result<()> {
    let p = plan(packages, sudo, Path::new(POLICY_RC_D).exists());
    let before = installed(sh);
    let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    let result = p.commands.iter().try_for_each(|c| run(sh, c));
    for c in &p.cleanup {
        let _ = run(sh, c);
    }
    result?;
    stop_new_services(sh, &before, sudo)?;
    Ok(())
}

/// The packages dpkg lists as installed (`dpkg-query -W`; none if it cannot run).
pub fn installed(sh: &Shell) -> BTreeSet<String> {
    // One line per package: name, tab, e.g. "install ok installed".
    let format = "${Package}\t${Status}\n";
    let out = cmd!(sh, "dpkg-query -W -f {format}")
        .ignore_status()
        .ignore_stderr()
        .quiet()
        .read()
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, status)| status.ends_with(" installed"))
        .map(|(pkg, _)| pkg.to_owned())
        .collect()
}

/// Whether systemd runs this machine, by systemctl's own answer (see the module docs).
pub fn systemd_running(sh: &Shell) -> bool {
    let state = cmd!(sh, "systemctl is-system-running")
        .ignore_status()
        .ignore_stderr()
        .quiet()
        .read()
        .unwrap_or_default();
    matches!(
        state.trim(),
        "initializing" | "starting" | "running" | "degraded" | "maintenance" | "stopping"
    )
}

/// Disable and stop the service units of the packages installed since `before`; returns
/// the units. Nothing when systemd does not run the machine: policy-rc.d alone kept every
/// service from starting.
pub fn stop_new_services(sh: &Shell, before: &BTreeSet<String>, sudo: bool) -> Result<Vec<String>> {
    let new: Vec<String> = installed(sh).difference(before).cloned().collect();
    if new.is_empty() || !systemd_running(sh) {
        return Ok(Vec::new());
    }
    let files = cmd!(sh, "dpkg-query -L {new...}")
        .ignore_status()
        .quiet()
        .read()
        .unwrap_or_default();
    let units = service_units(&files);
    if let Some(c) = disable_command(&units, sudo) {
        run(sh, &c).with_context(|| {
            format!(
                "stopping the services the new packages started ({}); stop them by hand: {}",
                units.join(", "),
                c.join(" ")
            )
        })?;
        eprintln!(
            "note: stopped and disabled {} (installed for the tests, which start their own; \
             `systemctl enable --now <unit>` if you want it)",
            units.join(", ")
        );
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_service_starts_while_installing_and_the_policy_goes_afterwards() {
        let pkgs = vec!["coturn".to_owned(), "git".to_owned()];
        let p = plan(&pkgs, false, false);
        let joined: Vec<String> = p.commands.iter().map(|c| c.join(" ")).collect();
        assert!(
            joined[0].contains("exit 101") && joined[0].contains(POLICY_RC_D),
            "{joined:?}"
        );
        assert_eq!(joined[1], "apt-get update -q");
        assert_eq!(
            joined[2],
            "apt-get install -y -q --no-install-recommends coturn git"
        );
        assert_eq!(p.cleanup, [line(false, false, &["rm", "-f", POLICY_RC_D])]);
        // A machine's own policy-rc.d is kept as it is.
        let own = plan(&pkgs, true, true);
        assert!(own.cleanup.is_empty());
        assert_eq!(own.commands[0][..3], ["sudo", "-E", "apt-get"]);
    }

    #[test]
    fn the_new_packages_services_are_disabled() {
        let files = "/.\n/lib/systemd/system\n/lib/systemd/system/coturn.service\n\
                     /usr/lib/systemd/system/foo@.service\n/usr/bin/turnserver\n\
                     /usr/lib/systemd/system/bar.service\n";
        let units = service_units(files);
        assert_eq!(units, ["bar.service", "coturn.service"]);
        assert_eq!(
            disable_command(&units, true).unwrap().join(" "),
            "sudo systemctl disable --now bar.service coturn.service"
        );
        assert_eq!(disable_command(&[], false), None);
    }

    /// A machine as [`stop_new_services`] meets it after apt-get: dpkg's database and
    /// systemd, through the stand-ins in tests/fixtures/{dpkg,systemd} (see their headers),
    /// first on PATH. `systemd`: $FAKE_SYSTEMD, None for a PATH without systemctl.
    struct Machine {
        _tmp: tempfile::TempDir,
        sh: Shell,
        db: std::path::PathBuf,
        log: std::path::PathBuf,
    }

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    impl Machine {
        fn new(systemd: Option<&str>, units: &str) -> Machine {
            let tmp = tempfile::tempdir().unwrap();
            let sh = Shell::new().unwrap();
            let db = tmp.path().join("dpkg");
            std::fs::create_dir_all(&db).unwrap();
            let log = tmp.path().join("systemctl.log");
            let path = match systemd {
                Some(state) => {
                    sh.set_var("FAKE_SYSTEMD", state);
                    format!(
                        "{FIXTURES}/systemd:{FIXTURES}/dpkg:{}",
                        std::env::var("PATH").unwrap()
                    )
                }
                None => {
                    // No systemctl anywhere: only dpkg-query and the python3 it runs on.
                    let bin = tmp.path().join("bin");
                    std::fs::create_dir_all(&bin).unwrap();
                    // The interpreter itself (python3 on PATH may be a shim script).
                    let out = std::process::Command::new("python3")
                        .args(["-c", "import sys; print(sys.executable)"])
                        .output()
                        .unwrap();
                    let py = String::from_utf8(out.stdout).unwrap();
                    std::os::unix::fs::symlink(py.trim(), bin.join("python3")).unwrap();
                    format!("{FIXTURES}/dpkg:{}", bin.display())
                }
            };
            sh.set_var("PATH", path);
            sh.set_var("FAKE_SYSTEMD_UNITS", units);
            sh.set_var("FAKE_DPKG_DB", &db);
            sh.set_var("FAKE_SYSTEMCTL_LOG", &log);
            sh.set_var("FAKE_SYSTEMCTL_STDERR", tmp.path().join("systemctl.stderr"));
            Machine {
                _tmp: tmp,
                sh,
                db,
                log,
            }
        }
        /// dpkg's database: each package with its status and its files.
        fn dpkg(&self, pkgs: &[(&str, &str, &[&str])]) {
            let mut status = String::new();
            for (name, st, files) in pkgs {
                status.push_str(&format!("{name}\t{st}\n"));
                let list: String = files.iter().map(|f| format!("{f}\n")).collect();
                std::fs::write(self.db.join(format!("{name}.list")), list).unwrap();
            }
            std::fs::write(self.db.join("status"), status).unwrap();
        }
        fn systemctl_calls(&self) -> Vec<String> {
            std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    const OK: &str = "install ok installed";
    const SSH: (&str, &str, &[&str]) = (
        "openssh-server",
        OK,
        &["/usr/sbin/sshd", "/lib/systemd/system/ssh.service"],
    );
    const GIT: (&str, &str, &[&str]) = ("git", OK, &["/usr/bin/git"]);
    const COTURN: (&str, &str, &[&str]) = (
        "coturn",
        OK,
        &["/usr/bin/turnserver", "/lib/systemd/system/coturn.service"],
    );
    /// Pulled in as a dependency, with a service of its own.
    const DEP: (&str, &str, &[&str]) = (
        "fake-dep",
        OK,
        &["/usr/lib/systemd/system/fake-dep.service"],
    );
    /// Removed before, its config left: not installed.
    const GONE: (&str, &str, &[&str]) = (
        "redis-server",
        "deinstall ok config-files",
        &["/lib/systemd/system/redis-server.service"],
    );

    /// Before: ssh (running a service the user wants), git, a removed redis; the install
    /// adds coturn and a dependency. Returns the machine and what was installed before.
    fn after_install(systemd: Option<&str>) -> (Machine, BTreeSet<String>) {
        let m = Machine::new(
            systemd,
            "ssh.service coturn.service fake-dep.service redis-server.service",
        );
        m.dpkg(&[SSH, GIT, GONE]);
        let before = installed(&m.sh);
        assert_eq!(
            before.iter().map(String::as_str).collect::<Vec<_>>(),
            ["git", "openssh-server"]
        );
        m.dpkg(&[SSH, GIT, GONE, COTURN, DEP]);
        (m, before)
    }

    #[test]
    fn with_systemd_running_only_the_new_packages_services_are_stopped() {
        // "degraded" (a failed unit somewhere) is systemd running too, though
        // is-system-running exits 1 there as it does without systemd.
        for state in ["running", "degraded"] {
            let (m, before) = after_install(Some(state));
            let units = stop_new_services(&m.sh, &before, false).unwrap();
            assert_eq!(units, ["coturn.service", "fake-dep.service"], "{state}");
            assert_eq!(
                m.systemctl_calls(),
                [
                    "is-system-running",
                    "disable --now coturn.service fake-dep.service"
                ],
                "{state}: ssh.service (installed before) must be left alone"
            );
        }
    }

    #[test]
    fn without_systemd_nothing_is_stopped() {
        // Systemd not PID 1 (this CI, a container): systemctl answers "offline".
        let (m, before) = after_install(Some("offline"));
        assert!(stop_new_services(&m.sh, &before, false).unwrap().is_empty());
        assert_eq!(m.systemctl_calls(), ["is-system-running"]);
        // No systemctl at all.
        let (m, before) = after_install(None);
        assert!(stop_new_services(&m.sh, &before, false).unwrap().is_empty());
        assert!(m.systemctl_calls().is_empty());
    }

    #[test]
    fn nothing_new_asks_nothing_and_a_failed_stop_says_what_to_do() {
        let m = Machine::new(Some("running"), "ssh.service");
        m.dpkg(&[SSH, GIT]);
        let before = installed(&m.sh);
        assert!(stop_new_services(&m.sh, &before, false).unwrap().is_empty());
        assert!(m.systemctl_calls().is_empty(), "{:?}", m.systemctl_calls());
        // systemctl refuses (here: a unit it does not know): an error naming the command.
        m.dpkg(&[SSH, GIT, COTURN]);
        let err = format!(
            "{:#}",
            stop_new_services(&m.sh, &before, false).unwrap_err()
        );
        assert!(
            err.contains("stop them by hand: systemctl disable --now coturn.service"),
            "{err}"
        );
    }
}
