//! The mobilertc calling app's core: the classic WebRTC chat room.
//!
//! A peer joins a room on the signaling server (docs/signaling.md); the first one waits as
//! **callee**, the second **calls**: the caller creates a peer connection and an offer, sends
//! it, receives the answer and applies it; the callee receives the offer, creates its peer
//! connection, applies the offer, creates and sends the answer; both trickle ICE candidates.
//! Audio (a tone or a WAV file), optional synthetic video, and chat over a data channel;
//! the received audio is recorded and analysed; a [`Summary`] says what happened.
//!
//! The `call` binary is a thin CLI over [`Call`]; the Android app reuses the same core
//! through JNI. No async runtime: plain threads and channels.
//!
//! ```no_run
//! use mobilertc_call::{Call, CallConfig, CallEvent, CallHandle};
//! let mut config = CallConfig::new("http://127.0.0.1:8080", "lobby");
//! config.chat.push("hello".into());
//! config.duration = Some(std::time::Duration::from_secs(5));
//! let call = Call::start(config, |e| if let CallEvent::Chat(t) = e { println!("> {t}") })?;
//! let summary = call.wait();
//! println!("{}", serde_json::to_string_pretty(&summary)?);
//! # Ok::<(), anyhow::Error>(())
//! ```

#![warn(missing_docs)]

pub mod audio;
mod call;
pub mod devices;
pub mod media_flow;
pub mod signal;
mod summary;
pub mod video;

pub use audio::AudioInput;
pub use call::{parse_stun, parse_turn, signal_code, Call, CallConfig, CallEvent, CallHandle};
pub use devices::{
    Camera, Devices, MicSink, Microphone, PlatformMedia, Renderers, Running, Speaker, VideoSide,
    VideoSink,
};
pub use mobilertc::{IceServer, PeerConnectionState};
pub use summary::{
    AudioSummary, ChatSummary, PairInfo, Role, Status, Summary, Timings, VideoSummary,
};
