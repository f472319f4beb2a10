//! The APK step of `cargo xtask build --target android`: stage the Rust cdylib per ABI under
//! `android-app/app/src/main/jniLibs/<abi>/` and libwebrtc's Java classes under
//! `android-app/app/libs/`, make sure the standard debug keystore exists (as Android Studio
//! does), run the Gradle wrapper (`assembleDebug`/`assembleRelease`), then check the APK's
//! 16 KB alignment ([`align`]) and print its path and size. See docs/android.md.
//!
//! Typed plan then execution, like `fetch-webrtc`: [`plan`] is pure (tests assert on it,
//! `--dry-run` prints it), [`execute`] runs it.

pub mod align;
mod execute;
mod sdk;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config::AndroidAbi;
use crate::host::Host;
use crate::run::Cmd;

pub use execute::{execute, human_size};
pub use sdk::{debug_keystore_path, keytool_cmd, AndroidSdk, ApkError};

/// The app's package and launcher activity (android-app/app/build.gradle.kts, manifest).
pub const PACKAGE: &str = "dev.mobilertc.app";
pub const ACTIVITY: &str = "dev.mobilertc.app/.CallActivity";
/// The library CallActivity loads (`System.loadLibrary("mobilertc_app")`).
pub const APP_LIB: &str = "libmobilertc_app.so";

/// Debug or release (optimised, not debuggable). Both are signed with the debug key so that
/// `build` then `install` works either way; for Play, give the release build your own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Profile {
    #[default]
    Debug,
    Release,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
    fn gradle_task(self) -> &'static str {
        match self {
            Profile::Debug => ":app:assembleDebug",
            Profile::Release => ":app:assembleRelease",
        }
    }
    /// Where AGP writes the APK, relative to the Gradle project.
    pub fn apk_path(self, project: &Path) -> PathBuf {
        let dir = project.join("app/build/outputs/apk").join(self.name());
        // Signed (the release signing config is the debug key when the xtask passes it);
        // AGP would name an unsigned one app-release-unsigned.apk.
        dir.join(format!("app-{}.apk", self.name()))
    }
}

/// What the APK is made of. `build` fills it from its per-ABI cargo builds.
#[derive(Debug, Clone, PartialEq)]
pub struct ApkInputs {
    /// The Gradle project (the workspace's `android-app/`).
    pub project: PathBuf,
    /// `libmobilertc_app.so` per ABI.
    pub abi_libs: Vec<(AndroidAbi, PathBuf)>,
    /// The NDK's `libc++_shared.so` per ABI, when the cdylib links the shared C++ runtime.
    pub libcxx_shared: Vec<(AndroidAbi, PathBuf)>,
    /// libwebrtc's Java classes (`sdk/android:libwebrtc`, `lib.java/sdk/android/libwebrtc.jar`
    /// under the gn out dir). `None` keeps the jar already in `app/libs/` (an error if none).
    pub webrtc_java: Option<PathBuf>,
    pub profile: Profile,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Replace `jniLibs/` with exactly these files (a stale ABI must not be packaged).
    StageLibs {
        jni_libs: PathBuf,
        copies: Vec<(PathBuf, PathBuf)>,
    },
    /// Put libwebrtc's Java classes where app/build.gradle.kts picks them up.
    StageJava {
        from: Option<PathBuf>,
        to: PathBuf,
    },
    /// Create the debug keystore if absent (`None`: it exists).
    DebugKeystore {
        path: PathBuf,
        create: Option<Cmd>,
    },
    Gradle(Cmd),
    /// ELF LOAD + zip alignment of the result, and the libraries it must contain.
    Check {
        apk: PathBuf,
        expect: Vec<String>,
    },
}

