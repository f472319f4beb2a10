//! The SDK directory contract: the one place where the xtask (which builds or finds a
//! libwebrtc) and `webrtc-sys`'s build script (which compiles the shim and links) meet.
//!
//! An SDK directory holds a `webrtc-sdk.toml` manifest; everything provider-specific lives
//! in the xtask, the build script reads only this. See `docs/sdk.md` for the format.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the manifest inside an SDK directory.
pub const MANIFEST_FILE: &str = "webrtc-sdk.toml";
/// Manifest schema version this crate reads and writes. Bump on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;
/// Environment variable pointing at an SDK directory (overrides the default location).
pub const SDK_DIR_ENV: &str = "WEBRTC_SDK_DIR";

/// Where the SDK came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Built by `cargo xtask build` from a gclient checkout (`out/<target>/`).
    Source,
    /// The distro's libwebrtc (Debian/Ubuntu `libtgowt-dev`).
    System,
    /// A directory or archive the user brings.
    Prebuilt,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Source => "source",
            Provider::System => "system",
            Provider::Prebuilt => "prebuilt",
        })
    }
}

/// The C++ standard library libwebrtc was built against. Mixing two of them in one binary
/// fails at link time or, worse, at run time; the build script refuses it up front.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CxxStdlibKind {
    /// GNU libstdc++ (`std::__cxx11`): distro builds, `use_custom_libcxx=false` on Linux.
    Libstdcxx,
    /// Chromium's bundled libc++ (`std::__Cr`): upstream's default.
    ChromiumLibcxx,
    /// The Android NDK's libc++ (`std::__ndk1`): `use_custom_libcxx=false` on Android.
    NdkLibcxx,
    /// LLVM's libc++ as distributions ship it (`std::__1`, e.g. Debian's `libc++-22-dev`):
    /// upstream M150 on Linux with the system clang and `use_custom_libcxx=false`, since
    /// GCC 12's libstdc++ no longer compiles it. Code that includes libwebrtc's headers is
    /// then compiled by `compile.cxx` with `-stdlib=libc++`.
    LlvmLibcxx,
}

impl CxxStdlibKind {
    /// The inline namespace this library's symbols carry.
    pub fn namespace(self) -> StdNamespace {
        match self {
            CxxStdlibKind::Libstdcxx => StdNamespace::Cxx11,
            CxxStdlibKind::ChromiumLibcxx => StdNamespace::Cr,
            CxxStdlibKind::NdkLibcxx => StdNamespace::Ndk1,
            CxxStdlibKind::LlvmLibcxx => StdNamespace::Libcxx,
        }
    }
}

/// The inline namespace of a C++ standard library, as it shows in mangled symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StdNamespace {
    #[serde(rename = "std::__cxx11")]
    Cxx11,
    #[serde(rename = "std::__Cr")]
    Cr,
    #[serde(rename = "std::__ndk1")]
    Ndk1,
    #[serde(rename = "std::__1")]
    Libcxx,
}

impl StdNamespace {
    const ALL: [StdNamespace; 4] = [
        StdNamespace::Cxx11,
        StdNamespace::Cr,
        StdNamespace::Ndk1,
        StdNamespace::Libcxx,
    ];

    /// The Itanium-mangled fragment that names this namespace inside `std`
    /// (`std::__cxx11::basic_string` mangles as `NSt7__cxx1112basic_string…`).
    pub fn mangled(self) -> &'static [u8] {
        match self {
            StdNamespace::Cxx11 => b"St7__cxx11",
            StdNamespace::Cr => b"St4__Cr",
            StdNamespace::Ndk1 => b"St6__ndk1",
            StdNamespace::Libcxx => b"St3__1",
        }
    }

    /// Which namespaces appear in an object file or archive, most frequent first.
    ///
    /// A plain byte scan is enough: the mangled names sit in the symbol string table, and
    /// the markers cannot occur in one another.
    pub fn detect(bytes: &[u8]) -> Vec<(StdNamespace, usize)> {
        let mut found: Vec<(StdNamespace, usize)> = Self::ALL
            .iter()
            .map(|ns| (*ns, count_occurrences(bytes, ns.mangled())))
            .filter(|(_, n)| *n > 0)
            .collect();
        found.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        found
    }
}

