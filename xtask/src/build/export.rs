//! The `source` SDK directory of one target: what webrtc-sys needs from a gn build, with a
//! manifest, written next to nothing else so the native crates build against it unchanged.
//!
//! ```text
//! <sdk>/webrtc-sdk.toml   the manifest (provider = "source")
//! <sdk>/lib/libwebrtc.a   the static library ninja built
//! <sdk>/include/…         headers, laid out as the include dirs of obj/webrtc.ninja
//! <sdk>/args.gn           the args it was built with
//! <sdk>/VERSIONS          webrtc commit, DEPS revisions (webrtc.lock), toolchains
//! <sdk>/LICENSES.md       upstream's generate_licenses.py output (when the checkout has it)
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use webrtc_sdk::{
    Compile, CxxStdlib, CxxStdlibKind, Link, Manifest, Provider, TargetInfo, WebrtcInfo,
};

use super::ninja::{compile_flags, normalize, resolve};
use super::target::Target;
use super::toolchain::SystemLlvm;

/// Header trees of the WebRTC source root that the public API reaches.
pub const HEADER_DIRS: &[&str] = &[
    "api",
    "audio",
    "call",
    "common_audio",
    "common_video",
    "logging",
    "media",
    "modules",
    "p2p",
    "pc",
    "rtc_base",
    "sdk",
    "system_wrappers",
    "video",
];
const HEADER_EXTS: &[&str] = &["h", "hpp", "inc"];

/// What the export needs to know.
#[derive(Debug, Clone)]
pub struct ExportInputs {
    pub target: Target,
    pub src: PathBuf,
    pub out_dir: PathBuf,
    pub sdk_dir: PathBuf,
    pub revision: String,
    pub milestone: u32,
    pub android_api: Option<u32>,
    /// `use_custom_libcxx` was true: Chromium's libc++ (the shim can't link it on Linux).
    pub custom_libcxx: bool,
    /// The library file ninja produced, relative to the out dir.
    pub library: String,
    /// Extra lines for VERSIONS (webrtc.lock, toolchain revisions).
    pub versions: String,
    /// Linux built with the system LLVM and its libc++ (see `toolchain`).
    pub system_llvm: Option<SystemLlvm>,
    /// System libraries `//:webrtc` needs at the final link (`gn desc … libs`).
    pub system_libs: Vec<String>,
}

/// The SDK dir already holds this build: its manifest loads, args.gn and VERSIONS are the
/// build's, and its library is a copy made after ninja last wrote the one in out/ (same
/// size, not older). Then a rerun of `build` has nothing to export.
pub fn up_to_date(inp: &ExportInputs) -> bool {
    let same_text = |a: &Path, b: &Path| matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y);
    let (sdk_lib, out_lib) = (
        inp.sdk_dir.join("lib/libwebrtc.a"),
        inp.out_dir.join(&inp.library),
    );
    let fresh = match (std::fs::metadata(&sdk_lib), std::fs::metadata(&out_lib)) {
        (Ok(s), Ok(o)) => {
            s.len() == o.len()
                && matches!((s.modified(), o.modified()), (Ok(sm), Ok(om)) if sm >= om)
        }
        _ => false,
    };
    fresh
        && Manifest::load(&inp.sdk_dir).is_ok()
        && same_text(&inp.sdk_dir.join("args.gn"), &inp.out_dir.join("args.gn"))
        && std::fs::read_to_string(inp.sdk_dir.join("VERSIONS"))
            .ok()
            .as_deref()
            == Some(inp.versions.as_str())
}

