//! Installing the Debian packages `cargo xtask test` and `demo` need, without leaving
//! services running.
//!
//! Some of them ship a daemon that Debian enables and starts on install: coturn's
//! `coturn.service` would listen on 0.0.0.0:3478 with its default config from then on (the
//! tests start their own turnserver, on loopback, in network namespaces). So:
//! 1. `/usr/sbin/policy-rc.d` answering 101 ("action forbidden") is in place while apt-get
//!    runs, so maintainer scripts (`invoke-rc.d`, `deb-systemd-invoke`) start nothing; it is
//!    removed afterwards, unless the machine had its own;
//! 2. after the install, every systemd service unit the newly installed packages ship is
//!    disabled and stopped (`systemctl disable --now`), when systemd runs the machine, and
//!    the xtask says which.
//!
//! Packages that were installed before are not touched.

use std::path::Path;

use anyhow::Result;
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
    let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    let result = p.commands.iter().try_for_each(|c| run(sh, c));
    for c in &p.cleanup {
        let _ = run(sh, c);
    }
    result?;
    if !Path::new("/run/systemd/system").is_dir() {
        return Ok(()); // no systemd: policy-rc.d alone kept every service from starting
    }
    let files = cmd!(sh, "dpkg-query -L {packages...}")
        .ignore_status()
        .quiet()
        .read()
        .unwrap_or_default();
    let units = service_units(&files);
    if let Some(c) = disable_command(&units, sudo) {
        run(sh, &c)?;
        eprintln!(
            "note: stopped and disabled {} (installed for the tests, which start their own; \
             `systemctl enable --now <unit>` if you want it)",
            units.join(", ")
        );
    }
    Ok(())
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
}
