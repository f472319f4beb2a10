//! `cargo xtask build` through the real gn and ninja (Debian's generate-ninja and
//! ninja-build) on a small gn project laid out like WebRTC's (tests/fixtures/gn_project):
//! gn gen → ninja → the `source` SDK dir → a C++ consumer compiled and linked against it
//! with nothing but the manifest. It exercises the plumbing, not WebRTC.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gn_project")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// gn and ninja are there, or the test is skipped — unless CI asked for every tool.
fn tools_present() -> bool {
    let have = |t: &str| {
        Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    // webrtc.toml's Linux toolchain: the system clang 22 and its libc++.
    let llvm = Path::new("/usr/lib/llvm-22/bin/clang++").is_file()
        && Path::new("/usr/lib/llvm-22/lib/libc++.a").is_file();
    if have("gn") && have("ninja") && llvm {
        return true;
    }
    let required = ["MOBILERTC_REQUIRE_NETNS", "MOBILERTC_REQUIRE_BROWSER"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    assert!(
        !required,
        "gn, ninja or clang 22 is missing: apt-get install generate-ninja ninja-build clang-22 lld-22 llvm-22 libc++-22-dev libc++abi-22-dev"
    );
    eprintln!("SKIPPED: gn, ninja or clang 22 is missing (apt-get install generate-ninja ninja-build clang-22 lld-22 llvm-22 libc++-22-dev libc++abi-22-dev)");
    false
}

struct Work {
    _dir: tempfile::TempDir,
    work: PathBuf,
    sdk_root: PathBuf,
    trace: PathBuf,
}

fn work() -> Work {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("webrtc");
    copy_dir(&fixture(), &work.join("src"));
    Work {
        work,
        sdk_root: dir.path().join("sdk"),
        trace: dir.path().join("trace"),
        _dir: dir,
    }
}

fn build(w: &Work, extra: &[&str]) -> Output {
    let _ = std::fs::remove_file(&w.trace);
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["build", "--target", "linux", "--sdk-only", "--work-dir"])
        .arg(&w.work)
        .arg("--sdk-root")
        .arg(&w.sdk_root)
        .args(extra)
        .env("MOBILERTC_TRACE", &w.trace)
        .env("MOBILERTC_PROGRESS", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn spawned(w: &Work) -> Vec<String> {
    std::fs::read_to_string(&w.trace)
        .unwrap_or_default()
        .lines()
        .map(|l| l.rsplit('\t').next().unwrap().to_owned())
        .collect()
}

/// Compiles and links a C++ program against the SDK using only what its manifest says, as
/// webrtc-sys's build script does; returns what the program prints.
fn consume(sdk: &Path) -> String {
    let m = webrtc_sdk::Manifest::load(sdk).expect("manifest loads and validates");
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.cc");
    std::fs::write(
        &main,
        "#include \"api/version.h\"\n#include <cstdio>\n\
         int main() { std::printf(\"M%d dcheck=%d\\n\", webrtc::FixtureMilestone(), (int)webrtc::FixtureDcheckIsOn()); }\n",
    )
    .unwrap();
    let exe = dir.path().join("consumer");
    let mut cc = Command::new(m.compile.cxx.as_deref().unwrap_or("c++"));
    cc.arg("-std=c++17")
        .args(&m.compile.flags)
        .arg(&main)
        .arg("-o")
        .arg(&exe);
    for inc in m.include_dirs(sdk) {
        cc.arg(format!("-I{}", inc.display()));
    }
    for (k, v) in m.define_pairs() {
        cc.arg(match v {
            Some(v) => format!("-D{k}={v}"),
            None => format!("-D{k}"),
        });
    }
    for p in m.search_paths(sdk) {
        cc.arg(format!("-L{}", p.display()));
    }
    for l in m.link.static_libs.iter().chain(&m.link.system_libs) {
        cc.arg(format!("-l{l}"));
    }
    for spec in &m.cxx_stdlib.link {
        match spec.strip_prefix("static=") {
            Some(lib) => cc.arg(format!("-Wl,-Bstatic,-l{lib},-Bdynamic")),
            None => cc.arg(format!("-l{}", spec.trim_start_matches("dylib="))),
        };
    }
    cc.args(&m.link.args);
    let out = cc.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    String::from_utf8(run.stdout).unwrap()
}

#[test]
fn real_gn_and_ninja_make_a_source_sdk_the_manifest_alone_can_use() {
    if !tools_present() {
        return;
    }
    let w = work();
    build(&w, &[]);
    let sdk = w.sdk_root.join("x86_64-unknown-linux-gnu");
    for f in [
        "lib/libwebrtc.a",
        "include/api/version.h",
        "include/rtc_base/checks.h",
        "include/third_party/abseil-cpp/absl/base/config.h",
        "args.gn",
        "VERSIONS",
        "webrtc-sdk.toml",
    ] {
        assert!(sdk.join(f).is_file(), "{f} missing from the SDK");
    }
    // Only headers travel: sources stay in the checkout.
    assert!(!sdk.join("include/api/version.cc").exists());
    let m = webrtc_sdk::Manifest::load(&sdk).unwrap();
    assert_eq!(m.provider, webrtc_sdk::Provider::Source);
    assert_eq!(m.webrtc.milestone, 150);
    assert_eq!(
        m.compile.defines,
        ["WEBRTC_POSIX", "WEBRTC_LINUX", "NDEBUG"]
    );
    // webrtc.toml's Linux toolchain (clang 22 + LLVM libc++, through the unbundle
    // toolchain) reaches the manifest: the compiler, the flag, the static runtime, lld.
    assert_eq!(m.cxx_stdlib.kind, webrtc_sdk::CxxStdlibKind::LlvmLibcxx);
    assert_eq!(
        m.compile.cxx.as_deref(),
        Some("/usr/lib/llvm-22/bin/clang++")
    );
    assert_eq!(m.compile.flags, ["-stdlib=libc++"]);
    assert_eq!(m.cxx_stdlib.link, ["static=c++", "static=c++abi"]);
    assert!(
        m.link.args.iter().any(|a| a == "-fuse-ld=lld"),
        "{:?}",
        m.link.args
    );
    // gn desc's libs of //:webrtc.
    assert!(
        m.link.system_libs.iter().any(|l| l == "atomic"),
        "{:?}",
        m.link.system_libs
    );
    let lib = std::fs::read(sdk.join("lib/libwebrtc.a")).unwrap();
    let found = webrtc_sdk::StdNamespace::detect(&lib);
    assert_eq!(
        found.first().map(|f| f.0),
        Some(webrtc_sdk::StdNamespace::Libcxx),
        "{found:?}"
    );
    let args = std::fs::read_to_string(sdk.join("args.gn")).unwrap();
    assert!(args.contains("use_custom_libcxx = false") && args.contains("target_os = \"linux\""));
    assert_eq!(consume(&sdk), "M148 dcheck=0\n");

    // A rerun with the same args does not regenerate; ninja has nothing to do, and the SDK
    // dir already holds this build (no gn desc, no copy).
    let lib_mtime = std::fs::metadata(sdk.join("lib/libwebrtc.a"))
        .unwrap()
        .modified()
        .unwrap();
    let out = build(&w, &[]);
    let again = spawned(&w);
    assert!(!again.iter().any(|c| c.starts_with("gn gen")), "{again:?}");
    assert!(again.iter().any(|c| c.starts_with("ninja")), "{again:?}");
    assert!(!again.iter().any(|c| c.starts_with("gn desc")), "{again:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("up to date"));
    let lib_again = std::fs::metadata(sdk.join("lib/libwebrtc.a"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        lib_mtime, lib_again,
        "the SDK was rewritten on a no-op rerun"
    );

    // Changed args regenerate, and the defines follow the build: a debug build's
    // RTC_DCHECK_IS_ON reaches the consumer through the manifest.
    build(&w, &["--debug"]);
    assert!(spawned(&w).iter().any(|c| c.starts_with("gn gen")));
    let m = webrtc_sdk::Manifest::load(&sdk).unwrap();
    assert!(
        m.compile.defines.iter().any(|d| d == "RTC_DCHECK_IS_ON=1"),
        "{:?}",
        m.compile.defines
    );
    assert_eq!(consume(&sdk), "M148 dcheck=1\n");
}

#[test]
fn dry_run_prints_the_whole_android_plan_from_gn_to_the_apk() {
    let w = work();
    let t = tempfile::tempdir().unwrap();
    let ndk = t.path().join("ndk");
    let bin = ndk.join("toolchains/llvm/prebuilt/linux-x86_64/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("clang"), "").unwrap();
    std::fs::write(
        ndk.join("source.properties"),
        "Pkg.Revision = 27.1.12297006\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["build", "--target", "android", "--dry-run", "--work-dir"])
        .arg(&w.work)
        .arg("--ndk")
        .arg(&ndk)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = String::from_utf8(out.stdout).unwrap();
    for abi in ["arm64", "arm", "x64", "x86"] {
        assert!(
            plan.contains(&format!("gn gen out/android-{abi}\n")),
            "{abi}: {plan}"
        );
        assert!(
            plan.contains(&format!("ninja out/android-{abi}\n")),
            "{abi}"
        );
    }
    for triple in [
        "aarch64-linux-android",
        "armv7-linux-androideabi",
        "x86_64-linux-android",
        "i686-linux-android",
    ] {
        assert!(
            plan.contains(&format!("--target {triple} --crate-type cdylib")),
            "{triple}"
        );
        assert!(plan.contains(&format!(
            "jniLibs/{}",
            match triple {
                "aarch64-linux-android" => "arm64-v8a",
                "armv7-linux-androideabi" => "armeabi-v7a",
                "x86_64-linux-android" => "x86_64",
                _ => "x86",
            }
        )));
    }
    assert!(plan.contains("arm_version = 7"));
    // Pinned to the app's minSdk (the --api default), whatever Chromium's default is.
    assert_eq!(plan.matches("android_ndk_api_level = 24\n").count(), 4);
    assert_eq!(plan.matches("default_min_sdk_version = 24\n").count(), 4);
    // No custom libc++, so no custom libunwind (--unwindlib=none would leave none).
    assert_eq!(plan.matches("use_custom_libunwind = false\n").count(), 4);
    // `webrtc` already builds sdk/android (native API, JNI, libwebrtc.jar).
    assert!(!plan.contains("sdk/android:libwebrtc"), "{plan}");
    assert!(plan.contains("max-page-size=16384"));
    // The Android media pieces (docs/android.md) are named in the plan.
    assert_eq!(
        plan.matches("native: the shim's Android entry points")
            .count(),
        4
    );
    assert!(plan.contains("app: CallActivity") && plan.contains("CreateJavaVideoSource"));
    assert_eq!(
        plan.matches("wiring: nativeCall -> Factory::new_android")
            .count(),
        4
    );
    assert!(plan.contains("nativeNetworkChanged -> restart_ice + a new offer through signaling"));
    assert!(plan.contains("./gradlew assembleRelease"));
    assert!(plan.contains("16 KB on 64-bit ABIs"));
    assert!(plan.lines().last().unwrap().contains("APK path and size"));
    // Nothing ran: no out dir was made.
    assert!(!w.work.join("src/out").exists());
}

#[test]
fn bad_input_is_refused_with_what_to_do() {
    let w = work();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["build", "--work-dir"])
            .arg(&w.work)
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run(&["--target", "linux", "--gn-arg", "nokey"]).contains("KEY=VALUE"));
    assert!(run(&["--target", "android", "--abi", "mips", "--dry-run"]).contains("--abi mips"));
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["build", "--target", "linux", "--work-dir"])
        .arg(empty.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cargo xtask fetch-webrtc"), "{err}");
}

/// Without a milestone (none in webrtc.toml, or --revision names another commit) it is read
/// off the checkout before gn runs, not found missing after ninja.
#[test]
fn without_a_milestone_it_comes_from_the_checkout_before_gn() {
    if !tools_present() {
        return;
    }
    let w = work();
    let rev = ["--revision", "0123456789abcdef0123456789abcdef01234567"];
    // The fixture's headers carry no API the milestone could be read from: stop before gn.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["build", "--target", "linux", "--sdk-only", "--work-dir"])
        .arg(&w.work)
        .arg("--sdk-root")
        .arg(&w.sdk_root)
        .args(rev)
        .env("MOBILERTC_TRACE", &w.trace)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("webrtc.milestone is not set"), "{err}");
    assert!(spawned(&w).is_empty(), "ran {:?}", spawned(&w));
    // With webrtc::Environment in the tree (M122+), that is the milestone.
    let env_h = w.work.join("src/api/environment/environment.h");
    std::fs::create_dir_all(env_h.parent().unwrap()).unwrap();
    std::fs::write(&env_h, "// webrtc::Environment\n").unwrap();
    let out = build(&w, &rev);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("milestone M122"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = webrtc_sdk::Manifest::load(&w.sdk_root.join("x86_64-unknown-linux-gnu")).unwrap();
    assert_eq!(m.webrtc.milestone, 122);
}
