//! Crafted archives against `cargo xtask sdk --provider prebuilt`, as an attacker (or a
//! broken packer) would make them: written byte by byte here, not with the helpers the
//! extractor's own unit tests use. Every case runs through the real binary against a work
//! tree holding a good SDK already installed at `--out`; after each case:
//! - nothing outside the SDK dir changed (the whole tree is compared with a snapshot);
//! - a refused archive left the good SDK exactly as it was, and no staging directory;
//! - an accepted one installed an SDK whose every link (resolved by `realpath -m`, not by
//!   the xtask's own code) stays inside it, with no device, FIFO or set-id file.
//!
//! Tar cases run as `.tar` and `.tar.gz`; zips are patched after writing (names, modes,
//! declared sizes) where the zip writer would not produce the crafted form.

#[path = "support/crafted_archives.rs"]
#[macro_use]
mod crafted;

use std::fs;
use std::path::Path;
use std::process::Command;

use crafted::*;

use tar::EntryType as E;

#[test]
fn crafted_tars_are_refused_or_harmless() {
    let site = Site::new();
    let mut rep = Report::default();
    let r = |s: &'static [&'static str]| Want::Refused(s);
    // Paths.
    check_tar(
        &mut rep,
        &site,
        "absolute file",
        &[T::File(b"/tmp/evil-sdk-crafted", b"x".to_vec())],
        &[],
        r(&["refusing archive entry `/tmp/evil-sdk-crafted`"]),
    );
    check_tar(
        &mut rep,
        &site,
        "dotdot file",
        &[T::File(b"sdk/../../victim", b"pwned".to_vec())],
        &[],
        r(&["sdk/../../victim"]),
    );
    check_tar(
        &mut rep,
        &site,
        "dotdot dir",
        &[T::Dir(b"../out/outside/new/")],
        &[],
        r(&["../out/outside/new"]),
    );
    check_tar(
        &mut rep,
        &site,
        "backslashes",
        &[T::File(b"sdk\\..\\..\\victim", b"pwned".to_vec())],
        &[],
        r(&["backslash"]),
    );
    check_tar(
        &mut rep,
        &site,
        "NUL in a pax path",
        &[T::PaxFile(b"sdk/a\0/../../../victim", b"pwned".to_vec())],
        &[],
        r(&["NUL"]),
    );
    // Hard links.
    check_tar(
        &mut rep,
        &site,
        "hardlink absolute",
        &[T::Hard(b"sdk/h", b"/etc/passwd")],
        &[],
        r(&["sdk/h"]),
    );
    check_tar(
        &mut rep,
        &site,
        "hardlink dotdot",
        &[T::Hard(b"sdk/h", b"../victim")],
        &[],
        r(&["sdk/h"]),
    );
    check_tar(
        &mut rep,
        &site,
        "hardlink to the victim by depth",
        &[T::Hard(b"sdk/h", b"sdk/../../../victim")],
        &[],
        r(&["sdk/h"]),
    );
    check_tar(
        &mut rep,
        &site,
        "hardlink through a symlink",
        &[
            T::Sym(b"sdk/up", b".."),
            T::Hard(b"sdk/h", b"sdk/up/sdk/lib/libwebrtc.a"),
        ],
        &[],
        r(&["sdk/h"]),
    );
    check_tar(
        &mut rep,
        &site,
        "hardlink to a dir",
        &[T::Hard(b"sdk/h", b"sdk/include")],
        &[],
        r(&["sdk/h"]),
    );
    // Symlinks.
    check_tar(
        &mut rep,
        &site,
        "symlink absolute",
        &[T::Sym(b"sdk/l", b"/etc")],
        &[],
        r(&["sdk/l"]),
    );
    check_tar(
        &mut rep,
        &site,
        "symlink loop",
        &[T::Sym(b"sdk/a", b"b"), T::Sym(b"sdk/b", b"a")],
        &[],
        r(&["loop"]),
    );
    check_tar(
        &mut rep,
        &site,
        "symlink self loop",
        &[T::Sym(b"sdk/a", b"a")],
        &[],
        r(&["loop"]),
    );
    check_tar(
        &mut rep,
        &site,
        "symlink loop through dirs",
        &[T::Sym(b"sdk/include/x", b"../include/x/y")],
        &[],
        r(&["loop"]),
    );
    // Leaves the SDK dir (the archive's top-level `sdk/`), though not the extraction dir.
    check_tar(
        &mut rep,
        &site,
        "symlink to the SDK's parent",
        &[T::Sym(b"sdk/up", b"..")],
        &[],
        r(&["sdk/up"]),
    );
    check_tar(
        &mut rep,
        &site,
        "symlink to a sibling of the SDK",
        &[T::Sym(b"sdk/lib/o", b"../../outside")],
        &[],
        r(&["sdk/lib/o"]),
    );
    check_tar(
        &mut rep,
        &site,
        "symlink chain to the SDK's parent",
        &[
            T::Sym(b"sdk/include/a", b".."),
            T::Sym(b"sdk/b", b"include/a/.."),
        ],
        &[],
        r(&["sdk/b"]),
    );
    // Then writing through them.
    check_tar(
        &mut rep,
        &site,
        "symlink then a file below it",
        &[
            T::Sym(b"sdk/d", b"../sdk"),
            T::File(b"sdk/d/evil", b"pwned".to_vec()),
        ],
        &[],
        r(&["sdk/d"]),
    );
    check_tar(
        &mut rep,
        &site,
        "symlink replaced by a dir entry",
        &[
            T::Sym(b"sdk/d", b"lib"),
            T::Dir(b"sdk/d/"),
            T::File(b"sdk/d/f", b"x".to_vec()),
        ],
        &[],
        r(&["sdk/d"]),
    );
    check_tar(
        &mut rep,
        &site,
        "file after a symlink of the same name",
        &[
            T::Sym(b"sdk/f", b"lib/libwebrtc.a"),
            T::File(b"sdk/f", b"later".to_vec()),
        ],
        &[],
        Want::Safe(Some(("f", b"later"))),
    );
    check_tar(
        &mut rep,
        &site,
        "symlink after a file of the same name",
        &[
            T::File(b"sdk/f", b"earlier".to_vec()),
            T::Sym(b"sdk/f", b"webrtc-sdk.toml"),
        ],
        &[],
        Want::Safe(Some(("f", MANIFEST.as_bytes()))),
    );
    check_tar(
        &mut rep,
        &site,
        "hardlink after a symlink of the same name",
        &[
            T::Sym(b"sdk/f", b"../victim-like"),
            T::Hard(b"sdk/f", b"sdk/lib/libwebrtc.a"),
        ],
        &[],
        Want::Safe(Some(("f", b"!<arch>\n"))),
    );
    // Special files and modes.
    for (label, kind) in [
        ("char device", E::Char),
        ("block device", E::Block),
        ("fifo", E::Fifo),
        ("gnu sparse", E::GNUSparse),
    ] {
        check_tar(
            &mut rep,
            &site,
            label,
            &[T::Special(b"sdk/lib/dev", kind)],
            &[],
            r(&["sdk/lib/dev"]),
        );
    }
    check_tar(
        &mut rep,
        &site,
        "setuid file",
        &[T::Mode(b"sdk/lib/suid", 0o6755)],
        &[],
        Want::Safe(None),
    );
    // Duplicates: the later entry wins, as with tar(1).
    check_tar(
        &mut rep,
        &site,
        "duplicate file",
        &[T::File(b"sdk/lib/libwebrtc.a", b"!<arch>\nsecond".to_vec())],
        &[],
        Want::Safe(Some(("lib/libwebrtc.a", b"!<arch>\nsecond"))),
    );
    check_tar(
        &mut rep,
        &site,
        "duplicate dir",
        &[T::Dir(b"sdk/lib/"), T::Dir(b"sdk/lib/")],
        &[],
        Want::Safe(None),
    );
    // Sizes: a declared 1 TiB (nothing behind it) is refused before a byte is written, under
    // the default limit; a real 64 MiB of zeros (64 KiB compressed) over a 16 MiB limit.
    check_tar(
        &mut rep,
        &site,
        "declared 1 TiB",
        &[T::Declared(b"sdk/lib/huge", 1 << 40, vec![])],
        &[],
        r(&["sdk/lib/huge", "--max-unpacked-mib"]),
    );
    check_tar(
        &mut rep,
        &site,
        "64 MiB over a 16 MiB limit",
        &[T::File(b"sdk/lib/big", vec![0; 64 << 20])],
        &["--max-unpacked-mib", "16"],
        r(&["--max-unpacked-mib"]),
    );
    check_tar(
        &mut rep,
        &site,
        "many files over the limit together",
        &[
            T::File(b"sdk/lib/b1", vec![0; 10 << 20]),
            T::File(b"sdk/lib/b2", vec![0; 10 << 20]),
        ],
        &["--max-unpacked-mib", "16"],
        r(&["--max-unpacked-mib"]),
    );
    // A truncated archive.
    check_tar(
        &mut rep,
        &site,
        "truncated entry",
        &[T::Declared(b"sdk/lib/cut", 4096, b"short".to_vec())],
        &[],
        Want::Safe(None),
    );
    // Still installs a good one afterwards.
    let good = site.archive("good-again.tar.gz", gz(&tar_bytes(&[])));
    assert_eq!(
        check(&site, "good", &good, &[], &Want::Safe(None)),
        Ok(true)
    );
    assert!(!Path::new("/tmp/evil-sdk-crafted").exists());
    rep.finish();
}

