//! The call's report: a live [`Status`] and the final [`Summary`] (`call --json`).
//! Field names are a contract with the tools that read them (docs/calling-app.md).

use serde::Serialize;

use crate::audio::ReceivedAudio;

/// Which side of the classic flow this peer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Joined an empty room: waits for an offer, answers it.
    Callee,
    /// Found a peer in the room: creates and sends the offer.
    Caller,
}

/// The selected ICE candidate pair.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PairInfo {
    /// Our candidate's type: host, srflx, prflx, relay.
    pub local_type: String,
    /// The remote candidate's type.
    pub remote_type: String,
    /// Our candidate's address:port.
    pub local_address: String,
    /// The remote candidate's address:port.
    pub remote_address: String,
    /// udp or tcp.
    pub protocol: String,
    /// For a relay candidate: the protocol to the TURN server.
    pub relay_protocol: Option<String>,
}

impl PairInfo {
    /// The pair's connection kind as the talk names them: `local` (host/host),
    /// `relayed` (a relay on either side), else `server-reflexive`.
    pub fn kind(&self) -> &'static str {
        if self.local_type == "relay" || self.remote_type == "relay" {
            "relayed"
        } else if self.local_type == "host" && self.remote_type == "host" {
            "local"
        } else {
            "server-reflexive"
        }
    }
}

/// Milliseconds since the call started (the `Call::start`), per milestone; `None`: never.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    /// The join answered.
    pub joined: Option<u64>,
    /// The other peer was known (caller: at join; callee: its offer).
    pub remote_peer: Option<u64>,
    /// Caller: offer sent.
    pub offer_sent: Option<u64>,
    /// Callee: offer received.
    pub offer_received: Option<u64>,
    /// Callee: answer sent.
    pub answer_sent: Option<u64>,
    /// Caller: answer received.
    pub answer_received: Option<u64>,
    /// ICE connected.
    pub ice_connected: Option<u64>,
    /// Peer connection connected (ICE + DTLS).
    pub connected: Option<u64>,
    /// Data channel open.
    pub chat_open: Option<u64>,
    /// First audible audio played out.
    pub first_audio: Option<u64>,
    /// The call ended.
    pub ended: Option<u64>,
}

/// Audio counters (from the stats report) and what the received audio contained.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AudioSummary {
    /// What we sent: `tone:440`, `wav:<path>`, `mic:<device>`, `none`.
    pub input: String,
    /// Where the received audio was played: the speaker device, or `null` (not played).
    pub output: Option<String>,
    /// RTP payload bytes sent.
    pub sent_bytes: u64,
    /// RTP packets sent.
    pub sent_packets: u64,
    /// RTP payload bytes received.
    pub received_bytes: u64,
    /// RTP packets received.
    pub received_packets: u64,
    /// Received audio level from the stats report (0..=1), when reported.
    pub received_level: Option<f64>,
    /// Analysis of the played-out audio.
    pub received: ReceivedAudio,
    /// Where the received audio was recorded.
    pub recording: Option<String>,
}

/// Video counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VideoSummary {
    /// We sent video.
    pub sending: bool,
    /// What we sent: the camera device, or the synthetic pattern (`pattern 320x240 15 fps`).
    pub source: Option<String>,
    /// Frames handed to the video source.
    pub frames_sent: u64,
    /// Frames the remote track delivered to us.
    pub frames_received: u64,
    /// Size of the last received frame.
    pub received_width: Option<u32>,
    /// Size of the last received frame.
    pub received_height: Option<u32>,
    /// RTP payload bytes sent / received.
    pub sent_bytes: u64,
    /// RTP payload bytes received.
    pub received_bytes: u64,
}

/// Chat lines over the data channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatSummary {
    /// Lines we sent, in order.
    pub sent: Vec<String>,
    /// Lines we received, in order.
    pub received: Vec<String>,
}

/// The whole call, as `call --json` prints it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// `ok` (connected, then ended by a hang-up) or `failed`.
    pub result: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Our role, once joined.
    pub role: Option<Role>,
    /// The room.
    pub room: String,
    /// Our peer id.
    pub peer_id: Option<String>,
    /// The other peer's id.
    pub remote_peer: Option<String>,
    /// Milestones.
    pub timings_ms: Timings,
    /// The selected candidate pair (last seen while connected).
    pub selected_pair: Option<PairInfo>,
    /// `local`, `server-reflexive` or `relayed` (from the pair).
    pub connection: Option<String>,
    /// Types of the local candidates we gathered (`host`, `srflx`, `relay`, …), deduplicated.
    pub local_candidate_types: Vec<String>,
    /// Latest STUN round-trip time on the pair.
    pub rtt_ms: Option<f64>,
    /// Audio.
    pub audio: AudioSummary,
    /// Video.
    pub video: VideoSummary,
    /// Chat.
    pub chat: ChatSummary,
    /// `local` (hang_up/Ctrl-C), `duration`, `remote_bye`, `remote_left`, `remote_expired`,
    /// `failed`.
    pub hangup: Option<String>,
}

impl Summary {
    /// Whether the call succeeded.
    pub fn ok(&self) -> bool {
        self.result == "ok"
    }
}

/// A snapshot for a status line or a UI.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Status {
    /// Our role.
    pub role: Option<Role>,
    /// `joining`, `waiting`, `negotiating`, `connected`, `ended`, … .
    pub state: String,
    /// Seconds since start.
    pub elapsed_s: f64,
    /// The selected pair.
    pub pair: Option<PairInfo>,
    /// Latest RTT.
    pub rtt_ms: Option<f64>,
    /// Audio bytes sent.
    pub audio_sent_bytes: u64,
    /// Audio bytes received.
    pub audio_received_bytes: u64,
    /// RMS of the latest audible second of received audio.
    pub audio_level: f64,
    /// Video frames received.
    pub frames_received: u64,
    /// Chat lines received.
    pub chat_received: usize,
    /// The microphone is muted (the track sends silence).
    pub mic_muted: bool,
    /// The camera is off (no frames are taken; the track sends black).
    pub camera_off: bool,
    /// ICE restarts this side started (a new offer sent after a network change).
    pub ice_restarts: u32,
    /// New offers from the other side answered during the call (its ICE restarts).
    pub reoffers_answered: u32,
}

impl Status {
    /// One line for a terminal.
    pub fn line(&self) -> String {
        let pair = self
            .pair
            .as_ref()
            .map(|p| format!("{}/{} ({})", p.local_type, p.remote_type, p.kind()))
            .unwrap_or_else(|| "-".into());
        let rtt = self
            .rtt_ms
            .map(|r| format!("{r:.0} ms"))
            .unwrap_or_else(|| "-".into());
        format!(
            "[{:>5.1}s] {:<11} pair {pair}  rtt {rtt}  audio {}/{} kB out/in  level {:.3}  video in {}  chat in {}",
            self.elapsed_s,
            self.state,
            self.audio_sent_bytes / 1000,
            self.audio_received_bytes / 1000,
            self.audio_level,
            self.frames_received,
            self.chat_received,
        ) + &if self.ice_restarts + self.reoffers_answered > 0 {
            format!(
                "  ice restarts {} sent/{} answered",
                self.ice_restarts, self.reoffers_answered
            )
        } else {
            String::new()
        }
    }
}
