//! The Android NDK: where it is (cargo-ndk's rules), which version, and the environment a
//! cargo build for an ABI needs — a pure function of the NDK and the target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::target::{ndk_names, Target};
use crate::config::AndroidAbi;
use crate::host::Host;

/// NDKs older than this lack what the Rust toolchain and libwebrtc expect (cargo-ndk's floor).
pub const MIN_NDK_MAJOR: u32 = 23;
/// The host tag of the NDK's prebuilt toolchain (Android builds are Linux-only upstream).
pub const HOST_TAG: &str = "linux-x86_64";

/// A found NDK.
#[derive(Debug, Clone, PartialEq)]
pub struct Ndk {
    pub root: PathBuf,
    /// `Pkg.Revision` of source.properties, e.g. `27.1.12297006`.
    pub revision: String,
    pub major: u32,
    /// Which setting won (`ANDROID_NDK_HOME`, `--ndk`, …), for messages.
    pub from: String,
    /// Settings that pointed elsewhere.
    pub warnings: Vec<String>,
}

/// The environment variables that name an NDK, in the order they win.
const NDK_VARS: [&str; 4] = [
    "ANDROID_NDK_HOME",
    "ANDROID_NDK_ROOT",
    "ANDROID_NDK_PATH",
    "NDK_HOME",
];

/// Finds the NDK. With a WebRTC checkout that has its own NDK
/// (`src/third_party/android_toolchain/ndk`, the one libwebrtc is compiled with), that one
/// is used, and an NDK named by `--ndk` or a variable is refused unless it is the same
/// revision: the shim and the Rust side must see the same libc++ headers and runtime as
/// libwebrtc. Otherwise: `--ndk` › ANDROID_NDK_HOME › ANDROID_NDK_ROOT › ANDROID_NDK_PATH ›
/// NDK_HOME › `$ANDROID_HOME/ndk/<newest>` › `$ANDROID_SDK_ROOT/ndk/<newest>` ›
/// `~/Android/Sdk/ndk/<newest>`.
pub fn discover(host: &Host, flag: Option<&Path>, checkout_src: &Path) -> Result<Ndk> {
    // Named explicitly by the user, in the order they win.
    let mut named: Vec<(String, PathBuf)> = Vec::new();
    if let Some(p) = flag {
        named.push(("--ndk".into(), p.to_owned()));
    }
    for var in NDK_VARS {
        if let Some(v) = host.var(var) {
            named.push((var.into(), PathBuf::from(v)));
        }
    }
    let own = checkout_src.join("third_party/android_toolchain/ndk");
    if own.join("source.properties").is_file() {
        return checkout_ndk(own, &named);
    }
    let mut candidates = named;
    for var in ["ANDROID_HOME", "ANDROID_SDK_ROOT"] {
        if let Some(sdk) = host.var(var) {
            if let Some(ndk) = newest_ndk(&Path::new(sdk).join("ndk")) {
                candidates.push((format!("{var}/ndk"), ndk));
            }
        }
    }
    if let Some(home) = host.var("HOME") {
        if let Some(ndk) = newest_ndk(&Path::new(home).join("Android/Sdk/ndk")) {
            candidates.push(("~/Android/Sdk/ndk".into(), ndk));
        }
    }
    let Some((from, root)) = candidates.first().cloned() else {
        bail!(
            "no Android NDK found: set ANDROID_NDK_HOME to one (r{MIN_NDK_MAJOR} or newer), \
             pass --ndk PATH, or install one with `sdkmanager \"ndk;27.2.12479018\"` under ANDROID_HOME"
        );
    };
    let warnings = candidates[1..]
        .iter()
        .filter(|(_, p)| p != &root)
        .map(|(name, p)| format!("{name} points at {} but {from} wins", p.display()))
        .collect();
    read_ndk(root, from, warnings)
}

/// The checkout's NDK, after checking that every NDK the user named is the same revision.
fn checkout_ndk(own: PathBuf, named: &[(String, PathBuf)]) -> Result<Ndk> {
    let mut ndk = read_ndk(own, "the WebRTC checkout".into(), vec![])?;
    for (name, path) in named {
        if path == &ndk.root {
            continue;
        }
        let theirs = revision_at(path).unwrap_or_else(|| "no NDK".into());
        if theirs != ndk.revision {
            bail!(
                "{name} points at {} ({theirs}), but libwebrtc is compiled with the WebRTC \
                 checkout's NDK {} ({}): the shim and the Rust side must use the same libc++ \
                 headers and runtime as libwebrtc, or the link fails or the app crashes at run \
                 time. Unset {name} (the checkout's NDK is used by default) or point it at {}",
                path.display(),
                ndk.revision,
                ndk.root.display(),
                ndk.root.display()
            );
        }
        ndk.warnings.push(format!(
            "{name} points at {} (the same revision {theirs}); the checkout's NDK is used",
            path.display()
        ));
    }
    Ok(ndk)
}

