//! `webrtc.toml`: what WebRTC to fetch, from where, into where, for which targets.
//!
//! The file is parsed strictly (`deny_unknown_fields`, typed enums for ABIs and CPUs) so a
//! typo is an error naming the key and the file instead of a silently ignored setting. Every
//! URL and path can be overridden by a flag or an environment variable ([`ConfigArgs`]):
//! mirrors, CI caches and the test fixtures all go through that.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::fetch::tarball::TarballPin;
use crate::host::Host;

/// Flags shared by `doctor`, `fetch-webrtc` and `patches`. Each has an env var so tests and
/// CI can point the xtask somewhere else without editing the checked-in config.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// Config file [default: webrtc.toml at the workspace root].
    #[arg(long, env = "MOBILERTC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory holding .gclient, src/ and depot_tools/ (if cloned).
    #[arg(long, env = "MOBILERTC_WORK_DIR", value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// WebRTC `src` repository URL (a mirror, a file:// fixture).
    #[arg(long, env = "MOBILERTC_WEBRTC_URL", value_name = "URL")]
    pub webrtc_url: Option<String>,
    /// WebRTC commit to check out (40 hex digits) instead of the pinned one.
    #[arg(long, env = "MOBILERTC_WEBRTC_REVISION", value_name = "SHA")]
    pub revision: Option<String>,
    /// depot_tools repository URL, used when depot_tools has to be cloned.
    #[arg(long, env = "MOBILERTC_DEPOT_TOOLS_URL", value_name = "URL")]
    pub depot_tools_url: Option<String>,
    /// depot_tools commit to pin a clone to (also turns off its self-update).
    #[arg(long, env = "MOBILERTC_DEPOT_TOOLS_REVISION", value_name = "SHA")]
    pub depot_tools_revision: Option<String>,
    /// An existing depot_tools checkout to use instead of cloning one.
    #[arg(long, env = "DEPOT_TOOLS", value_name = "DIR")]
    pub depot_tools: Option<PathBuf>,
    /// gclient git cache directory (`cache_dir` in .gclient).
    #[arg(long, env = "MOBILERTC_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Directory of *.patch files applied to src/ after sync.
    #[arg(long, env = "MOBILERTC_PATCHES_DIR", value_name = "DIR")]
    pub patches_dir: Option<PathBuf>,
    /// Where the checkout's lock (`gclient revinfo` pins) is written.
    #[arg(long, env = "MOBILERTC_LOCK_FILE", value_name = "FILE")]
    pub lock_file: Option<PathBuf>,
    /// Shallow checkout (`gclient sync --no-history`, about half the disk), for CI; the
    /// same as `no_history = true` in the config.
    #[arg(long, env = "MOBILERTC_NO_HISTORY")]
    pub no_history: bool,
}

/// Android ABIs, named as Android names them (jniLibs/<abi>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum AndroidAbi {
    #[serde(rename = "arm64-v8a")]
    Arm64V8a,
    #[serde(rename = "armeabi-v7a")]
    ArmeabiV7a,
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "x86")]
    X86,
}

// Read by `cargo xtask build` (the next issue); kept with the target list they describe.
#[allow(dead_code)]
impl AndroidAbi {
    pub fn name(self) -> &'static str {
        match self {
            AndroidAbi::Arm64V8a => "arm64-v8a",
            AndroidAbi::ArmeabiV7a => "armeabi-v7a",
            AndroidAbi::X86_64 => "x86_64",
            AndroidAbi::X86 => "x86",
        }
    }
    /// gn's `target_cpu` for this ABI (armeabi-v7a additionally needs `arm_version=7`).
    pub fn gn_cpu(self) -> &'static str {
        match self {
            AndroidAbi::Arm64V8a => "arm64",
            AndroidAbi::ArmeabiV7a => "arm",
            AndroidAbi::X86_64 => "x64",
            AndroidAbi::X86 => "x86",
        }
    }
}

