//! `[tarball]` in webrtc.toml: which Chromium release tarball the tarball route expects, what
//! of it is extracted, and (for `--debian-source`) the Debian source package and the
//! selection of its patch series. Why each entry is there: docs/fetch.md#the-tarball-route.

use serde::Deserialize;

use crate::config::BadValue;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TarballPin {
    /// The Chromium version (`chrome/VERSION`), e.g. "150.0.7871.100". Its DEPS must pin
    /// WebRTC at `webrtc.revision`; the fetch checks both.
    pub version: String,
    /// Chromium-root-relative paths extracted (one xz pass) and re-rooted under src/.
    pub extract: Vec<String>,
    pub debian: Option<DebianPin>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DebianPin {
    /// Source package name (`apt-get source <package>=<version>`).
    pub package: String,
    /// Debian version, e.g. "150.0.7871.100-1~deb12u1".
    pub version: String,
    /// SHA-256 of `<package>_<upstream>.orig.tar.xz` (the repacked Chromium tarball).
    pub orig_sha256: String,
    /// SHA-256 of `<package>_<version>.debian.tar.xz` (the packaging and its patch series).
    pub debian_sha256: String,
    /// The private apt configuration's sources.list lines (`deb-src …`).
    pub sources: Vec<String>,
    /// The entries of `debian/patches/series` to apply, applied in the series' order.
    pub patches: Vec<String>,
}

impl DebianPin {
    /// The upstream part of the Debian version: "150.0.7871.100-1~deb12u1" → "150.0.7871.100".
    pub fn upstream_version(&self) -> &str {
        let v = self
            .version
            .split_once(':')
            .map_or(&*self.version, |(_, v)| v);
        v.rsplit_once('-').map_or(v, |(u, _)| u)
    }
    /// `chromium_150.0.7871.100.orig.tar.xz`
    pub fn orig_file(&self) -> String {
        format!("{}_{}.orig.tar.xz", self.package, self.upstream_version())
    }
    /// `chromium_150.0.7871.100-1~deb12u1.debian.tar.xz` (no epoch in file names)
    pub fn debian_file(&self) -> String {
        let v = self
            .version
            .split_once(':')
            .map_or(&*self.version, |(_, v)| v);
        format!("{}_{v}.debian.tar.xz", self.package)
    }
}

pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl TarballPin {
    pub fn validate(&self, file: &str) -> Result<(), BadValue> {
        let bad = |key: &str, problem: String, hint: &str| BadValue {
            key: key.into(),
            file: file.into(),
            problem,
            hint: hint.into(),
        };
        let parts: Vec<&str> = self.version.split('.').collect();
        if parts.len() != 4 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
            return Err(bad(
                "tarball.version",
                format!("`{}` is not a Chromium version", self.version),
                "four numbers, as in chrome/VERSION: 150.0.7871.100",
            ));
        }
        if !self.extract.iter().any(|e| e == "third_party/webrtc") {
            return Err(bad(
                "tarball.extract",
                "does not list third_party/webrtc".into(),
                "third_party/webrtc becomes src/; keep it in the list",
            ));
        }
        if let Some(e) = self
            .extract
            .iter()
            .find(|e| e.is_empty() || e.starts_with('/') || e.split('/').any(|c| c == ".."))
        {
            return Err(bad(
                "tarball.extract",
                format!("`{e}` is not a relative path inside the tarball"),
                "paths relative to the Chromium root, e.g. third_party/abseil-cpp",
            ));
        }
        if let Some(d) = &self.debian {
            for (key, sha) in [
                ("tarball.debian.orig_sha256", &d.orig_sha256),
                ("tarball.debian.debian_sha256", &d.debian_sha256),
            ] {
                if !is_sha256(sha) {
                    return Err(bad(
                        key,
                        format!("`{sha}` is not a SHA-256 (64 hex digits)"),
                        "copy it from the package's .dsc (Checksums-Sha256)",
                    ));
                }
            }
            if d.upstream_version() != self.version {
                return Err(bad(
                    "tarball.debian.version",
                    format!(
                        "`{}` is not a packaging of Chromium {}",
                        d.version, self.version
                    ),
                    "tarball.version and the Debian upstream version must agree",
                ));
            }
            if d.sources.is_empty() || d.sources.iter().any(|s| !s.starts_with("deb-src ")) {
                return Err(bad(
                    "tarball.debian.sources",
                    format!("{:?} are not deb-src lines", d.sources),
                    "e.g. \"deb-src http://deb.debian.org/debian bookworm main\"",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_file_names() {
        let d = DebianPin {
            package: "chromium".into(),
            version: "150.0.7871.100-1~deb12u1".into(),
            orig_sha256: "0".repeat(64),
            debian_sha256: "0".repeat(64),
            sources: vec![],
            patches: vec![],
        };
        assert_eq!(d.upstream_version(), "150.0.7871.100");
        assert_eq!(d.orig_file(), "chromium_150.0.7871.100.orig.tar.xz");
        assert_eq!(
            d.debian_file(),
            "chromium_150.0.7871.100-1~deb12u1.debian.tar.xz"
        );
        let epoch = DebianPin {
            version: "1:2.0-3".into(),
            ..d
        };
        assert_eq!(epoch.upstream_version(), "2.0");
        assert_eq!(epoch.debian_file(), "chromium_2.0-3.debian.tar.xz");
    }
}