/// `Pkg.Revision` of the NDK at `root`, if it is one.
fn revision_at(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("source.properties")).ok()?;
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "Pkg.Revision")
        .map(|(_, v)| v.trim().to_owned())
}

fn read_ndk(root: PathBuf, from: String, warnings: Vec<String>) -> Result<Ndk> {
    let props = root.join("source.properties");
    let text = std::fs::read_to_string(&props).with_context(|| {
        format!(
            "{from} = {}: no source.properties there, so this is not an NDK",
            root.display()
        )
    })?;
    let revision = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "Pkg.Revision")
        .map(|(_, v)| v.trim().to_owned())
        .with_context(|| format!("{}: no Pkg.Revision", props.display()))?;
    let major: u32 = revision
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .with_context(|| {
            format!(
                "{}: Pkg.Revision {revision:?} is not a version",
                props.display()
            )
        })?;
    if major < MIN_NDK_MAJOR {
        bail!(
            "the NDK at {} ({from}) is r{major} ({revision}); r{MIN_NDK_MAJOR} or newer is needed: \
             point ANDROID_NDK_HOME at a newer one",
            root.display()
        );
    }
    let ndk = Ndk {
        root,
        revision,
        major,
        from,
        warnings,
    };
    let clang = ndk.bin().join("clang");
    if !clang.is_file() {
        bail!(
            "the NDK at {} has no {}: is it a {HOST_TAG} NDK?",
            ndk.root.display(),
            clang.display()
        );
    }
    Ok(ndk)
}

