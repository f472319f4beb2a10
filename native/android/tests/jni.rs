//! The JNI exports in a real JVM (the JDK's libjvm, started with -Xcheck:jni): a Java
//! stand-in of CallActivity (tests/java/, same native methods and onEvent callback) is
//! compiled with javac, the `Java_dev_mobilertc_app_CallActivity_*` functions are bound to
//! it, and it calls a Rust [`Session`] through the real signaling server: events arrive in
//! Java from the call's thread, chat goes both ways, status and hang-up work, bad input comes
//! back as a Java string. Skipped (with a notice) without a JDK. ~3 s.

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

fn compile_stand_in(out: &Path) -> bool {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/java/dev/mobilertc/app/CallActivity.java");
    match Command::new("javac").arg("-d").arg(out).arg(&src).status() {
        Ok(s) => {
            assert!(s.success(), "javac failed on {}", src.display());
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
        // Checks every JNI call (a misuse aborts the test). Side effect: the JVM may print
        // "Warning: SIG… handler modified!" because the Rust test harness and libwebrtc own
        // some signal handlers too; that is noise, not a failure.
        .option("-Xcheck:jni")
        .build()
        .unwrap();
    let jvm = JavaVM::new(args).expect("the JDK's libjvm starts (JAVA_HOME or java on PATH)");
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
                "(Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;",
                glue::Java_dev_mobilertc_app_CallActivity_nativeCall as *mut c_void,
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
    let err = call_str(
        &mut env,
        &activity,
        "nativeCall",
        &["10.0.2.2:8080", "room"],
    );
    assert!(err.unwrap().contains("expected http://HOST:PORT"));
    let err = call_str(&mut env, &activity, "nativeSendChat", &["x"]);
    assert!(err.unwrap().contains("no call"));

    let server = spawn_background("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let url = format!("http://{}", server.addr());
    // The Java side joins first (callee); a Rust session calls it.
    assert_eq!(
        call_str(&mut env, &activity, "nativeCall", &[&url, "jni-room"]),
        None
    );
    assert!(next_event(&mut env, &activity, "joined", 5).starts_with("as callee"));
    let (tx, rx) = channel();
    let mut peer = Session::default();
    peer.start(app_config(&url, "jni-room"), move |k, t| {
        let _ = tx.send((k, t));
    })
    .unwrap();
    let connected = next_event(&mut env, &activity, "connected", 20);
    assert!(!connected.is_empty());
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

    env.call_method(&activity, "nativeHangup", "()V", &[])
        .unwrap();
    let ended = next_event(&mut env, &activity, "ended", 10);
    assert!(ended.starts_with("ok"), "{ended}");
    assert!(!env.exception_check().unwrap());
}

/// The stand-in must not drift from the real activity: same native methods (name and return
/// type; JNI binds by name) and the same callback. Parameters differ only where the stand-in
/// cannot name android.* types (Context -> Object).
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
    let natives = |src: &str| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = src
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let rest = l
                    .strip_prefix("private native ")
                    .or_else(|| l.strip_prefix("public native "))?;
                let (ret, rest) = rest.split_once(' ')?;
                Some((rest.split('(').next()?.to_owned(), ret.to_owned()))
            })
            .collect();
        v.sort();
        v
    };
    let real_natives = natives(&real);
    assert_eq!(real_natives.len(), 5, "{real_natives:?}");
    assert_eq!(real_natives, natives(&stand_in));
    for src in [&real, &stand_in] {
        assert!(
            src.contains("private void onEvent(final String kind, final String text)")
                || src.contains("private void onEvent(String kind, String text)")
        );
    }
}
