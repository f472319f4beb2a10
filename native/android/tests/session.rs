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

/// Waits for a `log` event containing `text` (other events and logs are skipped).
fn log_containing(rx: &Receiver<(&'static str, String)>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(("log", t)) if t.contains(text) => return,
            Ok(other) => seen.push(other),
            Err(_) => break,
        }
    }
    panic!("no log with {text:?}; saw {seen:?}");
}

/// Waits until `pick` holds for the session's status (polled; generous deadline).
fn wait_status(
    s: &Session,
    what: &str,
    pick: impl Fn(&mobilertc_call::Status) -> bool,
) -> mobilertc_call::Status {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = s.status().expect("a call");
        if pick(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: status stayed {status:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What `nativeNetworkChanged` drives: a network change on either phone restarts ICE, the
/// new offer goes through the signaling server, the other side answers, and the call moves
/// to newly gathered candidates (the selected pair's local address changes) and goes on.
#[test]
fn a_network_change_on_either_side_restarts_ice_through_signaling() {
    let server = spawn_background("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let url = format!("http://{}", server.addr());
    let (tx_a, rx_a) = channel();
    let (tx_b, rx_b) = channel();
    let mut a = Session::default();
    let mut b = Session::default();
    // Audio only: two debug-build VP8 encoders starve everything else on a loaded 2-core
    // machine, and the restart is about the transport, not the media.
    let config = || {
        let mut c = app_config(&url, "restart-room");
        c.video = false;
        c
    };
    // Every event is printed too: the test's output shows the whole flow when it fails.
    a.start(config(), move |k, t| {
        eprintln!("{:?} a: {k}: {t}", std::time::SystemTime::now());
        let _ = tx_a.send((k, t));
    })
    .unwrap();
    next(&rx_a, "joined", Duration::from_secs(5));
    b.start(config(), move |k, t| {
        eprintln!("{:?} b: {k}: {t}", std::time::SystemTime::now());
        let _ = tx_b.send((k, t));
    })
    .unwrap();
    next(&rx_a, "chat-open", Duration::from_secs(20));
    next(&rx_b, "chat-open", Duration::from_secs(20));
    let first = wait_status(&b, "a selected pair", |s| s.pair.is_some())
        .pair
        .unwrap()
        .local_address;

    // The caller (b) changes networks.
    b.network_changed("wifi -> cellular").unwrap();
    log_containing(&rx_b, "ICE restarted, new offer sent");
    log_containing(&rx_a, "re-offered (ICE restart): answered");
    let second = wait_status(&b, "the caller on new candidates", |s| {
        s.pair.as_ref().is_some_and(|p| p.local_address != first)
    })
    .pair
    .unwrap()
    .local_address;
    assert_eq!(b.status().unwrap().ice_restarts, 1);
    assert!(b.status_line().contains("ice restarts 1 sent/0 answered"));
    assert!(b
        .status_line()
        .contains("network changes: 1 (last wifi -> cellular)"));

    // The callee (a) changes networks: it re-offers this time.
    a.network_changed("cellular -> wifi").unwrap();
    log_containing(&rx_a, "ICE restarted, new offer sent");
    log_containing(&rx_b, "re-offered (ICE restart): answered");
    wait_status(&b, "the caller on newer candidates", |s| {
        s.pair.as_ref().is_some_and(|p| p.local_address != second)
    });
    assert_eq!(a.status().unwrap().reoffers_answered, 1);

    a.send_chat("still here").unwrap();
    // Generous: a line sent while the new pair is still being checked waits for SCTP's
    // retransmission, whose backoff grows on a loaded machine.
    assert_eq!(next(&rx_b, "chat", Duration::from_secs(60)), "still here");
    assert!(a.is_running() && b.is_running());
    b.hang_up();
    next(&rx_a, "ended", Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(b
        .network_changed("wifi -> none")
        .unwrap_err()
        .to_string()
        .starts_with("no call"));
}

/// What nativeCall and nativeSetVideoSinks wire, with the host's pieces standing in for
/// Android's: the call takes the platform's factory (no tone pushed into it), sends the
/// camera's source as its video track, and shows the other side's video and its own on the
/// native renderers — given before the call, and replaced during it.
#[test]
fn platform_media_and_renderers_are_what_the_call_uses() {
    use mobilertc::testing::pattern_frame;
    use mobilertc::{Factory, FactoryConfig, NativeVideoSink, VideoSource};
    use mobilertc_app::call_media;
    use mobilertc_call::{Devices, Renderers};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let server = spawn_background("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let url = format!("http://{}", server.addr());
    // The "phone": Factory::new stands in for Factory::new_android, a pushed source for the
    // Java camera's.
    let media = call_media(
        true,
        || Factory::new(FactoryConfig::default()),
        VideoSource::new,
    )
    .unwrap();
    let camera = media
        .platform
        .as_ref()
        .unwrap()
        .video_source
        .clone()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (stop, camera) = (stop.clone(), camera.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let _ = camera.push_i420(&pattern_frame(160, 120, n));
                n += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let (self_view, self_frames) = NativeVideoSink::channel().unwrap();
    let (remote_view, remote_frames) = NativeVideoSink::channel().unwrap();
    let (tx_a, rx_a) = channel();
    let mut phone = Session::default();
    let mut config = app_config(&url, "platform-room");
    config.video = false; // as nativeCall sets it with the platform's media
    phone
        .start_with(
            config,
            Devices {
                platform: media.platform,
                renderers: Renderers {
                    local: Some(Arc::new(self_view)),
                    remote: None,
                },
                ..Devices::default()
            },
            move |k, t| {
                let _ = tx_a.send((k, t));
            },
        )
        .unwrap();
    next(&rx_a, "joined", Duration::from_secs(5));
    // The other side sends the synthetic pattern (320x240).
    let (tx_b, rx_b) = channel();
    let mut other = Session::default();
    let (other_view, other_frames) = NativeVideoSink::channel().unwrap();
    other
        .start_with(
            app_config(&url, "platform-room"),
            Devices {
                renderers: Renderers {
                    local: None,
                    remote: Some(Arc::new(other_view)),
                },
                ..Devices::default()
            },
            move |k, t| {
                let _ = tx_b.send((k, t));
            },
        )
        .unwrap();
    next(&rx_a, "chat-open", Duration::from_secs(30));
    next(&rx_b, "chat-open", Duration::from_secs(30));

    let wait_width = |rx: &Receiver<mobilertc::I420Frame>, w: u32, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("{what}: no {w}-wide frame"));
            if rx.recv_timeout(left).map(|f| f.width).ok() == Some(w) {
                return;
            }
        }
    };
    // Our self view shows the camera; the other side shows our camera, decoded.
    wait_width(&self_frames, 160, "self view");
    wait_width(&other_frames, 160, "the other side's renderer");
    // A remote renderer handed over during the call shows the other side's pattern.
    phone.set_renderers(Renderers {
        local: None,
        remote: Some(Arc::new(remote_view)),
    });
    wait_width(&remote_frames, 320, "our remote renderer");

    other.hang_up();
    next(&rx_a, "ended", Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    feeder.join().unwrap();
}
