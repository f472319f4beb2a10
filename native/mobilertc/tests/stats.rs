//! The stats parser against real reports captured from this libwebrtc (tg_owt, M110) by
//! tests/call.rs (`MOBILERTC_CAPTURE_STATS=$PWD/tests/fixtures cargo test --test call`).

use mobilertc::{CandidateType, Stats, TrackKind};

fn fixture(name: &str) -> Stats {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let json = std::fs::read_to_string(&path).unwrap();
    Stats::from_json(&json).unwrap()
}

#[test]
fn data_channel_report_selects_the_transports_pair() {
    let stats = fixture("stats-data-channel");
    // Two host pairs exist (IPv4 and IPv6); the transport names the IPv6 one, which is
    // also the only nominated one.
    let pair = stats.selected_pair.expect("selected pair");
    assert_eq!(pair.local.candidate_type, Some(CandidateType::Host));
    assert_eq!(pair.remote.candidate_type, Some(CandidateType::Host));
    assert_eq!(pair.local.address, "fd00::2");
    assert_eq!(pair.local.port, 48638);
    assert_eq!(pair.remote.port, 59063);
    assert_eq!(pair.local.protocol, "udp");
    assert_eq!(pair.state, "succeeded");
    assert!(pair.nominated);
    assert_eq!(pair.bytes_sent, 1638);
    assert_eq!(pair.bytes_received, 1098);
    assert_eq!(pair.current_round_trip_time, Some(0.003));
    assert!(stats.inbound_rtp.is_empty() && stats.outbound_rtp.is_empty());
    assert_eq!(stats.data_channels.len(), 1);
    let dc = &stats.data_channels[0];
    assert_eq!(
        (
            dc.label.as_str(),
            dc.state.as_str(),
            dc.messages_sent,
            dc.bytes_sent
        ),
        ("stats", "open", 1, 4)
    );
}

/// The data channel fixture with its transport's `selectedCandidatePairId` replaced.
fn with_selected_id(id: Option<&str>) -> Stats {
    let path = format!(
        "{}/tests/fixtures/stats-data-channel.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let json = std::fs::read_to_string(path).unwrap();
    let mut report: serde_json::Value = serde_json::from_str(&json).unwrap();
    for stat in report.as_array_mut().unwrap() {
        if stat["type"] == "transport" {
            let stat = stat.as_object_mut().unwrap();
            match id {
                Some(id) => stat.insert("selectedCandidatePairId".into(), id.into()),
                None => stat.remove("selectedCandidatePairId"),
            };
        }
    }
    Stats::from_json(&report.to_string()).unwrap()
}

#[test]
fn without_selected_pair_id_the_nominated_succeeded_pair_is_used() {
    assert_eq!(
        with_selected_id(None).selected_pair.unwrap().local.port,
        48638
    );
}

#[test]
fn the_transports_choice_wins_over_nomination() {
    // Point the transport at the other (waiting, not nominated) IPv4 pair.
    let pair = with_selected_id(Some("CPptGXt4bx_TxKmf5R2"))
        .selected_pair
        .unwrap();
    assert_eq!(
        (pair.local.address.as_str(), pair.local.port),
        ("192.0.2.2", 33552)
    );
    assert_eq!(pair.state, "waiting");
    assert!(!pair.nominated);
}

#[test]
fn audio_reports_carry_levels_on_both_ends() {
    let caller = fixture("stats-audio-caller");
    let out = &caller.outbound_rtp[0];
    assert_eq!(out.kind, Some(TrackKind::Audio));
    assert_eq!((out.packets_sent, out.bytes_sent), (81, 9330));
    // From the media-source stats the outbound stream points at.
    assert!((out.audio_level.unwrap() - 0.165).abs() < 0.001, "{out:?}");
    assert_eq!(out.frames_encoded, None);

    let callee = fixture("stats-audio-callee");
    let inb = &callee.inbound_rtp[0];
    assert_eq!(inb.kind, Some(TrackKind::Audio));
    assert_eq!(inb.packets_received, 81);
    assert!((inb.audio_level.unwrap() - 0.307).abs() < 0.001, "{inb:?}");
    assert_eq!(
        callee.selected_pair.unwrap().local.candidate_type,
        Some(CandidateType::Host)
    );
}

#[test]
fn video_report_has_decoded_frame_size() {
    let stats = fixture("stats-video-callee");
    let video = &stats.inbound_rtp[0];
    assert_eq!(video.kind, Some(TrackKind::Video));
    assert_eq!(
        (video.frame_width, video.frame_height),
        (Some(320), Some(240))
    );
    assert_eq!(video.frames_decoded, Some(1));
    assert_eq!(video.ssrc, 3_862_331_427);
    assert_eq!(video.packets_lost, 0);
}
