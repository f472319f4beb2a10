//! The audio codecs every factory offers, whatever the libwebrtc build's "builtin" set:
//! Opus first, so calls (with each other and with browsers) negotiate it.

use mobilertc::{Factory, FactoryConfig, PeerConnection, PeerConnectionConfig};

#[test]
fn opus_is_offered_first() {
    let factory = Factory::new(FactoryConfig::default()).unwrap();
    let (pc, _events) = PeerConnection::new(&factory, &PeerConnectionConfig::default()).unwrap();
    let _track = pc.add_audio_track("audio", "stream").unwrap();
    let offer = pc.create_offer().unwrap();
    let m = offer
        .sdp
        .lines()
        .find(|l| l.starts_with("m=audio"))
        .expect("an audio section");
    let first_pt = m.split_whitespace().nth(3).expect("a payload type");
    let first = format!("a=rtpmap:{first_pt} ");
    let rtpmap = offer
        .sdp
        .lines()
        .find(|l| l.starts_with(&first))
        .expect("an rtpmap for the first payload type");
    assert!(rtpmap.ends_with("opus/48000/2"), "{m}\n{rtpmap}");
    for fallback in ["G722/8000", "PCMU/8000", "PCMA/8000"] {
        assert!(
            offer.sdp.contains(fallback),
            "{fallback} missing:\n{}",
            offer.sdp
        );
    }
}
