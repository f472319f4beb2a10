//! Lifecycle: many calls in a row, closing at awkward moments, any drop order.
//!
//! Leak check (see TESTING.md beside Cargo.toml): run this file under valgrind with fewer
//! cycles, e.g.
//! `MOBILERTC_CYCLES=5 valgrind --leak-check=full --errors-for-leak-kinds=definite
//!  target/debug/deps/lifecycle-<hash> --test-threads 1`.

use std::sync::mpsc::channel;
use std::time::Duration;

use mobilertc::testing::{wait_dc_event, wait_open, Loopback, TIMEOUT};
use mobilertc::{
    DataChannelEvent, ErrorCode, Factory, FactoryConfig, PeerConnection, PeerConnectionConfig,
    SdpType, SessionDescription, TrackKind, VideoSource,
};

fn factory() -> Factory {
    Factory::new(FactoryConfig::default()).unwrap()
}

fn cycles() -> usize {
    std::env::var("MOBILERTC_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

#[test]
fn many_calls_open_and_close_a_data_channel() {
    let (fa, fb) = (factory(), factory());
    for cycle in 0..cycles() {
        let mut call = Loopback::new(&fa, &fb).unwrap();
        let (a, a_events) = call.caller.pc.create_data_channel("cycle", None).unwrap();
        call.connect(TIMEOUT)
            .unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        let (b, b_events) = call.callee.wait_data_channel(TIMEOUT).unwrap();
        wait_open(&a, &a_events, TIMEOUT).unwrap();
        wait_open(&b, &b_events, TIMEOUT).unwrap();
        a.send_text(&format!("cycle {cycle}")).unwrap();
        assert!(wait_dc_event(&b_events, TIMEOUT, |ev| matches!(
            ev,
            DataChannelEvent::Message(_)
        ))
        .is_some());
        a.close();
        assert!(wait_dc_event(&b_events, TIMEOUT, |ev| *ev == DataChannelEvent::Closed).is_some());
        // Alternate the drop order of channels and peers between cycles.
        if cycle % 2 == 0 {
            drop((a, b));
            call.shutdown();
        } else {
            call.shutdown();
            drop((a, b));
        }
    }
}

#[test]
fn factory_handle_may_go_first() {
    // Children keep the factory alive, so dropping the app's handle first is fine.
    let fa = factory();
    let (pc, _events) = PeerConnection::new(&fa, &PeerConnectionConfig::default()).unwrap();
    let source = VideoSource::new(&fa).unwrap();
    let video = pc.add_video_track(&source, "v", "s").unwrap();
    let audio = pc.add_audio_track("a", "s").unwrap();
    let (dc, _dc_events) = pc.create_data_channel("d", None).unwrap();
    drop(fa);
    let offer = pc.create_offer().unwrap();
    assert_eq!(offer.kind, SdpType::Offer);
    assert!(offer.sdp.contains("m=audio") && offer.sdp.contains("m=video"));
    // Peer before its tracks and channel, source before its track.
    drop(pc);
    drop(source);
    drop((video, audio, dc));
}

#[test]
fn closing_mid_negotiation_completes_pending_work_with_closed() {
    let (fa, fb) = (factory(), factory());
    let call = Loopback::new(&fa, &fb).unwrap();
    let (_dc, _dc_events) = call.caller.pc.create_data_channel("x", None).unwrap();
    let offer = call.caller.pc.create_offer().unwrap();
    call.caller.pc.set_local_description(&offer).unwrap();
    call.caller.pc.close();
    call.caller.pc.close(); // idempotent
    let err = call.caller.pc.create_offer().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Closed), "{err}");
    // Stats of a closed peer: an answer either way, never a hang or a crash.
    let _ = call.caller.pc.stats();
    // The callee can still take the offer; its answer has nowhere to go.
    call.callee.pc.set_remote_description(&offer).unwrap();
    let _ = call.callee.pc.create_answer().unwrap();
    call.shutdown();

    // A completion in flight when the peer is dropped still runs, exactly once.
    let (pc, _events) = PeerConnection::new(&fa, &PeerConnectionConfig::default()).unwrap();
    let _dc = pc.create_data_channel("y", None).unwrap();
    let (tx, rx) = channel();
    for _ in 0..3 {
        let tx = tx.clone();
        pc.create_offer_with(move |r| tx.send(r.map(|d| d.kind)).unwrap());
    }
    drop(tx);
    drop(pc);
    let results: Vec<_> = rx.iter().collect();
    assert_eq!(results.len(), 3, "{results:?}");
    for r in results {
        match r {
            Ok(kind) => assert_eq!(kind, SdpType::Offer),
            Err(e) => assert_eq!(e.code(), Some(ErrorCode::Closed), "{e}"),
        }
    }
}

