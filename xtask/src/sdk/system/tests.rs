use super::cmake::*;
use super::library::*;
use super::platform::*;
use super::resolve::*;
use super::*;

const FIXTURE: &str = include_str!("../../../tests/fixtures/tg_owt/tg_owtTargets.cmake");
const FIXTURE_NONE: &str = include_str!("../../../tests/fixtures/tg_owt/tg_owtTargets-none.cmake");
const FIXTURE_PATH: &str = "/usr/lib/x86_64-linux-gnu/cmake/tg_owt/tg_owtTargets.cmake";

/// What Debian 12's pkg-config prints for the abseil modules (trimmed to a few libs,
/// with the real `-DNOMINMAX` and `--push-state` wrapper).
fn fake_pkg_config(calls: &mut Vec<String>) -> impl FnMut(&str) -> Result<String> + '_ {
    move |module: &str| {
        calls.push(module.to_owned());
        Ok(match module {
            "absl_strings" => "-DNOMINMAX -labsl_strings -labsl_strings_internal \
                -Wl,--push-state,--as-needed -latomic -Wl,--pop-state -lrt -labsl_base"
                .to_owned(),
            "absl_flags_parse" => {
                "-DNOMINMAX -labsl_flags_parse -labsl_strings -labsl_base".to_owned()
            }
            other => format!("-DNOMINMAX -l{other}"),
        })
    }
}

fn package() -> CmakePackage {
    parse_cmake(Path::new(FIXTURE_PATH), FIXTURE, &[FIXTURE_NONE]).unwrap()
}

fn resolved() -> Resolved {
    let mut calls = Vec::new();
    let r = resolve(&package(), ROOT_TARGET, &mut fake_pkg_config(&mut calls)).unwrap();
    r
}

#[test]
fn parses_targets_and_resolves_import_prefix() {
    let p = package();
    let root = &p.targets[ROOT_TARGET];
    assert_eq!(root.kind, "STATIC");
    assert_eq!(
        root.props["IMPORTED_LOCATION_NONE"],
        "/usr/lib/x86_64-linux-gnu/libtg_owt.a"
    );
    assert_eq!(
        root.props["INTERFACE_INCLUDE_DIRECTORIES"],
        "/usr/include/tg_owt"
    );
    assert_eq!(p.targets["tg_owt::libpffft"].kind, "INTERFACE");
    // `\$<LINK_ONLY:…>` in the file is unescaped to `$<LINK_ONLY:…>`.
    assert!(root.props["INTERFACE_LINK_LIBRARIES"].contains(";$<LINK_ONLY:tg_owt::libsrtp>;"));
    assert_eq!(p.targets.len(), 11);
}

#[test]
fn compile_side_follows_only_non_link_only_targets() {
    let r = resolved();
    assert_eq!(r.cxx_std.as_deref(), Some("c++20"));
    // tg_owt's own + libyuv's (reached via tg_owt::libwebrtcbuild → tg_owt::libyuv);
    // pffft's and crc32c's are behind $<LINK_ONLY:…> and must not leak in.
    assert_eq!(
        r.include_dirs,
        vec![
            PathBuf::from("/usr/include/tg_owt"),
            PathBuf::from("/usr/include/tg_owt/third_party/libyuv/include"),
        ]
    );
    for d in [
        "WEBRTC_POSIX",
        "WEBRTC_LINUX",
        "WEBRTC_DUMMY_AUDIO_BUILD",
        "NOMINMAX",
    ] {
        assert!(r.defines.iter().any(|x| x == d), "{d} in {:?}", r.defines);
    }
    assert!(r.defines.contains(&"WEBRTC_APM_DEBUG_DUMP=0".to_owned()));
    // librnnoise is LINK_ONLY: its WEBRTC_USE_RNNOISE=0 is private to tg_owt.
    assert!(!r
        .defines
        .iter()
        .any(|d| d.starts_with("WEBRTC_USE_RNNOISE")));
    // absl defines come first from tg_owt's own list, before libwebrtcbuild's.
    let nominmax = r.defines.iter().position(|d| d == "NOMINMAX").unwrap();
    let posix = r.defines.iter().position(|d| d == "WEBRTC_POSIX").unwrap();
    assert!(nominmax < posix);
}

