//! The APK step of `cargo xtask build --target android`: stage the Rust cdylib per ABI under
//! `android-app/app/src/main/jniLibs/<abi>/` and libwebrtc's Java classes under
//! `android-app/app/libs/`, make sure the standard debug keystore exists (as Android Studio
//! does), run the Gradle wrapper (`assembleDebug`/`assembleRelease`), then check the APK's
//! 16 KB alignment ([`align`]) and print its path and size. See docs/android.md.
//!
//! Typed plan then execution, like `fetch-webrtc`: [`plan`] is pure (tests assert on it,
//! `--dry-run` prints it), [`execute`] runs it.

pub mod align;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::AndroidAbi;
use crate::host::Host;
use crate::run::{Cmd, Runner, StepLine};

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

/// The result: the checked APK.
#[derive(Debug, Clone)]
pub struct Built {
    pub apk: PathBuf,
    /// What the check found (size, ABIs, each library's alignment), for callers that report it.
    #[allow(dead_code)]
    pub report: align::Report,
}

/// Run the plan; logs go to `logs/apk-<n>-<step>.log`.
pub fn execute(plan: &Plan, runner: &Runner<'_>, logs: &Path) -> Result<Built> {
    let n = plan.steps.len();
    let mut report = None;
    for (i, step) in plan.steps.iter().enumerate() {
        let line = StepLine::start(i + 1, n, step.title(), runner.progress);
        let log = logs.join(format!(
            "apk-{}-{}.log",
            i + 1,
            step.title().replace(' ', "-")
        ));
        let _ = std::fs::remove_file(&log);
        let outcome = run_step(step, runner, &log, &mut report);
        match outcome {
            Ok(Some(text)) => line.finish(&text),
            Ok(None) => line.finish_timed(),
            Err(e) => {
                line.finish("FAILED");
                return Err(e.context(format!("[{}/{n}] {} failed", i + 1, step.title())));
            }
        }
    }
    let report = report.context("the plan has no check step")?;
    let signed = match plan.profile {
        Profile::Debug => "signed with the debug key",
        Profile::Release => "signed with the debug key; for Play, sign with your own key",
    };
    eprintln!(
        "APK: {} ({}, {}, {})",
        plan.apk.display(),
        human_size(report.size),
        plan.profile.name(),
        signed
    );
    Ok(Built {
        apk: plan.apk.clone(),
        report,
    })
}

