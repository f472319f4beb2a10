//! The Linux host toolchain: the system's LLVM (clang, lld, llvm-ar) and LLVM's libc++,
//! through Chromium's "unbundle" toolchain, which takes its compilers from CC/CXX/AR/NM.
//!
//! Why not upstream's defaults: Chromium's clang and sysroot are download-only (CIPD/GCS),
//! and a plain `use_custom_libcxx=false` build uses the host's libstdc++, which GCC 12
//! (Debian 12) no longer compiles M150 with (`pc/peer_connection.cc`: unqualified
//! `nullptr_t`). clang 22 with libc++ 22 (Debian bookworm-security) does. libc++ is linked
//! statically: bookworm's shared `libc++.so.1` is 19. Everything here derives from the gn
//! args (`clang_base_path`, `custom_toolchain`), so webrtc.toml stays the one place to
//! change it. See docs/build.md#the-linux-toolchain.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Chromium's toolchain that reads CC/CXX/AR/NM from the environment.
pub const UNBUNDLE_TOOLCHAIN: &str = "//build/toolchain/linux/unbundle:default";

/// A system LLVM installation used through the unbundle toolchain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemLlvm {
    /// `clang_base_path`, e.g. `/usr/lib/llvm-22`.
    pub base: PathBuf,
}

fn unquote(v: &str) -> &str {
    v.trim().trim_matches('"')
}

impl SystemLlvm {
    /// The system LLVM these gn args select: the unbundle toolchain with a
    /// `clang_base_path`, `is_clang` not false and `use_custom_libcxx=false`. `None` for
    /// every other setup (Chromium's own clang, Android's NDK, GCC).
    pub fn from_gn_args(args: &BTreeMap<String, String>) -> Option<SystemLlvm> {
        let get = |k: &str| args.get(k).map(|v| unquote(v));
        let unbundle = get("custom_toolchain") == Some(UNBUNDLE_TOOLCHAIN);
        let clang = get("is_clang") != Some("false");
        let system_libcxx = get("use_custom_libcxx") == Some("false");
        let base = get("clang_base_path").filter(|b| !b.is_empty())?;
        (unbundle && clang && system_libcxx).then(|| SystemLlvm { base: base.into() })
    }

    fn tool(&self, name: &str) -> String {
        self.base.join("bin").join(name).display().to_string()
    }

    /// The C++ compiler the shim and anything else including libwebrtc's headers must use.
    pub fn cxx(&self) -> String {
        self.tool("clang++")
    }

    /// Where libc++.a and libc++abi.a are.
    pub fn lib_dir(&self) -> PathBuf {
        self.base.join("lib")
    }

    /// The environment gn and ninja need (the unbundle toolchain reads it at `gn gen`),
    /// given the PATH they would otherwise get. Tools by bare name, with `<base>/bin` first
    /// on PATH: Debian's gcc_toolchain patch turns a path in AR into a tool `inputs` entry
    /// the 2022 gn rejects, and with a bare `clang` found in `<base>/bin` clang finds its
    /// own `ld.lld` there (Chromium passes -no-canonical-prefixes, so a /usr/bin/clang-22
    /// would look in /usr/bin, where lld is only `ld.lld-22`).
    pub fn env(&self, path: &str) -> BTreeMap<String, String> {
        let bin = self.base.join("bin").display().to_string();
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".into(),
            if path.is_empty() {
                bin
            } else {
                format!("{bin}:{path}")
            },
        );
        env.insert("CC".into(), "clang".into());
        env.insert("CXX".into(), "clang++".into());
        env.insert("AR".into(), "llvm-ar".into());
        env.insert("NM".into(), "llvm-nm".into());
        env.insert("CXXFLAGS".into(), "-stdlib=libc++".into());
        // Host tools (protoc, …) link libc++ statically, like the library's consumers do.
        env.insert("LDFLAGS".into(), "-stdlib=libc++ -static-libstdc++".into());
        env
    }

    /// Link arguments for the final (Rust) link: libwebrtc's objects use ELF CREL
    /// relocations (Chromium's `-Wa,--crel` on Linux with lld), which GNU ld 2.40 cannot
    /// read, so the link goes through lld.
    pub fn link_args(&self) -> Vec<String> {
        vec![
            "-fuse-ld=lld".into(),
            format!("-B{}", self.base.join("bin").display()),
        ]
    }
}

/// The result of `gn desc <out> //:webrtc libs`: `None` when it failed. A target without
/// any library is not a failure, though gn exits 1 with "Don't know how to display".
pub fn gn_desc_libs(success: bool, stdout: &str) -> Option<Vec<String>> {
    if success {
        Some(parse_gn_desc_libs(stdout))
    } else if stdout.contains("Don't know how to display \"libs\"") {
        Some(vec![])
    } else {
        None
    }
}

/// The libraries a static `//:webrtc` expects its final link to add, from `gn desc <out>
/// //:webrtc libs` output: names only (absolute paths are compiler runtimes the final
/// link's own compiler provides).
pub fn parse_gn_desc_libs(text: &str) -> Vec<String> {
    let mut libs: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.contains('/') || line.contains(' ') {
            continue;
        }
        if !libs.iter().any(|l| l == line) {
            libs.push(line.to_owned());
        }
    }
    libs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn system_llvm_only_with_unbundle_clang_and_system_libcxx() {
        let full = [
            (
                "custom_toolchain",
                "\"//build/toolchain/linux/unbundle:default\"",
            ),
            ("clang_base_path", "\"/usr/lib/llvm-22\""),
            ("use_custom_libcxx", "false"),
        ];
        let llvm = SystemLlvm::from_gn_args(&args(&full)).expect("selected");
        assert_eq!(llvm.base, PathBuf::from("/usr/lib/llvm-22"));
        assert_eq!(llvm.cxx(), "/usr/lib/llvm-22/bin/clang++");
        let env = llvm.env("/usr/bin:/bin");
        assert_eq!(env["PATH"], "/usr/lib/llvm-22/bin:/usr/bin:/bin");
        assert_eq!(env["CC"], "clang");
        assert_eq!(env["AR"], "llvm-ar");
        assert_eq!(env["CXXFLAGS"], "-stdlib=libc++");
        assert!(llvm.link_args().contains(&"-fuse-ld=lld".to_string()));

        for drop in 0..full.len() {
            let mut partial = args(&full);
            partial.remove(full[drop].0);
            assert_eq!(
                SystemLlvm::from_gn_args(&partial),
                None,
                "without {}",
                full[drop].0
            );
        }
        let mut custom = args(&full);
        custom.insert("use_custom_libcxx".into(), "true".into());
        assert_eq!(SystemLlvm::from_gn_args(&custom), None);
        let mut gcc = args(&full);
        gcc.insert("is_clang".into(), "false".into());
        assert_eq!(SystemLlvm::from_gn_args(&gcc), None);
    }

    #[test]
    fn gn_desc_libs_keeps_names_in_order() {
        // What `gn desc out/linux //:webrtc libs` printed on the M150 tree.
        let text = "/usr/lib/llvm-22/lib/clang/22/lib/linux/libclang_rt.builtins-x86_64.a\n\
                    atomic\njpeg\ndl\nopus\ndav1d\ndl\n";
        assert_eq!(
            parse_gn_desc_libs(text),
            ["atomic", "jpeg", "dl", "opus", "dav1d"]
        );
        let none = "Don't know how to display \"libs\" for \"static_library\".\n";
        assert_eq!(gn_desc_libs(false, none), Some(vec![]));
        assert_eq!(gn_desc_libs(false, "ERROR Unresolved dependencies."), None);
    }
}
