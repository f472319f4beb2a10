//! Proves link + runtime with the raw bindings: a factory, a peer, an offer, teardown.
//! The full in-process call tests live in the safe crate (`mobilertc`).

use std::ffi::c_void;
use std::ptr;
use std::sync::mpsc;
use std::time::Duration;

use webrtc_sys::*;

fn s(text: &str) -> mrtc_str {
    mrtc_str::from_str(text)
}

unsafe fn text(s: mrtc_str) -> String {
    s.to_string_lossy()
}

type SdpResult = (mrtc_status, mrtc_sdp_type, String);

unsafe extern "C" fn on_sdp(
    user_data: *mut c_void,
    status: mrtc_status,
    kind: mrtc_sdp_type,
    sdp: mrtc_str,
    error: mrtc_str,
) {
    let tx = Box::from_raw(user_data.cast::<mpsc::Sender<SdpResult>>());
    let body = if status == MRTC_OK {
        text(sdp)
    } else {
        text(error)
    };
    let _ = tx.send((status, kind, body));
}

unsafe extern "C" fn on_event(_user_data: *mut c_void, _event: *const mrtc_peer_event) {}

#[test]
fn factory_peer_offer_destroy() {
    unsafe {
        assert!(mrtc_webrtc_milestone() >= 100);
        let config = mrtc_factory_config {
            audio_sample_rate: 48_000,
            audio_channels: 1,
            raw_audio: 0,
        };
        let mut factory = ptr::null_mut();
        assert_eq!(mrtc_factory_create(&config, &mut factory), MRTC_OK);
        assert!(!factory.is_null());

        let mut peer = ptr::null_mut();
        let peer_config = mrtc_peer_config::default();
        let status = mrtc_peer_create(
            factory,
            &peer_config,
            Some(on_event),
            ptr::null_mut(),
            &mut peer,
        );
        assert_eq!(status, MRTC_OK);

        let mut dc = ptr::null_mut();
        let status = mrtc_peer_create_data_channel(
            peer,
            s("chat"),
            ptr::null(),
            None,
            ptr::null_mut(),
            &mut dc,
        );
        assert_eq!(status, MRTC_OK);
        assert_eq!(text(mrtc_data_channel_label(dc)), "chat");

        let (tx, rx) = mpsc::channel::<SdpResult>();
        let user_data = Box::into_raw(Box::new(tx)).cast();
        assert_eq!(
            mrtc_peer_create_offer(peer, Some(on_sdp), user_data),
            MRTC_OK
        );
        let (status, kind, sdp) = rx.recv_timeout(Duration::from_secs(10)).expect("offer");
        assert_eq!(status, MRTC_OK, "{sdp}");
        assert_eq!(kind, MRTC_SDP_OFFER);
        assert!(sdp.starts_with("v=0"), "{sdp}");
        assert!(sdp.contains("m=application"), "{sdp}");

        // A pending completion is answered with CLOSED by destroy, before it returns.
        let (tx, rx) = mpsc::channel::<SdpResult>();
        let user_data = Box::into_raw(Box::new(tx)).cast();
        assert_eq!(
            mrtc_peer_create_offer(peer, Some(on_sdp), user_data),
            MRTC_OK
        );
        mrtc_data_channel_destroy(dc);
        mrtc_peer_destroy(peer);
        let (status, _, _) = rx
            .try_recv()
            .expect("completion ran before destroy returned");
        assert!(status == MRTC_OK || status == MRTC_ERR_CLOSED, "{status}");

        mrtc_factory_destroy(factory);
    }
}

#[test]
fn bad_arguments_are_rejected_not_crashed() {
    unsafe {
        assert_eq!(
            mrtc_factory_create(ptr::null(), ptr::null_mut()),
            MRTC_ERR_INVALID_ARGUMENT
        );
        mrtc_peer_destroy(ptr::null_mut());
        mrtc_factory_destroy(ptr::null_mut());
        assert_eq!(
            mrtc_peer_connection_state_get(ptr::null_mut()),
            MRTC_PEER_CONNECTION_CLOSED
        );
    }
}
