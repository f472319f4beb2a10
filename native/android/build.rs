//! On Android only: keep and export libwebrtc's own JNI functions in the app's cdylib (see
//! build/jni_exports.rs for why). Elsewhere there is nothing to do: the host tests bind
//! the app's JNI exports explicitly and never load libwebrtc's Java classes.

use std::env;
use std::path::{Path, PathBuf};

#[path = "build/jni_exports.rs"]
mod jni_exports;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/jni_exports.rs");
    println!("cargo:rerun-if-env-changed={}", webrtc_sdk::SDK_DIR_ENV);
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("android") {
        return;
    }
    if let Err(e) = run() {
        eprintln!("\nerror: {e}\n");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let target = env::var("TARGET").map_err(|e| e.to_string())?;
    // The same SDK webrtc-sys links (WEBRTC_SDK_DIR, else the xtask's default place).
    let sdk_dir = match env::var_os(webrtc_sdk::SDK_DIR_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => webrtc_sdk::default_sdk_dir(&manifest_dir.join("../.."), &target),
    };
    let manifest = webrtc_sdk::Manifest::load(&sdk_dir).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    for lib in &manifest.link.static_libs {
        let file = format!("lib{lib}.a");
        let Some(path) = manifest
            .search_paths(&sdk_dir)
            .into_iter()
            .map(|d| d.join(&file))
            .find(|p| p.is_file())
        else {
            // webrtc-sys reports a missing library with the full story.
            continue;
        };
        println!("cargo:rerun-if-changed={}", path.display());
        names.extend(jni_functions_of(&path)?);
    }
    names.sort();
    names.dedup();
    if names.is_empty() {
        println!(
            "cargo:warning=no Java_* functions in the SDK's static libraries: libwebrtc's Java \
             classes will fail to call into native code (is it built from sdk/android?)"
        );
        return Ok(());
    }
    let script = out_dir.join("jni_exports.ver");
    std::fs::write(&script, jni_exports::version_script(&names))
        .map_err(|e| format!("writing {}: {e}", script.display()))?;
    for arg in jni_exports::link_args(&names, &script) {
        println!("cargo:rustc-link-arg={arg}");
    }
    Ok(())
}

fn jni_functions_of(path: &Path) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let symbols =
        jni_exports::archive_symbols(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(jni_exports::jni_functions(&symbols))
}
