//! The sanitizer runs of the native API's tests: AddressSanitizer + LeakSanitizer
//! (`--asan`) and ThreadSanitizer (`--tsan`). Rust is instrumented through `-Zsanitizer`
//! (nightly only), the C++ shim through clang's `-fsanitize` (cc reads CXX/CXXFLAGS), one
//! LLVM runtime for both. Each run has its own target dir: instrumented artifacts must not
//! mix with the normal ones. libwebrtc itself is prebuilt and not instrumented.

use std::path::Path;

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

/// LeakSanitizer watches every allocation, libwebrtc's included.
pub(super) const ASAN_ENV: &str = "RUSTFLAGS=-Zsanitizer=address CXX=clang++ CXXFLAGS='-fsanitize=address -fno-omit-frame-pointer' CARGO_TARGET_DIR=target/asan";
pub(super) const ASAN_TEST: &str = "cargo +nightly test -p mobilertc --test call --test lifecycle --test reentrancy --test stress --test hostile --test app_patterns --test hostile_input --target <host> -- --test-threads 1";
/// How the plan prints the ASan run (the upstream leg prefixes its SDK).
pub(crate) const ASAN_SHOWN: &str = "cargo +nightly test (ASan) -p mobilertc --test call --test lifecycle --test reentrancy --test stress --test hostile --test app_patterns --test hostile_input";

/// The native API's tests under ThreadSanitizer. The standard library is rebuilt
/// instrumented (`-Zbuild-std`, hence rust-src): an uninstrumented std makes TSan report
/// races inside its own synchronisation. libwebrtc is not instrumented: its pthread
/// mutexes and condition variables are intercepted (so a task posted to WebRTC's threads
/// happens-after the post), its atomics are not; the suppressions file lists the reports
/// that lie wholly inside libwebrtc, each with its reason.
const TSAN_TESTS: &[&str] = &[
    "call",
    "lifecycle",
    "reentrancy",
    "stress",
    "hostile",
    "app_patterns",
    "hostile_input",
];
/// Tests that assume real-time speed, which TSan's ~5-15x slowdown takes away: the live
/// tone check (audio glitches at the far end) and the unread-receiver bound (it expects the
/// messages to arrive faster than the reader starts reading).
const TSAN_SKIP: &[&str] = &[
    "tone_is_detected_at_the_callee_and_absent_when_muted",
    "an_unread_data_channel_receiver_is_bounded_then_disconnects",
];
/// Relative to the project root.
pub(super) const TSAN_SUPPRESSIONS: &str = "native/mobilertc/tests/tsan-suppressions.txt";
pub(super) const TSAN_SHOWN: &str = "RUSTFLAGS=-Zsanitizer=thread CXX=clang++ CXXFLAGS='-fsanitize=thread -fno-omit-frame-pointer' TSAN_OPTIONS=suppressions=native/mobilertc/tests/tsan-suppressions.txt CARGO_TARGET_DIR=target/tsan cargo +nightly test -Zbuild-std -p mobilertc --test call --test lifecycle --test reentrancy --test stress --test hostile --test app_patterns --test hostile_input --target <host> -- --test-threads 1 --skip tone_is_detected_at_the_callee_and_absent_when_muted --skip an_unread_data_channel_receiver_is_bounded_then_disconnects";
/// What the rust-src step runs.
pub(super) const RUST_SRC: &str = "rustup component add rust-src --toolchain nightly";

pub(super) fn asan_unavailable(sh: &Shell) -> Option<String> {
    let toolchains = cmd!(sh, "rustup toolchain list")
        .quiet()
        .ignore_stderr()
        .read()
        .unwrap_or_default();
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        return Some(
            "Rust's sanitizers need a nightly toolchain: `rustup toolchain install nightly`".into(),
        );
    }
    None
}

/// The nightly toolchain has the standard library's sources (`-Zbuild-std` needs them).
pub(super) fn nightly_has_rust_src(sh: &Shell) -> bool {
    cmd!(sh, "rustup component list --toolchain nightly --installed")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|list| list.lines().any(|l| l.trim().starts_with("rust-src")))
}

/// Installs rust-src for the nightly toolchain through rustup (its server must be
/// reachable).
pub(super) fn install_rust_src(sh: &Shell) -> Result<()> {
    cmd!(sh, "rustup component add rust-src --toolchain nightly")
        .run()
        .context(
            "rustup could not add rust-src to the nightly toolchain (the ThreadSanitizer run \
             rebuilds the standard library from it); is static.rust-lang.org reachable? \
             Install it by hand with `rustup component add rust-src --toolchain nightly`",
        )?;
    Ok(())
}

fn clang() -> Result<()> {
    which::which("clang++").context(
        "the shim is instrumented with clang++, which is missing: `apt-get install clang`",
    )?;
    Ok(())
}

/// The native API's tests under AddressSanitizer, built in `target_dir`. The caller's
/// environment picks the SDK.
pub(crate) fn run_asan(sh: &Shell, target_dir: &Path) -> Result<()> {
    let _f = [
        sh.push_env("RUSTFLAGS", "-Zsanitizer=address"),
        sh.push_env("CXX", "clang++"),
        sh.push_env("CXXFLAGS", "-fsanitize=address -fno-omit-frame-pointer"),
        sh.push_env("CARGO_TARGET_DIR", target_dir),
    ];
    clang()?;
    // An explicit --target keeps the sanitizer flags off build scripts and proc
    // macros (they run on the host without the ASan runtime).
    let triple = super::host_triple(sh)?;
    cmd!(
        sh,
        "cargo +nightly test -p mobilertc --locked --test call --test lifecycle --test reentrancy --test stress --test hostile --test app_patterns --test hostile_input --target {triple} -- --test-threads 1"
    )
    .run()?;
    Ok(())
}

/// The native API's tests under ThreadSanitizer, built in `target_dir`. Any report not
/// suppressed makes the test binary exit non-zero (TSan's exitcode 66).
pub(crate) fn run_tsan(sh: &Shell, root: &Path, target_dir: &Path) -> Result<()> {
    let suppressions = root.join(TSAN_SUPPRESSIONS);
    let _f = [
        sh.push_env("RUSTFLAGS", "-Zsanitizer=thread"),
        sh.push_env("CXX", "clang++"),
        sh.push_env("CXXFLAGS", "-fsanitize=thread -fno-omit-frame-pointer"),
        sh.push_env("CARGO_TARGET_DIR", target_dir),
        sh.push_env(
            "TSAN_OPTIONS",
            format!(
                "suppressions={} second_deadlock_stack=1 print_suppressions=0",
                suppressions.display()
            ),
        ),
    ];
    clang()?;
    let triple = super::host_triple(sh)?;
    let tests: Vec<String> = TSAN_TESTS
        .iter()
        .flat_map(|t| ["--test".to_owned(), (*t).to_owned()])
        .collect();
    let skips: Vec<&str> = TSAN_SKIP.iter().flat_map(|t| ["--skip", t]).collect();
    cmd!(
        sh,
        "cargo +nightly test -Zbuild-std -p mobilertc --locked {tests...} --target {triple} -- --test-threads 1 {skips...}"
    )
    .run()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn shown_tsan_command_lists_every_test() {
        for t in super::TSAN_TESTS {
            assert!(
                super::TSAN_SHOWN.contains(&format!("--test {t} ")),
                "{t} missing from the shown command"
            );
        }
        for t in super::TSAN_SKIP {
            assert!(super::TSAN_SHOWN.contains(&format!("--skip {t}")), "{t}");
        }
        assert!(super::TSAN_SHOWN.contains(super::TSAN_SUPPRESSIONS));
    }
}
