//! `--provider system`: the distro libwebrtc (Debian/Ubuntu `libtgowt-dev`, Telegram's fork
//! of WebRTC). Nothing here is a hand-kept list: the manifest is derived from
//!
//! 1. the package's CMake export, `/usr/lib/<multiarch>/cmake/tg_owt/tg_owtTargets.cmake`
//!    (+ `tg_owtTargets-<config>.cmake` for the library file): usage requirements of
//!    `tg_owt::tg_owt`, followed through the other imported targets the way CMake does
//!    ([`parse_cmake`], [`resolve`]);
//! 2. pkg-config for the `absl::*` targets it names (the distro's abseil);
//! 3. the target triple, for the platform defines upstream's BUILD.gn sets but the CMake
//!    export may not carry ([`platform_defines`]);
//! 4. the library itself, for the facts only its symbols know: the C++ standard library
//!    namespace and whether it was built with DCHECKs ([`library_facts`]);
//! 5. the headers, for the API milestone ([`milestone_from_headers`]);
//! 6. dpkg, for the revision.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use webrtc_sdk::{
    Compile, CxxStdlib, CxxStdlibKind, Link, Manifest, Provider, StdNamespace, TargetInfo,
    WebrtcInfo, SCHEMA_VERSION,
};
use xshell::{cmd, Shell};

use super::install;

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
// Platform defines
// ---------------------------------------------------------------------------------------

/// The OS/CPU defines libwebrtc's public headers branch on, as upstream's `webrtc.gni` /
/// `BUILD.gn` (`config("common_inherited_config")`) sets them for a target. They are not
/// optional: headers such as `rtc_base/thread.h` and `rtc_base/physical_socket_server.h`
/// lay out classes differently under `WEBRTC_POSIX`/`WEBRTC_WIN`, and the `WEBRTC_HAS_NEON`
/// paths change inline code and declarations on ARM.
///
/// tg_owt's CMake export happens to carry the OS ones (in `tg_owt::libwebrtcbuild`), but a
/// package that doesn't must still produce a working manifest, so they are derived from
/// the triple here, merged with the exported ones, and a contradiction is an error.
///
/// CPU *architecture* defines (`WEBRTC_ARCH_X86_64`, `WEBRTC_ARCH_ARM64`, endianness) are not
/// listed: `rtc_base/system/arch.h` derives them from the compiler's own macros.
pub fn platform_defines(triple: &str) -> Result<Vec<&'static str>> {
    let mut defines = Vec::new();
    if triple.contains("windows") {
        defines.push("WEBRTC_WIN");
    } else {
        defines.push("WEBRTC_POSIX");
        if triple.contains("android") {
            // Upstream: is_android implies WEBRTC_LINUX as well as WEBRTC_ANDROID.
            defines.extend(["WEBRTC_LINUX", "WEBRTC_ANDROID"]);
        } else if triple.contains("linux") {
            defines.push("WEBRTC_LINUX");
        } else if triple.contains("apple-ios") {
            defines.extend(["WEBRTC_MAC", "WEBRTC_IOS"]);
        } else if triple.contains("apple-darwin") {
            defines.push("WEBRTC_MAC");
        } else if triple.contains("fuchsia") {
            defines.push("WEBRTC_FUCHSIA");
        } else {
            bail!("no WebRTC platform defines known for `{triple}`");
        }
    }
    // Upstream: `current_cpu == "arm64"` always has NEON; 32-bit ARM has it when built with
    // `arm_use_neon` (the default for armv7 Android/Linux hard-float).
    if triple.starts_with("aarch64")
        || triple.starts_with("armv7")
        || triple.starts_with("thumbv7neon")
    {
        defines.push("WEBRTC_HAS_NEON");
    }
    Ok(defines)
}

