//! `cargo xtask sdk` as a user runs it from somewhere inside (or outside) the workspace.

use std::fs;
use std::process::Command;

/// A relocatable prebuilt SDK's manifest (relative paths), shared with sdk_crafted.rs.
const MANIFEST: &str = include_str!("fixtures/sdk/prebuilt-android-arm64.toml");

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
