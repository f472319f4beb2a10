//! Hostile and oversized input through the safe API (issue 16): every case is an error or
//! a documented policy, never memory corruption, a dead channel or a frozen stream.
//!
//! Waits are generous (`TIMEOUT`) and nothing asserts on timing.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use mobilertc::testing::{pattern_frame, wait_dc_event, wait_open, Loopback, TIMEOUT};
use mobilertc::{
    DataChannel, DataChannelEvent, ErrorCode, Factory, FactoryConfig, I420Frame, Message,
    PeerConnection, PeerConnectionConfig, PeerEvent, SdpType, SessionDescription, TrackKind,
    VideoSource, DATA_CHANNEL_QUEUE_EVENTS, MAX_FRAME_SIDE, PEER_QUEUE_EVENTS,
};

fn factory() -> Factory {
    Factory::new(FactoryConfig::default()).unwrap()
}

/// An open channel pair over a loopback call.
struct OpenPair {
    a: DataChannel,
    a_events: Receiver<DataChannelEvent>,
    b: DataChannel,
    b_events: Receiver<DataChannelEvent>,
    call: Loopback,
}

fn open_pair(fa: &Factory, fb: &Factory) -> OpenPair {
    let mut call = Loopback::new(fa, fb).unwrap();
    let (a, a_events) = call.caller.pc.create_data_channel("pair", None).unwrap();
    call.connect(TIMEOUT).unwrap();
    let (b, b_events) = call.callee.wait_data_channel(TIMEOUT).unwrap();
    wait_open(&a, &a_events, TIMEOUT).unwrap();
    wait_open(&b, &b_events, TIMEOUT).unwrap();
    OpenPair {
        a,
        a_events,
        b,
        b_events,
        call,
    }
}

/// Defect 1: a side beyond what libwebrtc's `int`-sized I420 buffers (and its codecs)
/// handle is refused before any copy (a 53512x53512 frame used to overflow the heap).
#[test]
fn frames_beyond_the_supported_size_are_refused() {
    let fa = factory();
    let source = VideoSource::new(&fa).unwrap();
    for (w, h) in [(MAX_FRAME_SIDE + 1, 2), (2, MAX_FRAME_SIDE + 1)] {
        let frame = I420Frame::new(w, h);
        let err = source.push_i420(&frame).unwrap_err();
        assert_eq!(
            err.code(),
            Some(ErrorCode::InvalidArgument),
            "{w}x{h}: {err}"
        );
    }
    // A stride whose plane size does not fit libwebrtc's int: refused too (the planes are
    // only checked for length, so lie about nothing: the stride is the problem).
    let mut frame = I420Frame::new(2, 2);
    frame.stride_y = u32::MAX / 2;
    assert!(source.push_i420(&frame).is_err());
    // The largest side still goes through.
    source
        .push_i420(&I420Frame::new(MAX_FRAME_SIDE, 2))
        .unwrap();
    source
        .push_i420(&I420Frame::new(2, MAX_FRAME_SIDE))
        .unwrap();
}

/// Defect 8: a message over the negotiated maximum is an error, and the channel lives on.
#[test]
fn a_message_over_the_negotiated_maximum_is_refused_and_the_channel_survives() {
    let (fa, fb) = (factory(), factory());
    let p = open_pair(&fa, &fb);
    let max =
        p.a.max_message_size()
            .expect("negotiated maximum once open");
    assert!(max >= 65_536, "{max}");
    let big = vec![7u8; max as usize + 1];
    let err = p.a.send_binary(&big).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidArgument), "{err}");
    // Exactly the maximum goes through, and the channel still carries messages.
    p.a.send_binary(&big[..max as usize]).unwrap();
    p.a.send_text("still here").unwrap();
    let got = |want: &Message| {
        wait_dc_event(&p.b_events, TIMEOUT, |ev| {
            matches!(ev, DataChannelEvent::Message(_) | DataChannelEvent::Closed)
        }) == Some(DataChannelEvent::Message(want.clone()))
    };
    assert!(got(&Message::Binary(big[..max as usize].to_vec())));
    assert!(got(&Message::Text("still here".into())));
    assert_eq!(p.a.state(), mobilertc::DataChannelState::Open);
    drop((p.a, p.a_events, p.b, p.b_events));
    p.call.shutdown();
}

/// Defect 9: one far-future (or far-past) timestamp must not freeze the outgoing video.
#[test]
fn a_wild_timestamp_does_not_freeze_video() {
    let (fa, fb) = (factory(), factory());
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let source = VideoSource::new(&fa).unwrap();
    let _track = call
        .caller
        .pc
        .add_video_track(&source, "cam", "stream")
        .unwrap();
    call.connect(TIMEOUT).unwrap();
    let remote = call.callee.wait_track(TrackKind::Video, TIMEOUT).unwrap();
    let frames = remote.video_frames().unwrap();

    // A camera with its own clock (microseconds since it started, plus an epoch).
    let epoch = Instant::now();
    let clock = || epoch.elapsed().as_micros() as i64 + 1_000_000;
    let push = |n: u64, ts: i64| {
        let mut frame = pattern_frame(160, 120, n);
        frame.timestamp_us = ts;
        source.push_i420(&frame).unwrap();
    };
    // Pushes at ~30 fps until `want` frames were decoded at the far end.
    let n = std::cell::Cell::new(0);
    let stream = |want: usize, what: &str| {
        let deadline = Instant::now() + TIMEOUT;
        let mut decoded = 0;
        while decoded < want {
            assert!(
                Instant::now() < deadline,
                "{what}: {decoded}/{want} frames decoded"
            );
            push(n.get(), clock());
            n.set(n.get() + 1);
            std::thread::sleep(Duration::from_millis(33));
            decoded += frames.try_iter().count();
        }
    };
    stream(10, "before");
    for wild in [i64::MAX / 2, i64::MAX, i64::MIN, -1] {
        push(n.get(), wild);
        n.set(n.get() + 1);
        stream(10, &format!("after a frame stamped {wild}"));
    }
    drop(remote);
    call.shutdown();
}

