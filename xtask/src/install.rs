//! `cargo xtask install`: put the APK that `cargo xtask build --target android` made on a
//! device and start it. `adb devices -l` picks the device (`--device` › ANDROID_SERIAL › the
//! only one) and explains an unauthorized/offline/unreachable one; the APK is re-checked
//! (16 KB alignment, an ABI the device runs) before anything touches the device; then
//! `adb install -r`, on debug builds `pm grant` of the runtime permissions the activity
//! asks for, and `am start`. See docs/android.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::Shell;

use crate::apk::{self, align, AndroidSdk, Profile};
use crate::host::Host;
use crate::run::{Cmd, Runner, StepLine};

/// The runtime permissions CallActivity requests; granted up front on debug installs so a
/// test run needs no taps.
pub const PERMISSIONS: [&str; 2] = [
    "android.permission.RECORD_AUDIO",
    "android.permission.CAMERA",
];

#[derive(Debug, Clone, clap::Args)]
pub struct InstallArgs {
    /// Device serial [default: ANDROID_SERIAL, else the only connected device].
    #[arg(long, value_name = "SERIAL")]
    pub device: Option<String>,
    /// The release APK [default: the newer of the debug and release APKs]; no permissions
    /// are granted for it.
    #[arg(long)]
    pub release: bool,
    /// The APK [default: android-app/app/build/outputs/apk/{debug,release}/app-*.apk].
    #[arg(long, value_name = "FILE")]
    pub apk: Option<PathBuf>,
    /// adb [default: $ANDROID_HOME/platform-tools/adb, else adb on PATH].
    #[arg(long, value_name = "FILE")]
    pub adb: Option<PathBuf>,
    /// Install only; don't start the activity.
    #[arg(long)]
    pub no_start: bool,
    /// Print the commands and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stream adb's output.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Device,
    Unauthorized,
    Offline,
    /// Linux without a udev rule: "no permissions (…); see […]".
    NoPermissions(String),
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub serial: String,
    pub state: State,
    /// The rest of the line (`product:… model:… transport_id:…`).
    pub info: String,
}

impl Device {
    fn describe(&self) -> String {
        let state = match &self.state {
            State::Device => "device".to_owned(),
            State::Unauthorized => "unauthorized".to_owned(),
            State::Offline => "offline".to_owned(),
            State::NoPermissions(_) => "no permissions".to_owned(),
            State::Other(s) => s.clone(),
        };
        let model = self
            .info
            .split_whitespace()
            .find_map(|w| w.strip_prefix("model:"))
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        format!("{} [{state}]{model}", self.serial)
    }
}

/// Parse `adb devices -l`: `<serial> <state> [key:value…]` per line after the header.
pub fn parse_devices(out: &str) -> Vec<Device> {
    out.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with("List of devices") && !l.starts_with('*'))
        .filter_map(|l| {
            let (serial, rest) = l.split_once(char::is_whitespace)?;
            let rest = rest.trim_start();
            let (state, info) = if let Some(np) = rest.strip_prefix("no permissions") {
                // "no permissions (missing udev rules? …); see [http://…]" then key:values.
                let end = np.find("] ").map(|i| i + 1).unwrap_or(np.len());
                (
                    State::NoPermissions(np[..end].trim().to_owned()),
                    np[end..].trim(),
                )
            } else {
                let (s, info) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let state = match s {
                    "device" => State::Device,
                    "unauthorized" => State::Unauthorized,
                    "offline" => State::Offline,
                    other => State::Other(other.to_owned()),
                };
                (state, info.trim())
            };
            Some(Device {
                serial: serial.to_owned(),
                state,
                info: info.to_owned(),
            })
        })
        .collect()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InstallError {
    #[error("no Android device connected (`adb devices -l` lists none)\n  hint: connect a device with USB debugging on (Settings › Developer options) or start an emulator; `adb devices -l` must show it as `device`")]
    NoDevice,
    #[error("{} devices connected: {}\n  hint: pick one with --device SERIAL or ANDROID_SERIAL=SERIAL", .0.len(), .0.join(", "))]
    Several(Vec<String>),
    #[error("device {0} is unauthorized\n  hint: unlock it and accept the \"Allow USB debugging?\" prompt; no prompt? revoke the USB debugging authorizations in Developer options and reconnect")]
    Unauthorized(String),
    #[error("device {0} is offline\n  hint: reconnect it or restart adb (`adb kill-server`); an emulator may still be booting")]
    Offline(String),
    #[error("no permission to open device {0} over USB {1}\n  hint: install udev rules for Android devices (Debian: android-sdk-platform-tools-common), make sure you are in the plugdev group, and reconnect")]
    NoPermissions(String, String),
    #[error("device {0} is in state `{1}`, not `device`\n  hint: wait for it to finish booting (or leave recovery/sideload), then rerun")]
    NotReady(String, String),
    #[error("device {serial} (from {from}) is not connected; connected: {connected}\n  hint: check the serial with `adb devices -l`")]
    NotConnected {
        serial: String,
        from: String,
        connected: String,
    },
    #[error(
        "no APK at {0}\n  hint: run `cargo xtask build --target android` first, or pass --apk FILE"
    )]
    NoApk(String),
    #[error("no adb: not at $ANDROID_HOME/platform-tools/adb nor on PATH\n  hint: install the SDK's platform-tools (`sdkmanager platform-tools`, or Debian's `adb` package), or pass --adb FILE")]
    NoAdb,
    #[error("the APK has libraries for {apk} but device {serial} runs {device}\n  hint: add the device's ABI to [targets] android in webrtc.toml and rebuild")]
    NoMatchingAbi {
        serial: String,
        apk: String,
        device: String,
    },
    #[error("`adb install` failed: {code}\n{detail}  hint: {hint}")]
    InstallFailed {
        code: String,
        detail: String,
        hint: String,
    },
    #[error("`am start` could not start {activity}:\n{output}  hint: is the installed app this project's (package dev.mobilertc.app)?")]
    StartFailed { activity: String, output: String },
}

