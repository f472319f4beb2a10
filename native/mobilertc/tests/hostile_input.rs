//! An independent set of hostile-input reproducers (issue 16), apart from tests/hostile.rs:
//! bytes the safe API cannot produce go through the raw C API (`webrtc_sys`), the rest
//! through the safe one. Every case must end in an error or a working call, never an
//! abort, a hang or (under the sanitizer runs) a memory error or data race.
//!
//! Waits are generous (`TIMEOUT`); nothing asserts on timing.

// bindgen gives C enums whatever integer type the platform's C compiler uses; the casts
// to u32 keep this file independent of that (as `raw!` does in the crate).
#![allow(clippy::unnecessary_cast)]

use std::ffi::c_void;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use mobilertc::testing::{pattern_frame, wait_dc_event, wait_open, Loopback, TIMEOUT};
use mobilertc::{
    DataChannelEvent, DataChannelInit, ErrorCode, Factory, FactoryConfig, I420Frame, IceCandidate,
    Message, PeerConnection, PeerConnectionConfig, PeerEvent, TrackKind, VideoSource,
};
use webrtc_sys as sys;

fn factory() -> Factory {
    Factory::new(FactoryConfig::default()).unwrap()
}

/// A valid offer with a data channel, audio and video sections (from a throwaway peer).
fn valid_offer() -> String {
    let f = factory();
    let (pc, _events) = PeerConnection::new(&f, &PeerConnectionConfig::default()).unwrap();
    let _dc = pc.create_data_channel("x", None).unwrap();
    let _audio = pc.add_audio_track("a", "s").unwrap();
    let source = VideoSource::new(&f).unwrap();
    let _video = pc.add_video_track(&source, "v", "s").unwrap();
    pc.create_offer().unwrap().sdp
}

// ------------------------------------------------------------------ the raw C API

/// A factory and peer made through the C API, destroyed in order on drop.
struct RawPeer {
    factory: *mut sys::mrtc_factory,
    peer: *mut sys::mrtc_peer,
}

unsafe extern "C" fn ignore_peer_event(_: *mut c_void, event: *const sys::mrtc_peer_event) {
    // Ownership of remote channels and tracks passes to us: release them.
    let event = &*event;
    if !event.data_channel.is_null() {
        sys::mrtc_data_channel_destroy(event.data_channel);
    }
    if !event.track.is_null() {
        sys::mrtc_remote_track_destroy(event.track);
    }
}

/// The completion's user_data is a leaked `SyncSender<u32>`, reclaimed here exactly once.
unsafe extern "C" fn done(user_data: *mut c_void, status: sys::mrtc_status, _: sys::mrtc_str) {
    let tx = Box::from_raw(user_data.cast::<SyncSender<u32>>());
    let _ = tx.send(status as u32);
}

impl RawPeer {
    fn new() -> RawPeer {
        let config = sys::mrtc_factory_config {
            audio_sample_rate: 48_000,
            audio_channels: 1,
            raw_audio: 0,
        };
        let mut factory = std::ptr::null_mut();
        let mut peer = std::ptr::null_mut();
        // SAFETY: valid pointers for the calls.
        unsafe {
            assert_eq!(sys::mrtc_factory_create(&config, &mut factory) as u32, 0);
            let pc_config = sys::mrtc_peer_config {
                ice_servers: std::ptr::null(),
                ice_server_count: 0,
                ice_transport_policy: sys::MRTC_ICE_TRANSPORT_ALL,
            };
            assert_eq!(
                sys::mrtc_peer_create(
                    factory,
                    &pc_config,
                    Some(ignore_peer_event),
                    std::ptr::null_mut(),
                    &mut peer
                ) as u32,
                0
            );
        }
        RawPeer { factory, peer }
    }

    /// `mrtc_peer_set_remote_description` with arbitrary bytes; the completion's status,
    /// or the refusal's.
    fn set_remote(&self, kind: u32, ptr: *const u8, len: usize) -> u32 {
        let (tx, rx) = sync_channel::<u32>(1);
        let ud = Box::into_raw(Box::new(tx));
        let sdp = sys::mrtc_str {
            ptr: ptr.cast(),
            len,
        };
        // SAFETY: live peer; `ptr` is valid for `len` bytes or null (the shim must refuse
        // null with a length); ud is reclaimed by `done` or below.
        let status = unsafe {
            sys::mrtc_peer_set_remote_description(
                self.peer,
                kind as sys::mrtc_sdp_type,
                sdp,
                Some(done),
                ud.cast(),
            )
        } as u32;
        if status != 0 {
            // Refused: the shim keeps nothing and calls nothing.
            drop(unsafe { Box::from_raw(ud) });
            return status;
        }
        rx.recv_timeout(TIMEOUT)
            .expect("an accepted set_remote_description never completed")
    }