/// Linux CPUs, named as gn's `target_cpu` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinuxCpu {
    X64,
    Arm64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    #[serde(default)]
    pub android: Vec<AndroidAbi>,
    #[serde(default)]
    pub linux: Vec<LinuxCpu>,
}

impl Targets {
    /// `.gclient`'s `target_os`: upstream's `webrtc_android` fetch config uses
    /// `['android', 'unix']`; without 'android' the Android-only deps (SDK, NDK,
    /// third_party/androidx, …) are never synced.
    pub fn gclient_target_os(&self) -> Vec<&'static str> {
        let mut os = Vec::new();
        if !self.android.is_empty() {
            os.push("android");
        }
        // 'unix' is what gclient calls Linux; Android builds need the host (Linux) deps too.
        os.push("unix");
        os
    }
    pub fn has_android(&self) -> bool {
        !self.android.is_empty()
    }
}

/// A gn arg value: gn has booleans, integers and strings (lists are not needed here).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum GnValue {
    Bool(bool),
    Int(i64),
    Str(String),
}

impl fmt::Display for GnValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GnValue::Bool(b) => write!(f, "{b}"),
            GnValue::Int(i) => write!(f, "{i}"),
            GnValue::Str(s) => write!(f, "\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        }
    }
}

/// gn args for the (later) build step: `common` for every target, then per platform.
/// `target_os`, `target_cpu` and `arm_version` are derived from [`Targets`] by the build.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Gn {
    #[serde(default)]
    pub common: BTreeMap<String, GnValue>,
    #[serde(default)]
    pub android: BTreeMap<String, GnValue>,
    #[serde(default)]
    pub linux: BTreeMap<String, GnValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebrtc {
    url: String,
    /// Informational: the branch-head the revision was taken from.
    branch: Option<String>,
    milestone: Option<u32>,
    revision: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDepotTools {
    url: String,
    revision: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCheckout {
    work_dir: PathBuf,
    cache_dir: Option<PathBuf>,
    #[serde(default = "default_patches_dir")]
    patches_dir: PathBuf,
    #[serde(default = "default_lock_file")]
    lock_file: PathBuf,
    #[serde(default)]
    no_history: bool,
    #[serde(default = "default_sync_attempts")]
    sync_attempts: u32,
    #[serde(default = "default_backoff")]
    retry_backoff_secs: u64,
}

fn default_patches_dir() -> PathBuf {
    "patches".into()
}
fn default_lock_file() -> PathBuf {
    "webrtc.lock".into()
}
fn default_sync_attempts() -> u32 {
    3
}
fn default_backoff() -> u64 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    webrtc: FileWebrtc,
    depot_tools: FileDepotTools,
    checkout: FileCheckout,
    targets: Targets,
    #[serde(default)]
    gn: Gn,
    /// The Chromium-tarball route (`fetch-webrtc --tarball/--debian-source`).
    tarball: Option<TarballPin>,
    /// URL prefix → mirror prefix, for every git fetch (see fetch/mirrors.rs).
    #[serde(default)]
    mirrors: BTreeMap<String, String>,
}

/// The resolved configuration: file + flags + env, paths absolute.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub webrtc_url: String,
    pub branch: Option<String>,
    pub milestone: Option<u32>,
    pub revision: String,
    pub depot_tools_url: String,
    pub depot_tools_revision: Option<String>,
    /// An existing depot_tools the user pointed at (`--depot-tools`, `$DEPOT_TOOLS`).
    pub depot_tools_dir: Option<PathBuf>,
    pub work_dir: PathBuf,
    pub cache_dir: Option<PathBuf>,
    pub patches_dir: PathBuf,
    pub lock_file: PathBuf,
    pub no_history: bool,
    /// How many times `gclient sync` is tried (1 = no retry).
    pub sync_attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
    pub targets: Targets,
    /// For `cargo xtask build` (the next issue); parsed and validated now.
    #[allow(dead_code)]
    pub gn: Gn,
    pub tarball: Option<TarballPin>,
    /// `[mirrors]`: URL prefix → mirror prefix, applied to every git fetch of the checkout.
    pub mirrors: BTreeMap<String, String>,
}

