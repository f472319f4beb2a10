//! The build plan's steps and how `--dry-run` shows them.

use std::fmt;
use std::path::PathBuf;

use super::export;
use super::target::Target;
use crate::apk;
use crate::run::Cmd;

/// One step of the build plan.
#[derive(Debug, Clone)]
pub enum Step {
    GnGen {
        target: Target,
        out_dir: PathBuf,
        args_gn: String,
        cmd: Cmd,
    },
    Ninja {
        target: Target,
        cmd: Cmd,
    },
    Licenses {
        target: Target,
        cmd: Cmd,
    },
    ExportSdk {
        inputs: Box<export::ExportInputs>,
        /// `gn desc <out> //:webrtc libs`: the system libraries the final link needs.
        libs_cmd: Cmd,
    },
    Cargo {
        target: Target,
        cmd: Cmd,
        /// What it produces (the cdylib or the binary).
        output: PathBuf,
        warnings: Vec<String>,
    },
    Apk(apk::ApkInputs),
}

impl Step {
    pub(super) fn title(&self) -> String {
        match self {
            Step::GnGen { target, .. } => format!("gn gen out/{target}"),
            Step::Ninja { target, .. } => format!("ninja out/{target}"),
            Step::Licenses { target, .. } => format!("licences {target}"),
            Step::ExportSdk { inputs, .. } => format!("sdk {}", inputs.target),
            Step::Cargo { target, .. } => format!("cargo {}", target.rust_triple()),
            Step::Apk(_) => "apk".into(),
        }
    }
}

fn show_cmd(f: &mut fmt::Formatter<'_>, cmd: &Cmd) -> fmt::Result {
    writeln!(f, "    $ {}", cmd.line())?;
    writeln!(f, "      cwd {}", cmd.cwd.display())?;
    for (k, v) in &cmd.env {
        if k != "PATH" {
            writeln!(f, "      {k}={v}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.title())?;
        match self {
            Step::GnGen {
                out_dir,
                args_gn,
                cmd,
                ..
            } => {
                writeln!(
                    f,
                    "    write {}/args.gn (gn gen is skipped when it is unchanged):",
                    out_dir.display()
                )?;
                for l in args_gn.lines().filter(|l| !l.starts_with('#')) {
                    writeln!(f, "      {l}")?;
                }
                show_cmd(f, cmd)
            }
            Step::Ninja { cmd, .. } | Step::Licenses { cmd, .. } => show_cmd(f, cmd),
            Step::ExportSdk {
                inputs: i,
                libs_cmd,
            } => {
                show_cmd(f, libs_cmd)?;
                if let Some(llvm) = &i.system_llvm {
                    writeln!(
                        f,
                        "    C++ runtime: LLVM libc++ (std::__1), static, from {}; shim compiled by {}",
                        llvm.lib_dir().display(),
                        llvm.cxx()
                    )?;
                }
                writeln!(
                    f,
                    "    {} + headers + args.gn + VERSIONS + licences + webrtc-sdk.toml (defines and include dirs from obj/webrtc.ninja) -> {}",
                    i.library,
                    i.sdk_dir.display()
                )
            }
            Step::Cargo {
                target,
                cmd,
                output,
                warnings,
            } => {
                show_cmd(f, cmd)?;
                if let Target::Android(_) = target {
                    writeln!(
                        f,
                        "    native: the shim's Android entry points (shim/android.cc: Java audio device module, Java video source and sinks, Java codec factories, Android network monitor; mrtc_peer_restart_ice) into libmobilertc_app.so"
                    )?;
                    writeln!(
                        f,
                        "    wiring: nativeCall -> Factory::new_android (microphone/speaker, MediaCodec codecs, network monitor) + VideoSource::new_android (camera, when granted) as the call's media; nativeSetVideoSinks -> NativeVideoSink::new_android attached to the local source and the remote video track; nativeNetworkChanged -> restart_ice + a new offer through signaling"
                    )?;
                }
                for w in warnings {
                    writeln!(f, "    warning: {w}")?;
                }
                writeln!(f, "    -> {}", output.display())
            }
            Step::Apk(inputs) => {
                for (abi, lib) in &inputs.abi_libs {
                    writeln!(
                        f,
                        "    copy {} -> {}/app/src/main/jniLibs/{}/libmobilertc_app.so",
                        lib.display(),
                        inputs.project.display(),
                        abi.name()
                    )?;
                }
                if let Some(jar) = &inputs.webrtc_java {
                    writeln!(f, "    copy {} -> app/libs/libwebrtc.jar", jar.display())?;
                }
                writeln!(
                    f,
                    "    app: CallActivity (permissions, call state), CallMedia (Camera2 -> CreateJavaVideoSource's observer, SurfaceViewRenderers on one EglBase, MediaCodec codec factories, VP8 first), AudioRouter (route, mute), NetworkWatcher (network change -> nativeNetworkChanged)"
                )?;
                writeln!(
                    f,
                    "    ./gradlew assemble{} (signed with ~/.android/debug.keystore, created with keytool when missing)",
                    if inputs.profile == apk::Profile::Debug { "Debug" } else { "Release" }
                )?;
                writeln!(
                    f,
                    "    check every .so's ELF LOAD alignment (16 KB on 64-bit ABIs) and the zip alignment; print the APK path and size"
                )
            }
        }
    }
}