#[test]
fn link_side_is_ordered_deduped_and_follows_link_only() {
    let r = resolved();
    assert_eq!(
        r.static_files,
        vec![PathBuf::from("/usr/lib/x86_64-linux-gnu/libtg_owt.a")]
    );
    assert_eq!(
        r.search_paths,
        vec![PathBuf::from("/usr/lib/x86_64-linux-gnu")]
    );
    let libs = &r.system_libs;
    // Paths became names, repeats collapsed to the first occurrence.
    assert_eq!(&libs[..3], ["gio-2.0", "gobject-2.0", "glib-2.0"]);
    assert_eq!(libs.iter().filter(|l| *l == "glib-2.0").count(), 1);
    // Reached only through $<LINK_ONLY:tg_owt::libsrtp> / libyuv / proto.
    for l in [
        "srtp2", "jpeg", "protobuf", "ssl", "opus", "vpx", "m", "X11", "Xtst",
    ] {
        assert!(libs.iter().any(|x| x == l), "{l} in {libs:?}");
    }
    // absl through pkg-config, with the --push-state wrapper dropped but -latomic kept.
    for l in ["absl_strings", "atomic", "rt", "absl_flags_parse"] {
        assert!(libs.iter().any(|x| x == l), "{l} in {libs:?}");
    }
    assert!(r.link_args.is_empty(), "{:?}", r.link_args);
    // Link order: srtp (LINK_ONLY, early in the list) before ssl, absl before X11.
    let pos = |n: &str| libs.iter().position(|x| x == n).unwrap();
    assert!(pos("srtp2") < pos("ssl"));
    assert!(pos("absl_strings") < pos("X11"));
    // tg_owt_avx2 ($<LINK_ONLY:…>, before ssl in tg_owt's list) pulls in abseil early.
    assert!(pos("absl_strings") < pos("ssl"));
}

#[test]
fn absl_targets_go_through_pkg_config_only() {
    let mut calls = Vec::new();
    resolve(&package(), ROOT_TARGET, &mut fake_pkg_config(&mut calls)).unwrap();
    assert!(calls.contains(&"absl_flat_hash_map".to_owned()));
    assert!(calls.iter().all(|c| c.starts_with("absl_")), "{calls:?}");
}

#[test]
fn manifest_from_fixture() {
    let facts = LibraryFacts {
        defines: vec!["DCHECK_ALWAYS_ON".into()],
    };
    let m = build_manifest(
        "x86_64-unknown-linux-gnu",
        "0~git20230105.5098730+dfsg-2".into(),
        110,
        resolved(),
        &facts,
    )
    .unwrap();
    let text = m.to_toml().unwrap();
    assert_eq!(m.link.static_libs, ["tg_owt"]);
    assert_eq!(m.cxx_stdlib.link, ["dylib=stdc++"]);
    assert!(m.compile.defines.contains(&"DCHECK_ALWAYS_ON".to_owned()));
    // WEBRTC_POSIX/LINUX were already in the export: not duplicated by the platform merge.
    assert_eq!(
        m.compile
            .defines
            .iter()
            .filter(|d| *d == "WEBRTC_LINUX")
            .count(),
        1
    );
    assert!(text.contains("cxx_std = \"c++20\""), "{text}");
    assert_eq!(Manifest::from_toml(&text, Path::new("t")).unwrap(), m);
}

#[test]
fn export_for_another_os_is_refused() {
    let mut r = resolved();
    r.defines.push("WEBRTC_WIN".into());
    let err = build_manifest(
        "x86_64-unknown-linux-gnu",
        "v".into(),
        110,
        r,
        &LibraryFacts::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("WEBRTC_WIN"), "{err}");
}

