//! Build script: reads the SDK manifest (the one contract with the xtask), compiles the C++
//! shim against it with `cc`, generates bindings for the C header with bindgen, checks that
//! the shim and libwebrtc use the same C++ standard library, and emits the link lines.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use webrtc_sdk::{Manifest, StdNamespace, SDK_DIR_ENV};

#[path = "build/abi.rs"]
mod abi;
use abi::{check_abi, Side};

fn main() {
    if let Err(e) = run() {
        // A plain message (not a panic backtrace): cargo prints stderr of a failed script.
        eprintln!("\nerror: {e}\n");
        std::process::exit(1);
    }
}

type Result<T> = std::result::Result<T, String>;

fn run() -> Result<()> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let target = env_var("TARGET")?;
    let shim_dir = manifest_dir.join("shim");

    println!("cargo:rerun-if-env-changed={SDK_DIR_ENV}");
    println!("cargo:rerun-if-changed={}", shim_dir.display());
    println!("cargo:rerun-if-changed=build/abi.rs");

    // SDK directory: WEBRTC_SDK_DIR, else where the xtask writes one for this target.
    let sdk_dir = match env::var_os(SDK_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let workspace_root = manifest_dir.join("../..");
            let root = workspace_root.canonicalize().unwrap_or(workspace_root);
            webrtc_sdk::default_sdk_dir(&root, &target)
        }
    };
    let manifest_path = sdk_dir.join(webrtc_sdk::MANIFEST_FILE);
    // Watch the manifest even when it is missing, so creating it triggers a rebuild.
    println!("cargo:rerun-if-changed={}", manifest_path.display());
    let manifest = Manifest::load(&sdk_dir).map_err(|e| e.to_string())?;

    if manifest.target.triple != target {
        return Err(format!(
            "{}: target.triple is `{}`, but cargo is building for `{target}`.\n  \
             Make an SDK for this target (e.g. `cargo xtask build --target …` / \
             `cargo xtask sdk --provider system` on a {target} host) or point {SDK_DIR_ENV} \
             at one.",
            manifest_path.display(),
            manifest.target.triple
        ));
    }

    let shim_lib = compile_shim(&manifest, &sdk_dir, &shim_dir, &out_dir)?;
    generate_bindings(&shim_dir, &out_dir)?;
    check_cxx_abi(&manifest, &sdk_dir, &shim_lib, &out_dir)?;
    emit_link(&manifest, &sdk_dir);

    // Metadata for dependents (DEP_WEBRTC_SDK_DIR, DEP_WEBRTC_INCLUDE), e.g. a C++ benchmark
    // that must compile against exactly the same SDK.
    println!("cargo:sdk_dir={}", sdk_dir.display());
    println!("cargo:include={}", shim_dir.display());
    Ok(())
}

fn env_var(name: &str) -> Result<String> {
    env::var(name).map_err(|_| format!("{name} is not set (is this run by cargo?)"))
}

