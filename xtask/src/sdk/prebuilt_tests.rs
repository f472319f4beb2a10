//! Tests of `--provider prebuilt` (kept beside prebuilt.rs to keep that file short).
use super::*;
use std::io::Write;

/// A prebuilt SDK's manifest: relative paths, as a relocatable archive has them.
const MANIFEST: &str = r#"schema = 1
provider = "prebuilt"

[webrtc]
revision = "branch-heads/6099"
milestone = 120

[target]
triple = "aarch64-linux-android"
android_abi = "arm64-v8a"
android_api = 24

[compile]
include_dirs = ["include", "include/third_party/abseil-cpp"]
defines = ["WEBRTC_POSIX", "WEBRTC_LINUX", "WEBRTC_ANDROID", "NDEBUG"]
cxx_std = "c++20"

[cxx_stdlib]
kind = "ndk-libcxx"
namespace = "std::__ndk1"
link = ["static=c++_static", "dylib=c++abi"]

[link]
search_paths = ["lib"]
static_libs = ["webrtc"]
system_libs = ["log", "OpenSLES"]
"#;

const TRIPLE: &str = "aarch64-linux-android";

/// `dir/{webrtc-sdk.toml, include/api/x.h, include/third_party/abseil-cpp/, lib/libwebrtc.a}`
fn make_sdk(dir: &Path, manifest: &str) {
    fs::create_dir_all(dir.join("include/api")).unwrap();
    fs::create_dir_all(dir.join("include/third_party/abseil-cpp")).unwrap();
    fs::create_dir_all(dir.join("lib")).unwrap();
    fs::write(dir.join(MANIFEST_FILE), manifest).unwrap();
    fs::write(dir.join("include/api/x.h"), "// header\n").unwrap();
    fs::write(dir.join("lib/libwebrtc.a"), b"!<arch>\n").unwrap();
}