#[test]
fn platform_defines_per_target() {
    let cases: &[(&str, &[&str])] = &[
        (
            "x86_64-unknown-linux-gnu",
            &["WEBRTC_POSIX", "WEBRTC_LINUX"],
        ),
        (
            "aarch64-unknown-linux-gnu",
            &["WEBRTC_POSIX", "WEBRTC_LINUX", "WEBRTC_HAS_NEON"],
        ),
        (
            "aarch64-linux-android",
            &[
                "WEBRTC_POSIX",
                "WEBRTC_LINUX",
                "WEBRTC_ANDROID",
                "WEBRTC_HAS_NEON",
            ],
        ),
        (
            "armv7-linux-androideabi",
            &[
                "WEBRTC_POSIX",
                "WEBRTC_LINUX",
                "WEBRTC_ANDROID",
                "WEBRTC_HAS_NEON",
            ],
        ),
        (
            "x86_64-linux-android",
            &["WEBRTC_POSIX", "WEBRTC_LINUX", "WEBRTC_ANDROID"],
        ),
        (
            "aarch64-apple-darwin",
            &["WEBRTC_POSIX", "WEBRTC_MAC", "WEBRTC_HAS_NEON"],
        ),
        (
            "aarch64-apple-ios",
            &[
                "WEBRTC_POSIX",
                "WEBRTC_MAC",
                "WEBRTC_IOS",
                "WEBRTC_HAS_NEON",
            ],
        ),
        ("x86_64-pc-windows-msvc", &["WEBRTC_WIN"]),
    ];
    for (triple, want) in cases {
        assert_eq!(platform_defines(triple).unwrap(), *want, "{triple}");
    }
    assert!(platform_defines("wasm32-unknown-unknown").is_err());
}

#[test]
fn library_facts_check_the_std_namespace_and_dchecks() {
    let p = Path::new("libtg_owt.a");
    let cxx11 = b"_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE".as_slice();
    let with_dcheck = [cxx11, DCHECK_MARKER].concat();
    assert_eq!(
        library_facts(p, &with_dcheck).unwrap().defines,
        ["DCHECK_ALWAYS_ON"]
    );
    assert_eq!(library_facts(p, cxx11).unwrap().defines, ["NDEBUG"]);
    let libcxx = b"_ZNSt4__Cr12basic_string _ZNSt4__Cr6vector";
    let err = library_facts(p, libcxx).unwrap_err().to_string();
    assert!(
        err.contains("std::__Cr") && err.contains("use_custom_libcxx=false"),
        "{err}"
    );
    assert!(library_facts(p, b"nothing").is_err());
}

#[test]
fn pkg_config_output_is_split_by_purpose() {
    let f = parse_pkg_config(
        "-I/opt/absl/include -DNOMINMAX -pthread -L/opt/absl/lib -labsl_base \
         -Wl,--push-state,--as-needed -latomic -Wl,--pop-state -Wl,-rpath,/opt/absl/lib",
    );
    assert_eq!(f.include_dirs, [PathBuf::from("/opt/absl/include")]);
    assert_eq!(f.defines, ["NOMINMAX"]);
    assert_eq!(f.compile_flags, ["-pthread"]);
    assert_eq!(f.search_paths, [PathBuf::from("/opt/absl/lib")]);
    assert_eq!(f.libs, ["pthread", "absl_base", "atomic"]);
    assert_eq!(f.link_args, ["-Wl,-rpath,/opt/absl/lib"]);
}

#[test]
fn unknown_generator_expressions_and_foreign_targets_are_errors() {
    assert!(classify("$<$<CONFIG:Debug>:foo>").is_err());
    assert!(classify("Threads::Threads").is_err());
    assert_eq!(
        classify("$<LINK_ONLY:tg_owt::libsrtp>").unwrap(),
        LinkEntry::Own {
            name: "tg_owt::libsrtp",
            link_only: true
        }
    );
}

