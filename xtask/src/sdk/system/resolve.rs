//! Flattening the CMake usage requirements of the root target, and pkg-config output.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::cmake::{CmakePackage, CmakeTarget};
use super::OWN_NAMESPACE;

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
pub(super) enum LinkEntry<'a> {
    /// Another target of this export (`tg_owt::libyuv`); `link_only` for `$<LINK_ONLY:…>`.
    Own { name: &'a str, link_only: bool },
    /// The distro abseil (`absl::strings` → pkg-config module `absl_strings`).
    Absl { module: String, link_only: bool },
    /// A library file by path.
    File(&'a str),
    /// A linker flag (`-Wl,…`, `-pthread`) or a bare library name (`m`, `-lm`).
    Flag(&'a str),
}

pub(super) fn classify(entry: &str) -> Result<LinkEntry<'_>> {
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
pub(super) fn lib_name(path: &Path) -> Option<(PathBuf, String)> {
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

pub(super) fn push_unique<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if !v.contains(&item) {
        v.push(item);
    }
}
