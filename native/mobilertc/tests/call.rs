//! In-process calls between two peer connections on two factories, over the real
//! libwebrtc: negotiation with trickle ICE, data channels, audio, video, stats.
//!
//! Waits are generous (`TIMEOUT`) and nothing asserts on timing: the CI machine has two
//! cores shared with other builds.

use std::time::{Duration, Instant};

use mobilertc::testing::{
    collect_pcm, pattern_frame, rms, send_paced, tone_ratio, wait_dc_event, wait_open, Loopback,
    TonePusher, TIMEOUT,
};
use mobilertc::{
    CandidateType, DataChannelEvent, DataChannelInit, Factory, FactoryConfig, Message, TrackKind,
    VideoSource,
};

fn factories() -> (Factory, Factory) {
    let config = FactoryConfig {
        sample_rate: 48_000,
        channels: 1,
        raw_audio: false,
    };
    (Factory::new(config).unwrap(), Factory::new(config).unwrap())
}

/// Saves a stats report as `<name>.json` in `$MOBILERTC_CAPTURE_STATS`, to refresh the
/// fixtures that tests/stats.rs parses: `MOBILERTC_CAPTURE_STATS=$PWD/tests/fixtures`.
fn maybe_capture_stats(name: &str, json: &str) {
    if let Some(dir) = std::env::var_os("MOBILERTC_CAPTURE_STATS") {
        let path = std::path::Path::new(&dir).join(format!("{name}.json"));
        std::fs::write(&path, json).unwrap();
        eprintln!("stats report written to {}", path.display());
    }
}