/// Writes the SDK dir (replacing an older one atomically) and returns its manifest.
pub fn export(inp: &ExportInputs) -> Result<Manifest> {
    let flags = compile_flags(&inp.out_dir.join("obj/webrtc.ninja"))?;
    let parent = inp.sdk_dir.parent().context("SDK dir has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".webrtc-sdk-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a staging dir in {}", parent.display()))?;
    let dir = staging.path();

    let lib_src = inp.out_dir.join(&inp.library);
    std::fs::create_dir_all(dir.join("lib"))?;
    std::fs::copy(&lib_src, dir.join("lib/libwebrtc.a"))
        .with_context(|| format!("copying {} (did ninja build it?)", lib_src.display()))?;

    // Each include dir of the build becomes one under include/: the source root itself is
    // `include`, `../../third_party/abseil-cpp` is `include/third_party/abseil-cpp`, the
    // out dir's generated headers are `include/gen/<target>`.
    let src = normalize(&inp.src);
    let out = normalize(&inp.out_dir);
    let mut include_dirs = Vec::new();
    for d in &flags.include_dirs {
        let abs = resolve(&inp.out_dir, d);
        let (from, rel) = if abs == src {
            (abs.clone(), PathBuf::from("include"))
        } else if let Ok(r) = abs.strip_prefix(&out) {
            (abs.clone(), Path::new("include/gen").join(r))
        } else if let Ok(r) = abs.strip_prefix(&src) {
            (abs.clone(), Path::new("include").join(r))
        } else {
            // Outside the checkout (a sysroot): the consumer has its own.
            continue;
        };
        if abs == src {
            for h in HEADER_DIRS {
                copy_headers(&from.join(h), &dir.join(&rel).join(h))?;
            }
        } else {
            copy_headers(&from, &dir.join(&rel))?;
        }
        if !include_dirs.contains(&rel) {
            include_dirs.push(rel);
        }
    }
    std::fs::copy(inp.out_dir.join("args.gn"), dir.join("args.gn"))
        .with_context(|| format!("copying {}/args.gn", inp.out_dir.display()))?;
    std::fs::write(dir.join("VERSIONS"), &inp.versions)?;

    let android = matches!(inp.target, Target::Android(_));
    let cxx_stdlib = match (android, inp.custom_libcxx) {
        (false, false) if inp.system_llvm.is_some() => CxxStdlib {
            kind: CxxStdlibKind::LlvmLibcxx,
            namespace: CxxStdlibKind::LlvmLibcxx.namespace(),
            // Static: the distro's shared libc++ may be older than the one it was built with.
            link: vec!["static=c++".into(), "static=c++abi".into()],
        },
        (_, true) => CxxStdlib {
            kind: CxxStdlibKind::ChromiumLibcxx,
            namespace: CxxStdlibKind::ChromiumLibcxx.namespace(),
            link: vec![],
        },
        (true, false) => CxxStdlib {
            kind: CxxStdlibKind::NdkLibcxx,
            namespace: CxxStdlibKind::NdkLibcxx.namespace(),
            // The static NDK runtime: one self-contained .so per ABI in the APK.
            link: vec!["c++_static".into(), "c++abi".into()],
        },
        (false, false) => CxxStdlib {
            kind: CxxStdlibKind::Libstdcxx,
            namespace: CxxStdlibKind::Libstdcxx.namespace(),
            link: vec!["stdc++".into()],
        },
    };
    let manifest = Manifest {
        schema: webrtc_sdk::SCHEMA_VERSION,
        provider: Provider::Source,
        webrtc: WebrtcInfo {
            revision: inp.revision.clone(),
            milestone: inp.milestone,
        },
        target: TargetInfo {
            triple: inp.target.rust_triple().into(),
            android_abi: match inp.target {
                Target::Android(abi) => Some(abi.name().into()),
                Target::Linux(_) => None,
            },
            android_api: inp.android_api,
        },
        compile: Compile {
            include_dirs,
            defines: flags.defines,
            // Upstream moved to C++20 at M125; the shim compiles with it.
            cxx_std: "c++20".into(),
            flags: match &inp.system_llvm {
                Some(_) => vec!["-stdlib=libc++".into()],
                None => vec![],
            },
            cxx: inp.system_llvm.as_ref().map(SystemLlvm::cxx),
        },
        cxx_stdlib,
        link: Link {
            search_paths: std::iter::once(PathBuf::from("lib"))
                .chain(inp.system_llvm.as_ref().map(SystemLlvm::lib_dir))
                .collect(),
            static_libs: vec!["webrtc".into()],
            system_libs: {
                let base: &[&str] = if android {
                    &["log", "OpenSLES", "EGL", "GLESv2", "android", "m", "dl"]
                } else {
                    &["dl", "pthread", "rt", "m"]
                };
                let mut libs: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                for l in &inp.system_libs {
                    if !libs.contains(l) {
                        libs.push(l.clone());
                    }
                }
                libs
            },
            args: inp
                .system_llvm
                .as_ref()
                .map(SystemLlvm::link_args)
                .unwrap_or_default(),
        },
    };
    let path = dir.join(webrtc_sdk::MANIFEST_FILE);
    manifest.validate(&path)?;
    std::fs::write(&path, manifest.to_toml()?)?;
    // Swap in: the old SDK (if any) goes only once the new one is complete.
    if inp.sdk_dir.exists() {
        let old = parent.join(format!(".webrtc-sdk-old-{}", std::process::id()));
        std::fs::rename(&inp.sdk_dir, &old)?;
        std::fs::rename(staging.keep(), &inp.sdk_dir)?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(staging.keep(), &inp.sdk_dir)?;
    }
    Ok(manifest)
}

fn copy_headers(from: &Path, to: &Path) -> Result<()> {
    if !from.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let path = entry.path();
        let ty = entry.file_type()?;
        if ty.is_dir() {
            copy_headers(&path, &to.join(entry.file_name()))?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| HEADER_EXTS.contains(&e))
        {
            std::fs::create_dir_all(to)?;
            std::fs::copy(&path, to.join(entry.file_name()))
                .with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}
