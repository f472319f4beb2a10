//! fetch-webrtc and patches with bad input or damaged state: each says what is wrong or
//! recovers. Same fixture as tests/fetch.rs.

#[path = "support/fetch_fixture.rs"]
mod fixture;

use std::fs;

use fixture::*;

#[test]
fn a_typo_in_patches_dir_is_an_error() {
    let f = Fixture::new();
    let typo = f.dir.join("pathces");
    let out = f.xtask(
        &["fetch-webrtc", "--dry-run"],
        &[("MOBILERTC_PATCHES_DIR", typo.to_str().unwrap())],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let err = text(&out);
    assert!(
        err.contains(&typo.display().to_string()) && err.contains("does not exist"),
        "{err}"
    );
}

/// A merge-conflicted webrtc.lock, a garbage patch record, a lost state dir: each run
/// recovers and says what it did.
#[test]
fn damaged_lock_record_and_state_are_recovered() {
    let f = Fixture::new();
    f.fetch(&[]);
    let lock = f.dir.join("webrtc.lock");
    let good = fs::read_to_string(&lock).unwrap();
    fs::write(
        &lock,
        format!("<<<<<<< HEAD\n{good}=======\n{good}>>>>>>> other\n"),
    )
    .unwrap();
    let out = text(&f.ok(&["fetch-webrtc", "--force"], &[]));
    assert!(out.contains("is not a valid lock"), "{out}");
    assert_eq!(fs::read_to_string(&lock).unwrap(), good);

    let record = f.work().join(".mobilertc-state/patches/applied.toml");
    fs::write(&record, "applied = [[[ garbage").unwrap();
    let status = text(&f.ok(&["patches", "status"], &[]));
    assert!(
        status.contains("0001-version.patch") && status.contains("applied"),
        "{status}"
    );
    assert!(status.contains("is not valid"), "{status}");

    // The state dir is gone: nothing recorded, our patch in the tree. The sync must not
    // take it for a local change.
    fs::remove_dir_all(f.work().join(".mobilertc-state")).unwrap();
    let out = text(&f.fetch(&[]));
    assert!(out.contains("though not recorded"), "{out}");
    let v = fs::read_to_string(f.src().join("api/version.txt")).unwrap();
    assert_eq!(v.matches("patched: yes").count(), 1, "{v}");
    assert_eq!(fs::read_to_string(&lock).unwrap(), good);
}

#[test]
fn patches_and_revision_flags() {
    let f = Fixture::new();
    // A patch with a long name, to see the status columns stay apart.
    let long = "0002-a-patch-with-a-rather-long-name.patch";
    assert!(long.len() > 40);
    write(
        &f.dir.join(format!("patches/{long}")),
        &PATCH_STALE.replace("line two as it was in an older revision", "line two"),
    );
    f.fetch(&[]);
    let cfg = f.dir.join("webrtc.toml");
    let cfg = cfg.to_str().unwrap();
    // The config flag after the action, as well as before it.
    let after = text(&f.ok(&["patches", "status", "--config", cfg], &[]));
    let before = text(&f.ok(&["patches", "--config", cfg, "status"], &[]));
    assert_eq!(after, before);
    assert!(after.contains(&format!("{long}  applied")), "{after}");
    // patches --help lists only the flags it uses.
    let help = text(&f.ok(&["patches", "--help"], &[]));
    assert!(
        help.contains("--patches-dir") && !help.contains("--webrtc-url"),
        "{help}"
    );
    let help = text(&f.ok(&["doctor", "--help"], &[]));
    assert!(
        help.contains("--work-dir") && !help.contains("--patches-dir"),
        "{help}"
    );

    // A bad --revision is the flag's fault, not webrtc.toml's.
    let out = f.xtask(&["fetch-webrtc", "--dry-run", "--revision", "main"], &[]);
    assert!(!out.status.success());
    let err = text(&out);
    assert!(
        err.contains("--revision") && err.contains("`main`"),
        "{err}"
    );
    assert!(!err.contains("webrtc.toml"), "{err}");
}

/// Behind a firewall: the solution, depot_tools and every DEPS dep live on hosts this
/// machine cannot reach; `[mirrors]` maps each prefix to a reachable copy, for every git
/// fetch gclient and its git make. The lock keeps the upstream URLs.
#[test]
fn mirrors_redirect_every_git_url() {
    let f = Fixture::new();
    let up = f.dir.join("upstream");
    let src = up.join("src");
    // A revision whose DEPS names the deps on an unreachable host.
    git(&src, &["checkout", "--quiet", "--detach", &f.src_rev]);
    let deps = fs::read_to_string(src.join("DEPS"))
        .unwrap()
        .replace(&url(&up), "https://chromium.invalid/up");
    fs::write(src.join("DEPS"), deps).unwrap();
    git(
        &src,
        &["commit", "--quiet", "-am", "deps from chromium.invalid"],
    );
    let rev = git(&src, &["rev-parse", "HEAD"]);
    git(&src, &["update-ref", "refs/branch-heads/2", &rev]);
    git(&src, &["checkout", "--quiet", "main"]);

    let cfg = f.dir.join("webrtc.toml");
    let text = fs::read_to_string(&cfg)
        .unwrap()
        .replace(&url(&up), "https://webrtc.invalid/up")
        .replace(&f.src_rev, &rev);
    fs::write(
        &cfg,
        format!(
            "{text}[mirrors]\n\"https://webrtc.invalid/up/\" = \"{up}/\"\n\"https://chromium.invalid/up/\" = \"{up}/\"\n",
            up = url(&up)
        ),
    )
    .unwrap();
    let out = text_of(f.fetch(&[]));
    assert!(f.src().join("third_party/common/README").exists(), "{out}");
    let lock = f.read("webrtc.lock");
    assert!(
        lock.contains("https://chromium.invalid/up/common@")
            && lock.contains("https://webrtc.invalid/up/src@"),
        "{lock}"
    );
}

fn text_of(out: std::process::Output) -> String {
    text(&out)
}
