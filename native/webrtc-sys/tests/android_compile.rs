//! The shim as the Android build compiles it — shim/android.cc (the Java audio device
//! module, Java video source and sinks, Java codec factories, the Android network monitor)
//! and every other shim file — checked with `clang++ -fsyntax-only` against upstream's
//! `sdk/android` headers, which no distro ships and which we don't carry (others' code).
//!
//! Runs when MOBILERTC_WEBRTC_SNAPSHOT points at a WebRTC source tree that has them (with
//! `api/`, `rtc_base/`, …, `third_party/abseil-cpp` and `third_party/jni_zero`) and
//! MOBILERTC_WEBRTC_SNAPSHOT_MILESTONE says which milestone it is; skipped with a notice
//! otherwise. There is no NDK here, so it compiles for the host triple with the Android
//! defines (`__ANDROID__`, `WEBRTC_ANDROID`), LLVM's libc++ and the JDK's jni.h: it proves
//! the code matches upstream's declarations, not that it links or runs (docs/android.md).
//! mrtc.h's Android section is checked as C on every run (bindgen parses it so for
//! Android targets).

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SNAPSHOT_ENV: &str = "MOBILERTC_WEBRTC_SNAPSHOT";
const MILESTONE_ENV: &str = "MOBILERTC_WEBRTC_SNAPSHOT_MILESTONE";

fn shim_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("shim")
}

struct Check {
    snapshot: PathBuf,
    milestone: u32,
    clang: String,
    jdk_include: PathBuf,
}

fn find_on_path(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        Command::new(n)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .filter(|s| s.success())
            .map(|_| (*n).to_owned())
    })
}

/// The JDK's include dir (jni.h): JAVA_HOME, else where `javac` really lives.
fn jdk_include() -> Option<PathBuf> {
    let from_home = env::var_os("JAVA_HOME").map(|h| PathBuf::from(h).join("include"));
    let from_javac = || {
        let out = Command::new("sh")
            .args(["-c", "readlink -f \"$(command -v javac)\""])
            .output()
            .ok()?;
        let javac = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
        Some(javac.parent()?.parent()?.join("include"))
    };
    from_home
        .filter(|p| p.join("jni.h").is_file())
        .or_else(|| from_javac().filter(|p| p.join("jni.h").is_file()))
}

/// None (after saying why) when no snapshot is given; panics when one is given but the
/// check cannot run as asked.
fn setup() -> Option<Check> {
    let Some(snapshot) = env::var_os(SNAPSHOT_ENV).filter(|v| !v.is_empty()) else {
        eprintln!(
            "SKIPPED: the Android compile check needs {SNAPSHOT_ENV}=<a WebRTC tree with \
             sdk/android, api, rtc_base, third_party/abseil-cpp, third_party/jni_zero> and \
             {MILESTONE_ENV}=<its milestone>; see docs/android.md"
        );
        return None;
    };
    let snapshot = PathBuf::from(snapshot);
    for needed in [
        "sdk/android/native_api/audio_device_module/audio_device_android.h",
        "sdk/android/native_api/video/video_source.h",
        "api/peer_connection_interface.h",
        "third_party/abseil-cpp/absl/base/config.h",
        "third_party/jni_zero/jni_zero.h",
    ] {
        assert!(
            snapshot.join(needed).is_file(),
            "{SNAPSHOT_ENV}={}: no {needed} there",
            snapshot.display()
        );
    }
    let milestone = env::var(MILESTONE_ENV)
        .ok()
        .and_then(|m| m.trim().trim_start_matches('M').parse().ok())
        .unwrap_or_else(|| panic!("{SNAPSHOT_ENV} is set: set {MILESTONE_ENV} too (e.g. 139)"));
    let clang = env::var("MOBILERTC_CLANGXX")
        .ok()
        .or_else(|| find_on_path(&["clang++-22", "clang++-21", "clang++-20", "clang++-19", "clang++"]))
        .expect("a clang++ with LLVM's libc++ headers (Debian: clang-19 libc++-19-dev, or set MOBILERTC_CLANGXX)");
    let jdk_include = jdk_include().expect("a JDK's include/jni.h (JAVA_HOME or javac on PATH)");
    Some(Check {
        snapshot,
        milestone,
        clang,
        jdk_include,
    })
}

