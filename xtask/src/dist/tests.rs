//! Tests of `cargo xtask dist`: the plan, the archive's bytes, and that `--provider
//! prebuilt` installs what it packs.
use super::*;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use crate::config::{AndroidAbi, LinuxCpu};

/// A `source` SDK manifest with relative paths (what `cargo xtask build` writes), plus an
/// absolute toolchain path as the Linux one has.
const MANIFEST: &str = r#"schema = 1
provider = "source"

[webrtc]
revision = "1f975dfd761af6e5d76d28333191973b258d82a8"
milestone = 150

[target]
triple = "x86_64-unknown-linux-gnu"

[compile]
include_dirs = ["include", "include/third_party/abseil-cpp"]
defines = ["WEBRTC_POSIX", "WEBRTC_LINUX", "NDEBUG"]
cxx_std = "c++20"
flags = ["-stdlib=libc++"]
cxx = "/usr/lib/llvm-22/bin/clang++"

[cxx_stdlib]
kind = "llvm-libcxx"
namespace = "std::__1"
link = ["static=c++", "static=c++abi"]

[link]
search_paths = ["lib", "/usr/lib/llvm-22/lib"]
static_libs = ["webrtc"]
system_libs = ["dl", "m"]
"#;

/// A source SDK dir as `build` exports it (without LICENSES.md unless `licences`).
fn make_sdk(dir: &Path, licences: bool) {
    fs::create_dir_all(dir.join("include/api")).unwrap();
    fs::create_dir_all(dir.join("include/third_party/abseil-cpp/absl")).unwrap();
    fs::create_dir_all(dir.join("lib")).unwrap();
    fs::write(dir.join(webrtc_sdk::MANIFEST_FILE), MANIFEST).unwrap();
    fs::write(dir.join("include/api/peer.h"), "// peer\n").unwrap();
    fs::write(dir.join("include/api/a.h"), "// a\n").unwrap();
    fs::write(
        dir.join("include/third_party/abseil-cpp/absl/base.h"),
        "// absl\n",
    )
    .unwrap();
    fs::write(dir.join("lib/libwebrtc.a"), vec![7u8; 300_000]).unwrap();
    fs::write(
        dir.join("args.gn"),
        "# Written by `cargo xtask build`\nis_debug = false\ntarget_os = \"linux\"\n",
    )
    .unwrap();
    fs::write(dir.join("VERSIONS"), "webrtc 1f975dfd (M150)\n").unwrap();
    std::os::unix::fs::symlink("peer.h", dir.join("include/api/peer_alias.h")).unwrap();
    if licences {
        fs::write(dir.join("LICENSES.md"), "# Licences\nBSD\n").unwrap();
    }
}

fn pack_to(sdk: &Path, out: &Path) -> Vec<u8> {
    pack(
        sdk,
        Some((
            "# Licences\nfrom the checkout\n".into(),
            "a checkout".into(),
        )),
        out,
        "webrtc-sdk-x86_64-unknown-linux-gnu",
    )
    .unwrap();
    fs::read(out).unwrap()
}

#[test]
fn the_same_tree_gives_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a/sdk"), tmp.path().join("elsewhere/b/sdk"));
    make_sdk(&a, false);
    let first = pack_to(&a, &tmp.path().join("1.tar.gz"));
    let again = pack_to(&a, &tmp.path().join("2.tar.gz"));
    assert_eq!(first, again, "packed twice from the same dir");

    // The same tree elsewhere, made later, in another order, with other modes and mtimes.
    fs::create_dir_all(b.join("lib")).unwrap();
    fs::write(b.join("lib/libwebrtc.a"), vec![7u8; 300_000]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    make_sdk(&b, false);
    fs::set_permissions(b.join("VERSIONS"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(b.join("include/api"), fs::Permissions::from_mode(0o700)).unwrap();
    let other = pack_to(&b, &tmp.path().join("3.tar.gz"));
    assert_eq!(first, other, "another copy of the same tree");

    // gzip header: no file name flag, mtime 0, OS 255.
    assert_eq!(&first[..4], &[0x1f, 0x8b, 8, 0], "no FNAME/FEXTRA flags");
    assert_eq!(&first[4..8], &[0, 0, 0, 0], "gzip mtime");
    assert_eq!(first[9], 255, "gzip OS byte");

    // A changed byte changes the archive.
    fs::write(b.join("include/api/a.h"), "// b\n").unwrap();
    let changed = pack_to(&b, &tmp.path().join("4.tar.gz"));
    assert_ne!(first, changed);
}

#[test]
fn entries_are_sorted_with_fixed_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = tmp.path().join("sdk");
    make_sdk(&sdk, false);
    fs::set_permissions(sdk.join("VERSIONS"), fs::Permissions::from_mode(0o750)).unwrap();
    let bytes = pack_to(&sdk, &tmp.path().join("x.tar.gz"));
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(h.mtime().unwrap(), archive::MTIME);
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.username().unwrap(), Some(""));
        assert_eq!(h.groupname().unwrap(), Some(""));
        let path = e.path().unwrap().display().to_string();
        let mode = h.mode().unwrap();
        let want = match h.entry_type() {
            tar::EntryType::Directory => 0o755,
            tar::EntryType::Symlink => 0o777,
            _ if path.ends_with("VERSIONS") => 0o755,
            _ => 0o644,
        };
        assert_eq!(mode, want, "{path}");
        names.push(path);
    }
    let top = "webrtc-sdk-x86_64-unknown-linux-gnu";
    let want: Vec<String> = [
        "",
        "/LICENSES.md",
        "/VERSIONS",
        "/args.gn",
        "/dist-manifest.toml",
        "/include",
        "/include/api",
        "/include/api/a.h",
        "/include/api/peer.h",
        "/include/api/peer_alias.h",
        "/include/third_party",
        "/include/third_party/abseil-cpp",
        "/include/third_party/abseil-cpp/absl",
        "/include/third_party/abseil-cpp/absl/base.h",
        "/lib",
        "/lib/libwebrtc.a",
        "/webrtc-sdk.toml",
    ]
    .iter()
    .map(|s| format!("{top}{s}"))
    .collect();
    assert_eq!(names, want);
}