/// Every OS define any platform uses; if the export sets one the triple doesn't call for,
/// the package was built for something else.
const OS_DEFINES: &[&str] = &[
    "WEBRTC_WIN",
    "WEBRTC_POSIX",
    "WEBRTC_LINUX",
    "WEBRTC_ANDROID",
    "WEBRTC_MAC",
    "WEBRTC_IOS",
    "WEBRTC_FUCHSIA",
];

fn merge_platform_defines(defines: &mut Vec<String>, platform: &[&str]) -> Result<()> {
    if let Some(stray) = defines
        .iter()
        .find(|d| OS_DEFINES.contains(&d.as_str()) && !platform.contains(&d.as_str()))
    {
        bail!(
            "the package's CMake export defines {stray}, which the target ({}) does not: \
             the installed libtgowt-dev was built for another platform",
            platform.join(" ")
        );
    }
    for d in platform {
        push_unique(defines, (*d).to_owned());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Facts only the library binary knows
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, PartialEq)]
pub struct LibraryFacts {
    /// Extra defines the shim must use to see the same class layouts.
    pub defines: Vec<String>,
}

/// Declared only `#if RTC_DCHECK_IS_ON` (rtc_base/thread.h), so the symbol is in the archive
/// exactly when libwebrtc was built with DCHECKs.
const DCHECK_MARKER: &[u8] =
    b"_ZN3rtc13ThreadManager29RegisterSendAndCheckForCyclesEPNS_6ThreadES2_";

/// Scan the static library: check its C++ standard library namespace and find the build
/// facts that change class layouts.
pub fn library_facts(path: &Path, bytes: &[u8]) -> Result<LibraryFacts> {
    // The C++ standard library: the distro builds tg_owt with g++, so libstdc++'s
    // `std::__cxx11`. Verify instead of assuming: a libc++ build here would link and then
    // crash, which is exactly what the ABI policy exists to prevent.
    let found = StdNamespace::detect(bytes);
    match found.first() {
        Some((StdNamespace::Cxx11, _)) => {}
        Some((other, n)) => bail!(
            "{} uses {other} ({n} mangled references), not libstdc++'s std::__cxx11: it was \
             built against another C++ standard library than the distro's g++ toolchain, so \
             the shim (compiled with libstdc++) cannot link with it. Reinstall the distro \
             package (`sudo apt-get install --reinstall libtgowt-dev`) or use an SDK built \
             with `use_custom_libcxx=false`.",
            path.display()
        ),
        None => bail!(
            "{} has no std::__cxx11/__Cr/__ndk1 symbols; is it really libtg_owt? \
             Reinstall with `sudo apt-get install --reinstall libtgowt-dev`.",
            path.display()
        ),
    }

    // RTC_DCHECK_IS_ON changes class layouts (rtc::Thread, rtc::ThreadManager, the sequence
    // checkers, OperationsChain), and it follows NDEBUG unless DCHECK_ALWAYS_ON is set
    // (rtc_base/checks.h). Debian builds tg_owt without NDEBUG, so DCHECKs are on; make the
    // shim agree whatever its own profile says.
    let dcheck_on = memchr::memmem::find(bytes, DCHECK_MARKER).is_some();
    let defines = if dcheck_on {
        vec!["DCHECK_ALWAYS_ON".to_owned()]
    } else {
        vec!["NDEBUG".to_owned()]
    };
    Ok(LibraryFacts { defines })
}

// ---------------------------------------------------------------------------------------
// Milestone
// ---------------------------------------------------------------------------------------

/// One API fact whose presence means "at least this milestone". Only what the shim's
/// milestone switches care about, each checked in a public header.
struct Marker {
    milestone: u32,
    what: &'static str,
    holds: fn(&Path) -> bool,
}

fn contains(path: &Path, needle: &str) -> bool {
    fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
}

