//! Safe Rust API over libwebrtc's native PeerConnection API, through the `mrtc_` C shim
//! of `webrtc-sys`.
//!
//! * [`Factory`] owns WebRTC's threads and an audio device fed from Rust
//!   ([`Factory::push_audio`], [`Factory::playout_frames`]).
//! * [`PeerConnection`] negotiates (blocking calls, or `*_with` callbacks) and reports
//!   [`PeerEvent`]s through a `std::sync::mpsc::Receiver`: one thread per peer reading
//!   that receiver is the intended driving model; no async runtime is involved. Closures
//!   run on a per-factory dispatcher thread (see [the threading rules](#threading-rules)).
//! * [`DataChannel`], [`AudioTrack`], [`VideoSource`]/[`VideoTrack`], [`RemoteTrack`]
//!   carry data and media; [`Stats`] summarises the stats report.
//! * A platform's media ends: [`NativeVideoSink`] (a renderer attached to a remote track or
//!   a local source), and on Android [`Factory::new_android`] (Java audio device, codecs,
//!   network monitor) and [`VideoSource::new_android`] (a Java camera capturer).
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
//! # Ownership
//!
//! Every handle owns one shim object and destroys it on drop; the shim guarantees that no
//! callback of an object runs after its destroy returns, so the boxed state a callback
//! uses is freed right after. Children hold the factory alive (`Arc`), so any drop order is
//! safe. All handles are `Send + Sync`: the shim reaches libwebrtc through its thread-safe
//! proxies (PeerConnection, DataChannel, tracks), which marshal every call to WebRTC's
//! signaling thread.
//!
//! # Threading rules
//!
//! * **WebRTC's threads never run your code.** libwebrtc reports on its own threads (each
//!   factory has a signaling, a network and a worker thread, plus media threads). The
//!   crate's callbacks there only copy what is reported and hand it on without blocking:
//!   peer and data channel events into bounded receivers ([`PEER_QUEUE_EVENTS`],
//!   [`DATA_CHANNEL_QUEUE_EVENTS`]: a reader that falls that far behind is cut off — it
//!   drains what was queued, then sees disconnection), media into bounded receivers that
//!   drop new frames ([`AUDIO_QUEUE_CHUNKS`], [`VIDEO_QUEUE_FRAMES`]), and closures to the
//!   factory's dispatcher.
//! * **Your closures run on the factory's dispatcher thread** (`mrtc-dispatch`, one per
//!   factory): every `*_with` completion and every [`DataChannel::on_event`] call, one at a
//!   time, in the order WebRTC reported them. The dispatcher is an ordinary thread, not one
//!   of WebRTC's, so from a closure you may call **any method of any handle, on any
//!   factory** — blocking ones such as [`PeerConnection::create_offer`] included — and drop
//!   any handle, its own peer or channel included. Nothing of the crate is locked while a
//!   closure runs.
//! * **Why this cannot deadlock:** WebRTC's threads never wait for a dispatcher (they only
//!   post to it), and calls from a dispatcher or an app thread wait only for WebRTC's
//!   threads. So a relay forwarding from one factory's callback into another factory's
//!   channel, a close inside a completion, or an echo from a channel's own callback are
//!   ordinary calls. (Calling libwebrtc from its own signaling thread instead would block
//!   one factory's signaling thread on another's — libwebrtc aborts on that — and re-enter
//!   objects that are still delivering the callback.) The alternative, posting every call
//!   made from a callback asynchronously, would have turned `send`'s result into a
//!   callback too.
//! * **What a closure should not do:** block for long (it delays the factory's other
//!   closures), or wait for another closure of the same factory (that one cannot run until
//!   this one returns). A blocking method's own wait is fine: its completion does not go
//!   through the dispatcher.
//! * After a handle's drop (or an `on_event`/`events` replacement) returns, no new call of
//!   its closures starts; one already running on the dispatcher finishes. Completions run
//!   exactly once, with [`ErrorCode::Closed`] when their peer closes first.
//! * **A panic in a closure ends only that call.** It is caught where the closure runs
//!   (the dispatcher, or WebRTC's thread for the crate's own callbacks), reported by the
//!   panic hook as usual, and never unwinds into C++ nor ends the dispatcher: the same
//!   [`DataChannel::on_event`] closure receives the next event, the factory's later
//!   completions run on its dispatcher as before. A completion that panics has still run
//!   (it is not called again). What the panic interrupted in your own state is yours to
//!   handle; with `panic = "abort"` the process aborts as everywhere else.
//!
//! These rules are tested by `tests/reentrancy.rs`, `tests/app_patterns.rs` and the
//! concurrent churn of `tests/stress.rs`, which also run under AddressSanitizer and
//! ThreadSanitizer (Rust, its standard library and the C++ shim instrumented; libwebrtc
//! itself is not, so a race inside libwebrtc alone is out of their reach): see
//! `TESTING.md`.

#![warn(missing_docs)]

pub mod analysis;
mod data_channel;
mod dispatch;
mod error;
mod factory;
mod ffi;
mod media;
mod peer;
mod platform;
mod session;
mod stats;
#[cfg(feature = "testing")]
pub mod testing;

pub use data_channel::{
    DataChannel, DataChannelEvent, DataChannelInit, DataChannelState, Message,
    DATA_CHANNEL_QUEUE_EVENTS,
};
pub use error::{Error, ErrorCode, Result};
pub use factory::{AudioDevice, Factory, FactoryConfig, AUDIO_QUEUE_CHUNKS};
pub use media::{
    AudioFrame, AudioTrack, I420Frame, RemoteTrack, TrackKind, VideoSource, VideoTrack,
    MAX_FRAME_SIDE, VIDEO_QUEUE_FRAMES,
};
pub use peer::{
    IceCandidate, IceConnectionState, IceGatheringState, IceServer, IceTransportPolicy,
    PeerConnection, PeerConnectionConfig, PeerConnectionState, PeerEvent, SdpType,
    SessionDescription, SignalingState, PEER_QUEUE_EVENTS,
};
pub use platform::{AndroidMedia, NativeVideoSink};
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
        send_sync::<NativeVideoSink>();
        send_sync::<Error>();
        send::<PeerEvent>();
        send::<DataChannelEvent>();
        send::<AudioFrame>();
        send::<I420Frame>();
    }
}
