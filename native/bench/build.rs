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
    let shim = PathBuf::from(
        std::env::var("DEP_WEBRTC_INCLUDE").expect("webrtc-sys exports DEP_WEBRTC_INCLUDE"),
    );
    let mut build = webrtc_sdk::cc_build(&manifest, &sdk_dir);
    build.include(&shim).file("cpp/loopback.cc");
    // As webrtc-sys's build script decides for the shim (its SRTP keepalive).
    if manifest.provider == webrtc_sdk::Provider::System {
        build.define("MRTC_SRTP_KEEPALIVE", "1");
    }
    build.compile("mrtc_bench_cpp");
}
