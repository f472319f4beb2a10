//! `--provider system`: the distro libwebrtc (Debian/Ubuntu `libtgowt-dev`, Telegram's fork
//! of WebRTC). Nothing here is a hand-kept list: the manifest is derived from
//!
//! 1. the package's CMake export, `/usr/lib/<multiarch>/cmake/tg_owt/tg_owtTargets.cmake`
//!    (+ `tg_owtTargets-<config>.cmake` for the library file): usage requirements of
//!    `tg_owt::tg_owt`, followed through the other imported targets the way CMake does
//!    ([`cmake::parse_cmake`], [`resolve()`]);
//! 2. pkg-config for the `absl::*` targets it names (the distro's abseil);
//! 3. the target triple, for the platform defines upstream's BUILD.gn sets but the CMake
//!    export may not carry ([`platform::platform_defines`]);
//! 4. the library itself, for the facts only its symbols know: the C++ standard library
//!    namespace and whether it was built with DCHECKs ([`library::library_facts`]);
//! 5. the headers, for the API milestone ([`milestone_from_headers`]);
//! 6. dpkg, for the revision.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use webrtc_sdk::{
    Compile, CxxStdlib, CxxStdlibKind, Link, Manifest, Provider, StdNamespace, TargetInfo,
    WebrtcInfo, SCHEMA_VERSION,
};
use xshell::{cmd, Shell};

use super::install;

mod cmake;
mod library;
mod platform;
mod resolve;
#[cfg(test)]
mod tests;

use cmake::load_cmake_package;
pub use library::milestone_from_headers;
use library::{library_facts, LibraryFacts};
use platform::{merge_platform_defines, platform_defines};
use resolve::{lib_name, push_unique, resolve, Resolved};

/// The CMake target that is libwebrtc in tg_owt's export.
const ROOT_TARGET: &str = "tg_owt::tg_owt";
/// Namespace of tg_owt's own imported targets.
const OWN_NAMESPACE: &str = "tg_owt::";

const INSTALL_HINT: &str = "install the distro libwebrtc with `sudo apt-get install libtgowt-dev` \
(packaged in Debian 12 and Ubuntu 22.04 or newer; for another architecture, the multiarch \
package, e.g. `libtgowt-dev:arm64`), or bring a prebuilt SDK with \
`cargo xtask sdk --provider prebuilt --path DIR|ARCHIVE`";

pub fn run(sh: &Shell, root: &Path, triple: &str, out: Option<&Path>, dry_run: bool) -> Result<()> {
    let manifest = derive(sh, triple)?;
    let text = manifest
        .to_toml()
        .context("the derived manifest does not validate")?;
    let dest = match out {
        Some(o) => root.join(o),
        None => webrtc_sdk::default_sdk_dir(root, triple),
    };
    if dry_run {
        println!(
            "would write {}:",
            dest.join(webrtc_sdk::MANIFEST_FILE).display()
        );
        print!("{text}");
        return Ok(());
    }
    let path = dest.join(webrtc_sdk::MANIFEST_FILE);
    // Rewriting an identical manifest would bump its mtime and make webrtc-sys rebuild
    // the shim (and relink every test) for nothing; `cargo xtask test` runs this each time.
    let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == text);
    if !unchanged {
        install::install_manifest(&dest, &text)?;
    }
    println!(
        "{} {} (provider system, libtgowt-dev {}, M{})",
        if unchanged { "up to date:" } else { "wrote" },
        path.display(),
        manifest.webrtc.revision,
        manifest.webrtc.milestone
    );
    if out.is_some() {
        println!(
            "webrtc-sys looks in the default location; point it here with {}={}",
            webrtc_sdk::SDK_DIR_ENV,
            dest.display()
        );
    }
    Ok(())
}