    fn add_candidate(&self, mid: &[u8], index: i32, candidate: &[u8]) -> u32 {
        let (tx, rx) = sync_channel::<u32>(1);
        let ud = Box::into_raw(Box::new(tx));
        let s = |b: &[u8]| sys::mrtc_str {
            ptr: b.as_ptr().cast(),
            len: b.len(),
        };
        // SAFETY: as in set_remote.
        let status = unsafe {
            sys::mrtc_peer_add_ice_candidate(
                self.peer,
                s(mid),
                index,
                s(candidate),
                Some(done),
                ud.cast(),
            )
        } as u32;
        if status != 0 {
            drop(unsafe { Box::from_raw(ud) });
            return status;
        }
        rx.recv_timeout(TIMEOUT)
            .expect("an accepted add_ice_candidate never completed")
    }
}

// SAFETY: the shim's factory and peer are thread-safe (mrtc.h's threading contract).
unsafe impl Send for RawPeer {}
unsafe impl Sync for RawPeer {}

impl Drop for RawPeer {
    fn drop(&mut self) {
        // SAFETY: owned; the peer before its factory.
        unsafe {
            sys::mrtc_peer_destroy(self.peer);
            sys::mrtc_factory_destroy(self.factory);
        }
    }
}

const OK: u32 = sys::MRTC_OK as u32;
const INVALID: u32 = sys::MRTC_ERR_INVALID_ARGUMENT as u32;
const OFFER: u32 = sys::MRTC_SDP_OFFER as u32;

/// SDP bytes no `&str` can hold (invalid UTF-8), NULs, a multi-megabyte line, a flood of
/// lines, a null pointer with a length and an out-of-range type: each is refused or
/// fails, and the peer then still accepts a valid offer.
#[test]
fn raw_sdp_with_nuls_invalid_utf8_and_huge_lines() {
    let offer = valid_offer();
    let raw = RawPeer::new();
    let with = |at: &str, insert: &[u8]| {
        let i = offer.find(at).expect("marker in the offer");
        let mut bytes = offer.as_bytes()[..i].to_vec();
        bytes.extend_from_slice(insert);
        bytes.extend_from_slice(&offer.as_bytes()[i..]);
        bytes
    };
    let mut huge_line = b"a=x-junk:".to_vec();
    huge_line.extend(std::iter::repeat_n(b'z', 4 << 20));
    huge_line.extend_from_slice(b"\r\n");
    let flood: Vec<u8> = b"a=x-flood:1\r\n".repeat(100_000);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("NUL line", with("a=mid:", b"\0\0\0\r\n")),
        (
            "invalid UTF-8 attribute",
            with("a=mid:", b"a=x-bytes:\xff\xfe\xc0\x80\r\n"),
        ),
        ("invalid UTF-8 mid", with("a=mid:", b"a=mid:\xff\r\n")),
        ("a 4 MiB line", with("a=mid:", &huge_line)),
        ("100,000 lines", with("a=mid:", &flood)),
        ("only NULs", vec![0; 64 << 10]),
        ("only invalid UTF-8", vec![0xff; 64 << 10]),
        ("empty", Vec::new()),
        ("truncated", offer.as_bytes()[..offer.len() / 2].to_vec()),
    ];
    for (what, bytes) in &cases {
        let status = raw.set_remote(OFFER, bytes.as_ptr(), bytes.len());
        // A line the parser skips may still leave a valid offer; anything else is an
        // error. Either way the call returned and completed.
        eprintln!("{what}: status {status}");
    }
    assert_eq!(
        raw.set_remote(OFFER, std::ptr::null(), 10),
        INVALID,
        "null with a length"
    );
    assert_eq!(
        raw.set_remote(77, offer.as_ptr(), offer.len()),
        INVALID,
        "sdp type 77"
    );
    // The peer is intact: a clean offer applies.
    assert_eq!(raw.set_remote(OFFER, offer.as_ptr(), offer.len()), OK);

    // A NUL inside the ICE ufrag parses but fails to apply; libwebrtc then keeps the
    // session in its error state (every later description fails too: a new peer is
    // needed). Only required here: the calls return and complete.
    let poisoned = RawPeer::new();
    let bad = with("a=mid:", b"a=ice-ufrag:ab\0cd\r\n");
    assert_ne!(
        poisoned.set_remote(OFFER, bad.as_ptr(), bad.len()),
        OK,
        "NUL in ufrag"
    );
    let after = poisoned.set_remote(OFFER, offer.as_ptr(), offer.len());
    eprintln!("clean offer after a failed apply: status {after}");
}

