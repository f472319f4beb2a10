//! libwebrtc's own JNI functions, kept and exported by the app's cdylib.
//!
//! libwebrtc's Java classes (in libwebrtc.jar) call native methods — the video source's
//! `nativeOnFrameCaptured`, the audio record's `nativeDataIsRecorded`, the network
//! monitor's callbacks, … — that the JVM binds by name to `Java_…` functions in
//! libwebrtc.a. Upstream's own .so keeps them with a version script
//! (//build/config/android:hide_all_but_jni). A Rust cdylib exports only Rust's symbols
//! (rustc's version script ends in `local: *`), and the linker does not even pull archive
//! members nothing references, so without this every one of those calls ends in
//! UnsatisfiedLinkError on a device.
//!
//! The names come from the archive's own symbol index (every defined global symbol whose
//! name starts with `Java_`, the prefix the JNI specification gives name-bound natives),
//! not from a fixed list or a `Java_org_webrtc_` pattern: jni_zero renames them across
//! milestones. Each one gets `-Wl,--undefined=<name>` (pull the member in) and an exact
//! `global:` line in a second version script, which lld merges with rustc's (an exact name
//! wins over `local: *`).

use std::path::Path;

/// Defined global symbols listed in a GNU/System V `ar` archive's symbol index (the `/`
/// member, or `/SYM64/`; thin archives have the same index). Errors name what is wrong.
pub fn archive_symbols(bytes: &[u8]) -> Result<Vec<String>, String> {
    let body = bytes
        .strip_prefix(b"!<arch>\n")
        .or_else(|| bytes.strip_prefix(b"!<thin>\n"))
        .ok_or("not an ar archive (no !<arch> or !<thin> magic)")?;
    if body.len() < 60 {
        return Ok(Vec::new()); // an empty archive has no index
    }
    let header = &body[..60];
    let name = std::str::from_utf8(&header[..16]).map_err(|_| "bad member name")?;
    let size: usize = std::str::from_utf8(&header[48..58])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or("bad member size")?;
    let wide = match name.trim_end() {
        "/" => false,
        "/SYM64/" => true,
        _ => return Err("no symbol index: run `llvm-ar s` (ranlib) on the archive".into()),
    };
    let index = body
        .get(60..60 + size)
        .ok_or("the symbol index runs past the end of the archive")?;
    let word = if wide { 8 } else { 4 };
    let read = |at: usize| -> Option<usize> {
        let b = index.get(at..at + word)?;
        Some(b.iter().fold(0usize, |n, &x| (n << 8) | x as usize))
    };
    let count = read(0).ok_or("truncated symbol index")?;
    let names_at = word
        .checked_mul(count + 1)
        .filter(|&n| n <= index.len())
        .ok_or("symbol count larger than the index")?;
    let names = index[names_at..]
        .split(|&b| b == 0)
        .take(count)
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect::<Vec<_>>();
    if names.len() != count {
        return Err(format!(
            "symbol index lists {count} symbols but has {} names",
            names.len()
        ));
    }
    Ok(names)
}

