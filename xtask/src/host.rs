//! The host as the xtask sees it: its environment and where its tools are.
//!
//! Everything that depends on the process environment goes through [`Host`], which is a
//! value: `main` snapshots the real environment once, unit tests build one by hand. That
//! keeps the environment of child processes a pure function of it
//! ([`crate::fetch::plan::child_env`]) and lets tests simulate a missing tool by handing
//! in a PATH without it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Host {
    /// The environment child processes inherit (before the xtask's own additions).
    pub env: BTreeMap<String, String>,
    /// Directory relative tool paths are resolved against.
    pub cwd: PathBuf,
}

impl Host {
    /// Snapshot of the real process environment. Variables that are not UTF-8 are dropped:
    /// nothing the xtask reads or sets can be one, and the child keeps them anyway because
    /// commands inherit the real environment and only get overrides on top.
    pub fn from_process(cwd: PathBuf) -> Host {
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Host { env, cwd }
    }

    pub fn var(&self, key: &str) -> Option<&str> {
        self.env
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A boolean switch: set to anything but empty, `0` or `false`.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.var(key), Some(v) if v != "0" && !v.eq_ignore_ascii_case("false"))
    }

    /// `tool` on this host's PATH (not the xtask process's own PATH).
    pub fn which(&self, tool: &str) -> Option<PathBuf> {
        which::which_in(tool, self.var("PATH"), &self.cwd).ok()
    }

    /// Whether the xtask runs as root. `MOBILERTC_ROOT=0|1` overrides the answer so tests
    /// (which often run as root in containers) are deterministic.
    pub fn is_root(&self) -> bool {
        match self.var("MOBILERTC_ROOT") {
            Some(v) => v != "0",
            None => rustix::process::geteuid().is_root(),
        }
    }
}

/// `dir` in front of `path` (a PATH-style list).
pub fn prepend_path(dir: &Path, path: Option<&str>) -> String {
    match path {
        Some(p) if !p.is_empty() => format!("{}:{p}", dir.display()),
        _ => dir.display().to_string(),
    }
}

#[cfg(test)]
pub fn test_host(pairs: &[(&str, &str)]) -> Host {
    Host {
        env: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cwd: PathBuf::from("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values() {
        let h = test_host(&[
            ("A", "1"),
            ("B", "0"),
            ("C", ""),
            ("D", "false"),
            ("E", "yes"),
        ]);
        assert!(h.flag("A"));
        assert!(!h.flag("B"));
        assert!(!h.flag("C"));
        assert!(!h.flag("D"));
        assert!(h.flag("E"));
        assert!(!h.flag("MISSING"));
    }

    #[test]
    fn which_uses_the_injected_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("mytool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let with = test_host(&[("PATH", dir.path().to_str().unwrap())]);
        assert_eq!(with.which("mytool"), Some(tool.clone()));
        let without = test_host(&[("PATH", "/nonexistent")]);
        assert_eq!(without.which("mytool"), None);
    }

    #[test]
    fn root_override() {
        assert!(test_host(&[("MOBILERTC_ROOT", "1")]).is_root());
        assert!(!test_host(&[("MOBILERTC_ROOT", "0")]).is_root());
    }

    #[test]
    fn prepend() {
        assert_eq!(
            prepend_path(Path::new("/dt"), Some("/usr/bin")),
            "/dt:/usr/bin"
        );
        assert_eq!(prepend_path(Path::new("/dt"), None), "/dt");
    }
}
