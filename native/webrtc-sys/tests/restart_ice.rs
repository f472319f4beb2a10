//! `mrtc_peer_restart_ice` with the raw bindings on the host's libwebrtc: after an
//! offer/answer, a restart fires renegotiation-needed and the next offer carries new ICE
//! credentials (what lets a call survive a Wi-Fi <-> cellular switch); null and closed
//! peers are refused.

use std::ffi::c_void;
use std::ptr;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

use webrtc_sys::*;

type SdpResult = (mrtc_status, mrtc_sdp_type, String);

unsafe extern "C" fn on_sdp(
    user_data: *mut c_void,
    status: mrtc_status,
    kind: mrtc_sdp_type,
    sdp: mrtc_str,
    error: mrtc_str,
) {
    let tx = Box::from_raw(user_data.cast::<Sender<SdpResult>>());
    let body = if status == MRTC_OK { sdp } else { error };
    let _ = tx.send((status, kind, body.to_string_lossy()));
}

unsafe extern "C" fn on_done(user_data: *mut c_void, status: mrtc_status, error: mrtc_str) {
    let tx = Box::from_raw(user_data.cast::<Sender<(mrtc_status, String)>>());
    let _ = tx.send((status, error.to_string_lossy()));
}

/// Forwards each event's kind.
unsafe extern "C" fn on_event(user_data: *mut c_void, event: *const mrtc_peer_event) {
    let tx = &*user_data.cast::<Sender<mrtc_peer_event_kind>>();
    let _ = tx.send((*event).kind);
}

unsafe fn offer_or_answer(peer: *mut mrtc_peer, offer: bool) -> String {
    let (tx, rx) = channel::<SdpResult>();
    let ud = Box::into_raw(Box::new(tx)).cast();
    let status = if offer {
        mrtc_peer_create_offer(peer, Some(on_sdp), ud)
    } else {
        mrtc_peer_create_answer(peer, Some(on_sdp), ud)
    };
    assert_eq!(status, MRTC_OK);
    let (status, _, sdp) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(status, MRTC_OK, "{sdp}");
    sdp
}

unsafe fn set(peer: *mut mrtc_peer, local: bool, kind: mrtc_sdp_type, sdp: &str) {
    let (tx, rx) = channel::<(mrtc_status, String)>();
    let ud = Box::into_raw(Box::new(tx)).cast();
    let s = mrtc_str::from_str(sdp);
    let status = if local {
        mrtc_peer_set_local_description(peer, kind, s, Some(on_done), ud)
    } else {
        mrtc_peer_set_remote_description(peer, kind, s, Some(on_done), ud)
    };
    assert_eq!(status, MRTC_OK);
    let (status, err) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(status, MRTC_OK, "{err}");
}

fn ufrag(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .expect("an ice-ufrag line")
        .trim()
        .to_owned()
}

unsafe fn peer(
    factory: *mut mrtc_factory,
    events: &Sender<mrtc_peer_event_kind>,
) -> *mut mrtc_peer {
    let mut p = ptr::null_mut();
    let ud = (events as *const Sender<mrtc_peer_event_kind>)
        .cast_mut()
        .cast();
    let config = mrtc_peer_config::default();
    assert_eq!(
        mrtc_peer_create(factory, &config, Some(on_event), ud, &mut p),
        MRTC_OK
    );
    p
}

fn wait_for(rx: &Receiver<mrtc_peer_event_kind>, kind: mrtc_peer_event_kind) -> bool {
    while let Ok(k) = rx.recv_timeout(Duration::from_secs(10)) {
        if k == kind {
            return true;
        }
    }
    false
}

#[test]
fn restart_ice_renegotiates_with_new_credentials() {
    unsafe {
        assert_eq!(
            mrtc_peer_restart_ice(ptr::null_mut()),
            MRTC_ERR_INVALID_ARGUMENT
        );
        let config = mrtc_factory_config {
            audio_sample_rate: 48_000,
            audio_channels: 1,
            raw_audio: 0,
        };
        let mut factory = ptr::null_mut();
        assert_eq!(mrtc_factory_create(&config, &mut factory), MRTC_OK);
        let (a_tx, a_rx) = channel();
        let (b_tx, _b_rx) = channel();
        let a = peer(factory, &a_tx);
        let b = peer(factory, &b_tx);
        let mut dc = ptr::null_mut();
        let label = mrtc_str::from_str("chat");
        assert_eq!(
            mrtc_peer_create_data_channel(a, label, ptr::null(), None, ptr::null_mut(), &mut dc),
            MRTC_OK
        );

        let offer = offer_or_answer(a, true);
        set(a, true, MRTC_SDP_OFFER, &offer);
        set(b, false, MRTC_SDP_OFFER, &offer);
        let answer = offer_or_answer(b, false);
        set(b, true, MRTC_SDP_ANSWER, &answer);
        set(a, false, MRTC_SDP_ANSWER, &answer);
        assert_eq!(mrtc_peer_signaling_state(a), MRTC_SIGNALING_STABLE);
        // Without a restart the next offer keeps the credentials.
        assert_eq!(ufrag(&offer_or_answer(a, true)), ufrag(&offer));
        while a_rx.try_recv().is_ok() {}

        assert_eq!(mrtc_peer_restart_ice(a), MRTC_OK);
        assert!(
            wait_for(&a_rx, MRTC_EVENT_RENEGOTIATION_NEEDED),
            "no renegotiation-needed after the restart"
        );
        let restarted = offer_or_answer(a, true);
        assert_ne!(ufrag(&restarted), ufrag(&offer), "{restarted}");

        mrtc_peer_close(a);
        assert_eq!(mrtc_peer_restart_ice(a), MRTC_ERR_CLOSED);
        mrtc_data_channel_destroy(dc);
        mrtc_peer_destroy(a);
        mrtc_peer_destroy(b);
        mrtc_factory_destroy(factory);
    }
}