/// Which device to use: `--device` › ANDROID_SERIAL › the only one connected.
pub fn select<'a>(
    devices: &'a [Device],
    wanted: Option<(&str, &str)>,
) -> Result<&'a Device, InstallError> {
    let d = match wanted {
        Some((serial, from)) => devices.iter().find(|d| d.serial == serial).ok_or_else(|| {
            InstallError::NotConnected {
                serial: serial.to_owned(),
                from: from.to_owned(),
                connected: if devices.is_empty() {
                    "none".to_owned()
                } else {
                    devices
                        .iter()
                        .map(Device::describe)
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }
        })?,
        None => match devices {
            [] => return Err(InstallError::NoDevice),
            [one] => one,
            several => {
                return Err(InstallError::Several(
                    several.iter().map(Device::describe).collect(),
                ))
            }
        },
    };
    match &d.state {
        State::Device => Ok(d),
        State::Unauthorized => Err(InstallError::Unauthorized(d.serial.clone())),
        State::Offline => Err(InstallError::Offline(d.serial.clone())),
        State::NoPermissions(why) => {
            Err(InstallError::NoPermissions(d.serial.clone(), why.clone()))
        }
        State::Other(s) => Err(InstallError::NotReady(d.serial.clone(), s.clone())),
    }
}

/// The `INSTALL_…` code in adb install's `Failure [CODE: message]`, if any.
pub fn failure_code(output: &str) -> Option<&str> {
    let rest = &output[output.find("Failure [")? + "Failure [".len()..];
    let end = rest.find([':', ']', ' ']).unwrap_or(rest.len());
    Some(&rest[..end])
}

pub fn failure_hint(code: &str) -> String {
    match code {
        "INSTALL_FAILED_UPDATE_INCOMPATIBLE" => format!(
            "an installed {} is signed with another key: `adb uninstall {}` first (its data goes with it)",
            apk::PACKAGE,
            apk::PACKAGE
        ),
        "INSTALL_FAILED_VERSION_DOWNGRADE" => format!(
            "the installed {} has a higher versionCode: uninstall it first",
            apk::PACKAGE
        ),
        "INSTALL_FAILED_NO_MATCHING_ABIS" => {
            "the APK has no library for this device's ABI: add it to [targets] android in webrtc.toml".into()
        }
        "INSTALL_FAILED_INSUFFICIENT_STORAGE" => "free some storage on the device".into(),
        "INSTALL_FAILED_OLDER_SDK" => "the device runs an Android older than minSdk 24 (7.0)".into(),
        "INSTALL_PARSE_FAILED_NO_CERTIFICATES" => {
            "the APK is not signed: sign it with apksigner (`cargo xtask build` signs with the debug key)".into()
        }
        "INSTALL_FAILED_USER_RESTRICTED" => {
            "the device refused: accept the install prompt on it, or allow \"Install via USB\" in Developer options".into()
        }
        "INSTALL_FAILED_INVALID_APK" => {
            "the APK is malformed (native libraries must be stored page-aligned): rebuild with `cargo xtask build --target android`".into()
        }
        _ => "see adb's message above".into(),
    }
}