impl fmt::Display for StdNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StdNamespace::Cxx11 => "std::__cxx11",
            StdNamespace::Cr => "std::__Cr",
            StdNamespace::Ndk1 => "std::__ndk1",
            StdNamespace::Libcxx => "std::__1",
        })
    }
}

/// memchr's SIMD searcher: build scripts and the xtask run unoptimised, where a naive
/// window scan of a 40 MB archive takes seconds.
fn count_occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() {
        return 0;
    }
    memchr::memmem::find_iter(haystack, needle).count()
}

/// The manifest, `webrtc-sdk.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Schema version; must equal [`SCHEMA_VERSION`].
    pub schema: u32,
    pub provider: Provider,
    pub webrtc: WebrtcInfo,
    pub target: TargetInfo,
    pub compile: Compile,
    pub cxx_stdlib: CxxStdlib,
    pub link: Link,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebrtcInfo {
    /// Commit, branch-head or distro package version the library was built from.
    pub revision: String,
    /// Chromium milestone of the API (`M110` → 110); the shim selects API variants by it.
    pub milestone: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    /// Rust target triple this SDK links into, e.g. `x86_64-unknown-linux-gnu`.
    pub triple: String,
    /// Android ABI (`arm64-v8a`, …) when the triple is an Android one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_abi: Option<String>,
    /// Android API level the library was built for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_api: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compile {
    /// Include directories, absolute or relative to the SDK directory.
    pub include_dirs: Vec<PathBuf>,
    /// Preprocessor definitions exactly as libwebrtc was built with: `NAME` or `NAME=VALUE`.
    pub defines: Vec<String>,
    /// C++ standard, e.g. `c++17` or `c++20`.
    pub cxx_std: String,
    /// Extra compiler flags the headers need (kept short: defines go in `defines`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// The C++ compiler code including these headers must use (e.g. `clang++-22` for an
    /// LLVM libc++ build); unset: cc's default (`CXX`, else `c++`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cxx: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CxxStdlib {
    pub kind: CxxStdlibKind,
    /// Redundant with `kind` on purpose: it is what the ABI check compares, spelled out
    /// for humans reading the manifest.
    pub namespace: StdNamespace,
    /// How to link it, in `cargo:rustc-link-lib` form (`dylib=stdc++`, `static=c++_static`).
    pub link: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Library search paths, absolute or relative to the SDK directory.
    pub search_paths: Vec<PathBuf>,
    /// Static libraries by name (`webrtc` for `libwebrtc.a`), linked whole-archive-free in order.
    pub static_libs: Vec<String>,
    /// Shared system libraries by name (`ssl`, `X11`, …), in link order.
    pub system_libs: Vec<String>,
    /// Extra linker arguments, passed through verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// Why a manifest could not be used. Every variant names the file and, where it can, the
/// field, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("no WebRTC SDK at {dir}: {MANIFEST_FILE} is missing.\n  Make one with `cargo xtask sdk --provider system` (distro libwebrtc, Debian/Ubuntu libtgowt-dev),\n  `cargo xtask sdk --provider prebuilt --path DIR|ARCHIVE`, or `cargo xtask build --target linux`\n  (from a `cargo xtask fetch-webrtc` checkout), or point {SDK_DIR_ENV} at an SDK directory.")]
    Missing { dir: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: field `{field}`: {message}")]
    Invalid {
        path: PathBuf,
        field: &'static str,
        message: String,
    },
}

/// Accepted `compile.cxx_std` values; libwebrtc has needed at least C++17 since ~M90.
const CXX_STDS: &[&str] = &["c++17", "c++20", "c++23", "gnu++17", "gnu++20", "gnu++23"];

impl Manifest {
    /// Parse and validate manifest text; `path` is used in error messages only.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| ManifestError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        manifest.validate(path)?;
        Ok(manifest)
    }

    /// Serialize (validated first, so the xtask never writes a manifest it cannot read).
    pub fn to_toml(&self) -> Result<String, ManifestError> {
        let path = Path::new(MANIFEST_FILE);
        self.validate(path)?;
        let body = toml::to_string_pretty(self).map_err(|e| ManifestError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(format!(
            "# WebRTC SDK manifest (see docs/sdk.md). Written by `cargo xtask`; read by webrtc-sys.\n{body}"
        ))
    }

    /// Check the values serde cannot: each error names its field.
    pub fn validate(&self, path: &Path) -> Result<(), ManifestError> {
        let invalid = |field: &'static str, message: String| ManifestError::Invalid {
            path: path.to_owned(),
            field,
            message,
        };
        if self.schema != SCHEMA_VERSION {
            return Err(invalid(
                "schema",
                format!(
                    "version {} is not supported (this build reads {SCHEMA_VERSION}); regenerate the SDK with this checkout's `cargo xtask sdk`",
                    self.schema
                ),
            ));
        }
        if self.webrtc.revision.trim().is_empty() {
            return Err(invalid("webrtc.revision", "must not be empty".into()));
        }
        if !(60..=1000).contains(&self.webrtc.milestone) {
            return Err(invalid(
                "webrtc.milestone",
                format!(
                    "{} is not a Chromium milestone (expected e.g. 110)",
                    self.webrtc.milestone
                ),
            ));
        }
        let triple = &self.target.triple;
        if triple.split('-').count() < 3 || triple.contains(char::is_whitespace) {
            return Err(invalid(
                "target.triple",
                format!("`{triple}` is not a target triple (e.g. x86_64-unknown-linux-gnu)"),
            ));
        }
        let is_android = triple.contains("android");
        if is_android != self.target.android_abi.is_some() {
            return Err(invalid(
                "target.android_abi",
                if is_android {
                    format!("required for the Android triple `{triple}`")
                } else {
                    format!("set, but `{triple}` is not an Android triple")
                },
            ));
        }
        if !CXX_STDS.contains(&self.compile.cxx_std.as_str()) {
            return Err(invalid(
                "compile.cxx_std",
                format!(
                    "`{}` is not one of {}",
                    self.compile.cxx_std,
                    CXX_STDS.join(", ")
                ),
            ));
        }
        if self.compile.include_dirs.is_empty() {
            return Err(invalid(
                "compile.include_dirs",
                "must list libwebrtc's header root".into(),
            ));
        }
        for define in &self.compile.defines {
            let name = define.split('=').next().unwrap_or_default();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(
                    "compile.defines",
                    format!("`{define}` is not NAME or NAME=VALUE"),
                ));
            }
        }
        if self.cxx_stdlib.kind.namespace() != self.cxx_stdlib.namespace {
            return Err(invalid(
                "cxx_stdlib.namespace",
                format!(
                    "{} does not match cxx_stdlib.kind ({:?} uses {})",
                    self.cxx_stdlib.namespace,
                    self.cxx_stdlib.kind,
                    self.cxx_stdlib.kind.namespace()
                ),
            ));
        }
        for lib in &self.cxx_stdlib.link {
            check_link_lib(lib).map_err(|m| invalid("cxx_stdlib.link", m))?;
        }
        if self.link.static_libs.is_empty() {
            return Err(invalid(
                "link.static_libs",
                "must name at least libwebrtc itself".into(),
            ));
        }
        for lib in self.link.static_libs.iter().chain(&self.link.system_libs) {
            if lib.is_empty()
                || lib.contains(['/', '=', ' '])
                || lib.starts_with("lib") && lib.ends_with(".a")
            {
                return Err(invalid(
                    "link.static_libs/system_libs",
                    format!("`{lib}` must be a bare library name (`webrtc`, not `libwebrtc.a` or a path)"),
                ));
            }
        }
        Ok(())
    }

    /// Read `<dir>/webrtc-sdk.toml`.
    pub fn load(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::Missing {
                    dir: dir.to_owned(),
                })
            }
            Err(source) => return Err(ManifestError::Io { path, source }),
        };
        Self::from_toml(&text, &path)
    }

    /// Include dirs made absolute against the SDK directory.
    pub fn include_dirs(&self, sdk_dir: &Path) -> Vec<PathBuf> {
        self.compile
            .include_dirs
            .iter()
            .map(|p| sdk_dir.join(p))
            .collect()
    }

    /// Search paths made absolute against the SDK directory.
    pub fn search_paths(&self, sdk_dir: &Path) -> Vec<PathBuf> {
        self.link
            .search_paths
            .iter()
            .map(|p| sdk_dir.join(p))
            .collect()
    }

    /// `(name, value)` pairs for a C compiler's `-D`.
    pub fn define_pairs(&self) -> Vec<(&str, Option<&str>)> {
        self.compile
            .defines
            .iter()
            .map(|d| match d.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (d.as_str(), None),
            })
            .collect()
    }
}

