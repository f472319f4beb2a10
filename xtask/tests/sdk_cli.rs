//! `cargo xtask sdk` as a user runs it from somewhere inside (or outside) the workspace.

use std::fs;
use std::process::Command;

const MANIFEST: &str = r#"schema = 1
provider = "prebuilt"

[webrtc]
revision = "branch-heads/6099"
milestone = 120

[target]
triple = "aarch64-linux-android"
android_abi = "arm64-v8a"
android_api = 24

[compile]
include_dirs = ["include"]
defines = ["WEBRTC_POSIX", "WEBRTC_LINUX", "WEBRTC_ANDROID", "NDEBUG"]
cxx_std = "c++20"

[cxx_stdlib]
kind = "ndk-libcxx"
namespace = "std::__ndk1"
link = ["static=c++_static", "dylib=c++abi"]

[link]
search_paths = ["lib"]
static_libs = ["webrtc"]
system_libs = ["log"]
"#;

/// Relative `--path` and `--out` are relative to the current directory, not the workspace.
#[test]
fn relative_paths_are_relative_to_the_current_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let here = tmp.path().canonicalize().unwrap().join("here");
    let sdk = here.join("my-sdk");
    fs::create_dir_all(sdk.join("include")).unwrap();
    fs::create_dir_all(sdk.join("lib")).unwrap();
    fs::write(sdk.join("webrtc-sdk.toml"), MANIFEST).unwrap();
    fs::write(sdk.join("lib/libwebrtc.a"), b"!<arch>\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "sdk",
            "--provider",
            "prebuilt",
            "--path",
            "my-sdk",
            "--out",
            "out/sdk",
        ])
        .current_dir(&here)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(here.join("out/sdk/webrtc-sdk.toml").is_file(), "{text}");
}
