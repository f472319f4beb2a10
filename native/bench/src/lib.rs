//! The C++ baseline of the loopback benchmark (`cpp/loopback.cc`), compiled against the same
//! SDK as the shim. `benches/loopback.rs` runs it next to the Rust API in one process.

mod ffi {
    extern "C" {
        pub fn mrtc_bench_cpp_setup(iterations: i32, out_ms: *mut f64) -> i32;
        pub fn mrtc_bench_cpp_transfer(count: u64, size: u64, max_buffered: u64) -> f64;
        pub fn mrtc_bench_cpp_idle_peer_kib(count: i32) -> f64;
    }
}

// Pull in webrtc-sys so its link lines (libwebrtc and its system libraries) reach the
// final link of anything using this crate.
use webrtc_sys as _;

/// Setup times (createOffer → the caller's data channel open) of `iterations` calls, in
/// ms, after one warm-up call; `None` if any call failed.
pub fn setup_ms(iterations: usize) -> Option<Vec<f64>> {
    let mut out = vec![0.0; iterations];
    // SAFETY: `out` has room for `iterations` values; the C++ writes at most that many.
    let ok = unsafe { ffi::mrtc_bench_cpp_setup(iterations as i32, out.as_mut_ptr()) };
    (ok as usize == iterations).then_some(out)
}

/// Seconds to send `count` messages of `size` bytes over a reliable ordered channel,
/// keeping at most `max_buffered` bytes queued.
pub fn transfer_secs(count: u64, size: u64, max_buffered: u64) -> Option<f64> {
    // SAFETY: plain values in and out.
    let secs = unsafe { ffi::mrtc_bench_cpp_transfer(count, size, max_buffered) };
    (secs > 0.0).then_some(secs)
}

/// Resident memory per idle peer connection, in KiB, over `count` connections.
pub fn idle_peer_kib(count: usize) -> Option<f64> {
    // SAFETY: plain values in and out.
    let kib = unsafe { ffi::mrtc_bench_cpp_idle_peer_kib(count as i32) };
    (kib >= 0.0).then_some(kib)
}
