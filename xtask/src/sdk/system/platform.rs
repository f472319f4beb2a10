//! Platform defines libwebrtc's headers branch on, derived from the target triple.

use anyhow::{bail, Result};

use super::resolve::push_unique;

// ---------------------------------------------------------------------------------------
// Platform defines
// ---------------------------------------------------------------------------------------

/// The OS/CPU defines libwebrtc's public headers branch on, as upstream's `webrtc.gni` /
/// `BUILD.gn` (`config("common_inherited_config")`) sets them for a target. They are not
/// optional: headers such as `rtc_base/thread.h` and `rtc_base/physical_socket_server.h`
/// lay out classes differently under `WEBRTC_POSIX`/`WEBRTC_WIN`, and the `WEBRTC_HAS_NEON`
/// paths change inline code and declarations on ARM.
///
/// tg_owt's CMake export happens to carry the OS ones (in `tg_owt::libwebrtcbuild`), but a
/// package that doesn't must still produce a working manifest, so they are derived from
/// the triple here, merged with the exported ones, and a contradiction is an error.
///
/// CPU *architecture* defines (`WEBRTC_ARCH_X86_64`, `WEBRTC_ARCH_ARM64`, endianness) are not
/// listed: `rtc_base/system/arch.h` derives them from the compiler's own macros.
pub fn platform_defines(triple: &str) -> Result<Vec<&'static str>> {
    let mut defines = Vec::new();
    if triple.contains("windows") {
        defines.push("WEBRTC_WIN");
    } else {
        defines.push("WEBRTC_POSIX");
        if triple.contains("android") {
            // Upstream: is_android implies WEBRTC_LINUX as well as WEBRTC_ANDROID.
            defines.extend(["WEBRTC_LINUX", "WEBRTC_ANDROID"]);
        } else if triple.contains("linux") {
            defines.push("WEBRTC_LINUX");
        } else if triple.contains("apple-ios") {
            defines.extend(["WEBRTC_MAC", "WEBRTC_IOS"]);
        } else if triple.contains("apple-darwin") {
            defines.push("WEBRTC_MAC");
        } else if triple.contains("fuchsia") {
            defines.push("WEBRTC_FUCHSIA");
        } else {
            bail!("no WebRTC platform defines known for `{triple}`");
        }
    }
    // Upstream: `current_cpu == "arm64"` always has NEON; 32-bit ARM has it when built with
    // `arm_use_neon` (the default for armv7 Android/Linux hard-float).
    if triple.starts_with("aarch64")
        || triple.starts_with("armv7")
        || triple.starts_with("thumbv7neon")
    {
        defines.push("WEBRTC_HAS_NEON");
    }
    Ok(defines)
}

/// Every OS define any platform uses; if the export sets one the triple doesn't call for,
/// the package was built for something else.
const OS_DEFINES: &[&str] = &[
    "WEBRTC_WIN",
    "WEBRTC_POSIX",
    "WEBRTC_LINUX",
    "WEBRTC_ANDROID",
    "WEBRTC_MAC",
    "WEBRTC_IOS",
    "WEBRTC_FUCHSIA",
];

pub(super) fn merge_platform_defines(defines: &mut Vec<String>, platform: &[&str]) -> Result<()> {
    if let Some(stray) = defines
        .iter()
        .find(|d| OS_DEFINES.contains(&d.as_str()) && !platform.contains(&d.as_str()))
    {
        bail!(
            "the package's CMake export defines {stray}, which the target ({}) does not: \
             the installed libtgowt-dev was built for another platform",
            platform.join(" ")
        );
    }
    for d in platform {
        push_unique(defines, (*d).to_owned());
    }
    Ok(())
}