const MARKERS: &[Marker] = &[
    Marker {
        milestone: 108,
        what: "rtc::Thread::BlockingCall (rtc_base/thread.h)",
        holds: |inc| contains(&inc.join("rtc_base/thread.h"), "BlockingCall"),
    },
    Marker {
        milestone: 110,
        what: "TaskQueueBase takes absl::AnyInvocable and rtc_base/task_utils/to_queued_task.h is gone",
        holds: |inc| {
            contains(&inc.join("api/task_queue/task_queue_base.h"), "AnyInvocable")
                && !inc.join("rtc_base/task_utils/to_queued_task.h").exists()
        },
    },
    Marker {
        milestone: 117,
        what: "DataChannelInterface::SendAsync (api/data_channel_interface.h)",
        holds: |inc| contains(&inc.join("api/data_channel_interface.h"), "SendAsync"),
    },
    Marker {
        milestone: 122,
        what: "webrtc::Environment (api/environment/environment.h)",
        holds: |inc| inc.join("api/environment/environment.h").is_file(),
    },
];

/// The API milestone of the headers under `include_root`.
///
/// tg_owt has no version macro, and its `call/version.cc` source stamp (in libtg_owt.a:
/// "WebRTC source stamp 2022-10-09…") is not kept in step with the upstream merges, so it
/// dates the API too early. What the shim needs the milestone for is choosing between API
/// variants, so the milestone is read off those APIs: the highest [`MARKERS`] entry whose
/// fact holds. For libtgowt-dev 0~git20230105 (Debian 12): BlockingCall present,
/// ToQueuedTask gone, no SendAsync, no Environment → 110, matching the M110-era API the
/// Telegram fork tracks. Below the oldest marker the SDK is too old for the shim.
pub fn milestone_from_headers(include_root: &Path) -> Result<(u32, Vec<String>)> {
    let held: Vec<&Marker> = MARKERS.iter().filter(|m| (m.holds)(include_root)).collect();
    let Some(best) = held.iter().map(|m| m.milestone).max() else {
        bail!(
            "the headers in {} predate M{} (no {}): this libwebrtc is too old for the shim",
            include_root.display(),
            MARKERS[0].milestone,
            MARKERS[0].what
        );
    };
    let evidence = held
        .iter()
        .map(|m| format!("M{}+ {}", m.milestone, m.what))
        .collect();
    Ok((best, evidence))
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

// ---------------------------------------------------------------------------------------
// CMake export parsing (pure)
// ---------------------------------------------------------------------------------------

/// An imported target from a CMake export file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CmakeTarget {
    /// `STATIC`, `SHARED`, `INTERFACE`, …
    pub kind: String,
    /// Properties with `${_IMPORT_PREFIX}` resolved.
    pub props: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct CmakePackage {
    pub targets: BTreeMap<String, CmakeTarget>,
}

fn load_cmake_package(targets_file: &Path) -> Result<CmakePackage> {
    let text = fs::read_to_string(targets_file)
        .with_context(|| format!("reading {}", targets_file.display()))?;
    let dir = targets_file
        .parent()
        .context("targets file has no parent")?;
    let mut configs = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("tg_owtTargets-") && name.ends_with(".cmake") {
            configs.push(
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
            );
        }
    }
    let config_refs: Vec<&str> = configs.iter().map(String::as_str).collect();
    parse_cmake(targets_file, &text, &config_refs)
        .with_context(|| format!("parsing {}", targets_file.display()))
}