#[test]
fn the_archive_carries_its_manifest_and_prebuilt_installs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = tmp.path().join("sdk");
    make_sdk(&sdk, true);
    let archive = tmp
        .path()
        .join("dist")
        .join(archive_name("x86_64-unknown-linux-gnu"));
    pack(&sdk, None, &archive, "webrtc-sdk-x86_64-unknown-linux-gnu").unwrap();
    let dest = tmp.path().join("installed/x86_64-unknown-linux-gnu");
    let sha = archive::sha256_hex(fs::File::open(&archive).unwrap()).unwrap();
    crate::sdk::prebuilt::run(
        &crate::sdk::prebuilt::Request {
            path: &archive,
            sha256: Some(&sha),
            out: Some(&dest),
            triple: None,
            dry_run: false,
            label: None,
            limits: Default::default(),
        },
        tmp.path(),
    )
    .unwrap();
    let m = webrtc_sdk::Manifest::load(&dest).unwrap();
    assert_eq!(m.webrtc.milestone, 150);
    assert_eq!(
        fs::read(dest.join("lib/libwebrtc.a")).unwrap(),
        fs::read(sdk.join("lib/libwebrtc.a")).unwrap()
    );
    assert_eq!(
        fs::read_link(dest.join("include/api/peer_alias.h")).unwrap(),
        Path::new("peer.h")
    );
    let dm: toml::Value =
        toml::from_str(&fs::read_to_string(dest.join(contents::DIST_MANIFEST)).unwrap()).unwrap();
    assert_eq!(dm["milestone"].as_integer(), Some(150));
    assert_eq!(
        dm["revision"].as_str(),
        Some("1f975dfd761af6e5d76d28333191973b258d82a8")
    );
    assert_eq!(dm["gn_args"]["target_os"].as_str(), Some("\"linux\""));
    assert_eq!(dm["cxx_runtime"]["kind"].as_str(), Some("llvm-libcxx"));
    assert_eq!(dm["licences"]["file"].as_str(), Some("LICENSES.md"));
    assert_eq!(
        dm["needs_on_host"].as_array().unwrap().len(),
        2,
        "the toolchain's lib dir and clang++: {dm}"
    );
    let lib_sha =
        archive::sha256_hex(fs::File::open(sdk.join("lib/libwebrtc.a")).unwrap()).unwrap();
    assert_eq!(
        dm["files"]["lib/libwebrtc.a"].as_str(),
        Some(format!("sha256:{lib_sha}").as_str())
    );
    assert!(dm["files"].get(contents::DIST_MANIFEST).is_none());
}

#[test]
fn only_source_sdks_are_packed() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = tmp.path().join("sdk");
    fs::create_dir_all(&sdk).unwrap();
    fs::write(
        sdk.join(webrtc_sdk::MANIFEST_FILE),
        include_str!("../../tests/fixtures/sdk/webrtc-sdk.toml"),
    )
    .unwrap();
    let err = format!("{:#}", check_sdk(&sdk).unwrap_err());
    assert!(
        err.contains("`system` SDK") && err.contains("--provider system"),
        "{err}"
    );

    let err = format!("{:#}", check_sdk(&tmp.path().join("none")).unwrap_err());
    assert!(err.contains("cargo xtask build"), "{err}");

    // A source SDK whose library dir is missing is incomplete.
    let sdk = tmp.path().join("src-sdk");
    make_sdk(&sdk, true);
    fs::remove_dir_all(sdk.join("lib")).unwrap();
    let err = format!("{:#}", check_sdk(&sdk).unwrap_err());
    assert!(err.contains("link.search_paths"), "{err}");
}

