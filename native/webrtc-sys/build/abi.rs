//! The C++ ABI decision, kept free of I/O so it can be unit-tested: it is `include!`d by
//! build.rs and, under `cfg(test)`, by src/lib.rs.

use webrtc_sdk::StdNamespace;

/// Namespace counts for one side of the link (as from `StdNamespace::detect`).
pub struct Side<'a> {
    /// What is being described, e.g. "the shim (compiled by `c++`)" or "libtg_owt.a".
    pub what: &'a str,
    pub found: &'a [(StdNamespace, usize)],
}

/// Compare the C++ standard library namespace the shim was compiled against with the one in
/// libwebrtc's symbols and with the manifest's declaration. `Ok(warnings)` when they agree
/// (warnings for sides that showed no namespace at all), `Err(explanation)` otherwise.
pub fn check_abi(
    declared: StdNamespace,
    shim: &Side<'_>,
    libs: &[Side<'_>],
) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    let dominant = |side: &Side<'_>| side.found.first().map(|(ns, _)| *ns);
    let Some(shim_ns) = dominant(shim) else {
        return Err(format!(
            "{} carries no C++ standard library symbols (std::__cxx11, std::__Cr, std::__ndk1, std::__1); \
             the ABI check cannot run. This is a bug in webrtc-sys's shim (it defines a probe \
             symbol for exactly this check).",
            shim.what
        ));
    };
    let fix = |lib_ns: StdNamespace| match lib_ns {
        StdNamespace::Cr => {
            "libwebrtc was built with Chromium's bundled libc++ (upstream's default). \
             Rebuild it with `use_custom_libcxx=false` in its gn args (`cargo xtask build` does), \
             so it uses the platform's C++ library like the shim does."
                .to_string()
        }
        other => format!(
            "Build the shim with the C++ standard library libwebrtc uses ({other}): \
             set CXX/CXXFLAGS for the `cc` crate accordingly (e.g. CXXFLAGS=-stdlib=libc++ \
             for clang with LLVM's libc++, or the NDK's clang for std::__ndk1), or rebuild \
             libwebrtc against the shim's library ({shim_ns})."
        ),
    };
    for lib in libs {
        let Some(lib_ns) = dominant(lib) else {
            warnings.push(format!(
                "{} shows no C++ standard library symbols; not checked",
                lib.what
            ));
            continue;
        };
        if lib_ns != shim_ns {
            return Err(format!(
                "C++ standard library mismatch: {} uses {lib_ns}, but {} was compiled against \
                 {shim_ns}. Linking both would fail with undefined symbols or, worse, crash at \
                 run time.\n  {}",
                lib.what,
                shim.what,
                fix(lib_ns)
            ));
        }
        if lib_ns != declared {
            return Err(format!(
                "{} uses {lib_ns}, but the SDK manifest declares cxx_stdlib.namespace = \
                 \"{declared}\": the manifest is wrong; regenerate it (`cargo xtask sdk …` / \
                 `cargo xtask build`) or fix cxx_stdlib.kind/namespace/link.",
                lib.what
            ));
        }
    }
    if shim_ns != declared {
        return Err(format!(
            "{} was compiled against {shim_ns}, but the SDK manifest declares \
             cxx_stdlib.namespace = \"{declared}\". Build the shim with the declared library \
             (CXX/CXXFLAGS for the `cc` crate) or fix the manifest.",
            shim.what
        ));
    }
    Ok(warnings)
}