/// Compile shim/*.cc into a static library in OUT_DIR; returns the archive's path.
fn compile_shim(
    manifest: &Manifest,
    sdk_dir: &Path,
    shim_dir: &Path,
    out_dir: &Path,
) -> Result<PathBuf> {
    let mut sources: Vec<PathBuf> = fs::read_dir(shim_dir)
        .map_err(|e| format!("cannot read {}: {e}", shim_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cc"))
        .collect();
    sources.sort();

    // Same configuration as every other C++ that includes libwebrtc's headers here.
    let mut build = webrtc_sdk::cc_build(manifest, sdk_dir);
    build.include(shim_dir).files(&sources);
    // The SRTP keepalive (shim/srtp_keepalive.cc) reaches into libwebrtc's internal
    // pc/srtp_session.h; it is on only where it was measured to pay: Debian's tg_owt, whose
    // system libsrtp2 runs ~65 ms of cipher self-tests at every 0 -> 1 session count.
    if manifest.provider == webrtc_sdk::Provider::System {
        build.define("MRTC_SRTP_KEEPALIVE", "1");
    }
    build
        .try_compile("mrtc_shim")
        .map_err(|e| format!("compiling the C++ shim failed: {e}"))?;
    Ok(out_dir.join("libmrtc_shim.a"))
}

fn generate_bindings(shim_dir: &Path, out_dir: &Path) -> Result<()> {
    let header = shim_dir.join("mrtc.h");
    let bindings = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .allowlist_function("mrtc_.*")
        .allowlist_type("mrtc_.*")
        .allowlist_var("mrtc_.*|MRTC_.*")
        // C enums stay integers + constants (a Rust enum receiving an unknown value from C
        // would be UB); no enum-name prefix, so the constants read as in C: `MRTC_OK`.
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .layout_tests(true)
        .derive_default(true)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .map_err(|e| format!("bindgen failed on {}: {e}", header.display()))?;
    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .map_err(|e| format!("cannot write bindings: {e}"))
}

/// The ABI self-check: compare the shim's C++ library namespace with libwebrtc's.
fn check_cxx_abi(
    manifest: &Manifest,
    sdk_dir: &Path,
    shim_lib: &Path,
    out_dir: &Path,
) -> Result<()> {
    let shim_bytes =
        fs::read(shim_lib).map_err(|e| format!("cannot read {}: {e}", shim_lib.display()))?;
    let shim_found = StdNamespace::detect(&shim_bytes);
    let compiler = webrtc_sdk::cc_build(manifest, sdk_dir).get_compiler();
    let shim_what = format!("the shim (compiled by `{}`)", compiler.path().display());

    let search_paths = manifest.search_paths(sdk_dir);
    let mut lib_scans = Vec::new();
    for name in &manifest.link.static_libs {
        let file = format!("lib{name}.a");
        let Some(path) = search_paths
            .iter()
            .map(|d| d.join(&file))
            .find(|p| p.is_file())
        else {
            return Err(format!(
                "static library {file} (link.static_libs) is in none of link.search_paths: {}",
                search_paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        println!("cargo:rerun-if-changed={}", path.display());
        let found = scan_cached(&path, out_dir)?;
        lib_scans.push((path.display().to_string(), found));
    }
    let libs: Vec<Side<'_>> = lib_scans
        .iter()
        .map(|(what, found)| Side { what, found })
        .collect();
    let shim = Side {
        what: &shim_what,
        found: &shim_found,
    };
    for warning in check_abi(manifest.cxx_stdlib.namespace, &shim, &libs)? {
        println!("cargo:warning={warning}");
    }
    Ok(())
}

/// Namespace scan of a (large) static library, cached in OUT_DIR by size + mtime so that
/// rebuilds of the shim don't re-read a 40-300 MB archive.
fn scan_cached(path: &Path, out_dir: &Path) -> Result<Vec<(StdNamespace, usize)>> {
    let meta = fs::metadata(path).map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let key = format!("{} {} {}", path.display(), meta.len(), mtime);
    let cache = out_dir.join(format!(
        "abi-scan-{}.txt",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    if let Ok(text) = fs::read_to_string(&cache) {
        let mut lines = text.lines();
        if lines.next() == Some(key.as_str()) {
            let parsed: Option<Vec<_>> = lines.map(parse_scan_line).collect();
            if let Some(found) = parsed {
                return Ok(found);
            }
        }
    }
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let found = StdNamespace::detect(&bytes);
    let mut text = key;
    for (ns, n) in &found {
        text.push_str(&format!("\n{} {n}", ns_name(*ns)));
    }
    // A failed cache write only costs a rescan next time.
    let _ = fs::write(&cache, text);
    Ok(found)
}

fn ns_name(ns: StdNamespace) -> &'static str {
    match ns {
        StdNamespace::Cxx11 => "cxx11",
        StdNamespace::Cr => "Cr",
        StdNamespace::Ndk1 => "ndk1",
        StdNamespace::Libcxx => "libcxx",
    }
}

fn parse_scan_line(line: &str) -> Option<(StdNamespace, usize)> {
    let (name, n) = line.split_once(' ')?;
    let ns = [
        StdNamespace::Cxx11,
        StdNamespace::Cr,
        StdNamespace::Ndk1,
        StdNamespace::Libcxx,
    ]
    .into_iter()
    .find(|ns| ns_name(*ns) == name)?;
    Some((ns, n.parse().ok()?))
}

fn emit_link(manifest: &Manifest, sdk_dir: &Path) {
    for dir in manifest.search_paths(sdk_dir) {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    // `-bundle`: the archive is passed to the final link instead of being copied into this
    // crate's rlib (libwebrtc.a is 40-300 MB).
    for lib in &manifest.link.static_libs {
        println!("cargo:rustc-link-lib=static:-bundle={lib}");
    }
    for lib in &manifest.link.system_libs {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
    for spec in &manifest.cxx_stdlib.link {
        println!("cargo:rustc-link-lib={spec}");
    }
    for arg in &manifest.link.args {
        println!("cargo:rustc-link-arg={arg}");
    }
}