#[test]
fn bad_input_is_an_error_not_a_crash() {
    let fa = factory();
    let (pc, _events) = PeerConnection::new(&fa, &PeerConnectionConfig::default()).unwrap();
    let garbage = SessionDescription {
        kind: SdpType::Offer,
        sdp: "v=0 this is not sdp".into(),
    };
    let err = pc.set_remote_description(&garbage).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Parse), "{err}");
    // An answer without an offer is a state error.
    let err = pc
        .set_remote_description(&SessionDescription {
            kind: SdpType::Answer,
            sdp: String::new(),
        })
        .unwrap_err();
    assert!(err.code().is_some(), "{err}");
    assert!(fa.push_audio(&[0; 480]).is_ok());
    let stereo = Factory::new(FactoryConfig {
        sample_rate: 48_000,
        channels: 2,
        ..FactoryConfig::default()
    })
    .unwrap();
    assert!(stereo.push_audio(&[0; 3]).is_err());
    assert!(Factory::new(FactoryConfig {
        sample_rate: 48_000,
        channels: 3,
        ..FactoryConfig::default()
    })
    .is_err());
    let source = VideoSource::new(&fa).unwrap();
    let mut frame = mobilertc::I420Frame::new(64, 48);
    frame.y.truncate(10);
    assert!(source.push_i420(&frame).is_err());
}

#[test]
fn remote_tracks_and_channels_outlive_their_peer() {
    let (fa, fb) = (factory(), factory());
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let _audio = call.caller.pc.add_audio_track("a", "s").unwrap();
    let (_a, _a_events) = call.caller.pc.create_data_channel("d", None).unwrap();
    call.connect(TIMEOUT).unwrap();
    let track = call.callee.wait_track(TrackKind::Audio, TIMEOUT).unwrap();
    let pcm = track.audio_frames().unwrap();
    let (b, b_events) = call.callee.wait_data_channel(TIMEOUT).unwrap();
    wait_open(&b, &b_events, TIMEOUT).unwrap();
    assert!(pcm.recv_timeout(TIMEOUT).is_ok());
    call.shutdown();
    // The handles stay valid (and safe to use) after the peers are gone.
    assert!(b.send_text("into the void").is_err());
    track.clear_sink();
    // What was queued stays readable; then the receiver reports the sink gone.
    while pcm.try_recv().is_ok() {}
    assert_eq!(
        pcm.recv_timeout(Duration::from_millis(100)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    );
    drop((track, b));
}

#[test]
fn ice_configuration_reaches_libwebrtc() {
    use mobilertc::{IceGatheringState, IceServer, IceTransportPolicy, PeerEvent};

    let fa = factory();
    // Gathers candidates of `config` until gathering completes or `enough` arrived.
    let gather = |config: &PeerConnectionConfig, enough: usize| {
        let (pc, events) = PeerConnection::new(&fa, config).unwrap();
        let _dc = pc.create_data_channel("g", None).unwrap();
        let offer = pc.create_offer().unwrap();
        pc.set_local_description(&offer).unwrap();
        let mut candidates = Vec::new();
        while candidates.len() < enough {
            match events.recv_timeout(TIMEOUT).expect("gathering stalled") {
                PeerEvent::IceCandidate(c) => candidates.push(c.candidate),
                PeerEvent::IceGatheringState(IceGatheringState::Complete) => break,
                _ => {}
            }
        }
        candidates
    };

    // Relay only, and no TURN server: nothing may be gathered (host candidates filtered).
    let relay_only = PeerConnectionConfig {
        ice_servers: vec![],
        ice_transport_policy: IceTransportPolicy::Relay,
    };
    assert_eq!(gather(&relay_only, usize::MAX), Vec::<String>::new());

    // STUN and TURN with credentials are accepted; host candidates still come first.
    let with_servers = PeerConnectionConfig {
        ice_servers: vec![
            IceServer::stun("stun:127.0.0.1:9"),
            IceServer {
                urls: vec!["turn:127.0.0.1:9?transport=udp".into()],
                username: "user".into(),
                credential: "secret".into(),
            },
        ],
        ice_transport_policy: IceTransportPolicy::All,
    };
    let candidates = gather(&with_servers, 1);
    assert!(candidates[0].contains(" typ host"), "{candidates:?}");

    // A URL libwebrtc cannot parse is refused at creation.
    let bad = PeerConnectionConfig {
        ice_servers: vec![IceServer::stun("nonsense")],
        ..PeerConnectionConfig::default()
    };
    let err = PeerConnection::new(&fa, &bad).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidArgument), "{err}");
}
