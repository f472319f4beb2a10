//! HTTPS end to end: the signaling server with a certificate made at start, headless
//! Chromium trusting exactly that certificate (its SPKI pin), the native app trusting it
//! by file; the browser calls the native app over https, gets the server's STUN server from
//! the join answer, and chat flows both ways.

use std::time::{Duration, Instant};

use mobilertc_call::{AudioInput, Call, CallConfig, Role};
use mobilertc_e2e::{chromium_or_skip, Chromium};
use mobilertc_signaling::{spawn_background_with, Config, IceConfig, Tls, TlsSource};

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn browser_calls_native_over_https_with_a_self_signed_certificate() {
    let Some(binary) =
        chromium_or_skip("browser_calls_native_over_https_with_a_self_signed_certificate")
    else {
        return;
    };
    let tls = Tls::load(&TlsSource::SelfSigned {
        names: vec!["127.0.0.1".into()],
    })
    .unwrap();
    // A STUN server nobody answers: the page must list it (it came from the join), and the
    // call still connects on host candidates.
    let silent_stun = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let stun_url = format!("stun:{}", silent_stun.local_addr().unwrap());
    let config = Config {
        log: false,
        ice: IceConfig {
            stun_urls: vec![stun_url.clone()],
            ..Config::default().ice
        },
        ..Config::default()
    };
    let server =
        spawn_background_with("127.0.0.1:0".parse().unwrap(), config, Some(tls.clone())).unwrap();
    assert!(server.url().starts_with("https://"));

    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("server.pem");
    std::fs::write(&cert, &tls.cert_pem).unwrap();
    let mut c = CallConfig::new(server.url(), "tls");
    c.server_cert = Some(cert);
    c.audio = AudioInput::Tone(440.0);
    c.chat = vec!["hello over https".into()];
    c.connect_timeout = Duration::from_secs(30);
    c.wait_timeout = Some(Duration::from_secs(60));
    let call = Call::start(c, |_| {}).unwrap();
    wait_for("the native callee to join", Duration::from_secs(20), || {
        call.status().state == "waiting"
    });

    let chromium = Chromium::launch_with(
        &binary,
        &[format!(
            "--ignore-certificate-errors-spki-list={}",
            tls.spki_pin()
        )],
    )
    .expect("Chromium starts");
    let page = chromium
        .open(&format!("{}/?room=tls&auto=1", server.url()))
        .unwrap();
    let long = Duration::from_secs(30);
    page.wait_until("mobilertc.state === 'connected'", long)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", chromium.log_tail()));
    // A secure context: what lets a browser on another machine use its camera.
    assert_eq!(page.eval_value("window.isSecureContext").unwrap(), true);
    assert_eq!(page.eval_value("location.protocol").unwrap(), "https:");
    let servers = page
        .eval_value("JSON.stringify(mobilertc.iceServers)")
        .unwrap();
    assert!(
        servers.as_str().unwrap().contains(&stun_url),
        "the page did not use the join's ICE servers: {servers}"
    );
    page.wait_until("mobilertc.chatOpen", long).unwrap();
    page.eval_value("mobilertc.sendChat('hello from the browser')")
        .unwrap();
    page.wait_until("mobilertc.received.includes('hello over https')", long)
        .unwrap();
    page.wait_until(
        "mobilertc.stats().then(s => s.audioIn && s.audioIn.packets > 50)",
        long,
    )
    .unwrap();
    page.eval_value("mobilertc.hangup()").unwrap();
    let summary = call.wait();
    assert!(summary.ok(), "{summary:#?}");
    assert_eq!(summary.role, Some(Role::Callee));
    assert_eq!(summary.chat.received, ["hello from the browser"]);
    assert!(summary.audio.received_packets > 30, "{summary:#?}");
}
