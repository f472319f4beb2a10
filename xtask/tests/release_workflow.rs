//! The release workflow (.github/workflows/release.yml) cannot run here; what can is every
//! `cargo xtask` command it calls, as `--dry-run` plans: each parses, plans, and plans what
//! the workflow relies on (sccache as gn's cc_wrapper, a shallow sync, one archive per
//! matrix ABI). actionlint checks the rest (`cargo xtask test`, test/lint.rs).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn workflow() -> String {
    std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap()
}

/// Every `run: cargo xtask …` step of the workflow (each on one line there), as argv after
/// `cargo xtask`. A `cargo xtask` anywhere else in a run: script is an error.
fn xtask_commands(yml: &str) -> Vec<Vec<String>> {
    for l in yml.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(
            !l.contains("cargo xtask") || l.trim_start().starts_with("run: cargo xtask "),
            "a cargo xtask command this test does not see: {l}"
        );
    }
    yml.lines()
        .filter_map(|l| l.trim_start().strip_prefix("run: cargo xtask "))
        .map(|rest| rest.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// The values of a `key: [a, b, c]` matrix line.
fn matrix(yml: &str, key: &str) -> Vec<String> {
    let line = yml
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: [")))
        .unwrap_or_else(|| panic!("no `{key}: [...]` matrix in release.yml"));
    line.trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect()
}

fn dry_run(args: &[String], scratch: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .arg("--dry-run")
        .current_dir(root())
        // Nothing of the real checkout or caches: a dry run reads, but make sure.
        .env("MOBILERTC_WORK_DIR", scratch.join("work"))
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .env_remove("MOBILERTC_SDK_ROOT")
        .env_remove("ANDROID_NDK_HOME")
        .env_remove("ANDROID_NDK_ROOT")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "cargo xtask {}: {text}",
        args.join(" ")
    );
    text
}

#[test]
fn every_xtask_command_of_the_release_workflow_plans() {
    let yml = workflow();
    let commands = xtask_commands(&yml);
    let names: Vec<&str> = commands.iter().map(|c| c[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "fetch-webrtc",
            "build",
            "dist",
            "fetch-webrtc",
            "build",
            "dist"
        ],
        "linux then android: fetch, build, dist"
    );
    let abis = matrix(&yml, "abi");
    assert_eq!(abis, ["arm64-v8a", "armeabi-v7a", "x86_64"]);
    let config = std::fs::read_to_string(root().join("webrtc.toml")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    for cmd in &commands {
        let per_abi = cmd.iter().any(|a| a == "\"$ABI\"");
        let runs: Vec<Vec<String>> = if per_abi {
            abis.iter()
                .map(|abi| {
                    assert!(
                        config.contains(&format!("\"{abi}\"")),
                        "{abi} not in webrtc.toml"
                    );
                    cmd.iter()
                        .map(|a| {
                            if a == "\"$ABI\"" {
                                abi.clone()
                            } else {
                                a.clone()
                            }
                        })
                        .collect()
                })
                .collect()
        } else {
            vec![cmd.clone()]
        };
        for args in runs {
            let plan = dry_run(&args, scratch.path());
            match args[0].as_str() {
                "build" => {
                    assert!(plan.contains("cc_wrapper = \"sccache\""), "{plan}");
                    assert!(args.iter().any(|a| a == "--sdk-only"), "{args:?}");
                }
                "fetch-webrtc" if args.iter().any(|a| a == "--no-history") => {
                    assert!(
                        plan.contains("gclient sync") && plan.contains(" --no-history"),
                        "{plan}"
                    );
                }
                "dist" => {
                    let triple = if args.iter().any(|a| a == "linux") {
                        "x86_64-unknown-linux-gnu".to_owned()
                    } else {
                        match args.last().unwrap().as_str() {
                            _ if args.contains(&"arm64-v8a".to_owned()) => "aarch64-linux-android",
                            _ if args.contains(&"armeabi-v7a".to_owned()) => {
                                "armv7-linux-androideabi"
                            }
                            _ => "x86_64-linux-android",
                        }
                        .to_owned()
                    };
                    // One archive, under the --out dir the upload step takes.
                    assert_eq!(plan.matches("[3/4] pack").count(), 1, "{plan}");
                    assert!(
                        plan.contains(&format!("dist/webrtc-sdk-{triple}.tar.gz.sha256")),
                        "{plan}"
                    );
                }
                _ => {}
            }
        }
    }
    assert!(
        yml.contains("path: dist/*"),
        "the upload step takes what dist wrote"
    );
    assert!(
        !scratch.path().join("work").exists(),
        "a dry run wrote the work dir"
    );
}