fn tar_gz_of(dir: &Path, prefix: &str, archive: &Path) {
    let gz =
        flate2::write::GzEncoder::new(File::create(archive).unwrap(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    b.append_dir_all(prefix, dir).unwrap();
    b.into_inner().unwrap().finish().unwrap();
}

fn zip_of(dir: &Path, archive: &Path) {
    let mut z = zip::ZipWriter::new(File::create(archive).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for rel in [MANIFEST_FILE, "include/api/x.h", "lib/libwebrtc.a"] {
        z.start_file(rel, opts).unwrap();
        z.write_all(&fs::read(dir.join(rel)).unwrap()).unwrap();
    }
    z.add_directory("include/third_party/abseil-cpp/", opts)
        .unwrap();
    z.finish().unwrap();
}

struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    fn root(&self) -> &Path {
        self.tmp.path()
    }
    fn dest(&self) -> PathBuf {
        webrtc_sdk::default_sdk_dir(self.root(), TRIPLE)
    }
    fn install(&self, path: &Path, sha256: Option<&str>) -> Result<()> {
        run(
            &Request {
                path,
                sha256,
                out: None,
                triple: None,
                dry_run: false,
                label: None,
                limits: Default::default(),
            },
            self.root(),
        )
    }
    fn assert_installed(&self) {
        let dest = self.dest();
        let m = webrtc_sdk::Manifest::load(&dest).unwrap();
        assert_eq!(m.webrtc.milestone, 120);
        assert!(dest.join("lib/libwebrtc.a").is_file());
        assert!(dest.join("include/api/x.h").is_file());
        self.assert_no_staging_left();
    }
    fn assert_no_staging_left(&self) {
        let parent = self.dest().parent().unwrap().to_owned();
        if let Ok(rd) = fs::read_dir(parent) {
            let left: Vec<_> = rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".webrtc-sdk-"))
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
    }
}

#[test]
fn from_a_directory() {
    let env = Env::new();
    let src = env.root().join("my-sdk");
    make_sdk(&src, MANIFEST);
    env.install(&src, None).unwrap();
    env.assert_installed();
    // The source is copied, not moved.
    assert!(src.join(MANIFEST_FILE).is_file());
}

#[test]
fn from_a_tar_gz_with_a_top_level_dir_and_checksum() {
    let env = Env::new();
    let src = env.root().join("src");
    make_sdk(&src, MANIFEST);
    let archive = env.root().join("webrtc-m120.tar.gz");
    tar_gz_of(&src, "webrtc-m120", &archive);
    let sum = sha256_file(&archive).unwrap();
    env.install(&archive, Some(&sum.to_ascii_uppercase()))
        .unwrap();
    env.assert_installed();
}

#[test]
fn from_a_zip() {
    let env = Env::new();
    let src = env.root().join("src");
    make_sdk(&src, MANIFEST);
    let archive = env.root().join("sdk.zip");
    zip_of(&src, &archive);
    env.install(&archive, None).unwrap();
    env.assert_installed();
}

#[test]
fn bad_checksum_names_both_hashes_and_keeps_the_old_sdk() {
    let env = Env::new();
    let src = env.root().join("src");
    make_sdk(&src, MANIFEST);
    env.install(&src, None).unwrap();
    fs::write(env.dest().join("marker"), "old").unwrap();

    let archive = env.root().join("sdk.tgz");
    tar_gz_of(&src, ".", &archive);
    let actual = sha256_file(&archive).unwrap();
    let wrong = "0".repeat(64);
    let err = format!("{:#}", env.install(&archive, Some(&wrong)).unwrap_err());
    assert!(err.contains(&wrong) && err.contains(&actual), "{err}");
    assert!(env.dest().join("marker").is_file(), "old SDK untouched");
    env.assert_no_staging_left();

    let err = format!("{:#}", env.install(&archive, Some("abc")).unwrap_err());
    assert!(err.contains("64 hex digits"), "{err}");
    let err = format!("{:#}", env.install(&src, Some(&actual)).unwrap_err());
    assert!(err.contains("is a directory"), "{err}");
}

#[test]
fn malformed_manifest_names_the_field() {
    let env = Env::new();
    let cases = [
        (
            MANIFEST.replace("milestone = 120", "milestone = 7"),
            "webrtc.milestone",
        ),
        (
            MANIFEST.replace("namespace = \"std::__ndk1\"", "namespace = \"std::__Cr\""),
            "cxx_stdlib.namespace",
        ),
        (
            MANIFEST.replace("search_paths = [\"lib\"]", "search_paths = [\"lib64\"]"),
            "link.search_paths",
        ),
        (
            MANIFEST.replace("static_libs = [\"webrtc\"]\n", ""),
            "static_libs",
        ),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let src = env.root().join(format!("bad{i}"));
        make_sdk(&src, text);
        let archive = env.root().join(format!("bad{i}.zip"));
        zip_of(&src, &archive);
        let err = format!("{:#}", env.install(&archive, None).unwrap_err());
        assert!(err.contains(field), "{field}: {err}");
        // Named as the user knows it: the archive and its member, not the staging dir
        // (deleted by the time the message is read).
        assert!(
            err.contains(&format!("{}:{MANIFEST_FILE}", archive.display()))
                && !err.contains(".webrtc-sdk-new-"),
            "{err}"
        );
        assert!(!env.dest().exists(), "nothing installed");
        env.assert_no_staging_left();
    }
}

#[test]
fn archive_without_a_manifest_says_what_it_found() {
    let env = Env::new();
    let src = env.root().join("src");
    make_sdk(&src, MANIFEST);
    fs::remove_file(src.join(MANIFEST_FILE)).unwrap();
    let archive = env.root().join("sdk.tar.gz");
    tar_gz_of(&src, ".", &archive);
    let err = format!("{:#}", env.install(&archive, None).unwrap_err());
    assert!(
        err.contains("no webrtc-sdk.toml") && err.contains("include, lib"),
        "{err}"
    );
}

/// A raw tar with one entry named `name` (tar::Builder refuses `..`, so write the header
/// by hand, as a malicious archive would).
fn raw_tar(name: &str, kind: tar::EntryType, link: Option<&str>) -> Vec<u8> {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(link) = link {
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_mode(0o644);
    let body = b"pwned";
    header.set_size(if kind.is_file() { body.len() as u64 } else { 0 });
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    if kind.is_file() {
        out.extend_from_slice(body);
        out.resize(1024, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

#[test]
fn traversal_entries_are_rejected() {
    let env = Env::new();
    let cases = [
        ("../evil", tar::EntryType::Regular, None),
        ("sdk/../../evil", tar::EntryType::Regular, None),
        ("/tmp/evil", tar::EntryType::Regular, None),
        ("sdk/link", tar::EntryType::Symlink, Some("../../etc")),
        ("sdk/abs", tar::EntryType::Symlink, Some("/etc/passwd")),
        ("sdk/hard", tar::EntryType::Link, Some("../x")),
    ];
    for (i, (name, kind, link)) in cases.into_iter().enumerate() {
        let archive = env.root().join(format!("evil{i}.tar"));
        fs::write(&archive, raw_tar(name, kind, link)).unwrap();
        let err = format!("{:#}", env.install(&archive, None).unwrap_err());
        assert!(err.contains("refusing archive entry"), "{name}: {err}");
        assert!(!env.root().join("evil").exists());
        env.assert_no_staging_left();
    }
    // zip: the same through the zip reader.
    let archive = env.root().join("evil.zip");
    let mut z = zip::ZipWriter::new(File::create(&archive).unwrap());
    z.start_file("../evil", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(b"pwned").unwrap();
    z.finish().unwrap();
    let err = format!("{:#}", env.install(&archive, None).unwrap_err());
    assert!(err.contains("refusing archive entry `../evil`"), "{err}");
    assert!(!env.root().join("evil").exists());
}

/// The SDK files plus `extra` symlinks, as a tar (written with the raw headers a crafted
/// archive has: tar::Builder refuses `..` in link names).
fn tar_with_links(src: &Path, links: &[(&str, &str)], archive: &Path) {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", src).unwrap();
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_path(name).unwrap();
        h.set_link_name_literal(target).unwrap();
        h.set_mode(0o777);
        h.set_size(0);
        h.set_cksum();
        b.append(&h, io::empty()).unwrap();
    }
    fs::write(archive, b.into_inner().unwrap()).unwrap();
}

/// The SDK files, then `links` as zip symlinks, then `files` (name, body).
fn zip_with_links(src: &Path, links: &[(&str, &str)], files: &[(&str, &str)], archive: &Path) {
    let mut z = zip::ZipWriter::new(File::create(archive).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for rel in [MANIFEST_FILE, "include/api/x.h", "lib/libwebrtc.a"] {
        z.start_file(rel, opts).unwrap();
        z.write_all(&fs::read(src.join(rel)).unwrap()).unwrap();
    }
    z.add_directory("include/third_party/abseil-cpp/", opts)
        .unwrap();
    for (name, target) in links {
        z.add_symlink(*name, *target, opts).unwrap();
    }
    for (name, body) in files {
        z.start_file(*name, opts).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    z.finish().unwrap();
}

/// Each link is inside the SDK on its own, lexically; together they lead out: `l` is the
/// extraction root, `m` = `l/../../../..` is four levels above it (the test's root).
const CHAIN: &[(&str, &str)] = &[("a/b/c/d/l", "../../../.."), ("a/b/c/d/m", "l/../../../..")];

#[test]
fn zip_cannot_write_through_a_link_chain() {
    let env = Env::new();
    let src = env.root().join("src");
    make_sdk(&src, MANIFEST);
    let archive = env.root().join("chain.zip");
    zip_with_links(&src, CHAIN, &[("a/b/c/d/m/evil", "pwned")], &archive);
    let err = format!("{:#}", env.install(&archive, None).unwrap_err());
    assert!(err.contains("refusing archive entry"), "{err}");
    assert!(!env.root().join("evil").exists(), "written outside: {err}");
    assert!(!env.dest().exists());
    env.assert_no_staging_left();

    // Through a link that stays inside: still never written through.
    let archive = env.root().join("inside.zip");
    zip_with_links(&src, &[("inc", "include")], &[("inc/y.h", "//")], &archive);
    let err = format!("{:#}", env.install(&archive, None).unwrap_err());
    assert!(
        err.contains("`inc`") && err.contains("written through"),
        "{err}"
    );
    assert!(!src.join("include/y.h").exists());
}

#[test]
fn link_chains_leading_out_are_refused_in_tar_and_dirs() {
    let env = Env::new();
    let src = env.root().join("src");
    make_sdk(&src, MANIFEST);
    let archive = env.root().join("chain.tar");
    tar_with_links(&src, CHAIN, &archive);
    let err = format!("{:#}", env.install(&archive, None).unwrap_err());
    assert!(
        err.contains("refusing archive entry `a/b/c/d/m`") && err.contains("outside"),
        "{err}"
    );
    assert!(!env.dest().exists(), "installed a link pointing outside");
    env.assert_no_staging_left();

    // A directory SDK holding the same links.
    fs::create_dir_all(src.join("a/b/c/d")).unwrap();
    for (name, target) in CHAIN {
        std::os::unix::fs::symlink(target, src.join(name)).unwrap();
    }
    let err = format!("{:#}", env.install(&src, None).unwrap_err());
    assert!(
        err.contains("a/b/c/d/m") && err.contains("outside"),
        "{err}"
    );
    assert!(!env.dest().exists());

    // Loops are refused, links that stay inside (however they get there) are kept.
    let ok = env.root().join("ok");
    make_sdk(&ok, MANIFEST);
    let archive = env.root().join("ok.tar");
    tar_with_links(
        &ok,
        &[
            ("lib/libwebrtc.so", "libwebrtc.a"),
            ("lib/up", ".."),
            ("lib/hdr", "up/include/api/x.h"),
        ],
        &archive,
    );
    env.install(&archive, None).unwrap();
    assert_eq!(
        fs::read_to_string(env.dest().join("lib/hdr")).unwrap(),
        "// header\n"
    );
    let archive = env.root().join("loop.tar");
    tar_with_links(&ok, &[("x", "y"), ("y", "x")], &archive);
    let err = format!("{:#}", env.install(&archive, None).unwrap_err());
    assert!(err.contains("refusing archive entry"), "{err}");
}

#[test]
fn triple_mismatch_and_dry_run() {
    let env = Env::new();
    let src = env.root().join("src");
    make_sdk(&src, MANIFEST);
    let mut req = Request {
        path: &src,
        sha256: None,
        out: None,
        triple: Some("x86_64-unknown-linux-gnu"),
        dry_run: false,
        label: None,
        limits: Default::default(),
    };
    let err = format!("{:#}", run(&req, env.root()).unwrap_err());
    assert!(err.contains("is an SDK for aarch64-linux-android"), "{err}");
    req.triple = Some(TRIPLE);
    req.dry_run = true;
    run(&req, env.root()).unwrap();
    assert!(!env.dest().exists());
    env.assert_no_staging_left();
}

#[test]
fn unsupported_archive_formats_say_what_to_do() {
    let env = Env::new();
    let p = env.root().join("sdk.tar.zst");
    fs::write(&p, b"").unwrap();
    let err = format!("{:#}", env.install(&p, None).unwrap_err());
    assert!(err.contains(".tar.gz") && err.contains("repack"), "{err}");
    let err = format!(
        "{:#}",
        env.install(&env.root().join("nope.zip"), None).unwrap_err()
    );
    assert!(err.contains("no such file"), "{err}");
}