#[test]
fn crafted_zips_are_refused_or_harmless() {
    let site = Site::new();
    let mut rep = Report::default();
    let r = |s: &'static [&'static str]| Want::Refused(s);
    let f = |n: &'static str| Z::File(n, b"pwned".to_vec());
    check_zip(
        &mut rep,
        &site,
        "absolute",
        &[f("/tmp/evil-sdk-crafted")],
        &[],
        r(&["/tmp/evil-sdk-crafted"]),
    );
    check_zip(
        &mut rep,
        &site,
        "dotdot",
        &[f("sdk/../../victim")],
        &[],
        r(&["sdk/../../victim"]),
    );
    check_zip(
        &mut rep,
        &site,
        "backslashes",
        &[f("sdk/AAAAAAAAAvictim")],
        &[Patch::Rename(
            b"sdk/AAAAAAAAAvictim",
            b"sdk\\..\\..\\..\\victim",
        )],
        r(&["backslash"]),
    );
    check_zip(
        &mut rep,
        &site,
        "NUL in a name",
        &[f("sdk/lib/aXb")],
        &[Patch::Rename(b"sdk/lib/aXb", b"sdk/lib/a\0b")],
        r(&["NUL"]),
    );
    check_zip(
        &mut rep,
        &site,
        "symlink absolute",
        &[Z::Sym("sdk/l", "/etc".into())],
        &[],
        r(&["sdk/l"]),
    );
    check_zip(
        &mut rep,
        &site,
        "symlink loop",
        &[Z::Sym("sdk/a", "b".into()), Z::Sym("sdk/b", "a".into())],
        &[],
        r(&["loop"]),
    );
    check_zip(
        &mut rep,
        &site,
        "symlink to the SDK's parent",
        &[Z::Sym("sdk/up", "..".into())],
        &[],
        r(&["sdk/up"]),
    );
    check_zip(
        &mut rep,
        &site,
        "symlink to a sibling of the SDK",
        &[Z::Sym("sdk/lib/o", "../../outside".into())],
        &[],
        r(&["sdk/lib/o"]),
    );
    check_zip(
        &mut rep,
        &site,
        "symlink then a file below it",
        &[Z::Sym("sdk/d", "../sdk".into()), f("sdk/d/evil")],
        &[],
        r(&["sdk/d"]),
    );
    check_zip(
        &mut rep,
        &site,
        "symlink replaced by a dir entry",
        &[
            Z::Sym("sdk/d", "lib".into()),
            Z::Dir("sdk/d/"),
            f("sdk/d/f"),
        ],
        &[],
        r(&["sdk/d"]),
    );
    check_zip(
        &mut rep,
        &site,
        "file after a symlink of the same name",
        &[Z::Sym("sdk/f", "lib/libwebrtc.a".into()), f("sdk/g")],
        &[Patch::Rename(b"sdk/g", b"sdk/f")],
        Want::Safe(Some(("f", b"pwned"))),
    );
    check_zip(
        &mut rep,
        &site,
        "symlink target of 1 MiB",
        &[Z::Sym("sdk/l", "a/".repeat(1 << 19))],
        &[],
        r(&["sdk/l"]),
    );
    // Special files: a zip carries only a mode, written as a plain file or refused.
    for (label, mode) in [
        ("fifo", 0o010644),
        ("char device", 0o020644),
        ("block device", 0o060644),
        ("socket", 0o140644),
    ] {
        check_zip(
            &mut rep,
            &site,
            label,
            &[f("sdk/lib/dev")],
            &[Patch::Mode(b"sdk/lib/dev", mode)],
            Want::Safe(None),
        );
    }
    check_zip(
        &mut rep,
        &site,
        "setuid",
        &[f("sdk/lib/suid")],
        &[Patch::Mode(b"sdk/lib/suid", 0o106755)],
        Want::Safe(None),
    );
    check_zip(
        &mut rep,
        &site,
        "duplicate name",
        &[Z::File("sdk/lib/libwebrtX.a", b"!<arch>\nsecond".to_vec())],
        &[Patch::Rename(
            b"sdk/lib/libwebrtX.a",
            b"sdk/lib/libwebrtc.a",
        )],
        Want::Safe(Some(("lib/libwebrtc.a", b"!<arch>\nsecond"))),
    );
    // Sizes: a bomb (64 MiB of zeros, 64 KiB deflated) over a 16 MiB limit, declared
    // honestly; the same declaring 1 KiB (a lie: counted as written, not as declared); a
    // 4 GiB declaration under the default limit's smaller override.
    let bomb = || Z::File("sdk/lib/bomb", vec![0; 64 << 20]);
    rep.add(check(
        &site,
        "zip bomb",
        &site.archive("bomb.zip", zip_bytes(&[bomb()], &[])),
        &["--max-unpacked-mib", "16"],
        &r(&["sdk/lib/bomb", "--max-unpacked-mib"]),
    ));
    rep.add(check(
        &site,
        "zip bomb declaring 1 KiB",
        &site.archive(
            "bomb-lie.zip",
            zip_bytes(&[bomb()], &[Patch::Size(b"sdk/lib/bomb", 1024)]),
        ),
        &["--max-unpacked-mib", "16"],
        &Want::Safe(None),
    ));
    rep.add(check(
        &site,
        "declared 4 GiB",
        &site.archive(
            "declared.zip",
            zip_bytes(
                &[f("sdk/lib/huge")],
                &[Patch::Size(b"sdk/lib/huge", u32::MAX - 1)],
            ),
        ),
        &["--max-unpacked-mib", "1024"],
        &r(&["sdk/lib/huge", "--max-unpacked-mib"]),
    ));
    let good = site.archive("good.zip", zip_bytes(&[], &[]));
    assert_eq!(
        check(&site, "good", &good, &[], &Want::Safe(None)),
        Ok(true)
    );
    assert!(!Path::new("/tmp/evil-sdk-crafted").exists());
    rep.finish();
}

