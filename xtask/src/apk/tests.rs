//! The APK step's plan and execution against the Gradle stand-in (moved out of mod.rs).

use super::execute::Built;
use super::*;
use crate::run::Runner;
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
    let Some(Step::Gradle(g)) = release.steps.iter().find(|s| matches!(s, Step::Gradle(_))) else {
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