/// The APK `cargo xtask build --target android` made: `--release` picks the release one;
/// otherwise the newer of the two that exist (the build's default is release, `--debug`
/// makes the other), and the debug path when neither does (the error names it).
pub fn default_apk(project: &Path, release: bool) -> (PathBuf, Profile) {
    if release {
        return (Profile::Release.apk_path(project), Profile::Release);
    }
    [Profile::Debug, Profile::Release]
        .into_iter()
        .filter_map(|p| {
            let path = p.apk_path(project);
            let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
            Some((mtime, path, p))
        })
        .max_by_key(|(t, _, _)| *t)
        .map(|(_, path, p)| (path, p))
        .unwrap_or_else(|| (Profile::Debug.apk_path(project), Profile::Debug))
}

/// Where adb comes from: `--adb` › the SDK's platform-tools › PATH.
fn find_adb(args: &InstallArgs, host: &Host) -> Result<PathBuf, InstallError> {
    if let Some(a) = &args.adb {
        return Ok(a.clone());
    }
    if let Some(a) = AndroidSdk::discover(host).ok().and_then(|s| s.adb()) {
        return Ok(a);
    }
    host.which("adb").ok_or(InstallError::NoAdb)
}

/// The commands after the device is chosen (pure: unit-tested).
pub fn device_cmds(
    adb: &str,
    serial: &str,
    apk: &Path,
    profile: Profile,
    start: bool,
    cwd: &Path,
) -> Vec<(&'static str, Cmd)> {
    let env = BTreeMap::new();
    let apk = apk.display().to_string();
    let mut v = vec![(
        "adb install",
        Cmd::new(adb, &["-s", serial, "install", "-r", &apk], cwd, &env),
    )];
    if profile == Profile::Debug {
        for p in PERMISSIONS {
            v.push((
                "grant permission",
                Cmd::new(
                    adb,
                    &["-s", serial, "shell", "pm", "grant", apk::PACKAGE, p],
                    cwd,
                    &env,
                ),
            ));
        }
    }
    if start {
        v.push((
            "start activity",
            Cmd::new(
                adb,
                &["-s", serial, "shell", "am", "start", "-n", apk::ACTIVITY],
                cwd,
                &env,
            ),
        ));
    }
    v
}