/// A directory source holding what an archive cannot smuggle in as bytes: a FIFO (whose
/// copy would block forever) and a link out of the SDK.
#[test]
fn crafted_directories_are_refused() {
    let site = Site::new();
    let mut rep = Report::default();
    let make = |name: &str| {
        let d = site.root.join("archives").join(name).join("sdk");
        for (rel, body) in base_files() {
            let p = d.join(rel.strip_prefix("sdk/").unwrap());
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, body).unwrap();
        }
        d
    };
    let d = make("d1");
    let st = Command::new("mkfifo")
        .arg(d.join("lib/pipe"))
        .status()
        .unwrap();
    assert!(st.success());
    rep.add(check(
        &site,
        "fifo in a directory",
        &d,
        &[],
        &Want::Refused(&["lib/pipe"]),
    ));
    let d = make("d2");
    std::os::unix::fs::symlink("../../../../out/outside", d.join("lib/o")).unwrap();
    rep.add(check(
        &site,
        "link out of a directory",
        &d,
        &[],
        &Want::Refused(&["lib/o"]),
    ));
    assert!(fs::symlink_metadata(site.dest().join("lib/pipe")).is_err());
    rep.finish();
}

/// SIGKILLed at some point of an install (wherever the kill lands: unpacking, validating,
/// between the renames), the SDK dir holds a whole SDK, the old or the new; the next
/// install leaves nothing of the killed ones behind.
#[test]
fn a_killed_install_leaves_a_whole_sdk_and_the_next_cleans_up() {
    let site = Site::new();
    let big = site.archive(
        "big.tar.gz",
        gz(&tar_bytes(&[T::File(b"sdk/lib/big", vec![0; 32 << 20])])),
    );
    for delay in [10, 50, 150, 400] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["sdk", "--provider", "prebuilt", "--path"])
            .arg(&big)
            .arg("--out")
            .arg(site.dest())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        let manifest = fs::read_to_string(site.dest().join("webrtc-sdk.toml"));
        // Killed between the two renames, the old SDK is aside and put back by the next
        // install; otherwise one whole SDK is in place.
        if let Ok(m) = manifest {
            assert_eq!(m, MANIFEST, "after a kill at {delay} ms");
            assert!(site.dest().join("lib/libwebrtc.a").is_file());
        }
    }
    let good = site.archive("good.tar", tar_bytes(&[]));
    let out = site.install(&good, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let left: Vec<String> = fs::read_dir(site.dest().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".webrtc-sdk-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
