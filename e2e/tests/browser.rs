//! Headless Chromium (the distro's) calls the native calling app, and the other way round,
//! through the real signaling server: connection, chat both ways, and media verified in
//! both directions (the native 440 Hz tone measured in the browser by Goertzel on WebAudio,
//! Chromium's fake microphone beep and camera frames in the native summary).

use std::time::{Duration, Instant};

use mobilertc_call::{AudioInput, Call, CallConfig, Role, Summary};
use mobilertc_e2e::{chromium_or_skip, Chromium, Page};
use mobilertc_signaling::{spawn_background, BackgroundServer, Config};
use serde_json::Value;

const TONE: f64 = 440.0;

fn server() -> BackgroundServer {
    let config = Config {
        log: false,
        ..Config::default()
    };
    spawn_background("127.0.0.1:0".parse().unwrap(), config).unwrap()
}

fn native(server: &BackgroundServer, room: &str) -> Call {
    let mut c = CallConfig::new(server.url(), room);
    c.audio = AudioInput::Tone(TONE);
    c.video = true;
    c.chat = vec!["hello from native".into()];
    c.connect_timeout = Duration::from_secs(30);
    c.wait_timeout = Some(Duration::from_secs(60));
    Call::start(c, |_| {}).unwrap()
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The browser side once connected: chat both ways, then media for a few seconds.
fn exercise(page: &Page) -> Value {
    let long = Duration::from_secs(30);
    page.wait_until("mobilertc.state === 'connected'", long)
        .unwrap();
    // Camera and microphone (Chromium's fake ones) are on during the call.
    assert!(
        page.eval_value("mobilertc.liveLocalTracks()")
            .unwrap()
            .as_u64()
            .unwrap()
            > 0
    );
    page.wait_until("mobilertc.chatOpen", long).unwrap();
    page.eval_value("mobilertc.sendChat('hello from the browser')")
        .unwrap();
    page.wait_until("mobilertc.received.includes('hello from native')", long)
        .unwrap();
    // Media: let the jitter buffers fill and a few beeps and frames pass.
    page.wait_until(
        "mobilertc.stats().then(s => s.videoIn && s.videoIn.framesDecoded > 20 && s.audioIn && s.audioIn.packets > 100)",
        long,
    )
    .unwrap();
    page.eval_value(&format!("mobilertc.stats({TONE})"))
        .unwrap()
}

fn check_browser_side(stats: &Value) {
    let audio = &stats["audioIn"];
    assert!(audio["packets"].as_u64().unwrap() > 100, "{stats:#}");
    assert!(
        audio["totalAudioEnergy"].as_f64().unwrap() > 0.0,
        "{stats:#}"
    );
    // The native tone, measured on what the browser plays out.
    let tone = &stats["tone"];
    assert!(
        tone["ratio"].as_f64().unwrap() > 0.5,
        "no 440 Hz in the browser: {stats:#}"
    );
    assert!(
        (tone["peakHz"].as_f64().unwrap() - TONE).abs() < 10.0,
        "{stats:#}"
    );
    assert!(
        stats["videoIn"]["framesDecoded"].as_u64().unwrap() > 20,
        "{stats:#}"
    );
    assert_eq!(stats["pair"]["local"], "host", "{stats:#}");
}

/// After a hang-up (either side): the page says the connection is closed, the camera and
/// microphone are off, and no call logged an interrupted play().
fn check_page_after_hangup(page: &Page) {
    page.wait_until(
        "['ended', 'idle'].includes(mobilertc.state)",
        Duration::from_secs(20),
    )
    .unwrap();
    assert_eq!(
        page.eval_value("mobilertc.connectionState").unwrap(),
        "closed"
    );
    let status = page
        .eval_value("document.getElementById('status').textContent")
        .unwrap();
    assert!(
        !status.as_str().unwrap().contains("pc connected"),
        "{status}"
    );
    assert_eq!(page.eval_value("mobilertc.liveLocalTracks()").unwrap(), 0);
    assert_eq!(
        page.eval_value("document.getElementById('local').srcObject === null")
            .unwrap(),
        true
    );
    let log = page
        .eval_value("JSON.stringify(mobilertc.log.map(l => l.msg))")
        .unwrap();
    assert!(
        !log.as_str().unwrap().contains("interrupted"),
        "a play() was interrupted: {log}"
    );
}

fn check_native_side(s: &Summary) {
    assert!(s.ok(), "{s:#?}");
    assert_eq!(s.chat.received, ["hello from the browser"], "{s:#?}");
    assert_eq!(s.chat.sent, ["hello from native"]);
    assert!(s.audio.received_packets > 30, "{s:#?}");
    // Chromium's fake microphone beeps once a second: audible audio arrived.
    assert!(s.audio.received.audible_seconds > 0.05, "{s:#?}");
    assert!(s.video.frames_received > 20, "{s:#?}");
    assert_eq!(s.connection.as_deref(), Some("local"), "{s:#?}");
}

#[test]
fn browser_calls_native_and_native_calls_browser() {
    let Some(binary) = chromium_or_skip("browser_calls_native_and_native_calls_browser") else {
        return;
    };
    let server = server();
    let chromium = Chromium::launch(&binary).expect("Chromium starts");

    // 1. The native app waits; the browser joins second and calls.
    let call = native(&server, "browser-calls");
    wait_for("the native callee to join", Duration::from_secs(20), || {
        call.status().state == "waiting"
    });
    let page = chromium
        .open(&format!("{}/?room=browser-calls&auto=1", server.url()))
        .unwrap();
    let stats = exercise(&page);
    assert_eq!(page.eval_value("mobilertc.role").unwrap(), "caller");
    check_browser_side(&stats);
    // The browser hangs up: the native side ends on its bye.
    page.eval_value("mobilertc.hangup()").unwrap();
    check_page_after_hangup(&page);
    let summary = call.wait();
    check_native_side(&summary);
    assert_eq!(summary.role, Some(Role::Callee));
    assert_eq!(summary.hangup.as_deref(), Some("remote_bye"));

    // 2. The browser waits; the native app joins second and calls.
    let page = chromium
        .open(&format!("{}/?room=native-calls&auto=1", server.url()))
        .unwrap();
    page.wait_until("mobilertc.state === 'waiting'", Duration::from_secs(20))
        .unwrap();
    let call = native(&server, "native-calls");
    let stats = exercise(&page);
    assert_eq!(page.eval_value("mobilertc.role").unwrap(), "callee");
    check_browser_side(&stats);
    // The native app hangs up: the page ends on its bye.
    call.hang_up();
    let summary = call.wait();
    check_native_side(&summary);
    assert_eq!(summary.role, Some(Role::Caller));
    check_page_after_hangup(&page);

    // 3. A display name with a right-to-left override is refused at the join, and shown
    //    nowhere.
    let page = chromium
        .open(&format!(
            "{}/?room=disguise&auto=1&name=%E2%80%AEgnp.exe",
            server.url()
        ))
        .unwrap();
    page.wait_until("mobilertc.state === 'failed'", Duration::from_secs(20))
        .unwrap();
    let error = page.eval_value("mobilertc.error").unwrap();
    assert!(
        error.as_str().unwrap().contains("bad_name")
            || error.as_str().unwrap().contains("bidirectional"),
        "{error}"
    );
    // The camera and microphone asked for before the join are released again.
    assert_eq!(page.eval_value("mobilertc.liveLocalTracks()").unwrap(), 0);
}
