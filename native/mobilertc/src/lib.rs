//! Safe Rust API over libwebrtc's native PeerConnection API, through the `mrtc_` C shim
//! of `webrtc-sys`.
//!
//! * [`Factory`] owns WebRTC's threads and an audio device fed from Rust
//!   ([`Factory::push_audio`], [`Factory::playout_frames`]).
//! * [`PeerConnection`] negotiates (blocking calls, or `*_with` callbacks) and reports
//!   [`PeerEvent`]s through a `std::sync::mpsc::Receiver`: one thread per peer reading
//!   that receiver is the intended driving model; no async runtime is involved.
//! * [`DataChannel`], [`AudioTrack`], [`VideoSource`]/[`VideoTrack`], [`RemoteTrack`]
//!   carry data and media; [`Stats`] summarises the stats report.
//!
//! # Example
//!
//! ```no_run
//! use mobilertc::{Factory, FactoryConfig, PeerConnection, PeerConnectionConfig, PeerEvent};
//!
//! # fn main() -> mobilertc::Result<()> {
//! let factory = Factory::new(FactoryConfig::default())?;
//! let (pc, events) = PeerConnection::new(&factory, &PeerConnectionConfig::default())?;
//! let (chat, chat_events) = pc.create_data_channel("chat", None)?;
//! let offer = pc.create_offer()?;
//! pc.set_local_description(&offer)?;
//! // … send `offer.sdp` to the other peer, apply its answer with set_remote_description …
//! for event in events {
//!     match event {
//!         PeerEvent::IceCandidate(c) => { /* send to the other peer */ }
//!         PeerEvent::ConnectionState(state) => println!("{state:?}"),
//!         _ => {}
//!     }
//! }
//! # drop((chat, chat_events));
//! # Ok(())
//! # }
//! ```
//!
//! # Ownership and threads
//!
//! Every handle owns one shim object and destroys it on drop; the shim guarantees that no
//! callback of an object runs after its destroy returns, so the boxed state a callback
//! uses is freed right after. Children hold the factory alive (`Arc`), so any drop order is
//! safe. Callbacks run on WebRTC's threads and only copy data into channels: they never
//! block and never run application code (except the `*_with` completion closures and
//! [`DataChannel::on_event`], which must not block either).
//!
//! All handles are `Send + Sync`: the shim reaches libwebrtc through its thread-safe
//! proxies (PeerConnection, DataChannel, tracks), which marshal every call to WebRTC's
//! signaling thread.

#![warn(missing_docs)]

pub mod analysis;
mod data_channel;
mod error;
mod factory;
mod ffi;
mod media;
mod peer;
mod stats;
#[cfg(feature = "testing")]
pub mod testing;

pub use data_channel::{
    DataChannel, DataChannelEvent, DataChannelInit, DataChannelState, Message,
    DATA_CHANNEL_QUEUE_EVENTS,
};
pub use error::{Error, ErrorCode, Result};
pub use factory::{Factory, FactoryConfig, AUDIO_QUEUE_CHUNKS};
pub use media::{
    AudioFrame, AudioTrack, I420Frame, RemoteTrack, TrackKind, VideoSource, VideoTrack,
    MAX_FRAME_SIDE, VIDEO_QUEUE_FRAMES,
};
pub use peer::{
    IceCandidate, IceConnectionState, IceGatheringState, IceServer, IceTransportPolicy,
    PeerConnection, PeerConnectionConfig, PeerConnectionState, PeerEvent, SdpType,
    SessionDescription, SignalingState, PEER_QUEUE_EVENTS,
};
pub use stats::{
    Candidate, CandidatePair, CandidateType, DataChannelStats, InboundRtp, OutboundRtp, Stats,
};

/// The libwebrtc milestone the shim was compiled against (e.g. 110).
pub fn webrtc_milestone() -> u32 {
    // SAFETY: no arguments, no state.
    unsafe { webrtc_sys::mrtc_webrtc_milestone() }
}

/// libwebrtc's log verbosity (written to stderr by libwebrtc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything.
    Verbose = 0,
    /// Informational and above.
    Info = 1,
    /// Warnings and errors.
    Warning = 2,
    /// Errors only.
    Error = 3,
    /// Nothing (the default).
    None = 4,
}

/// Sets libwebrtc's log verbosity (process-wide).
pub fn set_log_level(level: LogLevel) {
    // SAFETY: plain setter.
    unsafe { webrtc_sys::mrtc_set_log_level(level as i32) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}

    /// The thread-per-peer model needs every handle to move across threads, and events to
    /// travel through channels; this fails to compile if a change loses that.
    #[test]
    fn handles_are_send_and_sync() {
        send_sync::<Factory>();
        send_sync::<PeerConnection>();
        send_sync::<DataChannel>();
        send_sync::<AudioTrack>();
        send_sync::<VideoSource>();
        send_sync::<VideoTrack>();
        send_sync::<RemoteTrack>();
        send_sync::<Error>();
        send::<PeerEvent>();
        send::<DataChannelEvent>();
        send::<AudioFrame>();
        send::<I420Frame>();
    }
}
