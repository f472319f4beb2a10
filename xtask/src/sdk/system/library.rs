//! Facts only the library binary and its headers know: C++ runtime namespace, DCHECKs, milestone.

use std::fs;
use std::path::Path;

use anyhow::{bail, Result};
use webrtc_sdk::StdNamespace;

// ---------------------------------------------------------------------------------------
// Facts only the library binary knows
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, PartialEq)]
pub struct LibraryFacts {
    /// Extra defines the shim must use to see the same class layouts.
    pub defines: Vec<String>,
}

/// Declared only `#if RTC_DCHECK_IS_ON` (rtc_base/thread.h), so the symbol is in the archive
/// exactly when libwebrtc was built with DCHECKs.
pub(super) const DCHECK_MARKER: &[u8] =
    b"_ZN3rtc13ThreadManager29RegisterSendAndCheckForCyclesEPNS_6ThreadES2_";

/// Scan the static library: check its C++ standard library namespace and find the build
/// facts that change class layouts.
pub fn library_facts(path: &Path, bytes: &[u8]) -> Result<LibraryFacts> {
    // The C++ standard library: the distro builds tg_owt with g++, so libstdc++'s
    // `std::__cxx11`. Verify instead of assuming: a libc++ build here would link and then
    // crash, which is exactly what the ABI policy exists to prevent.
    let found = StdNamespace::detect(bytes);
    match found.first() {
        Some((StdNamespace::Cxx11, _)) => {}
        Some((other, n)) => bail!(
            "{} uses {other} ({n} mangled references), not libstdc++'s std::__cxx11: it was \
             built against another C++ standard library than the distro's g++ toolchain, so \
             the shim (compiled with libstdc++) cannot link with it. Reinstall the distro \
             package (`sudo apt-get install --reinstall libtgowt-dev`) or use an SDK built \
             with `use_custom_libcxx=false`.",
            path.display()
        ),
        None => bail!(
            "{} has no std::__cxx11/__Cr/__ndk1 symbols; is it really libtg_owt? \
             Reinstall with `sudo apt-get install --reinstall libtgowt-dev`.",
            path.display()
        ),
    }

    // RTC_DCHECK_IS_ON changes class layouts (rtc::Thread, rtc::ThreadManager, the sequence
    // checkers, OperationsChain), and it follows NDEBUG unless DCHECK_ALWAYS_ON is set
    // (rtc_base/checks.h). Debian builds tg_owt without NDEBUG, so DCHECKs are on; make the
    // shim agree whatever its own profile says.
    let dcheck_on = memchr::memmem::find(bytes, DCHECK_MARKER).is_some();
    let defines = if dcheck_on {
        vec!["DCHECK_ALWAYS_ON".to_owned()]
    } else {
        vec!["NDEBUG".to_owned()]
    };
    Ok(LibraryFacts { defines })
}

// ---------------------------------------------------------------------------------------
// Milestone
// ---------------------------------------------------------------------------------------

/// One API fact whose presence means "at least this milestone". Only what the shim's
/// milestone switches care about, each checked in a public header.
struct Marker {
    milestone: u32,
    what: &'static str,
    holds: fn(&Path) -> bool,
}

fn contains(path: &Path, needle: &str) -> bool {
    fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
}

const MARKERS: &[Marker] = &[
    Marker {
        milestone: 108,
        what: "rtc::Thread::BlockingCall (rtc_base/thread.h)",
        holds: |inc| contains(&inc.join("rtc_base/thread.h"), "BlockingCall"),
    },
    Marker {
        milestone: 110,
        what: "TaskQueueBase takes absl::AnyInvocable and rtc_base/task_utils/to_queued_task.h is gone",
        holds: |inc| {
            contains(&inc.join("api/task_queue/task_queue_base.h"), "AnyInvocable")
                && !inc.join("rtc_base/task_utils/to_queued_task.h").exists()
        },
    },
    Marker {
        milestone: 117,
        what: "DataChannelInterface::SendAsync (api/data_channel_interface.h)",
        holds: |inc| contains(&inc.join("api/data_channel_interface.h"), "SendAsync"),
    },
    Marker {
        milestone: 122,
        what: "webrtc::Environment (api/environment/environment.h)",
        holds: |inc| inc.join("api/environment/environment.h").is_file(),
    },
];

/// The API milestone of the headers under `include_root`.
///
/// tg_owt has no version macro, and its `call/version.cc` source stamp (in libtg_owt.a:
/// "WebRTC source stamp 2022-10-09…") is not kept in step with the upstream merges, so it
/// dates the API too early. What the shim needs the milestone for is choosing between API
/// variants, so the milestone is read off those APIs: the highest [`MARKERS`] entry whose
/// fact holds. For libtgowt-dev 0~git20230105 (Debian 12): BlockingCall present,
/// ToQueuedTask gone, no SendAsync, no Environment → 110, matching the M110-era API the
/// Telegram fork tracks. Below the oldest marker the SDK is too old for the shim.
pub fn milestone_from_headers(include_root: &Path) -> Result<(u32, Vec<String>)> {
    let held: Vec<&Marker> = MARKERS.iter().filter(|m| (m.holds)(include_root)).collect();
    let Some(best) = held.iter().map(|m| m.milestone).max() else {
        bail!(
            "the headers in {} predate M{} (no {}): this libwebrtc is too old for the shim",
            include_root.display(),
            MARKERS[0].milestone,
            MARKERS[0].what
        );
    };
    let evidence = held
        .iter()
        .map(|m| format!("M{}+ {}", m.milestone, m.what))
        .collect();
    Ok((best, evidence))
}
