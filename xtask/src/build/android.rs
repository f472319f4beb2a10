//! Android-only checks of the build plan against the checkout and the app project.

use std::path::Path;

use anyhow::{bail, Result};

/// On Android the app links `sdk/android/native_api` (InitAndroid, the Java audio device
/// module, video sources and sinks, codec and network monitor wrappers) out of
/// `libwebrtc.a` and packages `libwebrtc.jar`: both come from `sdk/android`, which the
/// top-level `webrtc` target depends on in recent milestones (`if (!build_with_chromium) {
/// if (is_android) { deps += [ "sdk/android" ] } }` in src/BUILD.gn; absent at M139). An
/// older checkout would build a library without them and fail at the final link, so say so
/// before ninja runs. Without a checkout (a dry run) there is nothing to check.
pub fn check_webrtc_has_sdk(src: &Path) -> Result<()> {
    let build_gn = src.join("BUILD.gn");
    let Ok(text) = std::fs::read_to_string(&build_gn) else {
        return Ok(());
    };
    let pulls_in = text
        .lines()
        .any(|l| l.split_whitespace().collect::<String>() == r#"deps+=["sdk/android"]"#);
    if pulls_in {
        return Ok(());
    }
    bail!(
        "{}: the `webrtc` target does not depend on \"sdk/android\" in this checkout (older \
         than the pinned milestone?), so libwebrtc.a would lack sdk/android/native_api and no \
         libwebrtc.jar would be built; check out webrtc.toml's revision with `cargo xtask \
         fetch-webrtc`",
        build_gn.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_whose_webrtc_target_lacks_sdk_android_is_refused() {
        let t = tempfile::tempdir().unwrap();
        // No checkout (a dry run): nothing to check.
        check_webrtc_has_sdk(t.path()).unwrap();
        // M150's src/BUILD.gn, the part that matters.
        std::fs::write(
            t.path().join("BUILD.gn"),
            "  rtc_static_library(\"webrtc\") {\n    if (!build_with_chromium) {\n      \
             if (is_android) {\n        deps += [ \"sdk/android\" ]\n      }\n    }\n  }\n",
        )
        .unwrap();
        check_webrtc_has_sdk(t.path()).unwrap();
        // M139's: only test targets name sdk/android.
        std::fs::write(
            t.path().join("BUILD.gn"),
            "  rtc_static_library(\"webrtc\") {\n  }\n  deps += [ \"sdk/android:native_unittests\" ]\n",
        )
        .unwrap();
        let err = check_webrtc_has_sdk(t.path()).unwrap_err().to_string();
        assert!(err.contains("does not depend on \"sdk/android\""), "{err}");
    }

    /// The API level libwebrtc and the Rust side are compiled for (`--api`, pinned into the
    /// gn args) must be the app's minSdk: a library built for a newer API can call libc
    /// functions the oldest supported device lacks.
    #[test]
    fn the_default_api_level_is_the_apps_min_sdk() {
        let gradle = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../android-app/app/build.gradle.kts"),
        )
        .unwrap();
        let min_sdk: u32 = gradle
            .lines()
            .find_map(|l| l.trim().strip_prefix("minSdk = "))
            .expect("minSdk in app/build.gradle.kts")
            .trim()
            .parse()
            .unwrap();
        assert_eq!(super::super::DEFAULT_ANDROID_API, min_sdk);
    }
}