fn run_step(
    step: &Step,
    runner: &Runner<'_>,
    log: &Path,
    report: &mut Option<align::Report>,
) -> Result<Option<String>> {
    match step {
        Step::StageLibs { jni_libs, copies } => {
            if jni_libs.exists() {
                std::fs::remove_dir_all(jni_libs)
                    .with_context(|| format!("removing the old {}", jni_libs.display()))?;
            }
            for (from, to) in copies {
                copy(from, to)?;
            }
            Ok(Some(format!("{} file(s)", copies.len())))
        }
        Step::StageJava { from: Some(f), to } => {
            copy(f, to)?;
            Ok(None)
        }
        Step::StageJava { from: None, .. } => Ok(Some("kept the jar in app/libs".into())),
        Step::DebugKeystore { create: None, .. } => Ok(Some("exists".into())),
        Step::DebugKeystore {
            path,
            create: Some(c),
        } => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            runner.run(c, log)?;
            Ok(Some(format!("created {}", path.display())))
        }
        Step::Gradle(c) => {
            runner.run(c, log)?;
            Ok(None)
        }
        Step::Check { apk, expect } => {
            if !apk.is_file() {
                anyhow::bail!(
                    "Gradle succeeded but wrote no {}\n  hint: check the Gradle log; is the Android Gradle Plugin's output layout different?",
                    apk.display()
                );
            }
            let r = align::check_apk(apk, expect)?;
            let text = format!(
                "{} .so checked ({})",
                r.libs.len(),
                r.abis
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            *report = Some(r);
            Ok(Some(text))
        }
    }
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

pub fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn fixture_gradlew() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gradle/gradlew")
    }

    /// A real shared object from the distro toolchain, linked for `max_page` pages.
    pub fn shared_object(dir: &Path, name: &str, max_page: u32) -> PathBuf {
        let src = dir.join(format!("{name}.c"));
        std::fs::write(&src, "int mobilertc_answer(void) { return 42; }\n").unwrap();
        let out = dir.join(format!("{name}.so"));
        let st = Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&out)
            .arg(&src)
            .arg(format!("-Wl,-z,max-page-size={max_page}"))
            .status()
            .expect("cc (the distro C compiler) runs");
        assert!(st.success(), "cc failed");
        out
    }

    struct Fixture {
        dir: tempfile::TempDir,
        project: PathBuf,
        host: Host,
        sdk: AndroidSdk,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let project = dir.path().join("android-app");
            std::fs::create_dir_all(&project).unwrap();
            std::fs::copy(fixture_gradlew(), project.join("gradlew")).unwrap();
            let sdk_root = dir.path().join("sdk");
            std::fs::create_dir_all(&sdk_root).unwrap();
            let home = dir.path().join("home");
            let path = std::env::var("PATH").unwrap_or_default();
            let host = crate::host::test_host(&[
                ("HOME", home.to_str().unwrap()),
                ("PATH", &path),
                ("MOBILERTC_PROGRESS", "0"),
            ]);
            Fixture {
                sdk: AndroidSdk {
                    root: sdk_root,
                    from: "test".into(),
                },
                dir,
                project,
                host,
            }
        }
        fn jar(&self) -> PathBuf {
            let j = self.dir.path().join("libwebrtc.jar");
            std::fs::write(&j, b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0").unwrap();
            j
        }
        fn inputs(&self, libs: Vec<(AndroidAbi, PathBuf)>, profile: Profile) -> ApkInputs {
            ApkInputs {
                project: self.project.clone(),
                abi_libs: libs,
                libcxx_shared: vec![],
                webrtc_java: Some(self.jar()),
                profile,
            }
        }
        /// Skip keytool where the test is not about it (the stand-in only checks the file).
        fn fake_keystore(&self) {
            let ks = debug_keystore_path(&self.host);
            std::fs::create_dir_all(ks.parent().unwrap()).unwrap();
            std::fs::write(ks, b"not a keystore").unwrap();
        }
        fn execute(&self, plan: &Plan) -> Result<Built> {
            let sh = xshell::Shell::new().unwrap();
            let runner = Runner::new(&sh, false, &self.host);
            execute(plan, &runner, &self.dir.path().join("logs"))
        }
    }

    fn gradle_env(plan: &mut Plan, k: &str, v: &str) {
        for s in &mut plan.steps {
            if let Step::Gradle(c) = s {
                c.env.insert(k.into(), v.into());
            }
        }
    }

    #[test]
    fn plan_stages_signs_builds_and_checks() {
        let f = Fixture::new();
        let a = f.dir.path().join("a.so");
        let b = f.dir.path().join("b.so");
        std::fs::write(&a, b"").unwrap();
        std::fs::write(&b, b"").unwrap();
        let mut inputs = f.inputs(
            vec![(AndroidAbi::Arm64V8a, a.clone()), (AndroidAbi::X86_64, b)],
            Profile::Debug,
        );
        inputs.libcxx_shared = vec![(AndroidAbi::Arm64V8a, a)];
        let p = plan(&inputs, &f.sdk, &f.host).unwrap();
        let titles: Vec<_> = p.steps.iter().map(Step::title).collect();
        assert_eq!(
            titles,
            [
                "stage jniLibs",
                "stage libwebrtc.jar",
                "debug keystore",
                "gradle assemble",
                "16 KB alignment"
            ]
        );
        let Step::StageLibs { copies, .. } = &p.steps[0] else {
            panic!()
        };
        let dsts: Vec<_> = copies
            .iter()
            .map(|(_, d)| d.strip_prefix(&f.project).unwrap().display().to_string())
            .collect();
        assert_eq!(
            dsts,
            [
                "app/src/main/jniLibs/arm64-v8a/libmobilertc_app.so",
                "app/src/main/jniLibs/x86_64/libmobilertc_app.so",
                "app/src/main/jniLibs/arm64-v8a/libc++_shared.so"
            ]
        );
        let Step::DebugKeystore { path, create } = &p.steps[2] else {
            panic!()
        };
        assert!(path.ends_with("home/.android/debug.keystore"));
        let create = create.as_ref().expect("no keystore yet: keytool runs");
        assert!(
            create.line().contains("-alias androiddebugkey"),
            "{}",
            create.line()
        );
        let Step::Gradle(g) = &p.steps[3] else {
            panic!()
        };
        assert_eq!(
            g.args[..3],
            [
                "--console=plain",
                ":app:assembleDebug",
                "-Pmobilertc.abis=arm64-v8a,x86_64"
            ]
        );
        assert_eq!(g.env["ANDROID_HOME"], f.sdk.root.display().to_string());
        assert!(p.apk.ends_with("app/build/outputs/apk/debug/app-debug.apk"));
        assert!(p.render().contains("lib/x86_64/libmobilertc_app.so"));

        let release = plan(
            &ApkInputs {
                profile: Profile::Release,
                ..inputs.clone()
            },
            &f.sdk,
            &f.host,
        )
        .unwrap();
        assert!(release
            .steps
            .iter()
            .any(|s| matches!(s, Step::DebugKeystore { .. })));
        let Some(Step::Gradle(g)) = release.steps.iter().find(|s| matches!(s, Step::Gradle(_)))
        else {
            panic!()
        };
        assert_eq!(g.args[1], ":app:assembleRelease");
        assert!(release.apk.ends_with("release/app-release.apk"));
    }

    #[test]
    fn plan_rejects_bad_inputs() {
        let f = Fixture::new();
        let lib = f.dir.path().join("x.so");
        std::fs::write(&lib, b"").unwrap();
        let err = |i: &ApkInputs| format!("{:#}", plan(i, &f.sdk, &f.host).unwrap_err());
        let ok = f.inputs(vec![(AndroidAbi::X86_64, lib.clone())], Profile::Debug);
        assert!(err(&ApkInputs {
            abi_libs: vec![],
            ..ok.clone()
        })
        .contains("no ABI"));
        assert!(err(&ApkInputs {
            abi_libs: vec![
                (AndroidAbi::X86_64, lib.clone()),
                (AndroidAbi::X86_64, lib.clone())
            ],
            ..ok.clone()
        })
        .contains("listed twice"));
        assert!(err(&ApkInputs {
            abi_libs: vec![(AndroidAbi::X86_64, f.dir.path().join("none.so"))],
            ..ok.clone()
        })
        .contains("cargo xtask build --target android"));
        assert!(err(&ApkInputs {
            webrtc_java: None,
            ..ok.clone()
        })
        .contains("org.webrtc"));
        std::fs::remove_file(f.project.join("gradlew")).unwrap();
        assert!(err(&ok).contains("gradle wrapper --gradle-version"));
    }

    #[test]
    fn sdk_discovery_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let h = crate::host::test_host(&[
            ("ANDROID_HOME", a.to_str().unwrap()),
            ("ANDROID_SDK_ROOT", b.to_str().unwrap()),
        ]);
        assert_eq!(AndroidSdk::discover(&h).unwrap().root, a);
        let h = crate::host::test_host(&[("ANDROID_SDK_ROOT", b.to_str().unwrap())]);
        assert_eq!(AndroidSdk::discover(&h).unwrap().from, "ANDROID_SDK_ROOT");
        let h = crate::host::test_host(&[("HOME", dir.path().to_str().unwrap())]);
        let e = format!("{:#}", AndroidSdk::discover(&h).unwrap_err());
        assert!(
            e.contains("no Android SDK") && e.contains("ANDROID_HOME"),
            "{e}"
        );
        std::fs::create_dir_all(dir.path().join("Android/Sdk")).unwrap();
        assert_eq!(AndroidSdk::discover(&h).unwrap().from, "~/Android/Sdk");
    }

    /// The whole step against the Gradle stand-in, with the real keytool: a 16 KB library
    /// passes, the stale ABI is gone, the debug keystore is a real one.
    #[test]
    fn builds_a_16k_apk_with_a_real_debug_keystore() {
        let f = Fixture::new();
        if f.host.which("keytool").is_none() {
            eprintln!("SKIPPED: no keytool on PATH (a JDK, e.g. Debian's default-jdk-headless)");
            return;
        }
        let lib = shared_object(f.dir.path(), "good", 16384);
        let stale = f.project.join("app/src/main/jniLibs/armeabi-v7a/libold.so");
        std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
        std::fs::write(&stale, b"old").unwrap();
        let p = plan(
            &f.inputs(vec![(AndroidAbi::X86_64, lib)], Profile::Debug),
            &f.sdk,
            &f.host,
        )
        .unwrap();
        let built = f.execute(&p).unwrap();
        assert!(!stale.exists(), "a stale ABI's library stays staged");
        assert_eq!(built.report.abis, [AndroidAbi::X86_64]);
        let lib = &built.report.libs[0];
        assert_eq!(lib.entry, "lib/x86_64/libmobilertc_app.so");
        assert!(
            lib.load_align >= 16384 && lib.offset.trailing_zeros() >= 14,
            "{lib:?}"
        );
        assert!(f.project.join("app/libs/libwebrtc.jar").is_file());
        let ks = debug_keystore_path(&f.host);
        let out = Command::new("keytool")
            .args([
                "-list",
                "-storepass",
                "android",
                "-alias",
                "androiddebugkey",
                "-keystore",
            ])
            .arg(&ks)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    #[test]
    fn a_4k_library_fails_the_check() {
        let f = Fixture::new();
        f.fake_keystore();
        let lib = shared_object(f.dir.path(), "four", 4096);
        let p = plan(
            &f.inputs(vec![(AndroidAbi::X86_64, lib)], Profile::Debug),
            &f.sdk,
            &f.host,
        )
        .unwrap();
        let e = format!("{:#}", f.execute(&p).unwrap_err());
        assert!(
            e.contains(
                "lib/x86_64/libmobilertc_app.so: LOAD segments aligned to 4096 bytes, needs 16384"
            ),
            "{e}"
        );
        assert!(e.contains("max-page-size=16384"), "{e}");
    }

    #[test]
    fn a_4k_zip_layout_and_compressed_libraries_fail_the_check() {
        let f = Fixture::new();
        f.fake_keystore();
        let lib = shared_object(f.dir.path(), "good", 16384);
        let inputs = f.inputs(vec![(AndroidAbi::X86_64, lib)], Profile::Debug);
        let mut p = plan(&inputs, &f.sdk, &f.host).unwrap();
        gradle_env(&mut p, "FAKE_GRADLE_SO_ALIGN", "4096");
        let e = format!("{:#}", f.execute(&p).unwrap_err());
        assert!(
            e.contains("not a multiple of 16384") && e.contains("zipalign -P 16"),
            "{e}"
        );

        let mut p = plan(&inputs, &f.sdk, &f.host).unwrap();
        gradle_env(&mut p, "FAKE_GRADLE_COMPRESS_SO", "1");
        let e = format!("{:#}", f.execute(&p).unwrap_err());
        assert!(
            e.contains("compressed") && e.contains("useLegacyPackaging"),
            "{e}"
        );
    }

    #[test]
    fn a_gradle_failure_shows_its_tail_and_log() {
        let f = Fixture::new();
        f.fake_keystore();
        let lib = shared_object(f.dir.path(), "good", 16384);
        let mut p = plan(
            &f.inputs(vec![(AndroidAbi::X86_64, lib)], Profile::Release),
            &f.sdk,
            &f.host,
        )
        .unwrap();
        gradle_env(&mut p, "FAKE_GRADLE_FAIL", "1");
        let e = format!("{:#}", f.execute(&p).unwrap_err());
        assert!(e.contains("gradle assemble failed"), "{e}");
        assert!(
            e.contains(":app:mergeReleaseNativeLibs") && e.contains("BUILD FAILED"),
            "{e}"
        );
        assert!(e.contains("apk-4-gradle-assemble.log"), "{e}");
    }
}