#[test]
fn trickle_ice_connects_and_stats_report_a_host_pair() {
    let (fa, fb) = factories();
    let mut call = Loopback::new(&fa, &fb).unwrap();
    // A data channel gives the offer an m= section, so ICE has something to connect.
    let (dc, dc_events) = call.caller.pc.create_data_channel("stats", None).unwrap();
    let started = Instant::now();
    call.connect(TIMEOUT).unwrap();
    wait_open(&dc, &dc_events, TIMEOUT).unwrap();
    eprintln!("connected and open in {:?}", started.elapsed());
    dc.send_text("ping").unwrap();

    assert!(
        call.caller
            .candidates_gathered
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    assert!(
        call.callee
            .candidates_gathered
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );

    // The selected pair shows up once ICE has nominated it; poll, not sleep-and-hope.
    let deadline = Instant::now() + TIMEOUT;
    let (json, stats) = loop {
        let json = call.caller.pc.stats_json().unwrap();
        let stats = mobilertc::Stats::from_json(&json).unwrap();
        let counted = stats.data_channels.iter().any(|d| d.messages_sent > 0);
        if stats.selected_pair.is_some() && counted {
            break (json, stats);
        }
        assert!(
            Instant::now() < deadline,
            "no selected pair in stats: {json}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    maybe_capture_stats("stats-data-channel", &json);
    let pair = stats.selected_pair.unwrap();
    assert_eq!(
        pair.local.candidate_type,
        Some(CandidateType::Host),
        "{pair:?}"
    );
    assert_eq!(
        pair.remote.candidate_type,
        Some(CandidateType::Host),
        "{pair:?}"
    );
    assert!(pair.local.port > 0 && pair.remote.port > 0, "{pair:?}");
    assert!(pair.bytes_sent > 0 && pair.bytes_received > 0, "{pair:?}");
    let channel = stats
        .data_channels
        .iter()
        .find(|d| d.label == "stats")
        .unwrap();
    assert_eq!(channel.messages_sent, 1, "{channel:?}");
    call.shutdown();
}

/// From M150 each factory offers upstream's two call-setup accelerations (see
/// shim/factory.cc `SetupTrials`): DTLS-in-STUN (ICE option `goog-sped-v1`) and SNAP (the
/// SCTP handshake in the SDP, `a=sctp-init`); two such peers agree on both and the call
/// still opens its data channel. Older milestones have neither.
#[test]
fn upstream_setup_accelerations_are_offered_answered_and_work() {
    if mobilertc::webrtc_milestone() < 150 {
        eprintln!(
            "skipped: libwebrtc M{} predates the setup accelerations this checks",
            mobilertc::webrtc_milestone()
        );
        return;
    }
    let (fa, fb) = factories();
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let (dc, dc_events) = call.caller.pc.create_data_channel("fast", None).unwrap();
    let offer = call.caller.pc.create_offer().unwrap();
    call.caller.pc.set_local_description(&offer).unwrap();
    call.callee.pc.set_remote_description(&offer).unwrap();
    let answer = call.callee.pc.create_answer().unwrap();
    call.callee.pc.set_local_description(&answer).unwrap();
    call.caller.pc.set_remote_description(&answer).unwrap();
    for (what, sdp) in [("offer", &offer.sdp), ("answer", &answer.sdp)] {
        let ice_options = sdp
            .lines()
            .find(|l| l.starts_with("a=ice-options:"))
            .unwrap_or_else(|| panic!("no a=ice-options in the {what}:\n{sdp}"));
        assert!(
            ice_options
                .split_whitespace()
                .any(|o| o.ends_with("goog-sped-v1")),
            "the {what} does not offer DTLS-in-STUN: {ice_options}"
        );
        assert!(
            sdp.lines().any(|l| l.starts_with("a=sctp-init:")),
            "the {what} carries no SNAP a=sctp-init:\n{sdp}"
        );
    }
    call.caller.wait_connected(TIMEOUT).unwrap();
    call.callee.wait_connected(TIMEOUT).unwrap();
    wait_open(&dc, &dc_events, TIMEOUT).unwrap();
    dc.send_text("over the fast path").unwrap();
    call.shutdown();
}

#[test]
fn data_channel_text_and_binary_both_ways() {
    let (fa, fb) = factories();
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let init = DataChannelInit {
        protocol: "chat".into(),
        ..DataChannelInit::default()
    };
    let (a, a_events) = call
        .caller
        .pc
        .create_data_channel("chat", Some(&init))
        .unwrap();
    call.connect(TIMEOUT).unwrap();
    let (b, b_events) = call.callee.wait_data_channel(TIMEOUT).unwrap();
    assert_eq!(b.label(), "chat");
    wait_open(&a, &a_events, TIMEOUT).unwrap();
    wait_open(&b, &b_events, TIMEOUT).unwrap();
    assert_eq!(a.id(), b.id());

    let is_message = |ev: &DataChannelEvent| matches!(ev, DataChannelEvent::Message(_));
    a.send_text("hello from the caller ✓").unwrap();
    a.send_binary(&[0, 1, 2, 255]).unwrap();
    b.send_text("hello from the callee").unwrap();
    // An empty message may be refused by libwebrtc; it must not crash either way.
    let empty_sent = b.send_binary(&[]).is_ok();
    b.send_binary(&[9; 1000]).unwrap();

    let got = |events, n| {
        (0..n)
            .map(|_| match wait_dc_event(events, TIMEOUT, is_message) {
                Some(DataChannelEvent::Message(m)) => m,
                other => panic!("expected a message, got {other:?}"),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        got(&b_events, 2),
        vec![
            Message::Text("hello from the caller ✓".into()),
            Message::Binary(vec![0, 1, 2, 255])
        ]
    );
    // The empty binary message, if it was accepted, arrives in between.
    let at_caller: Vec<_> = got(&a_events, 2 + usize::from(empty_sent))
        .into_iter()
        .filter(|m| *m != Message::Binary(Vec::new()))
        .collect();
    assert_eq!(
        at_caller,
        vec![
            Message::Text("hello from the callee".into()),
            Message::Binary(vec![9; 1000])
        ]
    );

    // Closing one side closes the other.
    a.close();
    assert!(wait_dc_event(&b_events, TIMEOUT, |ev| *ev == DataChannelEvent::Closed).is_some());
    assert_eq!(
        a.send_text("too late").unwrap_err().code(),
        Some(mobilertc::ErrorCode::Closed)
    );
    call.shutdown();
}

#[test]
fn one_mebibyte_ordered_transfer_is_intact() {
    let (fa, fb) = factories();
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let (a, a_events) = call.caller.pc.create_data_channel("bulk", None).unwrap();
    call.connect(TIMEOUT).unwrap();
    let (b, b_events) = call.callee.wait_data_channel(TIMEOUT).unwrap();
    wait_open(&a, &a_events, TIMEOUT).unwrap();
    wait_open(&b, &b_events, TIMEOUT).unwrap();

    // A pattern that makes reordering, loss or duplication visible.
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let started = Instant::now();
    let sender = {
        let data = data.clone();
        std::thread::spawn(move || {
            send_paced(&a, &a_events, &data, 16 * 1024, 1 << 20).unwrap();
            (a, a_events)
        })
    };
    let mut received = Vec::with_capacity(data.len());
    while received.len() < data.len() {
        match wait_dc_event(&b_events, TIMEOUT, |ev| {
            matches!(ev, DataChannelEvent::Message(_))
        }) {
            Some(DataChannelEvent::Message(Message::Binary(chunk))) => {
                received.extend_from_slice(&chunk)
            }
            other => panic!("after {} bytes: {other:?}", received.len()),
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "1 MiB in {elapsed:?} ({:.1} MB/s)",
        data.len() as f64 / elapsed.as_secs_f64() / 1e6
    );
    assert!(received == data, "transfer corrupted");
    let (_a, _a_events) = sender.join().unwrap();
    call.shutdown();
}

#[test]
fn tone_is_detected_at_the_callee_and_absent_when_muted() {
    let (fa, fb) = factories();
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let track = call.caller.pc.add_audio_track("mic", "stream").unwrap();
    let _tone = TonePusher::start(&fa, 440.0);
    let playout = fb.playout_frames();
    call.connect(TIMEOUT).unwrap();
    let remote = call.callee.wait_track(TrackKind::Audio, TIMEOUT).unwrap();
    assert_eq!(remote.id(), "mic");
    let pcm = remote.audio_frames().unwrap();

    // Let the jitter buffer settle, then measure one second.
    let _ = collect_pcm(&pcm, Duration::from_millis(500), TIMEOUT).unwrap();
    let (samples, rate) = collect_pcm(&pcm, Duration::from_secs(1), TIMEOUT).unwrap();
    let (ratio, level) = (tone_ratio(&samples, rate, 440.0), rms(&samples));
    eprintln!("track sink: 440 Hz ratio {ratio:.3}, rms {level:.4} at {rate} Hz");
    assert!(
        ratio > 0.5 && level > 0.01,
        "tone not detected: ratio {ratio}, rms {level}"
    );
    // Off-frequency control: the detector is not just measuring loudness.
    assert!(tone_ratio(&samples, rate, 1000.0) < 0.1);

    let (mixed, mixed_rate) = collect_pcm(&playout, Duration::from_secs(1), TIMEOUT).unwrap();
    let mixed_ratio = tone_ratio(&mixed, mixed_rate, 440.0);
    eprintln!("factory playout: 440 Hz ratio {mixed_ratio:.3}");
    assert!(
        mixed_ratio > 0.5,
        "tone not in the mixed playout: {mixed_ratio}"
    );

    // Both ends agree in their stats: audio goes out with a level and comes in with one.
    let caller_json = call.caller.pc.stats_json().unwrap();
    let callee_json = call.callee.pc.stats_json().unwrap();
    maybe_capture_stats("stats-audio-caller", &caller_json);
    maybe_capture_stats("stats-audio-callee", &callee_json);
    let sent = mobilertc::Stats::from_json(&caller_json).unwrap();
    let out = sent
        .outbound_rtp
        .iter()
        .find(|s| s.kind == Some(TrackKind::Audio))
        .unwrap();
    assert!(out.packets_sent > 0 && out.bytes_sent > 0, "{out:?}");
    let received = mobilertc::Stats::from_json(&callee_json).unwrap();
    let inb = received
        .inbound_rtp
        .iter()
        .find(|s| s.kind == Some(TrackKind::Audio))
        .unwrap();
    assert!(inb.packets_received > 0, "{inb:?}");
    assert!(inb.audio_level.unwrap_or(0.0) > 0.0, "{inb:?}");

    track.set_enabled(false);
    // Give the mute time to reach the callee (what is queued still plays out).
    let _ = collect_pcm(&pcm, Duration::from_secs(1), TIMEOUT).unwrap();
    let (samples, rate) = collect_pcm(&pcm, Duration::from_secs(1), TIMEOUT).unwrap();
    let (ratio, level) = (tone_ratio(&samples, rate, 440.0), rms(&samples));
    eprintln!("muted: 440 Hz ratio {ratio:.3}, rms {level:.5}");
    assert!(
        level < 0.001 || ratio < 0.1,
        "tone still there while muted: ratio {ratio}, rms {level}"
    );

    track.set_enabled(true);
    let _ = collect_pcm(&pcm, Duration::from_secs(1), TIMEOUT).unwrap();
    let (samples, rate) = collect_pcm(&pcm, Duration::from_secs(1), TIMEOUT).unwrap();
    assert!(
        tone_ratio(&samples, rate, 440.0) > 0.5,
        "tone did not come back after unmute"
    );
    drop(remote);
    call.shutdown();
}

#[test]
fn video_frames_arrive_decoded_at_the_sent_resolution() {
    const W: u32 = 320;
    const H: u32 = 240;
    let (fa, fb) = factories();
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let source = VideoSource::new(&fa).unwrap();
    let _track = call
        .caller
        .pc
        .add_video_track(&source, "cam", "stream")
        .unwrap();

    // A camera: frames at ~30 fps from their own thread until the test is done.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let camera = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                source.push_i420(&pattern_frame(W, H, n)).unwrap();
                n += 1;
                std::thread::sleep(Duration::from_millis(33));
            }
            source
        })
    };

    call.connect(TIMEOUT).unwrap();
    let remote = call.callee.wait_track(TrackKind::Video, TIMEOUT).unwrap();
    let frames = remote.video_frames().unwrap();
    // The encoder may start below the source resolution while bandwidth estimation ramps
    // up; wait for full-size frames rather than asserting on the first one.
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = 0;
    let frame = loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("no 320x240 frame");
        let frame = frames.recv_timeout(left).expect("no decoded frame");
        seen += 1;
        if frame.width == W && frame.height == H {
            break frame;
        }
    };
    eprintln!("first {W}x{H} frame after {seen} decoded frames");
    assert_eq!(frame.y.len(), (W * H) as usize);
    assert_eq!(frame.u.len(), (W / 2 * H / 2) as usize);
    // Decoded content is the pattern, not a black frame: luma varies across the frame.
    let (min, max) = frame
        .y
        .iter()
        .fold((255, 0), |(lo, hi), &v| (v.min(lo), v.max(hi)));
    assert!(max - min > 100, "flat decoded frame: luma {min}..{max}");

    let json = call.callee.pc.stats_json().unwrap();
    maybe_capture_stats("stats-video-callee", &json);
    let stats = mobilertc::Stats::from_json(&json).unwrap();
    let video = stats
        .inbound_rtp
        .iter()
        .find(|s| s.kind == Some(TrackKind::Video))
        .expect("inbound video stats");
    assert!(video.frames_decoded.unwrap_or(0) > 0, "{video:?}");

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _source = camera.join().unwrap();
    drop(remote);
    call.shutdown();
}

#[test]
fn on_event_callback_receives_in_order_and_stops_after_drop() {
    let (fa, fb) = factories();
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let (a, a_events) = call.caller.pc.create_data_channel("cb", None).unwrap();
    call.connect(TIMEOUT).unwrap();
    let (b, b_events) = call.callee.wait_data_channel(TIMEOUT).unwrap();
    wait_open(&a, &a_events, TIMEOUT).unwrap();
    wait_open(&b, &b_events, TIMEOUT).unwrap();

    // Replace the channel receiver with a callback on WebRTC's thread.
    let (tx, rx) = std::sync::mpsc::channel();
    b.on_event(move |ev| {
        if let DataChannelEvent::Message(m) = ev {
            tx.send(m).unwrap();
        }
    });
    for i in 0..100u8 {
        a.send_binary(&[i; 64]).unwrap();
    }
    for i in 0..100u8 {
        let m = rx.recv_timeout(TIMEOUT).expect("message via on_event");
        assert_eq!(m, Message::Binary(vec![i; 64]));
    }
    // The replaced channel receiver got none of them.
    assert!(b_events
        .try_iter()
        .all(|ev| !matches!(ev, DataChannelEvent::Message(_))));
    // After the drop the callback (and its sender) is gone: the receiver disconnects.
    drop(b);
    assert!(matches!(
        rx.recv_timeout(TIMEOUT),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    ));
    drop(a);
    call.shutdown();
}