/// ICE candidates with absurd fields, through the raw API (non-UTF-8 bytes) before and
/// after the remote description: each completes (error or not), nothing aborts.
#[test]
fn raw_ice_candidates_with_absurd_fields() {
    let offer = valid_offer();
    let raw = RawPeer::new();
    let mut huge = b"candidate:".to_vec();
    huge.extend(std::iter::repeat_n(b'9', 1 << 20));
    huge.extend_from_slice(b" 1 udp 1 127.0.0.1 9 typ host");
    let candidates: Vec<(&[u8], i32, Vec<u8>)> = vec![
        (
            b"0",
            0,
            b"candidate:1 1 udp 2122260223 127.0.0.1 99999 typ host".to_vec(),
        ),
        (
            b"0",
            0,
            b"candidate:1 0 udp 99999999999999999999 999.1.1.1 1 typ host".to_vec(),
        ),
        (
            b"0",
            0,
            b"candidate:1 1 udp 1 ::ffff:zz 1 typ host".to_vec(),
        ),
        (
            b"0",
            0,
            b"candidate:\xff\xfe 1 udp 1 127.0.0.1 9 typ host".to_vec(),
        ),
        (
            b"0",
            0,
            b"candidate:1 1 udp 1 host\0name.local 9 typ host".to_vec(),
        ),
        (
            b"0",
            0,
            b"candidate:1 1 tcp 1 127.0.0.1 9 typ srflx raddr \xff rport -1".to_vec(),
        ),
        (b"0", 0, b"a=".to_vec()),
        (b"0", 0, Vec::new()),
        (b"0", 0, huge),
        (
            b"",
            -1,
            b"candidate:1 1 udp 1 127.0.0.1 9 typ host".to_vec(),
        ),
        (
            b"",
            i32::MAX,
            b"candidate:1 1 udp 1 127.0.0.1 9 typ host".to_vec(),
        ),
        (
            b"no-such-mid",
            i32::MIN,
            b"candidate:1 1 udp 1 127.0.0.1 9 typ host".to_vec(),
        ),
        (
            b"\xff\0",
            0,
            b"candidate:1 1 udp 1 127.0.0.1 9 typ host".to_vec(),
        ),
        (
            &[b'm'; 70_000],
            0,
            b"candidate:1 1 udp 1 127.0.0.1 9 typ host".to_vec(),
        ),
    ];
    // Before the remote description the shim queues what parses; those complete once it
    // is applied, so add them from a thread and apply the offer meanwhile.
    let queued = std::thread::scope(|s| {
        let adder = s.spawn(|| {
            candidates
                .iter()
                .map(|(mid, index, c)| raw.add_candidate(mid, *index, c))
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(raw.set_remote(OFFER, offer.as_ptr(), offer.len()), OK);
        adder.join().unwrap()
    });
    let after: Vec<u32> = candidates
        .iter()
        .map(|(mid, index, c)| raw.add_candidate(mid, *index, c))
        .collect();
    eprintln!("before the offer: {queued:?}\nafter: {after:?}");
    assert_eq!(queued.len(), candidates.len());
}

/// Frames the raw API could pass but the safe one cannot: negative and short strides,
/// null planes, zero and negative sides. All refused.
#[test]
fn raw_video_frames_with_broken_geometry_are_refused() {
    let raw = RawPeer::new();
    let mut source = std::ptr::null_mut();
    // SAFETY: live factory, valid out pointer.
    assert_eq!(
        unsafe { sys::mrtc_video_source_create(raw.factory, &mut source) } as u32,
        OK
    );
    let plane = vec![0u8; 64 * 64];
    let frame = |w: i32, h: i32, sy: i32, su: i32, y_null: bool| sys::mrtc_i420_frame {
        width: w,
        height: h,
        y: if y_null {
            std::ptr::null()
        } else {
            plane.as_ptr()
        },
        stride_y: sy,
        u: plane.as_ptr(),
        stride_u: su,
        v: plane.as_ptr(),
        stride_v: su,
        timestamp_us: 0,
    };
    let cases = [
        ("negative luma stride", frame(8, 8, -8, 4, false)),
        ("negative chroma stride", frame(8, 8, 8, -4, false)),
        ("luma stride below width", frame(8, 8, 7, 4, false)),
        ("chroma stride below width", frame(9, 9, 9, 4, false)),
        ("null plane", frame(8, 8, 8, 4, true)),
        ("zero width", frame(0, 8, 8, 4, false)),
        ("negative height", frame(8, -8, 8, 4, false)),
        (
            "stride x rows over int",
            frame(1, 16384, i32::MAX / 2, 1, false),
        ),
        ("minimum", frame(1, 1, 1, 1, false)),
    ];
    for (what, f) in &cases {
        // SAFETY: live source; the planes hold 4096 bytes, and every accepted geometry
        // here reads fewer.
        let status = unsafe { sys::mrtc_video_source_push_i420(source, f) } as u32;
        let want = if *what == "minimum" { OK } else { INVALID };
        assert_eq!(status, want, "{what}");
    }
    // SAFETY: owned, before the factory (RawPeer's drop).
    unsafe { sys::mrtc_video_source_destroy(source) };
}

// ------------------------------------------------------------------ the safe API

/// Absurd candidates given to a real call before and during negotiation: every
/// completion runs, and the call still connects on its real candidates.
#[test]
fn absurd_candidates_do_not_break_a_call() {
    let (fa, fb) = (factory(), factory());
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let (_dc, dc_events) = call.caller.pc.create_data_channel("c", None).unwrap();
    let absurd = [
        (
            "0",
            0,
            "candidate:1 1 udp 2122260223 127.0.0.1 65536 typ host".to_owned(),
        ),
        (
            "0",
            0,
            "candidate:1 1 udp 1 10.0.0.1 9 typ relay raddr 0.0.0.0 rport 0".to_owned(),
        ),
        (
            "0",
            7,
            "candidate:1 1 udp 1 127.0.0.1 9 typ host".to_owned(),
        ),
        (
            "",
            -5,
            "candidate:1 1 udp 1 127.0.0.1 9 typ host".to_owned(),
        ),
        (
            "0",
            0,
            format!(
                "candidate:{} 1 udp 1 127.0.0.1 9 typ host",
                "f".repeat(100_000)
            ),
        ),
        ("0", 0, "candidate:1 1 udp 1 a\0b 9 typ host".to_owned()),
        (
            "0",
            0,
            "candidate:1 1 udp 1 [::1 9 typ host ufrag \u{202e}x".to_owned(),
        ),
    ];
    let (tx, rx) = sync_channel(absurd.len() * 2);
    let give = |tx: &SyncSender<bool>| {
        for (mid, index, candidate) in &absurd {
            let tx = tx.clone();
            call.callee.pc.add_ice_candidate_with(
                &IceCandidate {
                    sdp_mid: (*mid).into(),
                    sdp_mline_index: *index,
                    candidate: candidate.clone(),
                },
                move |r| {
                    let _ = tx.send(r.is_ok());
                },
            );
        }
    };
    give(&tx); // before any description: queued
    call.negotiate().unwrap();
    give(&tx);
    for _ in 0..absurd.len() * 2 {
        rx.recv_timeout(TIMEOUT).expect("every completion runs");
    }
    call.caller.wait_connected(TIMEOUT).unwrap();
    call.callee.wait_connected(TIMEOUT).unwrap();
    assert!(wait_dc_event(&dc_events, TIMEOUT, |e| *e == DataChannelEvent::Open).is_some());
    call.shutdown();
}

/// Odd and tiny frame sizes, wide strides and a new size every frame into a live video
/// track: the encoder copes (nothing aborts) and normal frames still arrive afterwards.
#[test]
fn odd_frame_sizes_and_strides_into_a_live_track() {
    let (fa, fb) = (factory(), factory());
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let source = VideoSource::new(&fa).unwrap();
    let _track = call.caller.pc.add_video_track(&source, "cam", "s").unwrap();
    call.connect(TIMEOUT).unwrap();
    let remote = call.callee.wait_track(TrackKind::Video, TIMEOUT).unwrap();
    let frames = remote.video_frames().unwrap();
    let sizes = [
        (1, 1),
        (1, 2),
        (2, 1),
        (3, 3),
        (5, 7),
        (17, 1),
        (1, 17),
        (2, 2),
        (641, 3),
    ];
    for round in 0..4 {
        for (w, h) in sizes {
            let mut f = I420Frame::new(w, h);
            if round % 2 == 1 {
                // Wide strides with garbage padding.
                let (sy, sc) = (w + 61, f.chroma_width() + 33);
                f.y = vec![0xee; (sy * h) as usize];
                f.u = vec![0x11; (sc * f.chroma_height()) as usize];
                f.v = f.u.clone();
                f.stride_y = sy;
                f.stride_u = sc;
                f.stride_v = sc;
            }
            source.push_i420(&f).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // Normal frames flow again.
    let deadline = Instant::now() + TIMEOUT;
    let mut n = 0;
    let mut decoded = 0;
    while decoded < 5 {
        assert!(
            Instant::now() < deadline,
            "{decoded}/5 frames after the odd ones"
        );
        source.push_i420(&pattern_frame(64, 48, n)).unwrap();
        n += 1;
        std::thread::sleep(Duration::from_millis(33));
        decoded += frames
            .try_iter()
            .filter(|f| (f.width, f.height) == (64, 48))
            .count();
    }
    drop(remote);
    call.shutdown();
}

/// Empty messages arrive as empty messages, in order; labels and protocols with NULs and
/// the empty label arrive unchanged.
#[test]
fn empty_messages_and_labels_with_nuls() {
    let (fa, fb) = (factory(), factory());
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let labels = ["a\0b", "", "\0"];
    let mut mine = Vec::new();
    for label in labels {
        let init = DataChannelInit {
            protocol: format!("p\0{label}"),
            ..Default::default()
        };
        mine.push(
            call.caller
                .pc
                .create_data_channel(label, Some(&init))
                .unwrap(),
        );
    }
    call.connect(TIMEOUT).unwrap();
    let mut theirs = Vec::new();
    for _ in labels {
        theirs.push(call.callee.wait_data_channel(TIMEOUT).unwrap());
    }
    let mut got: Vec<&str> = theirs.iter().map(|(dc, _)| dc.label()).collect();
    got.sort();
    let mut want = labels.to_vec();
    want.sort();
    assert_eq!(got, want, "labels as the remote sees them");

    let (a, a_events) = &mine[0];
    let (b, b_events) = theirs.iter().find(|(dc, _)| dc.label() == "a\0b").unwrap();
    wait_open(a, a_events, TIMEOUT).unwrap();
    wait_open(b, b_events, TIMEOUT).unwrap();
    a.send_text("").unwrap();
    a.send_binary(&[]).unwrap();
    a.send_text("x").unwrap();
    a.send_binary(&[]).unwrap();
    a.send_text("\0").unwrap();
    let mut got = Vec::new();
    while got.len() < 5 {
        match wait_dc_event(b_events, TIMEOUT, |e| {
            matches!(e, DataChannelEvent::Message(_))
        }) {
            Some(DataChannelEvent::Message(m)) => got.push(m),
            other => panic!("after {got:?}: {other:?}"),
        }
    }
    assert_eq!(
        got,
        [
            Message::Text(String::new()),
            Message::Binary(Vec::new()),
            Message::Text("x".into()),
            Message::Binary(Vec::new()),
            Message::Text("\0".into()),
        ]
    );
    drop((mine, theirs));
    call.shutdown();
}

/// Ids with a NUL are refused like other non-token ids (they would end up in SDP lines).
#[test]
fn track_ids_with_nuls_are_refused() {
    let f = factory();
    let (pc, _events): (PeerConnection, Receiver<PeerEvent>) =
        PeerConnection::new(&f, &PeerConnectionConfig::default()).unwrap();
    for (track, stream) in [("a\0b", "s"), ("a", "s\0"), ("\0", "")] {
        let err = pc.add_audio_track(track, stream).unwrap_err();
        assert_eq!(
            err.code(),
            Some(ErrorCode::InvalidArgument),
            "{track:?}/{stream:?}"
        );
    }
}
