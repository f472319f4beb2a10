//! A private apt configuration for `fetch-webrtc --debian-source`: its own sources.list,
//! package lists and caches under one directory (`.mobilertc/apt/` by default), used through
//! `APT_CONFIG`. The system's sources and lists are never read or written, so no root is
//! needed and nothing on the host changes; only the system's trusted keys are used (the
//! Debian archive keyring on a Debian host).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::run::Cmd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateApt {
    pub dir: PathBuf,
    /// sources.list lines.
    pub sources: Vec<String>,
}

impl PrivateApt {
    pub fn conf_path(&self) -> PathBuf {
        self.dir.join("etc/apt.conf")
    }

    /// The apt.conf text: every directory apt would otherwise take from the system.
    pub fn conf_text(&self) -> String {
        let d = self.dir.display();
        format!(
            "// Written by `cargo xtask fetch-webrtc --debian-source`: a private apt, never the system's sources.\n\
             Dir::Etc::SourceList \"{d}/etc/sources.list\";\n\
             Dir::Etc::SourceParts \"{d}/etc/sources.list.d\";\n\
             Dir::Etc::Preferences \"{d}/etc/preferences\";\n\
             Dir::Etc::PreferencesParts \"{d}/etc/preferences.d\";\n\
             Dir::State::Lists \"{d}/lists\";\n\
             Dir::Cache \"{d}/cache\";\n\
             Dir::Cache::Archives \"{d}/archives\";\n"
        )
    }

    pub fn sources_text(&self) -> String {
        let mut s = String::from("# Written by `cargo xtask fetch-webrtc --debian-source` from webrtc.toml's [tarball.debian].\n");
        for l in &self.sources {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// Write the configuration and the directories apt expects (idempotent).
    pub fn write(&self) -> Result<()> {
        for d in [
            "etc/sources.list.d",
            "etc/preferences.d",
            "lists/partial",
            "cache",
            "archives/partial",
        ] {
            let p = self.dir.join(d);
            fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        }
        for (path, text) in [
            (self.conf_path(), self.conf_text()),
            (self.dir.join("etc/sources.list"), self.sources_text()),
        ] {
            if fs::read_to_string(&path).ok().as_deref() != Some(&text) {
                fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Ok(())
    }

    fn env(&self, base: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut env = base.clone();
        env.insert("APT_CONFIG".into(), self.conf_path().display().to_string());
        env
    }

    /// `apt-get update` on the private lists.
    pub fn update(&self, base: &BTreeMap<String, String>) -> Cmd {
        Cmd::new("apt-get", &["update"], &self.dir, &self.env(base))
    }

    /// `apt-get source --download-only <pkg>=<version>` into `dest` (apt writes into cwd).
    pub fn source(
        &self,
        package: &str,
        version: &str,
        dest: &Path,
        base: &BTreeMap<String, String>,
    ) -> Cmd {
        Cmd::new(
            "apt-get",
            &["source", "--download-only", &format!("{package}={version}")],
            dest,
            &self.env(base),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_points_everything_into_the_private_dir() {
        let dir = tempfile::tempdir().unwrap();
        let apt = PrivateApt {
            dir: dir.path().join("apt"),
            sources: vec!["deb-src http://deb.debian.org/debian bookworm main".into()],
        };
        apt.write().unwrap();
        let conf = fs::read_to_string(apt.conf_path()).unwrap();
        for l in conf.lines().filter(|l| l.starts_with("Dir::")) {
            let value = l.split('"').nth(1).unwrap();
            assert!(value.starts_with(&apt.dir.display().to_string()), "{l}");
        }
        assert!(apt.dir.join("lists/partial").is_dir());
        let cmd = apt.source("chromium", "1.0-1", Path::new("/dl"), &BTreeMap::new());
        assert_eq!(cmd.line(), "apt-get source --download-only chromium=1.0-1");
        assert_eq!(cmd.env["APT_CONFIG"], apt.conf_path().display().to_string());
    }
}
