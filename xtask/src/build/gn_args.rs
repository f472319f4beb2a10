//! gn args per target: a pure function of the config, the target, the profile and the
//! user's extras. Every arg is explained in docs/build.md.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use super::target::{Profile, Target};
use crate::config::{AndroidAbi, Gn, GnValue};

/// What the command line adds on top of `webrtc.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GnExtras {
    /// `--gn-arg k=v`, applied last (they win over everything).
    pub args: Vec<(String, String)>,
    /// `--cc-wrapper sccache|ccache|PATH` → gn `cc_wrapper`.
    pub cc_wrapper: Option<String>,
    /// `--remote-exec`: upstream's remote execution (`use_remoteexec=true`); the backend
    /// settings (`rbe_instance`, …) come through `--gn-arg` or the environment reclient reads.
    pub remote_exec: bool,
    /// `--api`: the Android API level the app supports (its `minSdk`); `None` means
    /// [`super::DEFAULT_ANDROID_API`]. Pins the API level libwebrtc is compiled for.
    pub android_api: Option<u32>,
}

/// Parses `--gn-arg key=value` (value in gn syntax: `true`, `3`, `"text"`).
pub fn parse_gn_arg(s: &str) -> Result<(String, String)> {
    let Some((k, v)) = s.split_once('=') else {
        bail!("--gn-arg {s:?}: expected KEY=VALUE (e.g. --gn-arg 'rtc_use_h264=true')");
    };
    let (k, v) = (k.trim(), v.trim());
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || v.is_empty() {
        bail!("--gn-arg {s:?}: the key must be a gn identifier and the value non-empty");
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// The args, rendered as gn values, sorted by name.
pub fn gn_args(
    gn: &Gn,
    target: Target,
    profile: Profile,
    extras: &GnExtras,
) -> BTreeMap<String, String> {
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |map: &BTreeMap<String, GnValue>| {
        for (k, v) in map {
            args.insert(k.clone(), v.to_string());
        }
    };
    put(&gn.common);
    match target {
        Target::Android(_) => put(&gn.android),
        Target::Linux(_) => put(&gn.linux),
    }
    args.insert("target_os".into(), format!("\"{}\"", target.gn_os()));
    args.insert("target_cpu".into(), format!("\"{}\"", target.gn_cpu()));
    if target == Target::Android(AndroidAbi::ArmeabiV7a) {
        // build_aar.py's choice: ARMv7 with NEON, what every armeabi-v7a device has.
        args.insert("arm_version".into(), "7".into());
    }
    let debug = profile == Profile::Debug;
    args.insert("is_debug".into(), debug.to_string());
    if matches!(target, Target::Android(_)) {
        args.insert("is_java_debug".into(), debug.to_string());
        // The C++ library choice as it will end up (a --gn-arg one included).
        let custom_libcxx = extras
            .args
            .iter()
            .rev()
            .find(|(k, _)| k == "use_custom_libcxx")
            .map(|(_, v)| v.clone())
            .or_else(|| args.get("use_custom_libcxx").cloned());
        android_pins(
            &mut args,
            extras.android_api.unwrap_or(super::DEFAULT_ANDROID_API),
            custom_libcxx.as_deref() == Some("true"),
        );
    }
    if debug {
        // Debug builds are for stepping through libwebrtc: keep line tables at least.
        args.insert("symbol_level".into(), "1".into());
    }
    if let Some(w) = &extras.cc_wrapper {
        args.insert("cc_wrapper".into(), format!("\"{w}\""));
    }
    if extras.remote_exec {
        args.insert("use_remoteexec".into(), "true".into());
    }
    for (k, v) in &extras.args {
        args.insert(k.clone(), v.clone());
    }
    args
}

/// Android settings that must follow the app, not Chromium's defaults (which move).
///
/// - The API level: Chromium's `default_min_sdk_version` (build/config/android/config.gni)
///   has risen over time (29 at M150), and `android_ndk_api_level` follows it, so an
///   unpinned libwebrtc is compiled for a newer Android than the app's `minSdk` and can
///   call libc functions older devices lack (a crash at `loadLibrary`, not a build error).
///   Both are pinned to the Rust side's `--api`, which is the app's `minSdk`.
/// - `use_custom_libunwind`: on by default on Android (build/config/unwind.gni), where it
///   adds `--unwindlib=none` to every link and expects the in-tree libunwind that comes
///   with the custom libc++. With `use_custom_libcxx=false` nothing provides the unwinder,
///   and libwebrtc's own shared library (`libjingle_peerconnection_so`) fails to link on
///   `_Unwind_*`; off, the NDK's unwinder is linked as for any NDK library.
///
/// A value set in webrtc.toml wins for the unwinder; `--gn-arg` wins for everything.
fn android_pins(args: &mut BTreeMap<String, String>, api: u32, custom_libcxx: bool) {
    args.insert("android_ndk_api_level".into(), api.to_string());
    args.insert("default_min_sdk_version".into(), api.to_string());
    if !custom_libcxx {
        args.entry("use_custom_libunwind".into())
            .or_insert_with(|| "false".into());
    }
}

/// `args.gn` text: one `key = value` per line, sorted (stable, so an unchanged config
/// gives a byte-identical file and `gn gen` is skipped).
pub fn render(args: &BTreeMap<String, String>) -> String {
    let mut s =
        String::from("# Written by `cargo xtask build` from webrtc.toml; edits are overwritten.\n");
    for (k, v) in args {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{test_config, ConfigArgs, LinuxCpu};

    fn all_targets() -> Vec<Target> {
        vec![
            Target::Android(AndroidAbi::Arm64V8a),
            Target::Android(AndroidAbi::ArmeabiV7a),
            Target::Android(AndroidAbi::X86_64),
            Target::Android(AndroidAbi::X86),
            Target::Linux(LinuxCpu::X64),
        ]
    }

    #[test]
    fn golden_args_for_every_target_and_profile() {
        let config = test_config(ConfigArgs::default());
        let mut out = String::new();
        for target in all_targets() {
            for profile in [Profile::Release, Profile::Debug] {
                let args = gn_args(&config.gn, target, profile, &GnExtras::default());
                out.push_str(&format!("## out/{target} ({})\n", profile.name()));
                out.push_str(&render(&args));
                out.push('\n');
            }
        }
        insta::assert_snapshot!("gn_args_all_targets", out);
    }

    #[test]
    fn extras_come_last_and_win() {
        let config = test_config(ConfigArgs::default());
        let extras = GnExtras {
            args: vec![
                parse_gn_arg("rtc_use_h264=true").unwrap(),
                parse_gn_arg("symbol_level=2").unwrap(),
            ],
            cc_wrapper: Some("sccache".into()),
            remote_exec: true,
            android_api: None,
        };
        let args = gn_args(
            &config.gn,
            Target::Linux(LinuxCpu::X64),
            Profile::Release,
            &extras,
        );
        assert_eq!(args["rtc_use_h264"], "true");
        assert_eq!(args["symbol_level"], "2");
        assert_eq!(args["cc_wrapper"], "\"sccache\"");
        assert_eq!(args["use_remoteexec"], "true");
        assert_eq!(args["use_custom_libcxx"], "false");
        assert!(!args.contains_key("android_ndk_api_level"));
        for bad in ["novalue", "=1", "a b=1", "k="] {
            assert!(parse_gn_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn android_pins_the_api_level_to_the_apps_min_sdk_and_the_unwinder_to_the_ndks() {
        let config = test_config(ConfigArgs::default());
        let arm64 = Target::Android(AndroidAbi::Arm64V8a);
        let with_api = |api| GnExtras {
            android_api: api,
            ..GnExtras::default()
        };
        let args = gn_args(&config.gn, arm64, Profile::Release, &with_api(None));
        // The default is the app's minSdk (android-app/app/build.gradle.kts; a test in
        // build/mod.rs keeps the two equal).
        assert_eq!(args["android_ndk_api_level"], "24");
        assert_eq!(args["default_min_sdk_version"], "24");
        assert_eq!(args["use_custom_libunwind"], "false");
        let args = gn_args(&config.gn, arm64, Profile::Release, &with_api(Some(28)));
        assert_eq!(args["android_ndk_api_level"], "28");
        assert_eq!(args["default_min_sdk_version"], "28");
        // Chromium's own libc++ brings its own libunwind: then the default stays.
        let custom = GnExtras {
            args: vec![parse_gn_arg("use_custom_libcxx=true").unwrap()],
            ..GnExtras::default()
        };
        let args = gn_args(&config.gn, arm64, Profile::Release, &custom);
        assert!(!args.contains_key("use_custom_libunwind"), "{args:?}");
        let mut gn = config.gn.clone();
        gn.common.insert(
            "use_custom_libcxx".into(),
            crate::config::GnValue::Bool(true),
        );
        let args = gn_args(&gn, arm64, Profile::Release, &GnExtras::default());
        assert!(!args.contains_key("use_custom_libunwind"), "{args:?}");
        // --gn-arg still wins over the pins.
        let forced = GnExtras {
            args: vec![parse_gn_arg("android_ndk_api_level=26").unwrap()],
            ..GnExtras::default()
        };
        let args = gn_args(&config.gn, arm64, Profile::Release, &forced);
        assert_eq!(args["android_ndk_api_level"], "26");
        // Linux has none of them.
        let linux = gn_args(
            &config.gn,
            Target::Linux(LinuxCpu::X64),
            Profile::Release,
            &with_api(Some(28)),
        );
        for k in [
            "android_ndk_api_level",
            "default_min_sdk_version",
            "use_custom_libunwind",
        ] {
            assert!(!linux.contains_key(k), "{k}");
        }
    }
}