fn check_link_lib(spec: &str) -> Result<(), String> {
    let (kind, name) = spec.split_once('=').unwrap_or(("dylib", spec));
    if !matches!(
        kind,
        "dylib" | "static" | "static:+whole-archive" | "static:-bundle"
    ) || name.is_empty()
    {
        return Err(format!(
            "`{spec}` is not in cargo:rustc-link-lib form (`dylib=stdc++`, `static=c++_static`)"
        ));
    }
    Ok(())
}

/// Default SDK directory the xtask writes for a triple, under the workspace root.
pub fn default_sdk_dir(workspace_root: &Path, triple: &str) -> PathBuf {
    workspace_root.join(".mobilertc").join("sdk").join(triple)
}

/// A `cc::Build` for C++ that includes libwebrtc's headers: the manifest's standard,
/// include dirs, defines and flags, and `MRTC_WEBRTC_MILESTONE`. The C++ standard library
/// is left for the link lines to add (the manifest's `cxx_stdlib.link`), never guessed.
#[cfg(feature = "cc")]
pub fn cc_build(manifest: &Manifest, sdk_dir: &Path) -> cc::Build {
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .cpp_link_stdlib(None)
        .std(&manifest.compile.cxx_std)
        .warnings(true)
        .extra_warnings(false)
        .warnings_into_errors(false)
        .define(
            "MRTC_WEBRTC_MILESTONE",
            manifest.webrtc.milestone.to_string().as_str(),
        );
    for dir in manifest.include_dirs(sdk_dir) {
        build.include(dir);
    }
    for (name, value) in manifest.define_pairs() {
        build.define(name, value);
    }
    if let Some(cxx) = &manifest.compile.cxx {
        build.compiler(cxx);
    }
    for flag in &manifest.compile.flags {
        build.flag(flag);
    }
    // libwebrtc's headers trip -Wunused-parameter and deprecations by the hundred; they are
    // not ours to fix, and -Wall stays on for our code.
    build.flag_if_supported("-Wno-unused-parameter");
    build.flag_if_supported("-Wno-deprecated-declarations");
    // Upstream's headers annotate some pointers with _Nullable/_Nonnull and not others;
    // clang then warns per header per TU (Chromium's own build turns it off too).
    build.flag_if_supported("-Wno-nullability-completeness");
    build
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            schema: SCHEMA_VERSION,
            provider: Provider::System,
            webrtc: WebrtcInfo {
                revision: "0~git20230105.5098730+dfsg-2".into(),
                milestone: 110,
            },
            target: TargetInfo {
                triple: "x86_64-unknown-linux-gnu".into(),
                android_abi: None,
                android_api: None,
            },
            compile: Compile {
                include_dirs: vec!["/usr/include/tg_owt".into()],
                defines: vec!["WEBRTC_POSIX".into(), "WEBRTC_APM_DEBUG_DUMP=0".into()],
                cxx_std: "c++20".into(),
                flags: vec![],
                cxx: None,
            },
            cxx_stdlib: CxxStdlib {
                kind: CxxStdlibKind::Libstdcxx,
                namespace: StdNamespace::Cxx11,
                link: vec!["dylib=stdc++".into()],
            },
            link: Link {
                search_paths: vec!["/usr/lib/x86_64-linux-gnu".into()],
                static_libs: vec!["tg_owt".into()],
                system_libs: vec!["ssl".into(), "crypto".into()],
                args: vec![],
            },
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        let text = m.to_toml().unwrap();
        assert_eq!(Manifest::from_toml(&text, Path::new("x")).unwrap(), m);
        assert!(text.contains("namespace = \"std::__cxx11\""), "{text}");
    }

    #[test]
    fn unknown_key_names_the_key_and_file() {
        let text = sample()
            .to_toml()
            .unwrap()
            .replace("[link]", "[link]\nstatik = 1");
        let err = Manifest::from_toml(&text, Path::new("/sdk/webrtc-sdk.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/sdk/webrtc-sdk.toml"), "{msg}");
        assert!(msg.contains("statik"), "{msg}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        type Mutation = Box<dyn Fn(&mut Manifest)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("schema", Box::new(|m| m.schema = 9)),
            ("webrtc.milestone", Box::new(|m| m.webrtc.milestone = 3)),
            (
                "target.triple",
                Box::new(|m| m.target.triple = "linux".into()),
            ),
            (
                "target.android_abi",
                Box::new(|m| m.target.triple = "aarch64-linux-android".into()),
            ),
            (
                "compile.cxx_std",
                Box::new(|m| m.compile.cxx_std = "c++11".into()),
            ),
            (
                "compile.defines",
                Box::new(|m| m.compile.defines.push("-DFOO".into())),
            ),
            (
                "cxx_stdlib.namespace",
                Box::new(|m| m.cxx_stdlib.namespace = StdNamespace::Cr),
            ),
            (
                "cxx_stdlib.link",
                Box::new(|m| m.cxx_stdlib.link = vec!["framework=x".into()]),
            ),
            ("link.static_libs", Box::new(|m| m.link.static_libs.clear())),
        ];
        for (field, mutate) in cases {
            let mut m = sample();
            mutate(&mut m);
            let err = m.validate(Path::new("m.toml")).unwrap_err();
            assert!(
                matches!(&err, ManifestError::Invalid { field: f, .. } if f == &field),
                "{field}: {err}"
            );
        }
    }

    #[test]
    fn missing_manifest_names_the_commands() {
        let dir = std::env::temp_dir().join("webrtc-sdk-test-missing-dir");
        let msg = Manifest::load(&dir).unwrap_err().to_string();
        assert!(msg.contains("cargo xtask sdk --provider system"), "{msg}");
        assert!(msg.contains(SDK_DIR_ENV), "{msg}");
    }

    #[test]
    fn detects_namespaces_in_mangled_symbols() {
        let blob = b"\0_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE\0_ZNKSt7__cxx1112basic_string\0";
        assert_eq!(StdNamespace::detect(blob), vec![(StdNamespace::Cxx11, 2)]);
        let blob = b"_ZNSt4__Cr12basic_stringIcNS_11char_traitsIcEENS_9allocatorIcEEE";
        assert_eq!(StdNamespace::detect(blob)[0].0, StdNamespace::Cr);
        let blob = b"_ZNSt6__ndk112basic_string";
        assert_eq!(StdNamespace::detect(blob)[0].0, StdNamespace::Ndk1);
        assert!(StdNamespace::detect(b"plain C symbols only").is_empty());
    }
}