#[test]
fn no_licences_is_an_error_that_says_what_to_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = tmp.path().join("sdk");
    make_sdk(&sdk, false);
    let err = pack(&sdk, None, &tmp.path().join("x.tar.gz"), "x").unwrap_err();
    assert!(format!("{err:#}").contains("--work-dir"), "{err:#}");
    assert!(!tmp.path().join("x.tar.gz").exists());
}

#[test]
fn licences_are_gathered_from_a_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    fs::write(src.join("LICENSE"), "WebRTC BSD").unwrap();
    fs::write(src.join("PATENTS"), "grant").unwrap();
    for d in [
        "third_party/abseil-cpp",
        "third_party/boringssl/src",
        "third_party/opus",
    ] {
        fs::create_dir_all(src.join(d)).unwrap();
    }
    fs::write(src.join("third_party/abseil-cpp/LICENSE"), "Apache").unwrap();
    fs::write(
        src.join("third_party/boringssl/README.chromium"),
        "Name: boringssl\nLicense File: src/LICENSE\n",
    )
    .unwrap();
    fs::write(src.join("third_party/boringssl/src/LICENSE"), "ISC").unwrap();
    let md = contents::licences_from_checkout(src).unwrap();
    let pos = |s: &str| {
        md.find(s)
            .unwrap_or_else(|| panic!("{s} missing from:\n{md}"))
    };
    assert!(pos("## webrtc: LICENSE") < pos("## webrtc: PATENTS"));
    assert!(pos("## third_party/abseil-cpp: third_party/abseil-cpp/LICENSE") < pos("ISC"));
    assert!(pos("third_party/boringssl/src/LICENSE") > 0);
    assert!(pos("- third_party/opus") > pos("No licence file"));
}

#[test]
fn the_plan_per_target() {
    let targets = [
        Target::Android(AndroidAbi::Arm64V8a),
        Target::Linux(LinuxCpu::X64),
    ];
    let steps = plan(
        &targets,
        Path::new("/ws/.mobilertc/sdk"),
        Path::new("/ws/target/dist"),
        Path::new("/ws/.mobilertc/webrtc/src"),
    );
    let shown: String = steps.iter().map(|s| s.to_string()).collect();
    assert_eq!(steps.len(), 8, "{shown}");
    assert_eq!(
        steps[2],
        Step::Pack {
            triple: "aarch64-linux-android".into(),
            sdk_dir: "/ws/.mobilertc/sdk/aarch64-linux-android".into(),
            archive: "/ws/target/dist/webrtc-sdk-aarch64-linux-android.tar.gz".into(),
            top: "webrtc-sdk-aarch64-linux-android".into(),
        }
    );
    assert_eq!(
        steps[7],
        Step::Checksum {
            archive: "/ws/target/dist/webrtc-sdk-x86_64-unknown-linux-gnu.tar.gz".into(),
            sha_file: "/ws/target/dist/webrtc-sdk-x86_64-unknown-linux-gnu.tar.gz.sha256".into(),
        }
    );
    assert!(shown.contains("check x86_64-unknown-linux-gnu\n    load /ws/.mobilertc/sdk/x86_64-unknown-linux-gnu/webrtc-sdk.toml"), "{shown}");
}

#[test]
fn execute_writes_the_archive_and_its_checksum_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sdk");
    make_sdk(&root.join("x86_64-unknown-linux-gnu"), true);
    let steps = plan(
        &[Target::Linux(LinuxCpu::X64)],
        &root,
        &tmp.path().join("dist"),
        &tmp.path().join("no-checkout"),
    );
    execute(&steps, false).unwrap();
    let archive = tmp
        .path()
        .join("dist/webrtc-sdk-x86_64-unknown-linux-gnu.tar.gz");
    let line = fs::read_to_string(format!("{}.sha256", archive.display())).unwrap();
    let mut bytes = Vec::new();
    fs::File::open(&archive)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(
        line,
        format!(
            "{}  webrtc-sdk-x86_64-unknown-linux-gnu.tar.gz\n",
            archive::sha256_hex(bytes.as_slice()).unwrap()
        )
    );
    // No leftovers of the temporary file.
    let names: Vec<_> = fs::read_dir(tmp.path().join("dist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}
