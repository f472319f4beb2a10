//! The JNI exports in a real JVM (the JDK's libjvm, started with -Xcheck:jni): a Java
//! stand-in of CallActivity (tests/java/, same native methods and onEvent callback) is
//! compiled with javac, the `Java_dev_mobilertc_app_CallActivity_*` functions are bound to
//! it, and it calls a Rust [`Session`] through the real signaling server: events arrive in
//! Java from the call's thread, chat goes both ways, status and hang-up work, bad input comes
//! back as a Java string, a network change restarts ICE through the server. Skipped (with a notice) without a JDK. ~3 s.

use std::ffi::c_void;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc::channel;
use std::time::Duration;

use jni::objects::{JObject, JString, JValue};
use jni::{InitArgsBuilder, JNIEnv, JNIVersion, JavaVM, NativeMethod};
use mobilertc_app::jni_glue as glue;
use mobilertc_app::{app_config, Session};
use mobilertc_signaling::{spawn_background, Config};

/// The app's classes that use neither android.* nor org.webrtc.*: compiled from the real
/// sources and run in the JVM (tests/java/.../LogicCheck.java).
const PLAIN_JAVA: [&str; 3] = ["CodecOrder.java", "AudioRoutes.java", "NetworkChanges.java"];

fn compile_stand_in(out: &Path) -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tests = root.join("tests/java/dev/mobilertc/app");
    let app = root.join("../../android-app/app/src/main/java/dev/mobilertc/app");
    let mut javac = Command::new("javac");
    javac
        .arg("-Xlint:all")
        .arg("-Werror")
        .arg("-d")
        .arg(out)
        .arg(tests.join("CallActivity.java"))
        .arg(tests.join("LogicCheck.java"));
    for f in PLAIN_JAVA {
        javac.arg(app.join(f));
    }
    match javac.status() {
        Ok(s) => {
            assert!(s.success(), "javac failed on {}", tests.display());
            true
        }
        Err(_) => false,
    }
}

fn jstr(env: &mut JNIEnv, o: JObject) -> Option<String> {
    if o.is_null() {
        return None;
    }
    Some(env.get_string(&JString::from(o)).unwrap().into())
}

fn call_str(env: &mut JNIEnv, obj: &JObject, name: &str, args: &[&str]) -> Option<String> {
    // A local frame per call: this thread stays in the JVM for the whole test, and
    // -Xcheck:jni warns when its local references pile up.
    env.with_local_frame(8, |env| -> jni::errors::Result<Option<String>> {
        let mut jargs = Vec::new();
        for a in args {
            jargs.push(JObject::from(env.new_string(a)?));
        }
        let vals: Vec<JValue> = jargs.iter().map(JValue::Object).collect();
        let sig = format!(
            "({})Ljava/lang/String;",
            "Ljava/lang/String;".repeat(args.len())
        );
        let r = env.call_method(obj, name, &sig, &vals)?.l()?;
        Ok(jstr(env, r))
    })
    .unwrap()
}

/// `nativeCall(url, room, video, encoderFactory, decoderFactory)`; `codecs` None = no
/// camera and no factories.
fn native_call(
    env: &mut JNIEnv,
    obj: &JObject,
    url: &str,
    room: &str,
    codecs: Option<&(JObject, JObject)>,
) -> Option<String> {
    env.with_local_frame(8, |env| -> jni::errors::Result<Option<String>> {
        let u = JObject::from(env.new_string(url)?);
        let r = JObject::from(env.new_string(room)?);
        let null = JObject::null();
        let (e, d) = codecs.map_or((&null, &null), |(e, d)| (e, d));
        let out = env
            .call_method(
                obj,
                "nativeCall",
                "(Ljava/lang/String;Ljava/lang/String;ZLjava/lang/Object;Ljava/lang/Object;)Ljava/lang/String;",
                &[
                    JValue::Object(&u),
                    JValue::Object(&r),
                    JValue::Bool(codecs.is_some().into()),
                    JValue::Object(e),
                    JValue::Object(d),
                ],
            )?
            .l()?;
        Ok(jstr(env, out))
    })
    .unwrap()
}

