//! End-to-end tests of `cargo xtask fetch-webrtc`, `doctor` and `patches` against an
//! "upstream" built in a temp dir: local git repos for depot_tools and src (file:// URLs), a
//! src DEPS with a plain dep, a `checkout_android` dep, a `checkout_ios` dep and a hook.
//!
//! depot_tools is tests/fixtures/depot_tools/gclient, a stand-in for the real gclient (see
//! its header). Set MOBILERTC_TEST_DEPOT_TOOLS=<a real depot_tools checkout> to run the same
//! tests with the real one (VPYTHON_BYPASS and DEPOT_TOOLS_UPDATE=0 are set for it).
//! Nothing here touches the network or the real process environment of the xtask: every run
//! gets its own env.

#[path = "support/fetch_fixture.rs"]
mod fixture;

use std::fs;
use std::time::{Duration, Instant};

use fixture::*;

#[test]
fn fresh_fetch_then_rerun_spawns_nothing() {
    let f = Fixture::new();
    let out = f.fetch(&[]);
    let log = text(&out);
    assert!(log.contains("[3/7] gclient sync"), "{log}");

    let src = f.src();
    assert!(src.join("third_party/common/README").exists(), "plain dep");
    assert!(
        src.join("third_party/android_only/README").exists(),
        "checkout_android dep"
    );
    assert!(
        !src.join("third_party/ios_only").exists(),
        "checkout_ios dep must not be synced"
    );
    assert_eq!(
        fs::read_to_string(src.join("hook_output.txt")).unwrap(),
        "hook ran\n"
    );
    assert!(fs::read_to_string(src.join("api/version.txt"))
        .unwrap()
        .contains("patched: yes"));
    assert_eq!(git(&src, &["rev-parse", "HEAD"]), f.src_rev);
    assert!(f.work().join(".gclient").exists());
    if f.real_depot_tools.is_none() {
        assert!(
            f.work().join("depot_tools/gclient").exists(),
            "depot_tools cloned into the work dir"
        );
        assert_eq!(
            fs::read_to_string(src.join("install-build-deps.args")).unwrap(),
            "--android --no-prompt\n"
        );
        let argv = f.read("gclient-argv.txt");
        assert!(
            argv.contains(&format!(
                r#"["sync", "--with_branch_heads", "-D", "--nohooks", "--revision", "src@{}"]"#,
                f.src_rev
            )),
            "{argv}"
        );
        assert!(
            argv.contains(r#"["runhooks"]"#) && argv.contains(r#"["revinfo"]"#),
            "{argv}"
        );
    }
    let lock = f.read("webrtc.lock");
    assert!(
        lock.contains(&format!("revision = \"{}\"", f.src_rev)),
        "{lock}"
    );
    assert!(lock.contains("\"src/third_party/android_only\""), "{lock}");
    assert!(!lock.contains("ios_only"), "{lock}");

    // The rerun: no process spawned at all, and quick.
    let trace_before = f.read("trace.txt");
    let argv_before = f.read("gclient-argv.txt");
    assert!(!trace_before.is_empty());
    let t = Instant::now();
    let out = f.fetch(&[]);
    let took = t.elapsed();
    assert_eq!(
        f.read("trace.txt"),
        trace_before,
        "rerun spawned something:\n{}",
        text(&out)
    );
    assert_eq!(f.read("gclient-argv.txt"), argv_before);
    assert!(took < Duration::from_secs(1), "no-op rerun took {took:?}");
    assert_eq!(
        text(&out).matches("up to date").count(),
        7,
        "{}",
        text(&out)
    );
}

#[test]
fn dry_run_prints_the_plan_and_runs_nothing() {
    let f = Fixture::new();
    let out = f.ok(&["fetch-webrtc", "--dry-run"], &[]);
    assert!(!f.work().exists(), "dry run created the work dir");
    assert!(!f.trace().exists(), "dry run spawned something");
    let mut plan = String::from_utf8(out.stdout).unwrap();
    plan = plan.replace(&f.src_rev, "[SRC_REV]");
    let dt_rev = git(&f.dir.join("upstream/depot_tools"), &["rev-parse", "HEAD"]);
    plan = plan.replace(&dt_rev, "[DEPOT_TOOLS_REV]");
    plan = plan.replace(&f.dir.display().to_string(), "[TMP]");
    for (hex, short) in [(&f.src_rev, &f.src_rev[..12]), (&dt_rev, &dt_rev[..12])] {
        let _ = hex;
        plan = plan.replace(short, "[SHORT_REV]");
    }
    if f.real_depot_tools.is_none() {
        insta::assert_snapshot!("dry_run_plan", plan);
    }
}

#[test]
fn interrupted_sync_resumes_and_converges_to_the_same_lock() {
    let f = Fixture::new();
    f.start_fetch_hanging_in_sync().kill();
    assert!(
        f.src().join(".git").exists(),
        "the solution was cloned before the kill"
    );
    assert!(!f.src().join("third_party/common").exists());

    fs::remove_file(f.trace()).unwrap();
    let out = f.fetch(&[]);
    let log = text(&out);
    assert!(
        log.contains("[1/7] depot_tools          up to date"),
        "{log}"
    );
    assert!(
        log.contains("[2/7] .gclient             up to date"),
        "{log}"
    );
    // Before it, only the checks of our patches (git apply --check) ran.
    let trace = f.read("trace.txt");
    let first = trace.lines().find(|l| !l.contains("\tgit ")).unwrap();
    assert!(
        first.contains("gclient sync"),
        "resumed at the sync, first spawn was: {first}"
    );
    assert!(f.src().join("third_party/common/README").exists());

    // A clean fetch of the same upstream elsewhere pins exactly the same.
    let clean_work = f.dir.join("work2");
    let clean_lock = f.dir.join("clean.lock");
    f.fetch(&[
        ("MOBILERTC_WORK_DIR", clean_work.to_str().unwrap()),
        ("MOBILERTC_LOCK_FILE", clean_lock.to_str().unwrap()),
    ]);
    assert_eq!(f.read("webrtc.lock"), f.read("clean.lock"));
}

/// The `git checkout` of a dep fails (as a dropped connection would) until gclient gives
/// up: the xtask tries the sync again and converges. The fault is injected in the `git` on
/// PATH, so this runs with the stand-in and with real depot_tools alike; real gclient
/// re-clones once itself after a failed clone+checkout, hence two failures (the stand-in's
/// second attempt finds the clone and needs no checkout: it spends one).
#[test]
fn failed_sync_is_retried() {
    let f = Fixture::new();
    let counter = f.dir.join("fail-counter");
    let out = f.fetch(&[
        ("FAKE_GIT_FAIL_GLOB", "*/third_party/common: *checkout*"),
        ("FAKE_GIT_FAIL_TIMES", "2"),
        ("FAKE_GIT_FAIL_COUNTER", counter.to_str().unwrap()),
    ]);
    let log = text(&out);
    assert!(
        !f.read("fail-counter").trim().is_empty(),
        "the fault was injected"
    );
    assert!(log.contains("attempt 1/2 failed; retrying in 0s"), "{log}");
    assert!(f.src().join("third_party/common/README").exists());
    assert!(f.src().join("third_party/android_only/README").exists());
    if f.real_depot_tools.is_none() {
        assert_eq!(f.read("gclient-argv.txt").matches(r#"["sync""#).count(), 2);
    }
}

#[test]
fn patch_already_applied_is_skipped() {
    let f = Fixture::new();
    let none = f.dir.join("patches-none");
    f.fetch(&[("MOBILERTC_PATCHES_DIR", none.to_str().unwrap())]);
    // Someone applied it by hand.
    git(
        &f.src(),
        &[
            "apply",
            f.dir.join("patches/0001-version.patch").to_str().unwrap(),
        ],
    );
    let out = f.fetch(&[]);
    assert!(
        text(&out).contains("0001-version.patch already applied, skipped"),
        "{}",
        text(&out)
    );
    let v = fs::read_to_string(f.src().join("api/version.txt")).unwrap();
    assert_eq!(v.matches("patched: yes").count(), 1, "{v}");
    // And it is recorded: status knows it.
    let status = f.ok(&["patches", "status"], &[]);
    assert!(
        text(&status).contains("0001-version.patch"),
        "{}",
        text(&status)
    );
    assert!(text(&status).contains(" applied"), "{}", text(&status));
}

#[test]
fn stale_patch_fails_naming_patch_and_hunk_and_leaves_the_tree_unchanged() {
    let f = Fixture::new();
    let none = f.dir.join("patches-none");
    f.fetch(&[("MOBILERTC_PATCHES_DIR", none.to_str().unwrap())]);
    let before = f.tree_state();
    let stale = f.dir.join("patches-stale");
    let out = f.xtask(
        &["fetch-webrtc"],
        &[("MOBILERTC_PATCHES_DIR", stale.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let err = text(&out);
    assert!(err.contains("[6/7] patches failed"), "{err}");
    assert!(
        err.contains("patch 0002-other.patch does not apply"),
        "{err}"
    );
    assert!(
        err.contains("hunk #1 `@@ -1,3 +1,3 @@` of api/other.txt (at line 1)"),
        "{err}"
    );
    assert!(err.contains("the tree was left as it was"), "{err}");
    assert_eq!(
        f.tree_state(),
        before,
        "0001 was applied and must have been rolled back"
    );
    // The failure is not stamped: the next run tries the patches again (and fails again).
    let again = f.xtask(
        &["fetch-webrtc"],
        &[("MOBILERTC_PATCHES_DIR", stale.to_str().unwrap())],
    );
    assert!(!again.status.success());
    assert!(
        text(&again).contains("[5/7] gclient runhooks     up to date"),
        "{}",
        text(&again)
    );
}

#[test]
fn concurrent_run_is_refused() {
    let f = Fixture::new();
    let mut first = f.start_fetch_hanging_in_sync();
    let second = f.xtask(&["fetch-webrtc"], &[]);
    first.kill();
    assert!(!second.status.success());
    let err = text(&second);
    assert!(err.contains("another `cargo xtask` run (pid"), "{err}");
    assert!(
        err.contains("running `fetch-webrtc`) is working on"),
        "{err}"
    );
}

#[test]
fn doctor_names_a_missing_tool_and_the_fix() {
    let f = Fixture::new();
    let bin = f.dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "python3"] {
        let real = which(tool);
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let out = f.xtask(&["doctor"], &[("PATH", bin.to_str().unwrap())]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("[FAIL] curl: not found on PATH"), "{t}");
    assert!(
        t.contains("fix: install it: `sudo apt-get install curl`"),
        "{t}"
    );
    assert!(t.contains("[ok  ] git:"), "{t}");
    // fetch-webrtc runs the same checks first and stops...
    let out = f.xtask(&["fetch-webrtc"], &[("PATH", bin.to_str().unwrap())]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("pass --force to go on anyway"),
        "{}",
        text(&out)
    );
    assert!(!f.work().exists(), "nothing was started");
}

#[test]
fn install_build_deps_without_root_prints_the_command_and_stops() {
    let f = Fixture::new();
    let out = f.xtask(&["fetch-webrtc"], &[("MOBILERTC_ROOT", "0")]);
    assert!(!out.status.success());
    let err = text(&out);
    let cmd = format!(
        "sudo {}/build/install-build-deps.sh --android --no-prompt",
        f.src().display()
    );
    assert!(err.contains(&cmd), "{err}");
    assert!(err.contains("[4/7] install-build-deps failed"), "{err}");
    assert!(!f.src().join("install-build-deps.args").exists());
    // The user ran it; the sync is kept, the rest runs.
    fs::remove_file(f.trace()).unwrap();
    let out = f.fetch(&[
        ("MOBILERTC_ROOT", "0"),
        ("MOBILERTC_SKIP_INSTALL_DEPS", "1"),
    ]);
    assert!(
        text(&out).contains("[3/7] gclient sync         up to date"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("skipped (--skip-install-deps)"),
        "{}",
        text(&out)
    );
    // Without the flag afterwards: nothing to do, nothing asked.
    let before = f.read("trace.txt");
    f.fetch(&[("MOBILERTC_ROOT", "0")]);
    assert_eq!(f.read("trace.txt"), before);
}

#[test]
fn install_build_deps_through_sudo_when_allowed() {
    let f = Fixture::new();
    if f.real_depot_tools.is_some() {
        return;
    }
    // A fake sudo: records that it was used, then runs the command.
    let bin = f.dir.join("sudo-bin");
    write_exe(
        &bin.join("sudo"),
        &format!(
            "#!/bin/sh\necho sudo >> {}/sudo-used\nexec \"$@\"\n",
            f.dir.display()
        ),
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    f.ok(
        &["fetch-webrtc", "--sudo"],
        &[("MOBILERTC_ROOT", "0"), ("PATH", &path)],
    );
    assert_eq!(f.read("sudo-used"), "sudo\n");
    assert_eq!(
        fs::read_to_string(f.src().join("install-build-deps.args")).unwrap(),
        "--android --no-prompt\n"
    );
}

#[test]
fn patches_status_and_revert() {
    let f = Fixture::new();
    f.fetch(&[]);
    let version = f.src().join("api/version.txt");
    let status = text(&f.ok(&["patches", "status"], &[]));
    assert!(
        status.contains("0001-version.patch") && status.contains(" applied"),
        "{status}"
    );
    let out = text(&f.ok(&["patches", "revert"], &[]));
    assert!(out.contains("reverted 0001-version.patch"), "{out}");
    assert!(fs::read_to_string(&version)
        .unwrap()
        .contains("patched: no"));
    let status = text(&f.ok(&["patches", "status"], &[]));
    assert!(status.contains("not applied (applies cleanly)"), "{status}");
    // The next fetch puts it back (and only the patch and lock steps run).
    fs::remove_file(f.trace()).unwrap();
    f.fetch(&[]);
    assert!(fs::read_to_string(&version)
        .unwrap()
        .contains("patched: yes"));
    assert!(!f.read("trace.txt").contains("gclient sync"));
}

#[test]
fn changed_patch_is_reverted_and_reapplied() {
    let f = Fixture::new();
    f.fetch(&[]);
    // The patch file is edited: the old version (in the tree) must come out first.
    write(
        &f.dir.join("patches/0001-version.patch"),
        &PATCH_OK.replace("+patched: yes", "+patched: twice"),
    );
    let out = text(&f.fetch(&[]));
    assert!(out.contains("reverted 0001-version.patch"), "{out}");
    let v = fs::read_to_string(f.src().join("api/version.txt")).unwrap();
    assert!(
        v.contains("patched: twice") && !v.contains("patched: yes"),
        "{v}"
    );
}

#[test]
fn moved_checkout_is_resynced() {
    let f = Fixture::new();
    f.fetch(&[]);
    // Someone checks out something else in src/ (with the patch reverted so git allows it).
    f.ok(&["patches", "revert"], &[]);
    git(&f.src(), &["checkout", "--quiet", "--detach", "HEAD~1"]);
    let out = text(&f.fetch(&[]));
    assert!(
        out.contains("someone moved the checkout; syncing again"),
        "{out}"
    );
    assert_eq!(git(&f.src(), &["rev-parse", "HEAD"]), f.src_rev);
}

#[test]
fn bad_config_names_key_and_file() {
    let f = Fixture::new();
    let cfg = f.dir.join("webrtc.toml");
    let text0 = fs::read_to_string(&cfg).unwrap();
    fs::write(
        &cfg,
        text0.replace("[targets]\n", "[targets]\nios = [\"arm64\"]\n"),
    )
    .unwrap();
    let out = f.xtask(&["fetch-webrtc", "--dry-run"], &[]);
    assert!(!out.status.success());
    let err = text(&out);
    assert!(
        err.contains(&cfg.display().to_string()) && err.contains("ios"),
        "{err}"
    );
}