/// Parse a CMake export (`<Pkg>Targets.cmake` and its `<Pkg>Targets-<config>.cmake`
/// siblings) into imported targets. `targets_file` is where the text came from: the
/// export computes `_IMPORT_PREFIX` from its own location.
pub fn parse_cmake(targets_file: &Path, text: &str, configs: &[&str]) -> Result<CmakePackage> {
    let prefix = import_prefix(targets_file, text)?;
    let prefix = prefix.to_string_lossy();
    let mut package = CmakePackage::default();
    for source in std::iter::once(text).chain(configs.iter().copied()) {
        for (name, args) in commands(source)? {
            match name.to_ascii_lowercase().as_str() {
                "add_library" if args.get(2).map(String::as_str) == Some("IMPORTED") => {
                    package.targets.entry(args[0].clone()).or_default().kind = args[1].clone();
                }
                "set_target_properties" => {
                    let Some(split) = args.iter().position(|a| a == "PROPERTIES") else {
                        bail!("set_target_properties without PROPERTIES: {args:?}");
                    };
                    let (names, kv) = args.split_at(split);
                    let kv = &kv[1..];
                    if kv.len() % 2 != 0 {
                        bail!(
                            "set_target_properties({}): odd property list",
                            names.join(" ")
                        );
                    }
                    for name in names {
                        let target = package.targets.entry(name.clone()).or_default();
                        for pair in kv.chunks(2) {
                            let value = pair[1].replace("${_IMPORT_PREFIX}", &prefix);
                            target.props.insert(pair[0].clone(), value);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if package.targets.is_empty() {
        bail!("no imported targets found");
    }
    Ok(package)
}

/// `_IMPORT_PREFIX` as the export computes it: the file's directory, then one level up per
/// `get_filename_component(_IMPORT_PREFIX "${_IMPORT_PREFIX}" PATH)`.
fn import_prefix(targets_file: &Path, text: &str) -> Result<PathBuf> {
    let ups = text
        .lines()
        .filter(|l| {
            l.trim() == r#"get_filename_component(_IMPORT_PREFIX "${_IMPORT_PREFIX}" PATH)"#
        })
        .count();
    let mut prefix = targets_file
        .parent()
        .context("targets file has no directory")?
        .to_owned();
    for _ in 0..ups {
        prefix = prefix
            .parent()
            .with_context(|| {
                format!(
                    "_IMPORT_PREFIX goes above / from {}",
                    targets_file.display()
                )
            })?
            .to_owned();
    }
    Ok(prefix)
}

/// Split CMake source into command invocations `(name, args)`: unquoted and quoted
/// arguments, `#` comments, nested parentheses (as in `if(...)`) flattened. Enough for
/// generated export files; not a CMake interpreter (no variable expansion).
fn commands(text: &str) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                    chars.next();
                }
                if chars.next_if_eq(&'(').is_none() {
                    continue;
                }
                let mut args = Vec::new();
                let mut depth = 1;
                let mut arg = String::new();
                let mut in_arg = false;
                loop {
                    let Some(c) = chars.next() else {
                        bail!("unterminated {name}(");
                    };
                    match c {
                        '"' => {
                            in_arg = true;
                            loop {
                                match chars.next() {
                                    None => bail!("unterminated string in {name}("),
                                    Some('"') => break,
                                    Some('\\') => match chars.next() {
                                        Some('n') => arg.push('\n'),
                                        Some('t') => arg.push('\t'),
                                        // `\;` keeps a literal ';' in a list element.
                                        Some(';') => arg.push_str("\\;"),
                                        Some(c) => arg.push(c),
                                        None => bail!("unterminated escape in {name}("),
                                    },
                                    Some(c) => arg.push(c),
                                }
                            }
                        }
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                if in_arg {
                                    args.push(std::mem::take(&mut arg));
                                }
                                break;
                            }
                        }
                        '#' if !in_arg => {
                            for c in chars.by_ref() {
                                if c == '\n' {
                                    break;
                                }
                            }
                        }
                        c if c.is_whitespace() => {
                            if in_arg {
                                args.push(std::mem::take(&mut arg));
                                in_arg = false;
                            }
                        }
                        c => {
                            in_arg = true;
                            arg.push(c);
                        }
                    }
                }
                out.push((name, args));
            }
            _ => {}
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Resolving usage requirements (pure but for the pkg-config callback)
// ---------------------------------------------------------------------------------------

/// What a consumer of the root target gets: CMake's usage requirements, flattened.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Resolved {
    pub cxx_std: Option<String>,
    pub include_dirs: Vec<PathBuf>,
    pub defines: Vec<String>,
    pub compile_flags: Vec<String>,
    /// Static library files, in link order (libwebrtc first).
    pub static_files: Vec<PathBuf>,
    pub search_paths: Vec<PathBuf>,
    /// Shared libraries by name, in link order, first occurrence kept.
    pub system_libs: Vec<String>,
    pub link_args: Vec<String>,
}

/// Flatten `root`'s usage requirements the way CMake does:
///
/// - compile side (features, include dirs, definitions, options): the target's own
///   `INTERFACE_*` properties, plus those of every `INTERFACE_LINK_LIBRARIES` entry that is
///   *not* wrapped in `$<LINK_ONLY:…>`, recursively;
/// - link side: the target's library file (`IMPORTED_LOCATION[_<CONFIG>]`; INTERFACE
///   targets have none), then each `INTERFACE_LINK_LIBRARIES` entry in order, following
///   `$<LINK_ONLY:…>` too.
///
/// `absl::foo` entries are the distro abseil's CMake targets; they are resolved through
/// `pkg_config("absl_foo")`, which returns `pkg-config --libs --cflags absl_foo`'s output.
pub fn resolve(
    package: &CmakePackage,
    root: &str,
    pkg_config: &mut dyn FnMut(&str) -> Result<String>,
) -> Result<Resolved> {
    let mut r = Resolved::default();
    let mut seen = Vec::new();
    compile_side(package, root, &mut r, &mut seen, pkg_config)?;
    let mut seen = Vec::new();
    link_side(package, root, &mut r, &mut seen, pkg_config)?;
    Ok(r)
}

fn target<'a>(package: &'a CmakePackage, name: &str) -> Result<&'a CmakeTarget> {
    package.targets.get(name).with_context(|| {
        format!("imported target {name} is referenced but not defined in the export")
    })
}