#[test]
fn multiarch_tuples() {
    assert_eq!(
        multiarch("x86_64-unknown-linux-gnu").unwrap(),
        "x86_64-linux-gnu"
    );
    assert_eq!(
        multiarch("aarch64-unknown-linux-gnu").unwrap(),
        "aarch64-linux-gnu"
    );
    assert_eq!(
        multiarch("i686-unknown-linux-gnu").unwrap(),
        "i386-linux-gnu"
    );
    assert_eq!(
        multiarch("armv7-unknown-linux-gnueabihf").unwrap(),
        "arm-linux-gnueabihf"
    );
}

#[test]
fn milestone_markers() {
    let tmp = tempfile::tempdir().unwrap();
    let inc = tmp.path();
    let write = |p: &str, s: &str| {
        let p = inc.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    };
    assert!(milestone_from_headers(inc).is_err(), "no markers: too old");
    write("rtc_base/thread.h", "void BlockingCall();");
    write("rtc_base/task_utils/to_queued_task.h", "");
    assert_eq!(milestone_from_headers(inc).unwrap().0, 108);
    fs::remove_file(inc.join("rtc_base/task_utils/to_queued_task.h")).unwrap();
    write(
        "api/task_queue/task_queue_base.h",
        "absl::AnyInvocable<void() &&>",
    );
    assert_eq!(milestone_from_headers(inc).unwrap().0, 110);
    write("api/data_channel_interface.h", "void SendAsync();");
    assert_eq!(milestone_from_headers(inc).unwrap().0, 117);
}

#[test]
fn missing_package_says_how_to_install_it() {
    let triple = "s390x-unknown-linux-gnu";
    if Path::new("/usr/lib/s390x-linux-gnu/cmake/tg_owt").exists() {
        eprintln!("skipped: libtgowt-dev:s390x is installed");
        return;
    }
    let sh = Shell::new().unwrap();
    let err = format!("{:#}", derive(&sh, triple).unwrap_err());
    assert!(err.contains("sudo apt-get install libtgowt-dev"), "{err}");
    assert!(err.contains("Debian 12") && err.contains("22.04"), "{err}");
    let err = format!("{:#}", derive(&sh, "aarch64-linux-android").unwrap_err());
    assert!(err.contains("only exists for Linux"), "{err}");
}

/// Against the real package when it is installed (Debian 12 / Ubuntu ≥ 22.04).
#[test]
fn derives_from_the_installed_libtgowt_dev() {
    let triple = "x86_64-unknown-linux-gnu";
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        eprintln!("skipped: not an x86_64 Linux host");
        return;
    }
    if !Path::new("/usr/lib/x86_64-linux-gnu/cmake/tg_owt/tg_owtTargets.cmake").is_file() {
        eprintln!("skipped: libtgowt-dev is not installed (sudo apt-get install libtgowt-dev)");
        return;
    }
    if which::which("pkg-config").is_err() {
        eprintln!("skipped: pkg-config is not installed");
        return;
    }
    let sh = Shell::new().unwrap();
    let m = derive(&sh, triple).unwrap();
    assert_eq!(m.provider, Provider::System);
    assert_eq!(m.webrtc.milestone, 110);
    assert_eq!(m.compile.cxx_std, "c++20");
    assert_eq!(m.cxx_stdlib.namespace, StdNamespace::Cxx11);
    assert_eq!(m.link.static_libs, ["tg_owt"]);
    assert!(m
        .compile
        .include_dirs
        .contains(&PathBuf::from("/usr/include/tg_owt")));
    for d in ["WEBRTC_POSIX", "WEBRTC_LINUX", "DCHECK_ALWAYS_ON"] {
        assert!(m.compile.defines.iter().any(|x| x == d), "{d}");
    }
    for l in ["absl_strings", "ssl", "srtp2", "X11"] {
        assert!(m.link.system_libs.iter().any(|x| x == l), "{l}");
    }
    m.to_toml().unwrap();
}
