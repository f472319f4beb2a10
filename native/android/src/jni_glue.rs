//! The JNI exports CallActivity's native methods bind to (`Java_dev_mobilertc_app_CallActivity_*`,
//! named by hand: we never export by pattern, see DESIGN.md on jni_zero's renames) and the
//! event path back into Java.

use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock};

use jni::objects::{GlobalRef, JObject, JString, JValue};
use jni::sys::{jboolean, jint, jobject, jstring, JNI_ERR, JNI_FALSE, JNI_VERSION_1_6};
use jni::{JNIEnv, JavaVM};

use mobilertc::{AndroidMedia, Factory, FactoryConfig, NativeVideoSink, VideoSource};
use mobilertc_call::{Devices, Renderers};

use crate::session::{app_config, call_media, Session};

static VM: OnceLock<JavaVM> = OnceLock::new();

/// The one session and the Java objects the Android media path needs (docs/android.md,
/// "The native Android media path"): the application context (Java audio device module,
/// network monitor), the call's codec factories, the video sinks.
struct App {
    session: Session,
    context: Option<GlobalRef>,
    media: JavaMedia,
}

/// What the activity handed over for the current call (global references), and what the
/// native side made of it.
#[derive(Default)]
struct JavaMedia {
    video: bool,
    encoder_factory: Option<GlobalRef>,
    decoder_factory: Option<GlobalRef>,
    local_sink: Option<GlobalRef>,
    remote_sink: Option<GlobalRef>,
    /// Native sinks over the two renderers (`NativeVideoSink::new_android`); none off
    /// Android, where `sinks_note` says why.
    renderers: Renderers,
    sinks_note: Option<String>,
    /// The camera's native source (`VideoSource::new_android`), for nativeCapturerObserver.
    camera: Option<Arc<VideoSource>>,
    /// What the call sends (session::call_media's note).
    media_note: Option<String>,
}