/// The JNI functions among `symbols`, sorted and deduplicated.
pub fn jni_functions(symbols: &[String]) -> Vec<String> {
    let mut v: Vec<String> = symbols
        .iter()
        .filter(|s| s.starts_with("Java_"))
        .cloned()
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The version script that exports exactly `names` (merged by lld with rustc's).
pub fn version_script(names: &[String]) -> String {
    let mut s = String::from(
        "/* libwebrtc's JNI functions (native/android/build/jni_exports.rs) */\n{\n  global:\n",
    );
    for n in names {
        s.push_str(&format!("    {n};\n"));
    }
    s.push_str("};\n");
    s
}

/// The link arguments for `names`, the version script written to `script`.
pub fn link_args(names: &[String], script: &Path) -> Vec<String> {
    let mut args: Vec<String> = names
        .iter()
        .map(|n| format!("-Wl,--undefined={n}"))
        .collect();
    args.push(format!("-Wl,--version-script={}", script.display()));
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn tool(candidates: &[&str]) -> Option<String> {
        candidates.iter().find_map(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|_| (*c).to_owned())
        })
    }

    /// An archive made by the real `ar` from two C objects.
    fn archive(dir: &Path) -> std::path::PathBuf {
        std::fs::write(
            dir.join("jni.c"),
            "int Java_org_webrtc_NativeAndroidVideoTrackSource_nativeOnFrameCaptured(void) { return 1; }\n\
             int Java_J_N_MabcDEF(void) { return 2; }\n\
             static int Java_hidden_static(void) { return 3; }\n\
             int helper(void) { return Java_hidden_static(); }\n",
        )
        .unwrap();
        std::fs::write(dir.join("other.c"), "int unrelated(void) { return 4; }\n").unwrap();
        for f in ["jni", "other"] {
            let ok = Command::new("cc")
                .current_dir(dir)
                .args(["-fPIC", "-c", &format!("{f}.c")])
                .status()
                .unwrap()
                .success();
            assert!(ok);
        }
        let lib = dir.join("libwebrtc.a");
        let ok = Command::new("ar")
            .current_dir(dir)
            .args(["rcs", "libwebrtc.a", "jni.o", "other.o"])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        lib
    }

    #[test]
    fn the_jni_functions_come_from_the_archive_index() {
        let t = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(archive(t.path())).unwrap();
        let all = archive_symbols(&bytes).unwrap();
        for s in ["helper", "unrelated", "Java_J_N_MabcDEF"] {
            assert!(all.iter().any(|a| a == s), "{s} in {all:?}");
        }
        // Static functions are not in the index, whatever their name.
        assert!(!all.iter().any(|a| a == "Java_hidden_static"));
        assert_eq!(
            jni_functions(&all),
            [
                "Java_J_N_MabcDEF",
                "Java_org_webrtc_NativeAndroidVideoTrackSource_nativeOnFrameCaptured"
            ]
        );
        assert!(archive_symbols(b"not an archive").is_err());
        assert_eq!(archive_symbols(b"!<arch>\n").unwrap(), Vec::<String>::new());
        // An archive without an index (`ar S`) is refused with the fix.
        let ok = Command::new("ar")
            .current_dir(t.path())
            .args(["rcS", "noindex.a", "jni.o"])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let err = archive_symbols(&std::fs::read(t.path().join("noindex.a")).unwrap()).unwrap_err();
        assert!(err.contains("ranlib"), "{err}");
    }

    /// The mechanism, end to end on the host's lld: a shared library linked with rustc's kind
    /// of version script (`local: *`) exports the archive's JNI functions only with these
    /// arguments.
    #[test]
    fn a_shared_library_linked_with_them_exports_the_jni_functions() {
        let (Some(clang), Some(_)) = (
            tool(&["clang-22", "clang-21", "clang-19", "clang"]),
            tool(&["ld.lld-22", "ld.lld-21", "ld.lld-19", "ld.lld"]),
        ) else {
            eprintln!("SKIPPED: no clang and lld on this host");
            return;
        };
        let t = tempfile::tempdir().unwrap();
        let lib = archive(t.path());
        std::fs::write(
            t.path().join("app.c"),
            "int rust_exported(void) { return 0; }\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("rustc.ver"),
            "{ global: rust_exported; local: *; };\n",
        )
        .unwrap();
        let names = jni_functions(&archive_symbols(&std::fs::read(&lib).unwrap()).unwrap());
        let script = t.path().join("jni.ver");
        std::fs::write(&script, version_script(&names)).unwrap();
        let exported = |extra: &[String]| -> String {
            let out = t.path().join("libapp.so");
            let status = Command::new(&clang)
                .current_dir(t.path())
                .args(["-shared", "-fPIC", "-fuse-ld=lld", "app.c", "-o"])
                .arg(&out)
                .arg(format!("-L{}", t.path().display()))
                .arg("-lwebrtc")
                .arg("-Wl,--version-script=rustc.ver")
                .args(extra)
                .status()
                .unwrap();
            assert!(status.success());
            let nm = Command::new("nm")
                .args(["-D", "--defined-only"])
                .arg(&out)
                .output()
                .unwrap();
            String::from_utf8(nm.stdout).unwrap()
        };
        let without = exported(&[]);
        assert!(!without.contains("Java_"), "{without}");
        let with = exported(&link_args(&names, &script));
        for n in &names {
            assert!(with.contains(n.as_str()), "{n} not exported:\n{with}");
        }
        assert!(
            with.contains("rust_exported") && !with.contains("unrelated"),
            "{with}"
        );
    }
}
