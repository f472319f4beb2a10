//! The stats report → the summary and the live status; why a call did not connect.

use std::sync::Arc;

use mobilertc::{PeerConnection, TrackKind};

use super::runner::{Flow, Runner};
use crate::summary::PairInfo;

impl Runner {
    pub(super) fn connect_failure(&self, flow: &Flow) -> String {
        format!(
            "not connected within {} s: {}",
            self.config.connect_timeout.as_secs(),
            self.diagnosis(flow)
        )
    }

    /// Why no candidate pair worked, as far as we can tell.
    pub(super) fn diagnosis(&self, flow: &Flow) -> String {
        let types: Vec<&str> = flow.local_types.iter().map(String::as_str).collect();
        let mut why = format!(
            "no ICE candidate pair worked (local candidates gathered: {})",
            if types.is_empty() {
                "none".into()
            } else {
                types.join(", ")
            }
        );
        let has_turn = self
            .config
            .ice_servers
            .iter()
            .any(|s| s.urls.iter().any(|u| u.starts_with("turn")));
        if has_turn && !flow.local_types.contains("relay") {
            why.push_str(
                "; no relay candidate: the TURN server refused or did not answer the allocation \
                 (check the --turn URL, user and password)",
            );
        } else if self.config.relay_only && !has_turn {
            why.push_str("; --relay-only needs a --turn server");
        } else if self.summary.timings_ms.answer_received.is_none()
            && self.summary.timings_ms.answer_sent.is_none()
        {
            why.push_str("; the offer/answer exchange did not complete");
        }
        why
    }

    pub(super) fn refresh_stats(&mut self, pc: Arc<PeerConnection>) {
        let Ok(stats) = pc.stats() else { return };
        let mut pair_info = None;
        if let Some(pair) = &stats.selected_pair {
            let t = |c: &mobilertc::Candidate| {
                c.candidate_type
                    .map_or("unknown", |t| t.as_str())
                    .to_owned()
            };
            let info = PairInfo {
                local_type: t(&pair.local),
                remote_type: t(&pair.remote),
                local_address: format!("{}:{}", pair.local.address, pair.local.port),
                remote_address: format!("{}:{}", pair.remote.address, pair.remote.port),
                protocol: pair.local.protocol.clone(),
                relay_protocol: pair.local.relay_protocol.clone(),
            };
            self.summary.connection = Some(info.kind().into());
            self.summary.selected_pair = Some(info.clone());
            pair_info = Some(info);
            if let Some(rtt) = pair.current_round_trip_time {
                self.summary.rtt_ms = Some(rtt * 1000.0);
            }
        }
        let a = &mut self.summary.audio;
        let v = &mut self.summary.video;
        for o in &stats.outbound_rtp {
            match o.kind {
                Some(TrackKind::Audio) => {
                    a.sent_bytes = o.bytes_sent;
                    a.sent_packets = o.packets_sent;
                }
                Some(TrackKind::Video) => v.sent_bytes = o.bytes_sent,
                None => {}
            }
        }
        for i in &stats.inbound_rtp {
            match i.kind {
                Some(TrackKind::Audio) => {
                    a.received_bytes = i.bytes_received;
                    a.received_packets = i.packets_received;
                    a.received_level = i.audio_level.or(a.received_level);
                }
                Some(TrackKind::Video) => v.received_bytes = i.bytes_received,
                None => {}
            }
        }
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if pair_info.is_some() {
            s.pair = pair_info;
        }
        s.rtt_ms = self.summary.rtt_ms;
        s.audio_sent_bytes = self.summary.audio.sent_bytes;
        s.audio_received_bytes = self.summary.audio.received_bytes;
    }
}