fn list(value: Option<&String>) -> Vec<&str> {
    value
        .map(|v| v.split(';').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// An `INTERFACE_LINK_LIBRARIES` entry.
#[derive(Debug, PartialEq)]
enum LinkEntry<'a> {
    /// Another target of this export (`tg_owt::libyuv`); `link_only` for `$<LINK_ONLY:…>`.
    Own { name: &'a str, link_only: bool },
    /// The distro abseil (`absl::strings` → pkg-config module `absl_strings`).
    Absl { module: String, link_only: bool },
    /// A library file by path.
    File(&'a str),
    /// A linker flag (`-Wl,…`, `-pthread`) or a bare library name (`m`, `-lm`).
    Flag(&'a str),
}

fn classify(entry: &str) -> Result<LinkEntry<'_>> {
    let (inner, link_only) = match entry
        .strip_prefix("$<LINK_ONLY:")
        .and_then(|e| e.strip_suffix('>'))
    {
        Some(inner) => (inner, true),
        None => (entry, false),
    };
    if inner.contains("$<") {
        bail!("generator expression `{entry}` is not supported (only $<LINK_ONLY:…>)");
    }
    if inner.starts_with(OWN_NAMESPACE) {
        Ok(LinkEntry::Own {
            name: inner,
            link_only,
        })
    } else if let Some(component) = inner.strip_prefix("absl::") {
        Ok(LinkEntry::Absl {
            module: format!("absl_{component}"),
            link_only,
        })
    } else if inner.contains("::") {
        bail!(
            "`{inner}` is an imported target of another package; only tg_owt's own targets \
             and absl:: (through pkg-config) are known"
        )
    } else if inner.starts_with('/') {
        Ok(LinkEntry::File(inner))
    } else {
        Ok(LinkEntry::Flag(inner))
    }
}

fn compile_side(
    package: &CmakePackage,
    name: &str,
    r: &mut Resolved,
    seen: &mut Vec<String>,
    pkg_config: &mut dyn FnMut(&str) -> Result<String>,
) -> Result<()> {
    if seen.iter().any(|s| s == name) {
        return Ok(());
    }
    seen.push(name.to_owned());
    let t = target(package, name)?;
    for feature in list(t.props.get("INTERFACE_COMPILE_FEATURES")) {
        if let Some(n) = feature.strip_prefix("cxx_std_") {
            let std = format!("c++{n}");
            // Several targets each require a standard: the consumer needs the newest.
            if r.cxx_std
                .as_deref()
                .is_none_or(|cur| std_rank(&std) > std_rank(cur))
            {
                r.cxx_std = Some(std);
            }
        }
    }
    for dir in list(t.props.get("INTERFACE_INCLUDE_DIRECTORIES")) {
        push_unique(&mut r.include_dirs, PathBuf::from(dir));
    }
    for def in list(t.props.get("INTERFACE_COMPILE_DEFINITIONS")) {
        push_unique(&mut r.defines, def.trim_start_matches("-D").to_owned());
    }
    for opt in list(t.props.get("INTERFACE_COMPILE_OPTIONS")) {
        push_unique(&mut r.compile_flags, opt.to_owned());
    }
    for entry in list(t.props.get("INTERFACE_LINK_LIBRARIES")) {
        match classify(entry)? {
            LinkEntry::Own {
                name,
                link_only: false,
            } => compile_side(package, name, r, seen, pkg_config)?,
            LinkEntry::Absl {
                module,
                link_only: false,
            } => {
                let flags = parse_pkg_config(&pkg_config(&module)?);
                for d in flags.include_dirs {
                    push_unique(&mut r.include_dirs, d);
                }
                for d in flags.defines {
                    push_unique(&mut r.defines, d);
                }
                for f in flags.compile_flags {
                    push_unique(&mut r.compile_flags, f);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn std_rank(std: &str) -> u32 {
    // c++17 < c++20 < c++23 (c++2a/2b style names are not produced by cxx_std_NN).
    std.trim_start_matches("c++").parse().unwrap_or(0)
}

fn link_side(
    package: &CmakePackage,
    name: &str,
    r: &mut Resolved,
    seen: &mut Vec<String>,
    pkg_config: &mut dyn FnMut(&str) -> Result<String>,
) -> Result<()> {
    if seen.iter().any(|s| s == name) {
        return Ok(());
    }
    seen.push(name.to_owned());
    let t = target(package, name)?;
    if let Some(location) = imported_location(t) {
        link_file(r, location)?;
    } else if t.kind != "INTERFACE" {
        bail!(
            "{name} is a {} imported target without IMPORTED_LOCATION (is the \
             tg_owtTargets-<config>.cmake file missing?)",
            t.kind
        );
    }
    for entry in list(t.props.get("INTERFACE_LINK_LIBRARIES")) {
        match classify(entry)? {
            LinkEntry::Own { name, .. } => link_side(package, name, r, seen, pkg_config)?,
            LinkEntry::Absl { module, .. } => {
                let flags = parse_pkg_config(&pkg_config(&module)?);
                for d in flags.search_paths {
                    push_unique(&mut r.search_paths, d);
                }
                for l in flags.libs {
                    push_unique(&mut r.system_libs, l);
                }
                for a in flags.link_args {
                    push_unique(&mut r.link_args, a);
                }
            }
            LinkEntry::File(path) => link_file(r, path)?,
            LinkEntry::Flag(flag) => link_flag(r, flag),
        }
    }
    Ok(())
}

/// `IMPORTED_LOCATION`, else the first `IMPORTED_LOCATION_<CONFIG>` (Release preferred).
fn imported_location(t: &CmakeTarget) -> Option<&str> {
    if let Some(l) = t.props.get("IMPORTED_LOCATION") {
        return Some(l);
    }
    t.props
        .get("IMPORTED_LOCATION_RELEASE")
        .or_else(|| {
            t.props
                .iter()
                .find(|(k, _)| k.starts_with("IMPORTED_LOCATION_"))
                .map(|(_, v)| v)
        })
        .map(String::as_str)
}

fn link_file(r: &mut Resolved, path: &str) -> Result<()> {
    let p = Path::new(path);
    if path.ends_with(".a") {
        push_unique(&mut r.static_files, p.to_owned());
    } else if let Some((dir, name)) = lib_name(p) {
        // `/usr/lib/<multiarch>/libX.so` → system lib `X` (found through the search path).
        push_unique(&mut r.search_paths, dir);
        push_unique(&mut r.system_libs, name);
    } else {
        // `libfoo.so.1` and the like cannot be spelled as `-l`: pass the file itself.
        push_unique(&mut r.link_args, path.to_owned());
    }
    Ok(())
}

fn link_flag(r: &mut Resolved, flag: &str) {
    if let Some(lib) = flag.strip_prefix("-l") {
        push_unique(&mut r.system_libs, lib.to_owned());
    } else if flag == "-pthread" {
        push_unique(&mut r.system_libs, "pthread".to_owned());
    } else if flag.starts_with('-') {
        push_unique(&mut r.link_args, flag.to_owned());
    } else {
        push_unique(&mut r.system_libs, flag.to_owned());
    }
}

/// `/dir/libX.so` or `/dir/libX.a` → `(/dir, X)`.
fn lib_name(path: &Path) -> Option<(PathBuf, String)> {
    let file = path.file_name()?.to_str()?;
    let stem = file
        .strip_prefix("lib")?
        .strip_suffix(".so")
        .or_else(|| file.strip_prefix("lib")?.strip_suffix(".a"))?;
    if stem.is_empty() {
        return None;
    }
    Some((path.parent()?.to_owned(), stem.to_owned()))
}

/// pkg-config output, split by what each flag is for.
#[derive(Debug, Default, PartialEq)]
pub struct PkgConfigFlags {
    pub include_dirs: Vec<PathBuf>,
    pub defines: Vec<String>,
    pub compile_flags: Vec<String>,
    pub search_paths: Vec<PathBuf>,
    pub libs: Vec<String>,
    pub link_args: Vec<String>,
}

/// Split `pkg-config --libs --cflags` output. `-Wl,--push-state,--as-needed` …
/// `-Wl,--pop-state` (abseil wraps `-latomic` in it) is dropped: those flags only work in
/// place on one command line, and rustc already links Linux targets with `--as-needed`, so
/// the library inside is just a system lib.
pub fn parse_pkg_config(output: &str) -> PkgConfigFlags {
    let mut f = PkgConfigFlags::default();
    for tok in output.split_whitespace() {
        if let Some(v) = tok.strip_prefix("-I") {
            push_unique(&mut f.include_dirs, PathBuf::from(v));
        } else if let Some(v) = tok.strip_prefix("-D") {
            push_unique(&mut f.defines, v.to_owned());
        } else if let Some(v) = tok.strip_prefix("-L") {
            push_unique(&mut f.search_paths, PathBuf::from(v));
        } else if let Some(v) = tok.strip_prefix("-l") {
            push_unique(&mut f.libs, v.to_owned());
        } else if tok == "-pthread" {
            push_unique(&mut f.compile_flags, tok.to_owned());
            push_unique(&mut f.libs, "pthread".to_owned());
        } else if matches!(
            tok,
            "-Wl,--push-state,--as-needed" | "-Wl,--pop-state" | "-Wl,--as-needed"
        ) {
        } else if tok.starts_with("-Wl,") || tok.starts_with("-Xlinker") {
            push_unique(&mut f.link_args, tok.to_owned());
        } else {
            push_unique(&mut f.compile_flags, tok.to_owned());
        }
    }
    f
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if !v.contains(&item) {
        v.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/tg_owt/tg_owtTargets.cmake");
    const FIXTURE_NONE: &str = include_str!("../../tests/fixtures/tg_owt/tg_owtTargets-none.cmake");
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
}