/// A value in the config (or an override) that parses but makes no sense.
#[derive(Debug, thiserror::Error)]
#[error("{key} in {file}: {problem}\n  hint: {hint}")]
pub struct BadValue {
    pub key: String,
    pub file: String,
    pub problem: String,
    pub hint: String,
}

impl Config {
    /// Load the config named by `args` (or `<root>/webrtc.toml`) and apply the overrides.
    /// Relative paths in the file are relative to the file; relative flags to `host.cwd`.
    pub fn load(root: &Path, host: &Host, args: &ConfigArgs) -> Result<Config> {
        let file = match &args.config {
            Some(p) => host.cwd.join(p),
            None => root.join("webrtc.toml"),
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading the WebRTC config {}", file.display()))?;
        let mut cfg = Config::parse(&file, &text, host, args)?;
        // A checkout made from a Chromium tarball knows its milestone (chrome/VERSION);
        // `cargo xtask build` reads it from here like the pinned one.
        if let Some(m) = crate::fetch::tarball::checkout_milestone(&cfg.work_dir, &cfg.revision) {
            cfg.milestone = Some(m);
        }
        Ok(cfg)
    }

    pub fn parse(file: &Path, text: &str, host: &Host, args: &ConfigArgs) -> Result<Config> {
        // toml's message already shows the offending key and line; add the file.
        let raw: ConfigFile =
            toml::from_str(text).with_context(|| format!("invalid config {}", file.display()))?;
        // A bad override is the flag's fault, not the file's: say so.
        for (flag, value) in [
            ("--revision (MOBILERTC_WEBRTC_REVISION)", &args.revision),
            (
                "--depot-tools-revision (MOBILERTC_DEPOT_TOOLS_REVISION)",
                &args.depot_tools_revision,
            ),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty() && !is_commit(v)) {
                return Err(BadValue {
                    key: flag.into(),
                    file: "the command line".into(),
                    problem: format!("`{v}` is not a 40-digit commit hash"),
                    hint: "pass an exact commit; `git ls-remote <url> <branch>` prints one".into(),
                }
                .into());
            }
        }
        let base = file.parent().unwrap_or(Path::new("."));
        let from_file = |p: &Path| base.join(p);
        let from_flag = |p: &PathBuf| host.cwd.join(p);

        let revision_overridden = args.revision.is_some();
        let cfg = Config {
            file: file.to_owned(),
            webrtc_url: args.webrtc_url.clone().unwrap_or(raw.webrtc.url),
            // An overridden revision is not on the configured branch any more, as far as we know.
            branch: if revision_overridden {
                None
            } else {
                raw.webrtc.branch
            },
            milestone: if revision_overridden {
                None
            } else {
                raw.webrtc.milestone
            },
            revision: args.revision.clone().unwrap_or(raw.webrtc.revision),
            depot_tools_url: args.depot_tools_url.clone().unwrap_or(raw.depot_tools.url),
            depot_tools_revision: args
                .depot_tools_revision
                .clone()
                .or(raw.depot_tools.revision)
                .filter(|r| !r.is_empty()),
            depot_tools_dir: args.depot_tools.as_ref().map(from_flag),
            work_dir: args
                .work_dir
                .as_ref()
                .map(from_flag)
                .unwrap_or_else(|| from_file(&raw.checkout.work_dir)),
            cache_dir: args
                .cache_dir
                .as_ref()
                .map(from_flag)
                .or_else(|| raw.checkout.cache_dir.as_deref().map(from_file)),
            patches_dir: args
                .patches_dir
                .as_ref()
                .map(from_flag)
                .unwrap_or_else(|| from_file(&raw.checkout.patches_dir)),
            lock_file: args
                .lock_file
                .as_ref()
                .map(from_flag)
                .unwrap_or_else(|| from_file(&raw.checkout.lock_file)),
            no_history: raw.checkout.no_history || args.no_history,
            sync_attempts: raw.checkout.sync_attempts,
            retry_backoff: Duration::from_secs(raw.checkout.retry_backoff_secs),
            targets: raw.targets,
            gn: raw.gn,
            tarball: raw.tarball,
            mirrors: raw.mirrors,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn bad(&self, key: &str, problem: impl Into<String>, hint: impl Into<String>) -> BadValue {
        BadValue {
            key: key.into(),
            file: self.file.display().to_string(),
            problem: problem.into(),
            hint: hint.into(),
        }
    }

    fn validate(&self) -> Result<(), BadValue> {
        if !is_commit(&self.revision) {
            return Err(self.bad(
                "webrtc.revision",
                format!("`{}` is not a 40-digit commit hash", self.revision),
                "pin an exact commit (a branch or tag moves); \
                 `git ls-remote <url> refs/branch-heads/<N>` prints one",
            ));
        }
        if let Some(r) = &self.depot_tools_revision {
            if !is_commit(r) {
                return Err(self.bad(
                    "depot_tools.revision",
                    format!("`{r}` is not a 40-digit commit hash"),
                    "pin an exact commit or leave it out to let depot_tools update itself",
                ));
            }
        }
        for (key, url) in [
            ("webrtc.url", &self.webrtc_url),
            ("depot_tools.url", &self.depot_tools_url),
        ] {
            if url.trim().is_empty() || url.chars().any(char::is_whitespace) {
                return Err(self.bad(
                    key,
                    format!("`{url}` is not a URL"),
                    "use an https:// or file:// git URL",
                ));
            }
        }
        for (from, to) in &self.mirrors {
            if [from, to]
                .iter()
                .any(|u| u.trim().is_empty() || u.chars().any(char::is_whitespace))
            {
                return Err(self.bad(
                    "mirrors",
                    format!("`{from}` = `{to}` is not a URL prefix and its mirror"),
                    "e.g. \"https://chromium.googlesource.com/\" = \"https://git.example.org/chromium/\"",
                ));
            }
        }
        if self.targets.android.is_empty() && self.targets.linux.is_empty() {
            return Err(self.bad(
                "targets",
                "no target configured",
                "list Android ABIs under targets.android or CPUs under targets.linux",
            ));
        }
        if let Some(t) = &self.tarball {
            t.validate(&self.file.display().to_string())?;
        }
        if self.sync_attempts == 0 || self.sync_attempts > 20 {
            return Err(self.bad(
                "checkout.sync_attempts",
                format!("{} is out of range", self.sync_attempts),
                "use 1 (no retry) to 20",
            ));
        }
        Ok(())
    }

    /// Human summary of what is pinned, for step lines and doctor.
    pub fn describe_revision(&self) -> String {
        match (&self.branch, self.milestone) {
            (Some(b), Some(m)) => format!("M{m} {b} @ {}", short(&self.revision)),
            (Some(b), None) => format!("{b} @ {}", short(&self.revision)),
            _ => short(&self.revision).to_owned(),
        }
    }

    pub fn src_dir(&self) -> PathBuf {
        self.work_dir.join("src")
    }
}

pub fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// The checked-in webrtc.toml with the work dir at `/w` (and `args` on top), for unit
/// tests that need a real `Config` without touching the process environment.
#[cfg(test)]
pub fn test_config(args: ConfigArgs) -> Config {
    let args = ConfigArgs {
        work_dir: Some("/w".into()),
        ..args
    };
    Config::load(&crate::project_root(), &crate::host::test_host(&[]), &args).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::test_host;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn sample() -> String {
        format!(
            r#"
[webrtc]
url = "https://example.org/src.git"
branch = "refs/branch-heads/1"
milestone = 1
revision = "{SHA}"
[depot_tools]
url = "https://example.org/depot_tools.git"
[checkout]
work_dir = ".mobilertc/webrtc"
[targets]
android = ["arm64-v8a", "armeabi-v7a"]
linux = ["x64"]
[gn.common]
is_debug = false
rtc_use_h264 = false
"#
        )
    }

    fn parse(text: &str, args: &ConfigArgs) -> Result<Config> {
        Config::parse(Path::new("/repo/webrtc.toml"), text, &test_host(&[]), args)
    }

    #[test]
    fn checked_in_config_parses() {
        let root = crate::project_root();
        let cfg = Config::load(&root, &test_host(&[]), &ConfigArgs::default()).unwrap();
        assert!(cfg.targets.has_android());
        assert_eq!(cfg.work_dir, root.join(".mobilertc/webrtc"));
        assert_eq!(
            cfg.gn.common.get("rtc_include_tests"),
            Some(&GnValue::Bool(false))
        );
    }

    #[test]
    fn defaults_and_relative_paths() {
        let cfg = parse(&sample(), &ConfigArgs::default()).unwrap();
        assert_eq!(cfg.work_dir, Path::new("/repo/.mobilertc/webrtc"));
        assert_eq!(cfg.patches_dir, Path::new("/repo/patches"));
        assert_eq!(cfg.lock_file, Path::new("/repo/webrtc.lock"));
        assert_eq!(cfg.sync_attempts, 3);
        assert_eq!(cfg.cache_dir, None);
        assert_eq!(cfg.targets.gclient_target_os(), ["android", "unix"]);
        assert_eq!(
            cfg.describe_revision(),
            "M1 refs/branch-heads/1 @ 0123456789ab"
        );
    }

    #[test]
    fn overrides_win() {
        let args = ConfigArgs {
            webrtc_url: Some("file:///mirror/src".into()),
            work_dir: Some("/tmp/w".into()),
            revision: Some("f".repeat(40)),
            ..Default::default()
        };
        let cfg = parse(&sample(), &args).unwrap();
        assert_eq!(cfg.webrtc_url, "file:///mirror/src");
        assert_eq!(cfg.work_dir, Path::new("/tmp/w"));
        assert_eq!(
            cfg.branch, None,
            "an overridden revision is not on the branch"
        );
        assert!(!cfg.no_history);
        let shallow = ConfigArgs {
            no_history: true,
            ..Default::default()
        };
        assert!(parse(&sample(), &shallow).unwrap().no_history);
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let text = sample().replace("[checkout]\n", "[checkout]\nwork_dri = \"x\"\n");
        let err = format!("{:#}", parse(&text, &ConfigArgs::default()).unwrap_err());
        assert!(err.contains("/repo/webrtc.toml"), "{err}");
        assert!(err.contains("work_dri"), "{err}");
    }

    #[test]
    fn bad_abi_names_key_and_file() {
        let text = sample().replace("\"armeabi-v7a\"", "\"armv7\"");
        let err = format!("{:#}", parse(&text, &ConfigArgs::default()).unwrap_err());
        assert!(err.contains("/repo/webrtc.toml"), "{err}");
        assert!(err.contains("armv7") && err.contains("android"), "{err}");
    }

    #[test]
    fn bad_revision_has_hint() {
        let text = sample().replace(SHA, "main");
        let err = format!("{:#}", parse(&text, &ConfigArgs::default()).unwrap_err());
        assert!(
            err.starts_with("webrtc.revision in /repo/webrtc.toml"),
            "{err}"
        );
        assert!(err.contains("hint:"), "{err}");
    }

    #[test]
    fn linux_only_has_no_android_target_os() {
        let text = sample().replace("android = [\"arm64-v8a\", \"armeabi-v7a\"]\n", "");
        let cfg = parse(&text, &ConfigArgs::default()).unwrap();
        assert_eq!(cfg.targets.gclient_target_os(), ["unix"]);
    }

    #[test]
    fn gn_value_display() {
        assert_eq!(GnValue::Bool(false).to_string(), "false");
        assert_eq!(GnValue::Int(7).to_string(), "7");
        assert_eq!(GnValue::Str("a\"b".into()).to_string(), "\"a\\\"b\"");
    }
}
