//! Compiles the C++ baseline (cpp/loopback.cc) against the very SDK webrtc-sys used, with
//! the same flags, so the two sides of the comparison share one libwebrtc and one ABI.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=cpp");
    // Exported by webrtc-sys's build script (`cargo:sdk_dir=`), so this crate needs no
    // SDK discovery of its own.
    let sdk_dir = PathBuf::from(
        std::env::var("DEP_WEBRTC_SDK_DIR").expect("webrtc-sys exports DEP_WEBRTC_SDK_DIR"),
    );
    let manifest = match webrtc_sdk::Manifest::load(&sdk_dir) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    webrtc_sdk::cc_build(&manifest, &sdk_dir)
        .file("cpp/loopback.cc")
        .compile("mrtc_bench_cpp");
}