/// The highest-versioned NDK under `dir` (e.g. `$ANDROID_HOME/ndk/27.1.12297006`).
fn newest_ndk(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("source.properties").is_file())
        .map(|e| {
            let v = e
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|p| p.parse().unwrap_or(0))
                .collect();
            (v, e.path())
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

impl Ndk {
    pub fn bin(&self) -> PathBuf {
        self.root
            .join("toolchains/llvm/prebuilt")
            .join(HOST_TAG)
            .join("bin")
    }

    pub fn sysroot(&self) -> PathBuf {
        self.root
            .join("toolchains/llvm/prebuilt")
            .join(HOST_TAG)
            .join("sysroot")
    }
}

/// `x86_64-linux-android` → `x86_64_linux_android` (cc's and bindgen's per-target keys).
fn key(triple: &str) -> String {
    triple.replace('-', "_")
}

/// The environment for `cargo build --target <triple>` of one ABI, like cargo-ndk's: bare
/// clang with `--target=<triple><api>` (not the `*-clang` wrapper scripts), the NDK's
/// llvm-ar/ranlib, clang as the linker, bindgen pointed at the sysroot, the static NDK
/// libc++ (the C++ runtime policy: one .so, nothing to package), 16 KB pages on 64-bit
/// ABIs, and the SDK dir for webrtc-sys.
///
/// The link flags go into `CARGO_TARGET_<TRIPLE>_RUSTFLAGS`, never `RUSTFLAGS`: that stays
/// the user's. Cargo lets a set `RUSTFLAGS` win over target rustflags, so with one set the
/// returned warning says what to add.
pub fn cargo_env(
    ndk: &Ndk,
    abi: AndroidAbi,
    api: u32,
    sdk_dir: &Path,
    host: &Host,
) -> (BTreeMap<String, String>, Vec<String>) {
    let target = Target::Android(abi);
    let triple = target.rust_triple();
    let (clang_triple, sysroot_triple) = ndk_names(abi);
    let bin = ndk.bin();
    let sysroot = ndk.sysroot();
    let tool = |name: &str| bin.join(name).display().to_string();
    let target_flag = format!("--target={clang_triple}{api}");
    let k = key(triple);
    let upper = k.to_uppercase();
    let mut link_args = vec![format!("-C link-arg={target_flag}")];
    if target.is_64bit() {
        // Google Play requires 16 KB page alignment for 64-bit libraries (NDK r28+ does it
        // by default; earlier ones need the flag). The APK step checks it either way.
        link_args.push("-C link-arg=-Wl,-z,max-page-size=16384".into());
    }
    let rustflags = link_args.join(" ");
    let mut env = BTreeMap::new();
    env.insert(format!("CC_{k}"), tool("clang"));
    env.insert(format!("CXX_{k}"), tool("clang++"));
    env.insert(format!("AR_{k}"), tool("llvm-ar"));
    env.insert(format!("RANLIB_{k}"), tool("llvm-ranlib"));
    env.insert(format!("CFLAGS_{k}"), target_flag.clone());
    env.insert(format!("CXXFLAGS_{k}"), target_flag.clone());
    env.insert(format!("CXXSTDLIB_{k}"), "c++_static".into());
    env.insert(format!("CARGO_TARGET_{upper}_LINKER"), tool("clang"));
    env.insert(format!("CARGO_TARGET_{upper}_RUSTFLAGS"), rustflags.clone());
    env.insert(
        format!("BINDGEN_EXTRA_CLANG_ARGS_{k}"),
        format!(
            "--sysroot={s} -I{s}/usr/include/{sysroot_triple} {target_flag}",
            s = sysroot.display()
        ),
    );
    env.insert("ANDROID_NDK_HOME".into(), ndk.root.display().to_string());
    env.insert(
        webrtc_sdk::SDK_DIR_ENV.into(),
        sdk_dir.display().to_string(),
    );
    let mut warnings = Vec::new();
    if host.var("RUSTFLAGS").is_some() || host.var("CARGO_ENCODED_RUSTFLAGS").is_some() {
        warnings.push(format!(
            "RUSTFLAGS is set, so cargo ignores the target's link flags; add `{rustflags}` to it \
             for {triple} (the APK check will refuse a library without 16 KB alignment)"
        ));
    }
    (env, warnings)
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::host::test_host;

    /// A fixture NDK tree: source.properties and the prebuilt clang, as the real one lays out.
    pub fn fake_ndk(dir: &Path, revision: &str) -> PathBuf {
        let bin = dir
            .join("toolchains/llvm/prebuilt")
            .join(HOST_TAG)
            .join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(
            dir.join("toolchains/llvm/prebuilt/linux-x86_64/sysroot/usr/include"),
        )
        .unwrap();
        for t in ["clang", "clang++", "llvm-ar", "llvm-ranlib"] {
            std::fs::write(bin.join(t), "#!/bin/sh\n").unwrap();
        }
        std::fs::write(
            dir.join("source.properties"),
            format!("Pkg.Desc = Android NDK\nPkg.Revision = {revision}\n"),
        )
        .unwrap();
        dir.to_owned()
    }

    #[test]
    fn env_vars_win_in_order_and_disagreement_is_reported() {
        let t = tempfile::tempdir().unwrap();
        let a = fake_ndk(&t.path().join("a"), "27.1.12297006");
        let b = fake_ndk(&t.path().join("b"), "26.3.11579264");
        let host = test_host(&[
            ("ANDROID_NDK_ROOT", b.to_str().unwrap()),
            ("ANDROID_NDK_HOME", a.to_str().unwrap()),
        ]);
        let ndk = discover(&host, None, Path::new("/nonexistent")).unwrap();
        assert_eq!(ndk.root, a);
        assert_eq!(ndk.from, "ANDROID_NDK_HOME");
        assert_eq!(ndk.major, 27);
        assert_eq!(ndk.warnings.len(), 1);
        assert!(
            ndk.warnings[0].starts_with("ANDROID_NDK_ROOT points at"),
            "{:?}",
            ndk.warnings
        );
        // --ndk beats every variable.
        let ndk = discover(&host, Some(&b), Path::new("/nonexistent")).unwrap();
        assert_eq!((ndk.from.as_str(), ndk.major), ("--ndk", 26));
    }

    #[test]
    fn sdk_ndk_dir_gives_the_newest_and_the_checkout_comes_before_it() {
        let t = tempfile::tempdir().unwrap();
        let sdk = t.path().join("sdk");
        fake_ndk(&sdk.join("ndk/25.2.9519653"), "25.2.9519653");
        let newest = fake_ndk(&sdk.join("ndk/27.0.12077973"), "27.0.12077973");
        fake_ndk(&sdk.join("ndk/26.1.10909125"), "26.1.10909125");
        let host = test_host(&[("ANDROID_HOME", sdk.to_str().unwrap())]);
        let ndk = discover(&host, None, Path::new("/nonexistent")).unwrap();
        assert_eq!(
            (ndk.root.clone(), ndk.from.as_str()),
            (newest, "ANDROID_HOME/ndk")
        );
        let src = t.path().join("src");
        let own = fake_ndk(
            &src.join("third_party/android_toolchain/ndk"),
            "28.0.13004108",
        );
        let ndk = discover(&host, None, &src).unwrap();
        assert_eq!((ndk.root, ndk.from.as_str()), (own, "the WebRTC checkout"));
    }

    #[test]
    fn the_checkouts_ndk_is_used_and_a_different_named_one_refused() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        let own = fake_ndk(
            &src.join("third_party/android_toolchain/ndk"),
            "28.0.13004108",
        );
        let other = fake_ndk(&t.path().join("other"), "27.1.12297006");
        let same = fake_ndk(&t.path().join("same"), "28.0.13004108");
        // Without any setting: the checkout's.
        let ndk = discover(&test_host(&[]), None, &src).unwrap();
        assert_eq!(
            (ndk.root, ndk.from.as_str()),
            (own.clone(), "the WebRTC checkout")
        );
        // ANDROID_NDK_HOME at another revision used to win; now it is refused.
        let host = test_host(&[("ANDROID_NDK_HOME", other.to_str().unwrap())]);
        let err = discover(&host, None, &src).unwrap_err().to_string();
        assert!(
            err.starts_with("ANDROID_NDK_HOME points at")
                && err.contains("27.1.12297006")
                && err.contains("28.0.13004108")
                && err.contains("same libc++"),
            "{err}"
        );
        let err = discover(&test_host(&[]), Some(&other), &src)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--ndk points at"), "{err}");
        // The same revision elsewhere is fine: the checkout's is used, and we say so.
        let host = test_host(&[("ANDROID_NDK_HOME", same.to_str().unwrap())]);
        let ndk = discover(&host, None, &src).unwrap();
        assert_eq!(ndk.root, own);
        assert!(
            ndk.warnings[0].contains("the same revision"),
            "{:?}",
            ndk.warnings
        );
        // Naming the checkout's own NDK is no disagreement at all.
        let host = test_host(&[("ANDROID_NDK_HOME", own.to_str().unwrap())]);
        assert!(discover(&host, None, &src).unwrap().warnings.is_empty());
    }

    #[test]
    fn old_missing_and_broken_ndks_are_refused_with_a_hint() {
        let t = tempfile::tempdir().unwrap();
        let old = fake_ndk(&t.path().join("old"), "21.4.7075529");
        let err = discover(
            &test_host(&[("NDK_HOME", old.to_str().unwrap())]),
            None,
            t.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("r21") && err.contains("r23 or newer"), "{err}");
        let err = discover(&test_host(&[]), None, t.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("set ANDROID_NDK_HOME"), "{err}");
        let empty = t.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let err = discover(
            &test_host(&[("ANDROID_NDK_HOME", empty.to_str().unwrap())]),
            None,
            t.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not an NDK"), "{err}");
    }

    #[test]
    fn golden_cargo_env_for_every_abi() {
        let ndk = Ndk {
            root: "/ndk".into(),
            revision: "27.1.12297006".into(),
            major: 27,
            from: "ANDROID_NDK_HOME".into(),
            warnings: vec![],
        };
        let mut out = String::new();
        for abi in [
            AndroidAbi::Arm64V8a,
            AndroidAbi::ArmeabiV7a,
            AndroidAbi::X86_64,
            AndroidAbi::X86,
        ] {
            let sdk = format!("/w/.mobilertc/sdk/{}", Target::Android(abi).rust_triple());
            let (env, warnings) = cargo_env(&ndk, abi, 24, Path::new(&sdk), &test_host(&[]));
            assert!(warnings.is_empty());
            assert!(!env.contains_key("RUSTFLAGS"));
            out.push_str(&format!("## {}\n", abi.name()));
            for (k, v) in env {
                out.push_str(&format!("{k}={v}\n"));
            }
        }
        insta::assert_snapshot!("cargo_env_all_abis", out);
    }

    #[test]
    fn a_users_rustflags_are_left_alone_and_explained() {
        let ndk = Ndk {
            root: "/ndk".into(),
            revision: "27.1".into(),
            major: 27,
            from: "x".into(),
            warnings: vec![],
        };
        let host = test_host(&[("RUSTFLAGS", "-C debuginfo=1")]);
        let (env, warnings) = cargo_env(&ndk, AndroidAbi::Arm64V8a, 24, Path::new("/s"), &host);
        assert!(!env.contains_key("RUSTFLAGS"));
        assert!(warnings[0].contains("max-page-size=16384"), "{warnings:?}");
    }
}
