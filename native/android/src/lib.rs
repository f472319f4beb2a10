//! `libmobilertc_app.so`: the Android app's native side. CallActivity (android-app/) calls
//! the `native*` methods; they drive the calling-app core (`mobilertc-call`, the same code as
//! the Linux `call` binary) through [`session::Session`], and every call event goes back to
//! the activity's `onEvent(kind, text)`.
//!
//! `JNI_OnLoad` keeps the JavaVM and, on Android, runs `webrtc::InitAndroid(JavaVM*)` through
//! the shim's Android-only entry point (native/webrtc-sys/shim/android.cc) before any other
//! WebRTC call. The crate builds and tests on Linux too (the JNI exports are plain C symbols;
//! only the InitAndroid call is Android-only). See docs/android.md.

#[doc(hidden)] // public for tests/jni.rs, which binds these to a real JVM
pub mod jni_glue;
pub mod session;

pub use session::{app_config, call_media, event_kind, CallMedia, Session};

// The build script's JNI export logic, with its tests (it runs only for Android targets).
#[cfg(test)]
#[path = "../build/jni_exports.rs"]
mod jni_exports;