impl Step {
    pub fn title(&self) -> &'static str {
        match self {
            Step::StageLibs { .. } => "stage jniLibs",
            Step::StageJava { .. } => "stage libwebrtc.jar",
            Step::DebugKeystore { .. } => "debug keystore",
            Step::Gradle(_) => "gradle assemble",
            Step::Check { .. } => "16 KB alignment",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub apk: PathBuf,
    pub profile: Profile,
}

/// The APK step's plan. Pure apart from checking that its inputs exist.
pub fn plan(inputs: &ApkInputs, sdk: &AndroidSdk, host: &Host) -> Result<Plan> {
    let project = &inputs.project;
    if inputs.abi_libs.is_empty() {
        return Err(ApkError::NoAbi.into());
    }
    let mut abis: Vec<AndroidAbi> = Vec::new();
    for (abi, lib) in &inputs.abi_libs {
        if abis.contains(abi) {
            return Err(ApkError::DuplicateAbi { abi: abi.name() }.into());
        }
        abis.push(*abi);
        if !lib.is_file() {
            return Err(ApkError::MissingLib(lib.display().to_string()).into());
        }
    }
    let jni_libs = project.join("app/src/main/jniLibs");
    let mut copies = Vec::new();
    for (abi, lib) in &inputs.abi_libs {
        copies.push((lib.clone(), jni_libs.join(abi.name()).join(APP_LIB)));
    }
    for (abi, lib) in &inputs.libcxx_shared {
        if !lib.is_file() {
            return Err(ApkError::MissingLib(lib.display().to_string()).into());
        }
        copies.push((
            lib.clone(),
            jni_libs.join(abi.name()).join("libc++_shared.so"),
        ));
    }

    let jar = project.join("app/libs/libwebrtc.jar");
    match &inputs.webrtc_java {
        Some(j) if !j.is_file() => return Err(ApkError::MissingLib(j.display().to_string()).into()),
        None if !jar.is_file() => {
            return Err(ApkError::NoWebrtcJava(jar.display().to_string()).into())
        }
        _ => {}
    }

    let gradlew = project.join("gradlew");
    if !gradlew.is_file() {
        return Err(ApkError::NoWrapper(gradlew.display().to_string()).into());
    }
    let mut steps = vec![
        Step::StageLibs { jni_libs, copies },
        Step::StageJava {
            from: inputs.webrtc_java.clone(),
            to: jar,
        },
    ];

    let mut env = BTreeMap::new();
    env.insert("ANDROID_HOME".to_owned(), sdk.root.display().to_string());
    let abi_list = abis.iter().map(|a| a.name()).collect::<Vec<_>>().join(",");
    let mut gradle = Cmd::new(
        gradlew.display().to_string(),
        &["--console=plain", inputs.profile.gradle_task()],
        project,
        &env,
    )
    .arg(format!("-Pmobilertc.abis={abi_list}"));
    // Both profiles are signed with the debug key (see Profile).
    let ks = debug_keystore_path(host);
    let create = if ks.is_file() {
        None
    } else {
        let keytool = host
            .var("JAVA_HOME")
            .map(|j| Path::new(j).join("bin/keytool"))
            .filter(|k| k.is_file())
            .or_else(|| host.which("keytool"))
            .ok_or_else(|| ApkError::NoKeytool(ks.display().to_string()))?;
        Some(keytool_cmd(&keytool.display().to_string(), &ks, project))
    };
    gradle = gradle.arg(format!("-Pmobilertc.debugKeystore={}", ks.display()));
    steps.push(Step::DebugKeystore { path: ks, create });
    steps.push(Step::Gradle(gradle));
    let apk = inputs.profile.apk_path(project);
    steps.push(Step::Check {
        apk: apk.clone(),
        expect: abis
            .iter()
            .map(|a| format!("lib/{}/{APP_LIB}", a.name()))
            .collect(),
    });
    Ok(Plan {
        steps,
        apk,
        profile: inputs.profile,
    })
}

impl Plan {
    /// What `--dry-run` prints (the exact commands; `build --dry-run` still describes the
    /// step in its own words, as it may run before an Android SDK is installed).
    #[allow(dead_code)]
    pub fn render(&self) -> String {
        let mut s = String::new();
        let n = self.steps.len();
        for (i, step) in self.steps.iter().enumerate() {
            let _ = writeln!(s, "[{}/{n}] {}", i + 1, step.title());
            match step {
                Step::StageLibs { jni_libs, copies } => {
                    let _ = writeln!(s, "    replace {}", jni_libs.display());
                    for (from, to) in copies {
                        let _ = writeln!(s, "    copy {} -> {}", from.display(), to.display());
                    }
                }
                Step::StageJava { from: Some(f), to } => {
                    let _ = writeln!(s, "    copy {} -> {}", f.display(), to.display());
                }
                Step::StageJava { from: None, to } => {
                    let _ = writeln!(s, "    keep {}", to.display());
                }
                Step::DebugKeystore { path, create: None } => {
                    let _ = writeln!(s, "    exists: {}", path.display());
                }
                Step::DebugKeystore {
                    create: Some(c), ..
                } => s.push_str(&c.to_string()),
                Step::Gradle(c) => s.push_str(&c.to_string()),
                Step::Check { apk, expect } => {
                    let _ = writeln!(
                        s,
                        "    {} must contain {}",
                        apk.display(),
                        expect.join(", ")
                    );
                    let _ = writeln!(
                        s,
                        "    ELF LOAD align >= 16384 (64-bit ABIs) / 4096 (32-bit); stored .so at 16 KiB, other stored entries at 4"
                    );
                }
            }
        }
        s
    }
}