fn set_sinks(env: &mut JNIEnv, obj: &JObject, on: bool) {
    env.with_local_frame(8, |env| -> jni::errors::Result<()> {
        let (l, r) = if on {
            (
                env.new_object("java/lang/Object", "()V", &[])?,
                env.new_object("java/lang/Object", "()V", &[])?,
            )
        } else {
            (JObject::null(), JObject::null())
        };
        env.call_method(
            obj,
            "nativeSetVideoSinks",
            "(Ljava/lang/Object;Ljava/lang/Object;)V",
            &[JValue::Object(&l), JValue::Object(&r)],
        )?;
        Ok(())
    })
    .unwrap()
}

/// Next event of `kind` from the Java queue (earlier ones of other kinds are skipped).
fn next_event(env: &mut JNIEnv, obj: &JObject, kind: &str, secs: u64) -> String {
    let mut seen = Vec::new();
    for _ in 0..secs * 10 {
        let r = env
            .call_method(
                obj,
                "nextEvent",
                "(J)Ljava/lang/String;",
                &[JValue::Long(100)],
            )
            .unwrap()
            .l()
            .unwrap();
        if let Some(ev) = jstr(env, r) {
            let (k, t) = ev.split_once('\t').unwrap();
            if k == kind {
                return t.to_owned();
            }
            seen.push(ev);
        }
    }
    panic!("no `{kind}` event in Java within {secs}s; saw {seen:?}");
}

/// Whether the process ignores SIGPIPE (SIG_IGN), from /proc/self/status's SigIgn mask.
/// The JVM installs a handler of its own for it, so this is false once the JVM has started,
/// unless something replaced that handler.
fn sigpipe_ignored() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
        .unwrap();
    mask & (1 << (13 - 1)) != 0 // SIGPIPE = 13
}

/// The cause of "Warning: SIGPIPE handler modified!" (and a dump of every signal handler)
/// in this test's output: Debian's libsrtp2 does its crypto through NSS, and NSS's first
/// use (the call's first SRTP session, on libwebrtc's network thread) runs NSPR's one-time
/// initialization, which sets SIGPIPE to SIG_IGN (nspr's _PR_UnixInit) — after the JVM
/// installed its own SIGPIPE handler. -Xcheck:jni's periodic check sees a handler it did not
/// install and prints the warning. Harmless (both ignore SIGPIPE), but not silenced: NSPR
/// is initialized here first, so its SIG_IGN comes before the JVM starts, the JVM installs
/// its handler over it, and NSPR never touches it again. Without NSPR in the process
/// (another libsrtp2 build, Android's BoringSSL) there is nothing to do. Not -Xrs or
/// -XX:+AllowUserSignalHandlers: the first leaves SIGPIPE alone anyway, the second would
/// keep the Rust runtime's SIGSEGV handler in front of the JVM's (which it needs for
/// implicit null checks).
fn init_nspr_before_the_jvm() {
    // SAFETY: dlsym on the default namespace; PR_Init has this C signature in every NSPR
    // (void PR_Init(PRThreadType, PRThreadPriority, PRUintn)) and may be called twice.
    extern "C" {
        fn dlsym(handle: *mut c_void, symbol: *const std::ffi::c_char) -> *mut c_void;
    }
    // glibc's RTLD_DEFAULT: search the global scope (every library already loaded).
    const RTLD_DEFAULT: *mut c_void = std::ptr::null_mut();
    unsafe {
        let f = dlsym(RTLD_DEFAULT, c"PR_Init".as_ptr());
        if !f.is_null() {
            let pr_init: unsafe extern "C" fn(i32, i32, u32) = std::mem::transmute(f);
            // PR_USER_THREAD, PR_PRIORITY_NORMAL, maxPTDs (ignored).
            pr_init(0, 1, 0);
        }
    }
}