/// Defect 11: strings that would be cut (SCTP's 16-bit lengths) or would break the SDP.
#[test]
fn oversized_labels_and_sdp_breaking_ids_are_refused() {
    let fa = factory();
    let (pc, _events) = PeerConnection::new(&fa, &PeerConnectionConfig::default()).unwrap();
    let long = "l".repeat(65_536);
    let Err(err) = pc.create_data_channel(&long, None) else {
        panic!("a 65,536-byte label was accepted");
    };
    assert_eq!(err.code(), Some(ErrorCode::InvalidArgument), "{err}");
    let init = mobilertc::DataChannelInit {
        protocol: long.clone(),
        ..Default::default()
    };
    assert!(pc.create_data_channel("ok", Some(&init)).is_err());
    // The largest label that fits goes through intact.
    let fits = "l".repeat(65_535);
    let (dc, _dc_events) = pc.create_data_channel(&fits, None).unwrap();
    assert_eq!(dc.label().len(), 65_535);

    for bad in ["a\r\na=inject:1", "a\nb", "a b", "", "tab\there"] {
        let err = pc.add_audio_track(bad, "stream").unwrap_err();
        assert_eq!(
            err.code(),
            Some(ErrorCode::InvalidArgument),
            "{bad:?}: {err}"
        );
        assert!(pc.add_audio_track("audio", bad).is_err() || bad.is_empty());
        let source = VideoSource::new(&fa).unwrap();
        assert!(pc.add_video_track(&source, bad, "s").is_err(), "{bad:?}");
    }
    // Nothing of the above reached the SDP.
    let _audio = pc.add_audio_track("audio-0", "stream_1").unwrap();
    let offer = pc.create_offer().unwrap();
    assert!(!offer.sdp.contains("inject"), "{}", offer.sdp);
    assert!(
        offer.sdp.contains("a=msid:stream_1 audio-0"),
        "{}",
        offer.sdp
    );
}

/// Defect 12: a data channel receiver nobody reads holds a bounded number of events; then
/// it disconnects after the queued ones (a stream with a hole is never passed off as whole).
#[test]
fn an_unread_data_channel_receiver_is_bounded_then_disconnects() {
    let (fa, fb) = (factory(), factory());
    let p = open_pair(&fa, &fb);
    let sent = DATA_CHANNEL_QUEUE_EVENTS + 100;
    for i in 0..sent {
        p.a.send_text(&i.to_string()).unwrap();
    }
    let mut received = 0;
    loop {
        match p.b_events.recv_timeout(TIMEOUT) {
            Ok(DataChannelEvent::Message(Message::Text(t))) => {
                assert_eq!(t, received.to_string(), "in order, no gaps before the cut");
                received += 1;
            }
            Ok(_) => {}
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                panic!("receiver neither bounded nor disconnected after {received} messages")
            }
        }
    }
    assert!(received <= DATA_CHANNEL_QUEUE_EVENTS, "{received}");
    // The channel itself lives on: a fresh receiver gets new messages.
    let fresh = p.b.events();
    p.a.send_text("again").unwrap();
    assert!(wait_dc_event(&fresh, TIMEOUT, |ev| matches!(
        ev,
        DataChannelEvent::Message(_)
    ))
    .is_some());
    drop((p.a, p.a_events, p.b, p.b_events));
    p.call.shutdown();
}

/// Defect 12: the same policy for peer events.
#[test]
fn an_unread_peer_event_receiver_is_bounded_then_disconnects() {
    let fa = factory();
    let (pc, events) = PeerConnection::new(&fa, &PeerConnectionConfig::default()).unwrap();
    let _dc = pc.create_data_channel("d", None).unwrap();
    let offer = pc.create_offer().unwrap();
    let rollback = SessionDescription {
        kind: SdpType::Rollback,
        sdp: String::new(),
    };
    // Each round is two signaling-state events (have-local-offer, stable).
    for _ in 0..PEER_QUEUE_EVENTS / 2 + 10 {
        pc.set_local_description(&offer).unwrap();
        pc.set_local_description(&rollback).unwrap();
    }
    let mut received = 0;
    loop {
        match events.recv_timeout(TIMEOUT) {
            Ok(_) => received += 1,
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                panic!("peer events neither bounded nor disconnected after {received}")
            }
        }
    }
    assert!(received <= PEER_QUEUE_EVENTS, "{received}");
    // The peer works on.
    pc.set_local_description(&offer).unwrap();
    let _ = PeerEvent::RenegotiationNeeded;
}