impl Check {
    fn compile(&self, source: &Path, stdin: Option<&str>) -> Output {
        let s = &self.snapshot;
        let mut cmd = Command::new(&self.clang);
        cmd.args([
            "-fsyntax-only",
            "-std=c++20",
            "-stdlib=libc++",
            "-Wall",
            // Upstream headers trip clang's nullability-completeness warning here; noise.
            "-Wno-nullability-completeness",
            "-D__ANDROID__",
            "-DWEBRTC_ANDROID",
            "-DWEBRTC_LINUX",
            "-DWEBRTC_POSIX",
        ])
        .arg(format!("-DMRTC_WEBRTC_MILESTONE={}", self.milestone))
        .arg(format!("-I{}", self.jdk_include.display()))
        .arg(format!("-I{}", self.jdk_include.join("linux").display()))
        .arg(format!("-I{}", s.display()))
        .arg(format!("-I{}", s.join("third_party/abseil-cpp").display()))
        .arg(format!("-I{}", shim_dir().display()));
        match stdin {
            Some(text) => {
                cmd.args(["-x", "c++", "-"]).stdin(Stdio::piped());
                let mut child = cmd
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
                child.wait_with_output().unwrap()
            }
            None => cmd.arg(source).output().unwrap(),
        }
    }
}

#[test]
fn the_shim_compiles_against_upstream_sdk_android_headers() {
    let Some(check) = setup() else { return };
    let mut sources: Vec<PathBuf> = std::fs::read_dir(shim_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cc"))
        .collect();
    sources.sort();
    assert!(sources.iter().any(|p| p.ends_with("android.cc")));
    let mut failures = Vec::new();
    for src in &sources {
        let out = check.compile(src, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "{} against {} (M{}): {}",
            src.file_name().unwrap().to_string_lossy(),
            check.snapshot.display(),
            check.milestone,
            if out.status.success() { "ok" } else { "FAILED" }
        );
        if !out.status.success() || stderr.contains("warning:") {
            failures.push(format!("{}:\n{stderr}", src.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The check must be able to fail: a call written against the native API as it was before
/// the Environment argument (`CreateJavaAudioDeviceModule(env, context)`) is rejected, and
/// so is a misspelt entry point.
#[test]
fn the_check_rejects_code_that_does_not_match_upstream() {
    let Some(check) = setup() else { return };
    for (code, expect) in [
        (
            "#include \"sdk/android/native_api/audio_device_module/audio_device_android.h\"\n\
             auto f(JNIEnv* e, jobject c) { return webrtc::CreateJavaAudioDeviceModule(e, c); }\n",
            "CreateJavaAudioDeviceModule",
        ),
        (
            "#include \"sdk/android/native_api/video/wrapper.h\"\n\
             auto f(JNIEnv* e, jobject s) { return webrtc::JavaToNativeVideoSinkX(e, s); }\n",
            "JavaToNativeVideoSinkX",
        ),
    ] {
        let out = check.compile(Path::new("-"), Some(code));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "compiled: {code}");
        assert!(stderr.contains(expect), "{stderr}");
    }
}

/// mrtc.h's Android section as C and C++, with and without `__ANDROID__` (it is declared on
/// every platform; off Android the shim defines it as MRTC_ERR_UNSUPPORTED). No snapshot
/// needed: the header only names its own types.
#[test]
fn the_c_header_parses_with_its_android_section() {
    let header = shim_dir().join("mrtc.h");
    for lang in ["c", "c++"] {
        for define in ["-D__ANDROID__", "-DMRTC_HOST"] {
            let out = Command::new("cc")
                .args(["-fsyntax-only", "-Wall", "-Werror", define, "-x", lang])
                .arg(&header)
                .output()
                .expect("cc (the C compiler the shim's build uses)");
            assert!(
                out.status.success(),
                "{lang} {define}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let text = std::fs::read_to_string(&header).unwrap();
    assert!(!text.contains("__ANDROID__"), "no Android-only part left");
    let android = &text[text.find("Android (shim/android.cc)").unwrap()..];
    let android = &android[..android.find("/* ------").unwrap()];
    for entry in [
        "mrtc_android_init",
        "mrtc_factory_create_android",
        "mrtc_android_video_source_create",
        "mrtc_android_video_source_capturer_observer",
        "mrtc_android_video_sink_create",
    ] {
        assert!(android.contains(&format!("{entry}(")), "{entry}");
    }
}