#[test]
fn jni_exports_drive_a_call_from_a_real_jvm() {
    let classes = tempfile::tempdir().unwrap();
    if !compile_stand_in(classes.path()) {
        eprintln!("SKIPPED: no javac (install a JDK 17+, e.g. Debian's openjdk-17-jdk-headless)");
        return;
    }
    let args = InitArgsBuilder::new()
        .version(JNIVersion::V8)
        .option(format!("-Djava.class.path={}", classes.path().display()))
        // Checks every JNI call (a misuse aborts the test), and periodically that nobody
        // replaced the JVM's signal handlers (see init_nspr_before_the_jvm).
        .option("-Xcheck:jni")
        .build()
        .unwrap();
    init_nspr_before_the_jvm();
    let jvm = JavaVM::new(args).expect("the JDK's libjvm starts (JAVA_HOME or java on PATH)");
    assert!(
        !sigpipe_ignored(),
        "the JVM installs a SIGPIPE handler of its own"
    );
    // What System.loadLibrary does on Android.
    let version = unsafe { glue::JNI_OnLoad(jvm.get_java_vm_pointer(), std::ptr::null_mut()) };
    assert_eq!(version, jni::sys::JNI_VERSION_1_6);
    let mut env = jvm.attach_current_thread().unwrap();

    let class = env.find_class("dev/mobilertc/app/CallActivity").unwrap();
    let m = |name: &str, sig: &str, f: *mut c_void| NativeMethod {
        name: name.into(),
        sig: sig.into(),
        fn_ptr: f,
    };
    env.register_native_methods(
        &class,
        &[
            m(
                "nativeInit",
                "(Ljava/lang/Object;)V",
                glue::Java_dev_mobilertc_app_CallActivity_nativeInit as *mut c_void,
            ),
            m(
                "nativeCall",
                "(Ljava/lang/String;Ljava/lang/String;ZLjava/lang/Object;Ljava/lang/Object;)Ljava/lang/String;",
                glue::Java_dev_mobilertc_app_CallActivity_nativeCall as *mut c_void,
            ),
            m(
                "nativeCapturerObserver",
                "()Ljava/lang/Object;",
                glue::Java_dev_mobilertc_app_CallActivity_nativeCapturerObserver as *mut c_void,
            ),
            m(
                "nativeSetVideoSinks",
                "(Ljava/lang/Object;Ljava/lang/Object;)V",
                glue::Java_dev_mobilertc_app_CallActivity_nativeSetVideoSinks as *mut c_void,
            ),
            m(
                "nativeNetworkChanged",
                "(Ljava/lang/String;)Ljava/lang/String;",
                glue::Java_dev_mobilertc_app_CallActivity_nativeNetworkChanged as *mut c_void,
            ),
            m(
                "nativeSendChat",
                "(Ljava/lang/String;)Ljava/lang/String;",
                glue::Java_dev_mobilertc_app_CallActivity_nativeSendChat as *mut c_void,
            ),
            m(
                "nativeHangup",
                "()V",
                glue::Java_dev_mobilertc_app_CallActivity_nativeHangup as *mut c_void,
            ),
            m(
                "nativeStatus",
                "()Ljava/lang/String;",
                glue::Java_dev_mobilertc_app_CallActivity_nativeStatus as *mut c_void,
            ),
        ],
    )
    .unwrap();
    let activity = env.new_object(&class, "()V", &[]).unwrap();
    let context = env.new_object("java/lang/Object", "()V", &[]).unwrap();
    env.call_method(
        &activity,
        "nativeInit",
        "(Ljava/lang/Object;)V",
        &[JValue::Object(&context)],
    )
    .unwrap();

    // Bad input comes back as a string, nothing starts.
    let err = native_call(&mut env, &activity, "10.0.2.2:8080", "room", None);
    assert!(err.unwrap().contains("expected http://HOST:PORT"));
    let err = call_str(&mut env, &activity, "nativeSendChat", &["x"]);
    assert!(err.unwrap().contains("no call"));
    let err = call_str(
        &mut env,
        &activity,
        "nativeNetworkChanged",
        &["wifi -> cellular"],
    );
    assert!(err.unwrap().starts_with("no call"));
    // No Android video source on the host: the camera would feed the self view itself.
    let observer = env
        .call_method(
            &activity,
            "nativeCapturerObserver",
            "()Ljava/lang/Object;",
            &[],
        )
        .unwrap()
        .l()
        .unwrap();
    assert!(observer.is_null());
    // The renderers (Objects standing in for SurfaceViewRenderer) are kept, and dropped
    // again with nulls.
    set_sinks(&mut env, &activity, true);
    let status = call_str(&mut env, &activity, "nativeStatus", &[]).unwrap();
    assert!(
        status.contains("context yes")
            && status.contains("sinks local+remote")
            && status.contains("renderers not attached: NativeVideoSink::new_android")
            && status.contains("not supported on this platform"),
        "{status}"
    );
    set_sinks(&mut env, &activity, false);
    let status = call_str(&mut env, &activity, "nativeStatus", &[]).unwrap();
    assert!(status.contains("sinks none"), "{status}");

    let server = spawn_background("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let url = format!("http://{}", server.addr());
    // The Java side joins first (callee); a Rust session calls it.
    let codecs = (
        env.new_object("java/lang/Object", "()V", &[]).unwrap(),
        env.new_object("java/lang/Object", "()V", &[]).unwrap(),
    );
    assert_eq!(
        native_call(&mut env, &activity, &url, "jni-room", Some(&codecs)),
        None
    );
    let status = call_str(&mut env, &activity, "nativeStatus", &[]).unwrap();
    // nativeCall tried the Android factory first; on the host it falls back to the shim's
    // own (tone, pattern video) and says so.
    assert!(
        status.contains("codecs encoder+decoder")
            && status.contains("camera on")
            && status.contains("media: the shim's own (platform parts: Factory::new_android")
            && status.contains("tone, pattern video"),
        "{status}"
    );
    let observer = env
        .call_method(
            &activity,
            "nativeCapturerObserver",
            "()Ljava/lang/Object;",
            &[],
        )
        .unwrap()
        .l()
        .unwrap();
    assert!(observer.is_null(), "no Java-fed camera source on the host");
    assert!(next_event(&mut env, &activity, "joined", 5).starts_with("as callee"));
    let (tx, rx) = channel();
    let mut peer = Session::default();
    peer.start(app_config(&url, "jni-room"), move |k, t| {
        let _ = tx.send((k, t));
    })
    .unwrap();
    let connected = next_event(&mut env, &activity, "connected", 20);
    assert!(!connected.is_empty());
    // The call has set up SRTP (and with it NSS and NSPR, on Debian): the JVM's SIGPIPE
    // handler must still be in place, or -Xcheck:jni prints its warning into the output.
    assert!(
        !sigpipe_ignored(),
        "SIGPIPE's handler was replaced after the JVM started (-Xcheck:jni: \"Warning: SIGPIPE handler modified!\")"
    );
    next_event(&mut env, &activity, "chat-open", 10);
    loop {
        let (k, _) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        if k == "chat-open" {
            break;
        }
    }
    peer.send_chat("hi from rust").unwrap();
    assert_eq!(next_event(&mut env, &activity, "chat", 5), "hi from rust");
    assert_eq!(
        call_str(&mut env, &activity, "nativeSendChat", &["hi from java"]),
        None
    );
    let got = loop {
        let (k, t) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        if k == "chat" {
            break t;
        }
    };
    assert_eq!(got, "hi from java");
    let status = call_str(&mut env, &activity, "nativeStatus", &[]).unwrap();
    assert!(status.contains("connected"), "{status}");
    // A network change restarts ICE: the Java side (the callee) re-offers through the
    // server, the Rust peer answers, and both say so.
    assert_eq!(
        call_str(
            &mut env,
            &activity,
            "nativeNetworkChanged",
            &["wifi -> cellular"],
        ),
        None
    );
    let mut logs = vec![];
    while !logs
        .iter()
        .any(|l: &String| l.contains("ICE restarted, new offer sent"))
    {
        assert!(logs.len() < 10, "{logs:?}");
        logs.push(next_event(&mut env, &activity, "log", 10));
    }
    let answered = loop {
        let (k, t) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        if k == "log" && t.contains("re-offered") {
            break t;
        }
    };
    assert!(answered.contains("answered"), "{answered}");
    let status = call_str(&mut env, &activity, "nativeStatus", &[]).unwrap();
    assert!(
        status.contains("network changes: 1 (last wifi -> cellular)")
            && status.contains("ice restarts 1 sent"),
        "{status}"
    );

    env.call_method(&activity, "nativeHangup", "()V", &[])
        .unwrap();
    let ended = next_event(&mut env, &activity, "ended", 10);
    assert!(ended.starts_with("ok"), "{ended}");
    assert!(!env.exception_check().unwrap());
}

/// The stand-in must not drift from the real activity: same native methods, each with the
/// same JNI shape (return and parameter types; android.* and org.webrtc.* types are Object
/// in the stand-in), and the same callback.
#[test]
fn stand_in_matches_the_real_activity() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let real = std::fs::read_to_string(
        root.join("../../android-app/app/src/main/java/dev/mobilertc/app/CallActivity.java"),
    )
    .unwrap();
    let stand_in =
        std::fs::read_to_string(root.join("tests/java/dev/mobilertc/app/CallActivity.java"))
            .unwrap();
    // "String", "boolean", "void" stay; every other type is an object to JNI here.
    let shape = |t: &str| match t.trim() {
        t @ ("String" | "boolean" | "void" | "int" | "long") => t.to_owned(),
        _ => "Object".to_owned(),
    };
    // The code without comments (block and line), so "native " in prose does not count.
    let code = |src: &str| -> String {
        let mut out = String::new();
        let mut rest = src;
        while let Some(i) = rest.find("/*") {
            out.push_str(&rest[..i]);
            rest = rest[i..].split_once("*/").map_or("", |(_, after)| after);
        }
        out.push_str(rest);
        out.lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let natives = |src: &str| -> Vec<String> {
        let mut v: Vec<String> = code(src)
            .split(';')
            .filter_map(|decl| {
                let decl = decl.split_whitespace().collect::<Vec<_>>().join(" ");
                let i = decl
                    .find("private native ")
                    .map(|i| i + "private native ".len())
                    .or_else(|| {
                        decl.find("public native ")
                            .map(|i| i + "public native ".len())
                    })?;
                let (ret, rest) = decl[i..].split_once(' ')?;
                let (name, params) = rest.split_once('(')?;
                let params: Vec<String> = params
                    .trim_end_matches(')')
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| shape(p.trim().rsplit_once(' ').map_or(p, |(t, _)| t)))
                    .collect();
                Some(format!("{} {name}({})", shape(ret), params.join(", ")))
            })
            .collect();
        v.sort();
        v
    };
    let real_natives = natives(&real);
    assert_eq!(real_natives.len(), 8, "{real_natives:?}");
    assert_eq!(real_natives, natives(&stand_in));
    assert!(real_natives
        .contains(&"String nativeCall(String, String, boolean, Object, Object)".to_owned()));
    for src in [&real, &stand_in] {
        assert!(
            src.contains("private void onEvent(final String kind, final String text)")
                || src.contains("private void onEvent(String kind, String text)")
        );
    }
}

/// The app's codec order, audio routes and network-change rules, compiled from the real
/// sources, run by tests/java/.../LogicCheck.java.
#[test]
fn the_apps_plain_java_logic_runs_in_a_jvm() {
    let classes = tempfile::tempdir().unwrap();
    if !compile_stand_in(classes.path()) {
        eprintln!("SKIPPED: no javac (install a JDK 17+, e.g. Debian's openjdk-17-jdk-headless)");
        return;
    }
    let out = Command::new("java")
        .arg("-cp")
        .arg(classes.path())
        .arg("dev.mobilertc.app.LogicCheck")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
