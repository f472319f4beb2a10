//! The app's native logic without JNI, on the host: two sessions (as two phones would run
//! them) call each other through the real signaling server on loopback. Checks the events
//! the activity shows (joined, connected with the connection kind, chat, ended), the
//! one-call-at-a-time rule and bad input. ~5 s.

use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use mobilertc_app::{app_config, Session};
use mobilertc_signaling::{spawn_background, Config};

fn next(rx: &Receiver<(&'static str, String)>, kind: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok((k, t)) if k == kind => return t,
            Ok(other) => seen.push(other),
            Err(_) => break,
        }
    }
    panic!("no `{kind}` event within {timeout:?}; saw {seen:?}");
}

#[test]
fn two_sessions_call_chat_and_hang_up() {
    let server = spawn_background("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let url = format!("http://{}", server.addr());
    let (tx_a, rx_a) = channel();
    let (tx_b, rx_b) = channel();
    let mut a = Session::default();
    let mut b = Session::default();
    a.start(app_config(&url, "android-room"), move |k, t| {
        let _ = tx_a.send((k, t));
    })
    .unwrap();
    let joined = next(&rx_a, "joined", Duration::from_secs(5));
    assert!(joined.starts_with("as callee"), "{joined}");
    b.start(app_config(&url, "android-room"), move |k, t| {
        let _ = tx_b.send((k, t));
    })
    .unwrap();
    assert!(next(&rx_b, "joined", Duration::from_secs(5)).starts_with("as caller"));

    let connected = next(&rx_b, "connected", Duration::from_secs(20));
    assert!(
        connected.starts_with("local") || connected == "media flowing",
        "{connected}"
    );
    next(&rx_a, "chat-open", Duration::from_secs(10));
    next(&rx_b, "chat-open", Duration::from_secs(10));

    let e = a
        .start(app_config(&url, "other"), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("already running"), "{e}");

    a.send_chat("hello from a").unwrap();
    assert_eq!(next(&rx_b, "chat", Duration::from_secs(5)), "hello from a");
    assert!(a.status_line().contains("connected"), "{}", a.status_line());

    b.hang_up();
    let ended_b = next(&rx_b, "ended", Duration::from_secs(10));
    assert!(ended_b.starts_with("ok"), "{ended_b}");
    next(&rx_a, "ended", Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!a.is_running());
    let e = a.send_chat("late").unwrap_err().to_string();
    assert!(e.contains("no call"), "{e}");
}

#[test]
fn bad_input_is_refused_before_joining() {
    let mut s = Session::default();
    let e = s
        .start(app_config("10.0.2.2:8080", "room"), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected http://HOST:PORT"), "{e}");
    let e = s
        .start(app_config("http://127.0.0.1:9", "bad room/"), |_, _| {})
        .unwrap_err();
    assert!(format!("{e:#}").contains("room"), "{e:#}");
    assert_eq!(s.status_line(), "idle");
    s.hang_up();
    assert!(s.send_chat("x").is_err());
}
