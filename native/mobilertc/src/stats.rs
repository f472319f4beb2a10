//! A typed summary of WebRTC's stats report (RTCStatsReport, as JSON from the shim).
//!
//! Parsing is lenient: fields libwebrtc did not fill are `None`/0, unknown stats types are
//! ignored, numbers may come as JSON numbers or strings (libwebrtc versions differ), so a
//! newer or older libwebrtc degrades the summary instead of failing it.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::media::TrackKind;

/// ICE candidate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandidateType {
    /// A local interface address.
    Host,
    /// Server reflexive: the NAT's public address as seen by STUN.
    Srflx,
    /// Peer reflexive: learnt from a connectivity check.
    Prflx,
    /// A TURN relay address.
    Relay,
}

impl CandidateType {
    /// Parses the W3C name (`host`, `srflx`, `prflx`, `relay`).
    pub fn parse(name: &str) -> Option<CandidateType> {
        Some(match name {
            "host" => CandidateType::Host,
            "srflx" | "serverreflexive" => CandidateType::Srflx,
            "prflx" | "peerreflexive" => CandidateType::Prflx,
            "relay" | "relayed" => CandidateType::Relay,
            _ => return None,
        })
    }

    /// The W3C name.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateType::Host => "host",
            CandidateType::Srflx => "srflx",
            CandidateType::Prflx => "prflx",
            CandidateType::Relay => "relay",
        }
    }
}

/// One side of a candidate pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Host, srflx, prflx or relay (`None`: a type this crate does not know).
    pub candidate_type: Option<CandidateType>,
    /// IP address (may be empty when libwebrtc hides it).
    pub address: String,
    /// Port.
    pub port: u16,
    /// `udp` or `tcp`.
    pub protocol: String,
    /// For relay candidates: the protocol to the TURN server (`udp`, `tcp`, `tls`).
    pub relay_protocol: Option<String>,
}

/// The candidate pair ICE selected.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidatePair {
    /// Our candidate.
    pub local: Candidate,
    /// The remote peer's candidate.
    pub remote: Candidate,
    /// ICE pair state (`succeeded`, …).
    pub state: String,
    /// Whether the pair was nominated.
    pub nominated: bool,
    /// Latest STUN round-trip time in seconds.
    pub current_round_trip_time: Option<f64>,
    /// Sum of all STUN round-trip times in seconds.
    pub total_round_trip_time: Option<f64>,
    /// Payload bytes sent on the pair.
    pub bytes_sent: u64,
    /// Payload bytes received on the pair.
    pub bytes_received: u64,
    /// Bandwidth estimate in bits per second.
    pub available_outgoing_bitrate: Option<f64>,
}

/// Summary of one received RTP stream.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundRtp {
    /// Audio or video.
    pub kind: Option<TrackKind>,
    /// The stream's SSRC.
    pub ssrc: u64,
    /// Packets received.
    pub packets_received: u64,
    /// Packets lost (may be negative with duplicates, as the spec allows).
    pub packets_lost: i64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Video: frames decoded.
    pub frames_decoded: Option<u64>,
    /// Video: width of the last decoded frame.
    pub frame_width: Option<u32>,
    /// Video: height of the last decoded frame.
    pub frame_height: Option<u32>,
    /// Video: decoded frames per second.
    pub frames_per_second: Option<f64>,
    /// Audio: level of the received audio, 0.0 ..= 1.0.
    pub audio_level: Option<f64>,
    /// Interarrival jitter in seconds.
    pub jitter: Option<f64>,
}

/// Summary of one sent RTP stream.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRtp {
    /// Audio or video.
    pub kind: Option<TrackKind>,
    /// The stream's SSRC.
    pub ssrc: u64,
    /// Packets sent.
    pub packets_sent: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Video: frames encoded.
    pub frames_encoded: Option<u64>,
    /// Video: width of the last encoded frame.
    pub frame_width: Option<u32>,
    /// Video: height of the last encoded frame.
    pub frame_height: Option<u32>,
    /// Video: encoded frames per second.
    pub frames_per_second: Option<f64>,
    /// Audio: level of the captured audio (from the stream's media source), 0.0 ..= 1.0.
    pub audio_level: Option<f64>,
}

