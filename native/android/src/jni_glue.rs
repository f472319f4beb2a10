//! The JNI exports CallActivity's native methods bind to (`Java_dev_mobilertc_app_CallActivity_*`,
//! named by hand: we never export by pattern, see DESIGN.md on jni_zero's renames) and the
//! event path back into Java.

use std::ffi::c_void;
use std::sync::{Mutex, OnceLock};

use jni::objects::{GlobalRef, JObject, JString, JValue};
use jni::sys::{jint, jstring, JNI_ERR, JNI_VERSION_1_6};
use jni::{JNIEnv, JavaVM};

use crate::session::{app_config, Session};

static VM: OnceLock<JavaVM> = OnceLock::new();

/// The one session and the application context (kept for the Java audio device module, see
/// docs/android.md "Audio").
struct App {
    session: Session,
    #[allow(dead_code)]
    context: Option<GlobalRef>,
}

static APP: Mutex<Option<App>> = Mutex::new(None);

fn with_app<T>(f: impl FnOnce(&mut App) -> T) -> T {
    let mut guard = APP.lock().unwrap_or_else(|p| p.into_inner());
    let app = guard.get_or_insert_with(|| App {
        session: Session::default(),
        context: None,
    });
    f(app)
}

#[cfg(target_os = "android")]
extern "C" {
    /// shim/android.cc: `webrtc::InitAndroid(JavaVM*)`; MRTC_OK is 0.
    fn mrtc_android_init(java_vm: *mut c_void) -> i32;
}

/// Runs when `System.loadLibrary("mobilertc_app")` loads us: keep the VM, init WebRTC's
/// Android side (class loader, JVM for its Java callbacks) before anything else.
///
/// # Safety
/// Called by the JVM with a valid `JavaVM*`.
#[no_mangle]
pub unsafe extern "system" fn JNI_OnLoad(
    vm: *mut jni::sys::JavaVM,
    _reserved: *mut c_void,
) -> jint {
    let Ok(jvm) = (unsafe { JavaVM::from_raw(vm) }) else {
        return JNI_ERR;
    };
    #[cfg(target_os = "android")]
    if unsafe { mrtc_android_init(vm.cast()) } != 0 {
        return JNI_ERR;
    }
    let _ = VM.set(jvm);
    JNI_VERSION_1_6
}

/// A Java string, or null for `None`.
fn java_string(env: &mut JNIEnv, s: Option<String>) -> jstring {
    match s {
        None => std::ptr::null_mut(),
        Some(s) => env
            .new_string(s)
            .map(|j| j.into_raw())
            .unwrap_or(std::ptr::null_mut()),
    }
}

fn rust_string(env: &mut JNIEnv, s: &JString) -> Result<String, String> {
    if s.is_null() {
        return Ok(String::new());
    }
    env.get_string(s)
        .map(String::from)
        .map_err(|e| format!("reading a Java string: {e}"))
}

/// Calls `activity.onEvent(kind, text)` from the call's thread (attached to the VM for its
/// lifetime; the activity posts to its UI thread itself).
fn deliver(activity: &GlobalRef, kind: &str, text: &str) {
    let Some(vm) = VM.get() else { return };
    let Ok(mut env) = vm.attach_current_thread_permanently() else {
        return;
    };
    // A local frame: this thread stays attached, so its local refs would pile up otherwise.
    let _ = env.with_local_frame(4, |env| -> jni::errors::Result<()> {
        let k = env.new_string(kind)?;
        let t = env.new_string(text)?;
        let r = env.call_method(
            activity.as_obj(),
            "onEvent",
            "(Ljava/lang/String;Ljava/lang/String;)V",
            &[JValue::Object(&k), JValue::Object(&t)],
        );
        if r.is_err() && env.exception_check().unwrap_or(false) {
            // Never leave a pending exception on a native thread: log it and go on.
            let _ = env.exception_describe();
            let _ = env.exception_clear();
        }
        Ok(())
    });
}

#[no_mangle]
pub extern "system" fn Java_dev_mobilertc_app_CallActivity_nativeInit<'l>(
    mut env: JNIEnv<'l>,
    _this: JObject<'l>,
    context: JObject<'l>,
) {
    match env.new_global_ref(&context) {
        Ok(g) => with_app(|a| a.context = Some(g)),
        Err(e) => {
            let _ = env.throw_new(
                "java/lang/IllegalStateException",
                format!("nativeInit: {e}"),
            );
        }
    }
}

/// Starts the call; returns null, or why it could not start.
#[no_mangle]
pub extern "system" fn Java_dev_mobilertc_app_CallActivity_nativeCall<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    server: JString<'l>,
    room: JString<'l>,
) -> jstring {
    let result = (|| -> Result<(), String> {
        let server = rust_string(&mut env, &server)?;
        let room = rust_string(&mut env, &room)?;
        let activity = env
            .new_global_ref(&this)
            .map_err(|e| format!("keeping the activity: {e}"))?;
        with_app(|a| {
            a.session
                .start(app_config(&server, &room), move |kind, text| {
                    deliver(&activity, kind, &text)
                })
                .map_err(|e| format!("{e:#}"))
        })
    })();
    java_string(&mut env, result.err())
}

/// Queues a chat line; returns null, or why not.
#[no_mangle]
pub extern "system" fn Java_dev_mobilertc_app_CallActivity_nativeSendChat<'l>(
    mut env: JNIEnv<'l>,
    _this: JObject<'l>,
    text: JString<'l>,
) -> jstring {
    let result = rust_string(&mut env, &text)
        .and_then(|t| with_app(|a| a.session.send_chat(&t).map_err(|e| format!("{e:#}"))));
    java_string(&mut env, result.err())
}

#[no_mangle]
pub extern "system" fn Java_dev_mobilertc_app_CallActivity_nativeHangup<'l>(
    _env: JNIEnv<'l>,
    _this: JObject<'l>,
) {
    with_app(|a| a.session.hang_up());
}

#[no_mangle]
pub extern "system" fn Java_dev_mobilertc_app_CallActivity_nativeStatus<'l>(
    mut env: JNIEnv<'l>,
    _this: JObject<'l>,
) -> jstring {
    let line = with_app(|a| a.session.status_line());
    java_string(&mut env, Some(line))
}
