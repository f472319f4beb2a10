//! Build targets: one gn out dir, one SDK dir and one Rust triple each.

use std::fmt;

use crate::config::{AndroidAbi, LinuxCpu};

/// Debug or release: gn's `is_debug`, cargo's profile and the Gradle variant alike.
pub use crate::apk::Profile;

/// One thing gn builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Android(AndroidAbi),
    Linux(LinuxCpu),
}

impl Target {
    /// `out/<name>` and the SDK's directory name: `android-arm64`, `linux-x64`, ….
    pub fn name(self) -> String {
        match self {
            Target::Android(abi) => format!("android-{}", abi.gn_cpu()),
            Target::Linux(cpu) => format!("linux-{}", linux_cpu(cpu)),
        }
    }

    pub fn gn_os(self) -> &'static str {
        match self {
            Target::Android(_) => "android",
            Target::Linux(_) => "linux",
        }
    }

    pub fn gn_cpu(self) -> &'static str {
        match self {
            Target::Android(abi) => abi.gn_cpu(),
            Target::Linux(cpu) => linux_cpu(cpu),
        }
    }

    /// The Rust target triple the calling app is built for.
    pub fn rust_triple(self) -> &'static str {
        match self {
            Target::Android(AndroidAbi::Arm64V8a) => "aarch64-linux-android",
            Target::Android(AndroidAbi::ArmeabiV7a) => "armv7-linux-androideabi",
            Target::Android(AndroidAbi::X86_64) => "x86_64-linux-android",
            Target::Android(AndroidAbi::X86) => "i686-linux-android",
            Target::Linux(LinuxCpu::X64) => "x86_64-unknown-linux-gnu",
            Target::Linux(LinuxCpu::Arm64) => "aarch64-unknown-linux-gnu",
        }
    }

    pub fn is_64bit(self) -> bool {
        !matches!(
            self,
            Target::Android(AndroidAbi::ArmeabiV7a | AndroidAbi::X86)
        )
    }
}

fn linux_cpu(cpu: LinuxCpu) -> &'static str {
    match cpu {
        LinuxCpu::X64 => "x64",
        LinuxCpu::Arm64 => "arm64",
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The NDK's names for an ABI: clang's `--target` prefix (the API level is appended) and
/// the sysroot's include/lib directory (they differ for 32-bit ARM).
pub fn ndk_names(abi: AndroidAbi) -> (&'static str, &'static str) {
    match abi {
        AndroidAbi::Arm64V8a => ("aarch64-linux-android", "aarch64-linux-android"),
        AndroidAbi::ArmeabiV7a => ("armv7a-linux-androideabi", "arm-linux-androideabi"),
        AndroidAbi::X86_64 => ("x86_64-linux-android", "x86_64-linux-android"),
        AndroidAbi::X86 => ("i686-linux-android", "i686-linux-android"),
    }
}