impl JavaMedia {
    /// For the status line: what the Java side provided.
    fn describe(&self, has_context: bool) -> String {
        let sinks: Vec<&str> = [
            self.local_sink.as_ref().map(|_| "local"),
            self.remote_sink.as_ref().map(|_| "remote"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut line = format!(
            "java: context {}, codecs {}, camera {}, sinks {}",
            if has_context { "yes" } else { "no" },
            match (&self.encoder_factory, &self.decoder_factory) {
                (Some(_), Some(_)) => "encoder+decoder",
                (Some(_), None) => "encoder",
                (None, Some(_)) => "decoder",
                (None, None) => "builtin",
            },
            if self.video { "on" } else { "off" },
            if sinks.is_empty() {
                "none".to_owned()
            } else {
                sinks.join("+")
            }
        );
        for note in [&self.sinks_note, &self.media_note].into_iter().flatten() {
            line.push_str("; ");
            line.push_str(note);
        }
        line
    }
}

static APP: Mutex<Option<App>> = Mutex::new(None);

fn with_app<T>(f: impl FnOnce(&mut App) -> T) -> T {
    let mut guard = APP.lock().unwrap_or_else(|p| p.into_inner());
    let app = guard.get_or_insert_with(|| App {
        session: Session::default(),
        context: None,
        media: JavaMedia::default(),
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

/// A global reference to `obj`, or None for null.
fn global(env: &mut JNIEnv, obj: &JObject) -> Result<Option<GlobalRef>, String> {
    if obj.is_null() {
        return Ok(None);
    }
    env.new_global_ref(obj)
        .map(Some)
        .map_err(|e| format!("keeping a Java object: {e}"))
}

/// Starts the call; returns null, or why it could not start. `video`: the camera was
/// granted; the codec factories are org.webrtc.VideoEncoderFactory/VideoDecoderFactory (or
/// null) for the Android factory.
#[no_mangle]
pub extern "system" fn Java_dev_mobilertc_app_CallActivity_nativeCall<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    server: JString<'l>,
    room: JString<'l>,
    video: jboolean,
    encoder_factory: JObject<'l>,
    decoder_factory: JObject<'l>,
) -> jstring {
    let result = (|| -> Result<(), String> {
        let server = rust_string(&mut env, &server)?;
        let room = rust_string(&mut env, &room)?;
        let activity = env
            .new_global_ref(&this)
            .map_err(|e| format!("keeping the activity: {e}"))?;
        let encoder = global(&mut env, &encoder_factory)?;
        let decoder = global(&mut env, &decoder_factory)?;
        let video = video != JNI_FALSE;
        let jni_env = env.get_raw().cast::<c_void>();
        with_app(|a| {
            if a.session.is_running() {
                return Err("a call is already running: hang up first".to_owned());
            }
            let context = a.context.as_ref().map_or(std::ptr::null_mut(), |c| {
                c.as_obj().as_raw().cast::<c_void>()
            });
            let raw = |g: &Option<GlobalRef>| {
                g.as_ref().map_or(std::ptr::null_mut(), |g| {
                    g.as_obj().as_raw().cast::<c_void>()
                })
            };
            let android = AndroidMedia {
                jni_env,
                application_context: context,
                video_encoder_factory: raw(&encoder),
                video_decoder_factory: raw(&decoder),
                network_monitor: true,
            };
            // SAFETY: this thread's JNIEnv; the objects are global references held above.
            let media = call_media(
                video,
                || unsafe { Factory::new_android(FactoryConfig::default(), &android) },
                |f| unsafe { VideoSource::new_android(f, jni_env, false) },
            )
            .map_err(|e| format!("{e:#}"))?;
            let mut config = app_config(&server, &room);
            // The synthetic pattern only without the platform's media (off Android).
            config.video = video && media.platform.is_none();
            let camera = media.platform.as_ref().and_then(|p| p.video_source.clone());
            let devices = Devices {
                platform: media.platform,
                renderers: a.media.renderers.clone(),
                ..Devices::default()
            };
            a.session
                .start_with(config, devices, move |kind, text| {
                    deliver(&activity, kind, &text)
                })
                .map_err(|e| format!("{e:#}"))?;
            a.media.video = video;
            a.media.encoder_factory = encoder;
            a.media.decoder_factory = decoder;
            a.media.camera = camera;
            a.media.media_note = Some(media.note);
            Ok(())
        })
    })();
    java_string(&mut env, result.err())
}

/// The camera's native source's org.webrtc.CapturerObserver (a new local reference), or
/// null when the call has none (no camera permission, or off Android, where the source is
/// the synthetic pattern); the activity then shows the camera in the self view itself.
#[no_mangle]
pub extern "system" fn Java_dev_mobilertc_app_CallActivity_nativeCapturerObserver<'l>(
    env: JNIEnv<'l>,
    _this: JObject<'l>,
) -> jobject {
    let jni_env = env.get_raw().cast::<c_void>();
    with_app(|a| match &a.media.camera {
        // SAFETY: this thread's JNIEnv; the reference goes back to Java as the return value.
        Some(source) => unsafe { source.android_capturer_observer(jni_env) }.cast(),
        None => std::ptr::null_mut(),
    })
}

/// The self view and the remote video's org.webrtc.VideoSink (SurfaceViewRenderer); null
/// detaches. Each becomes a native sink (`webrtc::JavaToNativeVideoSink`) that the call
/// attaches to its camera source and to the other side's video track, now or when they
/// come; the previous ones are detached. Off Android no native sink can be made: the
/// references are kept for the status line, which says so.
#[no_mangle]
pub extern "system" fn Java_dev_mobilertc_app_CallActivity_nativeSetVideoSinks<'l>(
    mut env: JNIEnv<'l>,
    _this: JObject<'l>,
    local: JObject<'l>,
    remote: JObject<'l>,
) {
    let jni_env = env.get_raw().cast::<c_void>();
    let native = |obj: &JObject, note: &mut Option<String>| -> Option<Arc<NativeVideoSink>> {
        if obj.is_null() {
            return None;
        }
        // SAFETY: this thread's JNIEnv and a live local reference.
        match unsafe { NativeVideoSink::new_android(jni_env, obj.as_raw().cast()) } {
            Ok(sink) => Some(Arc::new(sink)),
            Err(e) => {
                *note = Some(format!("renderers not attached: {e}"));
                None
            }
        }
    };
    let mut note = None;
    let renderers = Renderers {
        local: native(&local, &mut note),
        remote: native(&remote, &mut note),
    };
    match global(&mut env, &local).and_then(|l| Ok((l, global(&mut env, &remote)?))) {
        Ok((l, r)) => with_app(|a| {
            a.media.local_sink = l;
            a.media.remote_sink = r;
            a.media.sinks_note = note;
            a.session.set_renderers(renderers.clone());
            a.media.renderers = renderers;
        }),
        Err(e) => {
            let _ = env.throw_new("java/lang/IllegalStateException", e);
        }
    }
}

/// The default network changed (`change` is e.g. "wifi -> cellular"): null when the call
/// was told, else why nothing was done.
#[no_mangle]
pub extern "system" fn Java_dev_mobilertc_app_CallActivity_nativeNetworkChanged<'l>(
    mut env: JNIEnv<'l>,
    _this: JObject<'l>,
    change: JString<'l>,
) -> jstring {
    let result = rust_string(&mut env, &change)
        .and_then(|c| with_app(|a| a.session.network_changed(&c).map_err(|e| format!("{e:#}"))));
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
    let line = with_app(|a| {
        format!(
            "{}\n{}",
            a.session.status_line(),
            a.media.describe(a.context.is_some())
        )
    });
    java_string(&mut env, Some(line))
}