pub fn run(sh: &Shell, args: InstallArgs) -> Result<()> {
    let root = sh.current_dir();
    let host =
        Host::from_process(std::env::current_dir().context("reading the current directory")?);
    let (apk, profile) = match &args.apk {
        Some(a) if args.release => (a.clone(), Profile::Release),
        Some(a) => (a.clone(), Profile::Debug),
        None => default_apk(&root.join("android-app"), args.release),
    };
    let adb = find_adb(&args, &host)?;
    let adb_s = adb.display().to_string();
    let wanted = match (&args.device, host.var("ANDROID_SERIAL")) {
        (Some(d), _) => Some((d.clone(), "--device")),
        (None, Some(s)) => Some((s.to_owned(), "ANDROID_SERIAL")),
        (None, None) => None,
    };
    let devices_cmd = Cmd::new(&adb_s, &["devices", "-l"], &root, &BTreeMap::new());

    if args.dry_run {
        let serial = wanted
            .as_ref()
            .map(|(s, _)| s.clone())
            .unwrap_or_else(|| "<the only device>".to_owned());
        let mut s = String::new();
        let _ = writeln!(s, "[1] list devices\n{devices_cmd}");
        let _ = writeln!(
            s,
            "[2] check {} (16 KB alignment, device ABI)",
            apk.display()
        );
        for (i, (title, c)) in device_cmds(&adb_s, &serial, &apk, profile, !args.no_start, &root)
            .iter()
            .enumerate()
        {
            let _ = writeln!(s, "[{}] {title}\n{c}", i + 3);
        }
        print!("{s}");
        return Ok(());
    }

    if !apk.is_file() {
        return Err(InstallError::NoApk(apk.display().to_string()).into());
    }
    let runner = Runner::new(sh, args.verbose, &host);
    let log = root.join(".mobilertc/logs/install.log");
    let _ = std::fs::remove_file(&log);
    let cmds = device_cmds(&adb_s, "", &apk, profile, !args.no_start, &root);
    let n = 2 + cmds.len();

    let line = StepLine::start(1, n, "adb devices", runner.progress);
    let (ok, out, err) = runner.probe(&devices_cmd, &log)?;
    if !ok {
        line.finish("FAILED");
        anyhow::bail!("`{}` failed:\n{out}{err}", devices_cmd.line());
    }
    let devices = parse_devices(&out);
    let device = match select(&devices, wanted.as_ref().map(|(s, f)| (s.as_str(), *f))) {
        Ok(d) => d,
        Err(e) => {
            line.finish("FAILED");
            return Err(e.into());
        }
    };
    line.finish(&device.describe());
    let serial = device.serial.clone();

    let line = StepLine::start(2, n, "check APK", runner.progress);
    let report = align::check_apk(&apk, &[])?;
    let abi_cmd = Cmd::new(
        &adb_s,
        &["-s", &serial, "shell", "getprop", "ro.product.cpu.abilist"],
        &root,
        &BTreeMap::new(),
    );
    let (ok, out, err) = runner.probe(&abi_cmd, &log)?;
    if !ok {
        line.finish("FAILED");
        anyhow::bail!("`{}` failed:\n{out}{err}", abi_cmd.line());
    }
    let device_abis: Vec<&str> = out.trim().split(',').filter(|s| !s.is_empty()).collect();
    if !report.abis.is_empty() && !report.abis.iter().any(|a| device_abis.contains(&a.name())) {
        line.finish("FAILED");
        return Err(InstallError::NoMatchingAbi {
            serial,
            apk: report
                .abis
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", "),
            device: device_abis.join(", "),
        }
        .into());
    }
    line.finish(&format!(
        "{}, {} .so aligned",
        apk::human_size(report.size),
        report.libs.len()
    ));

    for (i, (title, c)) in device_cmds(&adb_s, &serial, &apk, profile, !args.no_start, &root)
        .into_iter()
        .enumerate()
    {
        let line = StepLine::start(i + 3, n, title, runner.progress);
        let (ok, out, err) = runner.probe(&c, &log)?;
        let both = format!("{out}{err}");
        if args.verbose {
            eprint!("{both}");
        }
        let failed = match title {
            "adb install" => {
                if !ok || !out.lines().any(|l| l.trim() == "Success") {
                    line.finish("FAILED");
                    let code = failure_code(&both).unwrap_or("unknown error").to_owned();
                    return Err(InstallError::InstallFailed {
                        hint: failure_hint(&code),
                        code,
                        detail: both,
                    }
                    .into());
                }
                false
            }
            // am exits 0 even when the activity does not exist; its output says so.
            "start activity" => {
                if !ok || both.lines().any(|l| l.starts_with("Error")) {
                    line.finish("FAILED");
                    return Err(InstallError::StartFailed {
                        activity: apk::ACTIVITY.to_owned(),
                        output: both,
                    }
                    .into());
                }
                false
            }
            _ => !ok,
        };
        if failed {
            line.finish("FAILED");
            anyhow::bail!("`{}` failed:\n{both}", c.line());
        }
        line.finish(&match title {
            "grant permission" => c.args.last().cloned().unwrap_or_default(),
            "start activity" => apk::ACTIVITY.to_owned(),
            _ => "Success".to_owned(),
        });
    }
    eprintln!(
        "installed {} on {serial}{}",
        apk.display(),
        if args.no_start { "" } else { " and started it" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "List of devices attached\n\
        emulator-5554          device product:sdk_gphone64_x86_64 model:sdk_gphone64_x86_64 device:emu64xa transport_id:1\n\
        R58M123ABC             unauthorized usb:1-1 transport_id:2\n\
        emulator-5556          offline transport_id:3\n\
        0123456789ABCDEF       no permissions (missing udev rules? user is in the plugdev group); see [http://developer.android.com/tools/device.html] usb:1-2 transport_id:4\n\n";

    #[test]
    fn parses_every_state() {
        let d = parse_devices(LISTING);
        assert_eq!(d.len(), 4);
        assert_eq!(d[0].serial, "emulator-5554");
        assert_eq!(d[0].state, State::Device);
        assert!(d[0].info.starts_with("product:"));
        assert_eq!(
            d[0].describe(),
            "emulator-5554 [device] (sdk_gphone64_x86_64)"
        );
        assert_eq!(d[1].state, State::Unauthorized);
        assert_eq!(d[2].state, State::Offline);
        assert!(
            matches!(&d[3].state, State::NoPermissions(w) if w.contains("udev")),
            "{d:?}"
        );
        assert_eq!(d[3].info, "usb:1-2 transport_id:4");
        assert!(parse_devices("List of devices attached\n\n").is_empty());
        assert!(
            parse_devices("* daemon started successfully\nList of devices attached\n").is_empty()
        );
    }

    #[test]
    fn selection_rules() {
        let d = parse_devices(LISTING);
        assert!(matches!(select(&d, None), Err(InstallError::Several(v)) if v.len() == 4));
        assert_eq!(
            select(&d, Some(("emulator-5554", "--device"))).unwrap(),
            &d[0]
        );
        assert_eq!(
            select(&d, Some(("R58M123ABC", "ANDROID_SERIAL"))),
            Err(InstallError::Unauthorized("R58M123ABC".into()))
        );
        assert_eq!(
            select(&d, Some(("emulator-5556", "--device"))),
            Err(InstallError::Offline("emulator-5556".into()))
        );
        assert!(matches!(
            select(&d, Some(("0123456789ABCDEF", "--device"))),
            Err(InstallError::NoPermissions(..))
        ));
        assert!(matches!(
            select(&d, Some(("nope", "--device"))),
            Err(InstallError::NotConnected { .. })
        ));
        assert_eq!(select(&[], None), Err(InstallError::NoDevice));
        assert_eq!(select(&d[..1], None).unwrap().serial, "emulator-5554");
        assert_eq!(
            select(&d[1..2], None),
            Err(InstallError::Unauthorized("R58M123ABC".into()))
        );
    }

    #[test]
    fn failure_codes() {
        let out = "Performing Streamed Install\nadb: failed to install /x/app-debug.apk: Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE: Package dev.mobilertc.app signatures do not match previously installed version; ignoring!]\n";
        assert_eq!(
            failure_code(out),
            Some("INSTALL_FAILED_UPDATE_INCOMPATIBLE")
        );
        assert_eq!(
            failure_code("Failure [INSTALL_FAILED_INSUFFICIENT_STORAGE]"),
            Some("INSTALL_FAILED_INSUFFICIENT_STORAGE")
        );
        assert_eq!(failure_code("Success\n"), None);
        assert!(failure_hint("INSTALL_FAILED_UPDATE_INCOMPATIBLE").contains("adb uninstall"));
    }

    #[test]
    fn default_apk_is_the_newer_build() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let (path, prof) = default_apk(p, false);
        assert_eq!((path, prof), (Profile::Debug.apk_path(p), Profile::Debug));
        let rel = Profile::Release.apk_path(p);
        std::fs::create_dir_all(rel.parent().unwrap()).unwrap();
        std::fs::write(&rel, b"").unwrap();
        assert_eq!(default_apk(p, false), (rel.clone(), Profile::Release));
        let dbg = Profile::Debug.apk_path(p);
        std::fs::create_dir_all(dbg.parent().unwrap()).unwrap();
        std::fs::write(&dbg, b"").unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&dbg)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(default_apk(p, false), (dbg, Profile::Debug));
        assert_eq!(default_apk(p, true), (rel, Profile::Release));
    }

    #[test]
    fn release_installs_grant_nothing() {
        let cwd = Path::new("/w");
        let apk = Path::new("/w/a.apk");
        let debug = device_cmds("adb", "S", apk, Profile::Debug, true, cwd);
        let lines: Vec<String> = debug.iter().map(|(_, c)| c.line()).collect();
        assert_eq!(
            lines,
            [
                "adb -s S install -r /w/a.apk",
                "adb -s S shell pm grant dev.mobilertc.app android.permission.RECORD_AUDIO",
                "adb -s S shell pm grant dev.mobilertc.app android.permission.CAMERA",
                "adb -s S shell am start -n dev.mobilertc.app/.CallActivity",
            ]
        );
        let release = device_cmds("adb", "S", apk, Profile::Release, false, cwd);
        assert_eq!(release.len(), 1);
    }
}
