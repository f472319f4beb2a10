//! The Android SDK (Gradle, adb, build-tools; not the NDK), the APK step's errors, and the
//! debug keystore Android Studio makes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::host::Host;
use crate::run::Cmd;

/// The Android SDK (not the NDK): where Gradle and adb come from.
#[derive(Debug, Clone, PartialEq)]
pub struct AndroidSdk {
    pub root: PathBuf,
    /// Which setting named it, for messages.
    pub from: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApkError {
    #[error("no Android SDK found (ANDROID_HOME, ANDROID_SDK_ROOT and {default} are unset or missing)\n  hint: install the SDK (Android Studio, or `sdkmanager \"platforms;android-35\" \"build-tools;35.0.0\" platform-tools`) and set ANDROID_HOME to it")]
    NoSdk { default: String },
    #[error("{0} is not a directory\n  hint: point ANDROID_HOME at the Android SDK (the directory holding platform-tools/ and build-tools/)")]
    SdkNotDir(String),
    #[error(
        "no ABI to package\n  hint: list at least one ABI under [targets] android in webrtc.toml"
    )]
    NoAbi,
    #[error("{abi} is listed twice in the APK inputs")]
    DuplicateAbi { abi: &'static str },
    #[error("{0} does not exist\n  hint: run `cargo xtask build --target android` (it builds the library first)")]
    MissingLib(String),
    #[error("no libwebrtc Java classes: neither an input jar nor {0}\n  hint: `cargo xtask build --target android` builds sdk/android:libwebrtc; the native code calls back into org.webrtc.* (InitAndroid, the audio device module) and crashes without it")]
    NoWebrtcJava(String),
    #[error("{0} is missing: the Gradle wrapper is not in the project\n  hint: on a machine with Gradle >= 8.9 run `gradle wrapper --gradle-version 8.10.2` in android-app/, or open android-app/ in Android Studio once")]
    NoWrapper(String),
    #[error("no keytool to create the debug keystore {0}\n  hint: install a JDK 17+ (keytool ships with it) or set JAVA_HOME")]
    NoKeytool(String),
}

impl AndroidSdk {
    /// ANDROID_HOME › ANDROID_SDK_ROOT (deprecated, still honoured) › ~/Android/Sdk (Android
    /// Studio's default). A disagreement between the two variables is warned about.
    pub fn discover(host: &Host) -> Result<AndroidSdk> {
        let home = host.var("ANDROID_HOME");
        let root = host.var("ANDROID_SDK_ROOT");
        if let (Some(h), Some(r)) = (home, root) {
            if h != r {
                eprintln!(
                    "warning: ANDROID_HOME={h} and ANDROID_SDK_ROOT={r} disagree; using ANDROID_HOME"
                );
            }
        }
        let (dir, from) = if let Some(h) = home {
            (PathBuf::from(h), "ANDROID_HOME")
        } else if let Some(r) = root {
            (PathBuf::from(r), "ANDROID_SDK_ROOT")
        } else {
            let default = host
                .var("HOME")
                .map(|h| Path::new(h).join("Android/Sdk"))
                .unwrap_or_else(|| PathBuf::from("~/Android/Sdk"));
            if !default.is_dir() {
                return Err(ApkError::NoSdk {
                    default: default.display().to_string(),
                }
                .into());
            }
            (default, "~/Android/Sdk")
        };
        if !dir.is_dir() {
            return Err(ApkError::SdkNotDir(dir.display().to_string()).into());
        }
        Ok(AndroidSdk {
            root: dir,
            from: from.to_owned(),
        })
    }

    /// `platform-tools/adb` when the SDK has it.
    pub fn adb(&self) -> Option<PathBuf> {
        Some(self.root.join("platform-tools/adb")).filter(|p| p.is_file())
    }
}

/// `~/.android/debug.keystore` (or under ANDROID_USER_HOME, as AGP reads it).
pub fn debug_keystore_path(host: &Host) -> PathBuf {
    match (host.var("ANDROID_USER_HOME"), host.var("HOME")) {
        (Some(d), _) => Path::new(d).join("debug.keystore"),
        (None, Some(h)) => Path::new(h).join(".android/debug.keystore"),
        (None, None) => PathBuf::from(".android/debug.keystore"),
    }
}

/// The keytool line Android Studio/AGP use for the debug key.
pub fn keytool_cmd(keytool: &str, keystore: &Path, cwd: &Path) -> Cmd {
    Cmd::new(
        keytool,
        &[
            "-genkeypair",
            "-keystore",
            &keystore.display().to_string(),
            "-storepass",
            "android",
            "-alias",
            "androiddebugkey",
            "-keypass",
            "android",
            "-keyalg",
            "RSA",
            "-keysize",
            "2048",
            "-validity",
            "10000",
            "-dname",
            "CN=Android Debug,O=Android,C=US",
        ],
        cwd,
        &BTreeMap::new(),
    )
}