/// Counters of one data channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannelStats {
    /// The channel's label.
    pub label: String,
    /// Its state (`open`, `closed`, …).
    pub state: String,
    /// Messages sent.
    pub messages_sent: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
}

/// What a peer connection's stats report says, in the shape an app needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// The selected candidate pair: the one the transport names in
    /// `selectedCandidatePairId`, else the nominated succeeded pair.
    pub selected_pair: Option<CandidatePair>,
    /// Received RTP streams.
    pub inbound_rtp: Vec<InboundRtp>,
    /// Sent RTP streams.
    pub outbound_rtp: Vec<OutboundRtp>,
    /// Data channels.
    pub data_channels: Vec<DataChannelStats>,
}

fn num(o: &Map<String, Value>, key: &str) -> Option<f64> {
    match o.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn uint(o: &Map<String, Value>, key: &str) -> u64 {
    num(o, key).map_or(0, |v| v.max(0.0) as u64)
}

fn opt_uint(o: &Map<String, Value>, key: &str) -> Option<u64> {
    num(o, key).map(|v| v.max(0.0) as u64)
}

fn opt_u32(o: &Map<String, Value>, key: &str) -> Option<u32> {
    num(o, key).map(|v| v.clamp(0.0, u32::MAX as f64) as u32)
}

fn text(o: &Map<String, Value>, key: &str) -> Option<String> {
    match o.get(key)? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn kind(o: &Map<String, Value>) -> Option<TrackKind> {
    // `kind` is the spec's name; older libwebrtc also (or only) filled `mediaType`.
    match text(o, "kind").or_else(|| text(o, "mediaType"))?.as_str() {
        "audio" => Some(TrackKind::Audio),
        "video" => Some(TrackKind::Video),
        _ => None,
    }
}

fn candidate(o: &Map<String, Value>) -> Candidate {
    Candidate {
        candidate_type: text(o, "candidateType").and_then(|t| CandidateType::parse(&t)),
        // `address` is the spec's name; M9x and older only have `ip`.
        address: text(o, "address")
            .or_else(|| text(o, "ip"))
            .unwrap_or_default(),
        port: num(o, "port").map_or(0, |p| p as u16),
        protocol: text(o, "protocol").unwrap_or_default(),
        relay_protocol: text(o, "relayProtocol"),
    }
}

impl Stats {
    /// Parses a report as `RTCStatsReport::ToJson` writes it: a JSON array of stats objects
    /// (an object keyed by id, as browsers' `JSON.stringify(Object.fromEntries(report))`
    /// gives, is accepted too; an empty string is an empty report).
    pub fn from_json(json: &str) -> Result<Stats> {
        if json.trim().is_empty() {
            return Ok(Stats::default());
        }
        let value: Value = serde_json::from_str(json)?;
        let objects: Vec<&Map<String, Value>> = match &value {
            Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
            Value::Object(map) => map.values().filter_map(Value::as_object).collect(),
            _ => Vec::new(),
        };
        let by_id: HashMap<&str, &Map<String, Value>> = objects
            .iter()
            .filter_map(|o| Some((o.get("id")?.as_str()?, *o)))
            .collect();
        let of_type = |t: &'static str| {
            objects
                .iter()
                .copied()
                .filter(move |o| o.get("type").and_then(Value::as_str) == Some(t))
        };

        let selected_id = of_type("transport").find_map(|t| text(t, "selectedCandidatePairId"));
        let pair = selected_id
            .as_deref()
            .and_then(|id| by_id.get(id).copied())
            .or_else(|| {
                of_type("candidate-pair").find(|p| {
                    p.get("nominated").and_then(Value::as_bool) == Some(true)
                        && text(p, "state").as_deref() == Some("succeeded")
                })
            });
        let selected_pair = pair.and_then(|p| {
            let local = by_id.get(text(p, "localCandidateId")?.as_str())?;
            let remote = by_id.get(text(p, "remoteCandidateId")?.as_str())?;
            Some(CandidatePair {
                local: candidate(local),
                remote: candidate(remote),
                state: text(p, "state").unwrap_or_default(),
                nominated: p.get("nominated").and_then(Value::as_bool).unwrap_or(false),
                current_round_trip_time: num(p, "currentRoundTripTime"),
                total_round_trip_time: num(p, "totalRoundTripTime"),
                bytes_sent: uint(p, "bytesSent"),
                bytes_received: uint(p, "bytesReceived"),
                available_outgoing_bitrate: num(p, "availableOutgoingBitrate"),
            })
        });

        let inbound_rtp = of_type("inbound-rtp")
            .map(|o| InboundRtp {
                kind: kind(o),
                ssrc: uint(o, "ssrc"),
                packets_received: uint(o, "packetsReceived"),
                packets_lost: num(o, "packetsLost").map_or(0, |v| v as i64),
                bytes_received: uint(o, "bytesReceived"),
                frames_decoded: opt_uint(o, "framesDecoded"),
                frame_width: opt_u32(o, "frameWidth"),
                frame_height: opt_u32(o, "frameHeight"),
                frames_per_second: num(o, "framesPerSecond"),
                audio_level: num(o, "audioLevel"),
                jitter: num(o, "jitter"),
            })
            .collect();

        let outbound_rtp = of_type("outbound-rtp")
            .map(|o| {
                // The captured audio level lives on the stream's media-source stats.
                let source =
                    text(o, "mediaSourceId").and_then(|id| by_id.get(id.as_str()).copied());
                OutboundRtp {
                    kind: kind(o),
                    ssrc: uint(o, "ssrc"),
                    packets_sent: uint(o, "packetsSent"),
                    bytes_sent: uint(o, "bytesSent"),
                    frames_encoded: opt_uint(o, "framesEncoded"),
                    frame_width: opt_u32(o, "frameWidth"),
                    frame_height: opt_u32(o, "frameHeight"),
                    frames_per_second: num(o, "framesPerSecond"),
                    audio_level: source.and_then(|s| num(s, "audioLevel")),
                }
            })
            .collect();

        let data_channels = of_type("data-channel")
            .map(|o| DataChannelStats {
                label: text(o, "label").unwrap_or_default(),
                state: text(o, "state").unwrap_or_default(),
                messages_sent: uint(o, "messagesSent"),
                bytes_sent: uint(o, "bytesSent"),
                messages_received: uint(o, "messagesReceived"),
                bytes_received: uint(o, "bytesReceived"),
            })
            .collect();

        Ok(Stats {
            selected_pair,
            inbound_rtp,
            outbound_rtp,
            data_channels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_report_is_empty_stats() {
        assert_eq!(Stats::from_json("").unwrap(), Stats::default());
        assert_eq!(Stats::from_json("[]").unwrap(), Stats::default());
    }

    #[test]
    fn falls_back_to_nominated_succeeded_pair() {
        let json = r#"[
          {"type":"candidate-pair","id":"P1","localCandidateId":"L","remoteCandidateId":"R",
           "state":"in-progress","nominated":false},
          {"type":"candidate-pair","id":"P2","localCandidateId":"L","remoteCandidateId":"R",
           "state":"succeeded","nominated":true,"currentRoundTripTime":0.002,
           "bytesSent":"1200","bytesReceived":34},
          {"type":"local-candidate","id":"L","candidateType":"relay","ip":"10.0.0.1",
           "port":3478,"protocol":"udp","relayProtocol":"tcp"},
          {"type":"remote-candidate","id":"R","candidateType":"srflx","address":"1.2.3.4",
           "port":5000,"protocol":"udp"}
        ]"#;
        let pair = Stats::from_json(json).unwrap().selected_pair.unwrap();
        assert_eq!(pair.local.candidate_type, Some(CandidateType::Relay));
        assert_eq!(pair.local.address, "10.0.0.1");
        assert_eq!(pair.local.relay_protocol.as_deref(), Some("tcp"));
        assert_eq!(pair.remote.candidate_type, Some(CandidateType::Srflx));
        assert_eq!(pair.remote.port, 5000);
        assert_eq!(pair.bytes_sent, 1200);
        assert_eq!(pair.bytes_received, 34);
        assert_eq!(pair.current_round_trip_time, Some(0.002));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Stats::from_json("{not json").is_err());
    }
}
