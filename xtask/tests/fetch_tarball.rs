//! `cargo xtask fetch-webrtc --tarball …` and `--debian-source` against a Chromium-shaped
//! fixture tarball built in a temp dir (stands in for the real 941 MB
//! chromium_150.0.7871.100.orig.tar.xz: the same top dir, DEPS line, chrome/VERSION,
//! third_party/webrtc with its DEPS `gclient_gn_args`, build/, testing/, tools/, one
//! third_party lib, files outside the extract list) and a Debian packaging tarball (a
//! `debian/patches/series` with selected, unselected and partly-outside patches).
//! `--debian-source` runs tests/fixtures/apt/apt-get, a stand-in for Debian's apt-get (see
//! its header). Real tar, xz, patch, git and curl run. Nothing touches the network.

#[path = "support/tarball_fixture.rs"]
mod fixture;

use std::fs;

use fixture::*;

#[test]
fn tarball_makes_the_gclient_layout_and_a_rerun_does_nothing() {
    let f = Fixture::new();
    let log = f.fetch_tarball(&[]);
    assert!(log.contains("[4/4] webrtc.lock"), "{log}");
    assert!(
        log.contains("not in this tarball (stripped by its repack): third_party/opus"),
        "{log}"
    );
    assert!(
        log.contains("2 of Debian's patches applied (of 2 selected)"),
        "{log}"
    );
    let src = f.src();
    // The gclient layout: WebRTC at src/, Chromium's pieces under it.
    for p in [
        "DEPS",
        "BUILD.gn",
        "api/peer_connection_interface.h",
        "testing/test.gni",
        "tools/t.py",
        "third_party/abseil-cpp/absl/base/config.h",
    ] {
        assert!(src.join(p).is_file(), "src/{p} missing");
    }
    assert!(
        !src.join("chrome").exists() && !src.join("third_party/skia").exists(),
        "only the subset"
    );
    assert!(!f.work().join(".tarball-unpack").exists() && !f.work().join("src.partial").exists());
    // gclient_args.gni from WebRTC's DEPS, not Chromium's.
    assert_eq!(
        fs::read_to_string(src.join("build/config/gclient_args.gni")).unwrap(),
        "# Generated from WebRTC's DEPS (gclient_gn_args)\nandroid_ndk_version = \"2@30.0.14608247\"\ngenerate_location_tags = true\n"
    );
    // Debian's selected patches (the hunk outside the subset dropped), the unselected not.
    assert!(fs::read_to_string(src.join("build/config/BUILD.gn"))
        .unwrap()
        .contains("use_gold = false"));
    assert!(fs::read_to_string(src.join("BUILD.gn"))
        .unwrap()
        .contains("# debian was here"));
    assert_eq!(
        fs::read_to_string(src.join("tools/t.py")).unwrap(),
        "print(1)\n"
    );
    // Ours: patches/tarball then patches/.
    assert_eq!(
        fs::read_to_string(src.join(".gn")).unwrap(),
        "exec_script_whitelist = []\n"
    );
    assert!(src.join("mobilertc/README.md").is_file());
    // The lock: WebRTC's revision, the tarball's version, checksum and milestone.
    let lock = fs::read_to_string(f.dir.join("webrtc.lock")).unwrap();
    assert!(lock.contains(&format!("revision = \"{REV}\"")), "{lock}");
    assert!(
        lock.contains(&format!("sha256 = \"{}\"", sha256(&f.tarball))),
        "{lock}"
    );
    assert!(
        lock.contains("milestone = 150") && lock.contains(&format!("version = \"{VERSION}\"")),
        "{lock}"
    );
    assert!(
        lock.contains("debian_patches = [\"fixes/build.patch\", \"upstream/webrtc.patch\"]"),
        "{lock}"
    );
    // patches status sees them (src/ is a git repo with the tarball as its one commit).
    let status = f.ok(&["patches", "status"], &[]);
    for p in ["tarball-0001-gn-whitelist.patch", "0001-mark.patch"] {
        let l = status.lines().find(|l| l.contains(p)).unwrap_or_default();
        assert!(l.trim_end().ends_with(" applied"), "{p}: {status}");
    }
    // The gclient route does not take this work dir over.
    let out = f.xtask(&["fetch-webrtc"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("holds a checkout made from a Chromium tarball"),
        "{}",
        text(&out)
    );

    // The rerun: every step up to date, nothing spawned.
    let _ = fs::remove_file(f.trace());
    let again = f.fetch_tarball(&[]);
    assert_eq!(again.matches("up to date").count(), 4, "{again}");
    assert_eq!(
        fs::read_to_string(f.trace()).unwrap_or_default(),
        "",
        "a rerun spawns nothing"
    );
}

#[test]
fn debian_source_goes_through_a_private_apt_and_the_cache() {
    let f = Fixture::new();
    let log = f.ok(&["fetch-webrtc", "--debian-source"], &[]);
    assert!(log.contains("apt-get source --download-only"), "{log}");
    let apt_log = fs::read_to_string(f.dir.join("apt-log.txt")).unwrap();
    let conf = f.dir.join("apt/etc/apt.conf");
    let dl = f.dir.join(format!("cache/debian/chromium_{DEB_VERSION}"));
    assert_eq!(
        apt_log,
        format!(
            "{apt}\tAPT_CONFIG={conf}\tupdate\n{dl}\tAPT_CONFIG={conf}\tsource --download-only chromium={DEB_VERSION}\n",
            apt = f.dir.join("apt").display(),
            conf = conf.display(),
            dl = dl.display()
        )
    );
    assert!(fs::read_to_string(f.dir.join("apt/etc/sources.list"))
        .unwrap()
        .contains("deb-src http://deb.debian.org/debian bookworm main"));
    assert!(fs::read_to_string(f.src().join("BUILD.gn"))
        .unwrap()
        .contains("# debian was here"));
    let lock = fs::read_to_string(f.dir.join("webrtc.lock")).unwrap();
    assert!(
        lock.contains(&format!("debian = \"chromium={DEB_VERSION}\"")),
        "{lock}"
    );
    let same = f.tree();

    // A second checkout with the same cache: no apt at all, the same tree.
    fs::remove_dir_all(f.work()).unwrap();
    fs::remove_file(f.dir.join("apt-log.txt")).unwrap();
    f.ok(&["fetch-webrtc", "--debian-source"], &[]);
    assert!(
        !f.dir.join("apt-log.txt").exists(),
        "the cache served both files"
    );
    assert_eq!(f.tree(), same);

    // An archive that does not have the pinned version: apt's error, exit code and all.
    fs::remove_dir_all(f.work()).unwrap();
    fs::remove_dir_all(f.dir.join("cache")).unwrap();
    fs::rename(f.dir.join("archive"), f.dir.join("archive-gone")).unwrap();
    fs::create_dir_all(f.dir.join("archive")).unwrap();
    let out = f.xtask(&["fetch-webrtc", "--debian-source"], &[]);
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(
        msg.contains("exit status: 100") && msg.contains("Can not find version"),
        "{msg}"
    );
}

#[test]
fn checksum_mismatch_is_refused_before_anything_is_extracted() {
    let f = Fixture::new();
    let wrong = "0".repeat(64);
    let t = f.tarball.display().to_string();
    let out = f.xtask(&["fetch-webrtc", "--tarball", &t, "--sha256", &wrong], &[]);
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(msg.contains(&format!("checksum mismatch for {t}")), "{msg}");
    assert!(
        msg.contains(&format!("expected sha256 {wrong}"))
            && msg.contains(&format!("got      sha256 {}", sha256(&f.tarball))),
        "{msg}"
    );
    assert!(!f.src().exists());

    // A download (curl, file:// URL) with a wrong checksum is refused and not cached…
    let url = format!("file://{t}");
    let out = f.xtask(
        &["fetch-webrtc", "--tarball", &url, "--sha256", &wrong],
        &[],
    );
    assert!(
        !out.status.success() && text(&out).contains("checksum mismatch"),
        "{}",
        text(&out)
    );
    assert!(!f.dir.join(format!("cache/sha256/{wrong}")).exists());
    assert!(!f.dir.join(format!("cache/partial/{wrong}.part")).exists());
    // …with the right one it lands in the cache, keyed by its checksum.
    let sha = sha256(&f.tarball);
    let log = f.ok(&["fetch-webrtc", "--tarball", &url, "--sha256", &sha], &[]);
    assert!(log.contains("downloading file://"), "{log}");
    assert!(f
        .dir
        .join(format!("cache/sha256/{sha}/{TOP}.tar.xz"))
        .is_file());
    // A URL without a checksum is refused up front.
    let out = f.xtask(&["fetch-webrtc", "--tarball", &url], &[]);
    assert!(
        text(&out).contains("a download needs --sha256"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_tarball_pinning_another_webrtc_is_refused() {
    // The tarball's DEPS pins another commit than webrtc.toml.
    let f = Fixture::with_deps_revision(&"a".repeat(40));
    let a = f.tarball_args();
    let out = f.xtask(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(
        msg.contains(&format!(
            "Chromium {VERSION} pins WebRTC at {}, but webrtc.toml pins webrtc.revision = {REV}",
            "a".repeat(40)
        )),
        "{msg}"
    );
    assert!(!f.src().exists(), "nothing was made");
    // The right revision with a wrong milestone is refused too.
    let f = Fixture::new();
    f.write_config(REV, 148);
    let a = f.tarball_args();
    let out = f.xtask(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(
        text(&out).contains("is milestone 150, but webrtc.toml says webrtc.milestone = 148"),
        "{}",
        text(&out)
    );
}

#[test]
fn killed_runs_resume_and_converge_to_the_same_checkout() {
    let clean = Fixture::new();
    clean.fetch_tarball(&[]);
    let expected = clean
        .tree()
        .replace(&clean.dir.display().to_string(), "<dir>");

    let f = Fixture::new();
    let args = f.tarball_args();
    // Killed inside the unpack (Debian's patches), then inside the patches step (git apply).
    f.kill_when(&args, "patch", "-p1");
    assert!(!f.src().exists(), "src/ is never half-made");
    f.kill_when(&args, "git", "apply");
    assert!(f.src().join(".git").exists(), "the unpack had finished");
    let log = f.fetch_tarball(&[]);
    assert!(
        log.contains("[1/4] tarball              up to date"),
        "{log}"
    );
    assert!(
        log.contains("[2/4] unpack + re-root     up to date"),
        "{log}"
    );
    assert_eq!(
        f.tree().replace(&f.dir.display().to_string(), "<dir>"),
        expected
    );
    // A removed src/ is unpacked again although stamped.
    fs::remove_dir_all(f.src()).unwrap();
    f.fetch_tarball(&[]);
    assert_eq!(
        f.tree().replace(&f.dir.display().to_string(), "<dir>"),
        expected
    );
}

#[test]
fn dry_run_prints_the_tarball_plan_and_runs_nothing() {
    let f = Fixture::new();
    let mut a = f.tarball_args();
    a.push("--dry-run".into());
    let out = f.ok(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    for want in [
        "[1/4] tarball (will run)",
        "[2/4] unpack + re-root (will run)",
        "2 Debian patches",
        "git apply --check -v",
        "[4/4] webrtc.lock (will run)",
    ] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
    assert!(!f.trace().exists() && !f.work().join("src").exists());
    let deb = f.ok(&["fetch-webrtc", "--debian-source", "--dry-run"], &[]);
    assert!(
        deb.contains(&format!(
            "$ apt-get source --download-only 'chromium={DEB_VERSION}'"
        )),
        "{deb}"
    );
    assert!(!f.dir.join("apt-log.txt").exists());
}

/// The gn shims for libraries a repack strips (`patches/tarball/repack/`) create files an
/// official tarball already has: only a repack (`--debian-source`, `--debian-tar`, or a
/// checkout whose unpack found them missing) gets them.
#[test]
fn repack_patches_only_for_a_repack() {
    let f = Fixture::new();
    write(
        &f.dir.join("patches/tarball/repack/0002-unbundle.patch"),
        TARBALL_PATCH,
    );
    let repack = "patches/tarball/repack/0002-unbundle.patch";
    let plan = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.push("--dry-run");
        f.ok(&a, &[])
    };
    let sha = sha256(&f.tarball);
    let tarball = f.tarball.display().to_string();
    let official = plan(&["fetch-webrtc", "--tarball", &tarball, "--sha256", &sha]);
    assert!(official.contains("2 patch(es)"), "{official}");
    assert!(!official.contains(repack), "{official}");
    let with_debian_tar = f.tarball_args();
    let with_debian_tar = plan(
        &with_debian_tar
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(with_debian_tar.contains("3 patch(es)"), "{with_debian_tar}");
    assert!(with_debian_tar.contains(repack), "{with_debian_tar}");
    let debian = plan(&["fetch-webrtc", "--debian-source"]);
    assert!(debian.contains(repack), "{debian}");
}