/// Derive the manifest for `triple` from the installed package.
pub fn derive(sh: &Shell, triple: &str) -> Result<Manifest> {
    if triple.contains("android") || !triple.contains("linux") {
        bail!(
            "--provider system is the Debian/Ubuntu libtgowt-dev package, which only exists for \
             Linux; `{triple}` needs `cargo xtask build --target …` or a prebuilt SDK"
        );
    }
    let multiarch = multiarch(triple)?;
    let cmake_dir = PathBuf::from(format!("/usr/lib/{multiarch}/cmake/tg_owt"));
    let targets_file = cmake_dir.join("tg_owtTargets.cmake");
    if !targets_file.is_file() {
        bail!(
            "libtgowt-dev for {multiarch} is not installed ({} is missing): {INSTALL_HINT}",
            targets_file.display()
        );
    }
    let package = load_cmake_package(&targets_file)?;

    let mut pkg_config_cache = HashMap::new();
    let mut pkg_config = |module: &str| -> Result<String> {
        if let Some(out) = pkg_config_cache.get(module) {
            return Ok(String::clone(out));
        }
        let out = cmd!(sh, "pkg-config --libs --cflags {module}")
            .quiet()
            .read()
            .with_context(|| {
                format!(
                    "`pkg-config --libs --cflags {module}` failed: tg_owt needs the distro's \
                     abseil (`sudo apt-get install libabsl-dev pkg-config`)"
                )
            })?;
        pkg_config_cache.insert(module.to_owned(), out.clone());
        Ok(out)
    };
    let resolved = resolve(&package, ROOT_TARGET, &mut pkg_config)?;

    let library = resolved.static_files.first().cloned().with_context(|| {
        format!(
            "{ROOT_TARGET} has no IMPORTED_LOCATION in {}",
            cmake_dir.display()
        )
    })?;
    let bytes = fs::read(&library).with_context(|| format!("reading {}", library.display()))?;
    let facts = library_facts(&library, &bytes)?;

    let include_root = resolved
        .include_dirs
        .first()
        .cloned()
        .context("tg_owt::tg_owt has no INTERFACE_INCLUDE_DIRECTORIES")?;
    let (milestone, evidence) = milestone_from_headers(&include_root)?;
    eprintln!("milestone M{milestone}: {}", evidence.join("; "));

    let revision = package_version(sh);
    build_manifest(triple, revision, milestone, resolved, &facts)
}

/// Put the derived pieces together (pure; unit-tested).
fn build_manifest(
    triple: &str,
    revision: String,
    milestone: u32,
    resolved: Resolved,
    facts: &LibraryFacts,
) -> Result<Manifest> {
    let mut defines = resolved.defines;
    merge_platform_defines(&mut defines, &platform_defines(triple)?)?;
    for define in &facts.defines {
        push_unique(&mut defines, define.clone());
    }

    let mut search_paths = Vec::new();
    let mut static_libs = Vec::new();
    for file in &resolved.static_files {
        let (dir, name) = lib_name(file)
            .with_context(|| format!("{} is not a lib<name>.a static library", file.display()))?;
        push_unique(&mut search_paths, dir);
        push_unique(&mut static_libs, name);
    }
    for dir in resolved.search_paths {
        push_unique(&mut search_paths, dir);
    }

    Ok(Manifest {
        schema: SCHEMA_VERSION,
        provider: Provider::System,
        webrtc: WebrtcInfo {
            revision,
            milestone,
        },
        target: TargetInfo {
            triple: triple.to_owned(),
            android_abi: None,
            android_api: None,
        },
        compile: Compile {
            include_dirs: resolved.include_dirs,
            defines,
            cxx_std: resolved
                .cxx_std
                .context("tg_owt::tg_owt declares no cxx_std_* compile feature")?,
            flags: resolved.compile_flags,
            cxx: None,
        },
        cxx_stdlib: CxxStdlib {
            kind: CxxStdlibKind::Libstdcxx,
            namespace: StdNamespace::Cxx11,
            link: vec!["dylib=stdc++".into()],
        },
        link: Link {
            search_paths,
            static_libs,
            system_libs: resolved.system_libs,
            args: resolved.link_args,
        },
    })
}

// ---------------------------------------------------------------------------------------
// Revision, multiarch
// ---------------------------------------------------------------------------------------

/// `dpkg-query -W -f='${Version}' libtgowt-dev`, or "unknown" with a warning.
fn package_version(sh: &Shell) -> String {
    let format = "${Version}";
    match cmd!(sh, "dpkg-query -W -f={format} libtgowt-dev")
        .quiet()
        .ignore_stderr()
        .read()
    {
        Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => {
            eprintln!(
                "warning: could not read libtgowt-dev's version with dpkg-query; \
                 webrtc.revision = \"unknown\""
            );
            "unknown".to_owned()
        }
    }
}

/// Debian multiarch tuple for a Rust triple (`x86_64-unknown-linux-gnu` → `x86_64-linux-gnu`).
pub fn multiarch(triple: &str) -> Result<String> {
    let arch = triple.split('-').next().unwrap_or_default();
    let abi = triple.rsplit('-').next().unwrap_or_default();
    let arch = match arch {
        "x86_64" => "x86_64",
        "i686" | "i586" => "i386",
        "aarch64" => "aarch64",
        a if a.starts_with("armv7") || a == "arm" => "arm",
        "riscv64gc" | "riscv64" => "riscv64",
        "powerpc64le" => "powerpc64le",
        "s390x" => "s390x",
        other => bail!("no Debian multiarch tuple known for the CPU `{other}` of `{triple}`"),
    };
    Ok(format!("{arch}-linux-{abi}"))
}
