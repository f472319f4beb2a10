//! Peer connections: configuration, SDP negotiation, trickle ICE, state events.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use webrtc_sys as sys;

use crate::data_channel::{DataChannel, DataChannelEvent, DataChannelInit};
use crate::error::{check, Error, Result};
use crate::factory::{Factory, FactoryInner};
use crate::ffi::{self, guard, mstr, owned, raw, BoundedSender, Completion};
use crate::media::{AudioTrack, RemoteTrack, VideoSource, VideoTrack};
use crate::stats::Stats;

/// How many events a peer's receiver (from [`PeerConnection::new`]) holds unread. Beyond
/// it the receiver is cut off: it yields the events queued so far, then reports
/// disconnection while the peer lives on, and later events are dropped (a data channel or
/// track in a dropped event is destroyed). An app that stops reading its peer's events
/// learns so instead of missing candidates or states silently, and cannot grow memory
/// without bound. A call produces a few dozen events; 1024 is far from a normal backlog.
pub const PEER_QUEUE_EVENTS: usize = 1024;

/// A STUN or TURN server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp`, `turns:…`.
    pub urls: Vec<String>,
    /// TURN user name; empty for STUN.
    pub username: String,
    /// TURN credential; empty for STUN.
    pub credential: String,
}

impl IceServer {
    /// A STUN server at `url` (no credentials).
    pub fn stun(url: impl Into<String>) -> IceServer {
        IceServer {
            urls: vec![url.into()],
            ..IceServer::default()
        }
    }
}

/// Which candidates ICE may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IceTransportPolicy {
    /// Host, server-reflexive and relay candidates.
    #[default]
    All,
    /// Only TURN relay candidates (hides the host's addresses; forces a relayed call).
    Relay,
}

/// Configuration of a [`PeerConnection`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerConnectionConfig {
    /// STUN/TURN servers; empty for host candidates only.
    pub ice_servers: Vec<IceServer>,
    /// Candidate filter.
    pub ice_transport_policy: IceTransportPolicy,
}

/// The type of a session description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpType {
    /// An offer.
    Offer,
    /// A provisional answer.
    Pranswer,
    /// A final answer.
    Answer,
    /// Rolls back a pending local or remote offer.
    Rollback,
}

impl SdpType {
    pub(crate) fn from_raw(value: u32) -> SdpType {
        match value {
            0 => SdpType::Offer,
            1 => SdpType::Pranswer,
            3 => SdpType::Rollback,
            _ => SdpType::Answer,
        }
    }

    /// The W3C name (`"offer"`, `"answer"`, …), as signaling usually carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            SdpType::Offer => "offer",
            SdpType::Pranswer => "pranswer",
            SdpType::Answer => "answer",
            SdpType::Rollback => "rollback",
        }
    }

    /// Parses a W3C name.
    pub fn parse(name: &str) -> Option<SdpType> {
        Some(match name {
            "offer" => SdpType::Offer,
            "pranswer" => SdpType::Pranswer,
            "answer" => SdpType::Answer,
            "rollback" => SdpType::Rollback,
            _ => return None,
        })
    }
}

/// An SDP offer or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// Offer, answer, ….
    pub kind: SdpType,
    /// The SDP text.
    pub sdp: String,
}

/// A trickled ICE candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// The media section's mid.
    pub sdp_mid: String,
    /// The media section's index.
    pub sdp_mline_index: i32,
    /// The `candidate:…` attribute value, without `a=`.
    pub candidate: String,
}

macro_rules! state_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $variant,)+
            /// A value this crate does not know (a newer shim).
            Unknown(i32),
        }
        impl $name {
            pub(crate) fn from_raw(value: i32) -> $name {
                match value {
                    $($value => $name::$variant,)+
                    other => $name::Unknown(other),
                }
            }
        }
    };
}

state_enum!(
    /// RTCSignalingState.
    SignalingState {
        /// No negotiation in progress.
        Stable = 0,
        /// A local offer is applied.
        HaveLocalOffer = 1,
        /// A local provisional answer is applied.
        HaveLocalPranswer = 2,
        /// A remote offer is applied.
        HaveRemoteOffer = 3,
        /// A remote provisional answer is applied.
        HaveRemotePranswer = 4,
        /// The connection is closed.
        Closed = 5,
    }
);

state_enum!(
    /// RTCIceConnectionState.
    IceConnectionState {
        /// Not started.
        New = 0,
        /// Checking candidate pairs.
        Checking = 1,
        /// A usable pair was found.
        Connected = 2,
        /// Checks finished.
        Completed = 3,
        /// No pair works.
        Failed = 4,
        /// Connectivity lost (may recover).
        Disconnected = 5,
        /// Closed.
        Closed = 6,
    }
);

state_enum!(
    /// RTCPeerConnectionState (ICE and DTLS combined).
    PeerConnectionState {
        /// Not started.
        New = 0,
        /// ICE or DTLS in progress.
        Connecting = 1,
        /// Media and data can flow.
        Connected = 2,
        /// Connectivity lost (may recover).
        Disconnected = 3,
        /// Failed for good.
        Failed = 4,
        /// Closed.
        Closed = 5,
    }
);

state_enum!(
    /// RTCIceGatheringState.
    IceGatheringState {
        /// Not started.
        New = 0,
        /// Gathering candidates.
        Gathering = 1,
        /// All candidates gathered.
        Complete = 2,
    }
);

/// Something that happened on a peer connection, delivered from WebRTC's threads through
/// the receiver returned by [`PeerConnection::new`].
#[derive(Debug)]
pub enum PeerEvent {
    /// A local candidate to send to the remote peer.
    IceCandidate(IceCandidate),
    /// The signaling state changed.
    SignalingState(SignalingState),
    /// The ICE connection state changed.
    IceConnectionState(IceConnectionState),
    /// The peer connection state changed.
    ConnectionState(PeerConnectionState),
    /// The ICE gathering state changed.
    IceGatheringState(IceGatheringState),
    /// The remote side opened a data channel; call [`DataChannel::events`] to receive its
    /// messages (WebRTC queues them until then).
    DataChannel(DataChannel),
    /// A remote track arrived.
    Track(RemoteTrack),
    /// Renegotiation is needed (a track or the first data channel was added).
    RenegotiationNeeded,
}

/// The peer observer's user_data. Leaked into the shim at creation; reclaimed after
/// `mrtc_peer_destroy` returns (the shim runs no peer callback after that).
struct PeerObserver {
    tx: BoundedSender<PeerEvent>,
    factory: Arc<FactoryInner>,
}

/// A peer connection.
///
/// All methods take `&self` and may be called from any thread: the shim forwards them to
/// WebRTC's signaling thread through libwebrtc's thread-safe proxies. Blocking methods
/// (e.g. [`create_offer`](Self::create_offer)) wait for WebRTC's completion; each has a
/// `*_with` form taking a callback instead. Never call a blocking method from inside a
/// callback of this crate (those run on WebRTC's threads, which the wait would stall), and
/// do not let a `*_with` closure own the last handle to its peer connection (the drop
/// would then destroy the peer from inside its own callback, which the shim forbids).
///
/// Dropping closes and frees the connection; pending completions then run with
/// [`ErrorCode::Closed`](crate::ErrorCode::Closed), and no event is sent after the drop.
pub struct PeerConnection {
    raw: NonNull<sys::mrtc_peer>,
    observer: *mut PeerObserver,
    factory: Arc<FactoryInner>,
}

// SAFETY: every mrtc_peer_* entry point is thread-safe (libwebrtc's PeerConnection proxy
// marshals calls to the signaling thread; the shim's own state is locked), and the
// observer pointer is only dereferenced by the shim's callbacks and freed in Drop, which
// has exclusive access.
unsafe impl Send for PeerConnection {}
unsafe impl Sync for PeerConnection {}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("raw", &self.raw)
            .finish_non_exhaustive()
    }
}

impl PeerConnection {
    /// Creates a peer connection on `factory`; its events arrive on the returned receiver
    /// until the connection is dropped (then the receiver disconnects).
    pub fn new(
        factory: &Factory,
        config: &PeerConnectionConfig,
    ) -> Result<(PeerConnection, Receiver<PeerEvent>)> {
        // Borrowed views of the config; they must outlive the create call only.
        let urls: Vec<Vec<sys::mrtc_str>> = config
            .ice_servers
            .iter()
            .map(|s| s.urls.iter().map(|u| mstr(u)).collect())
            .collect();
        let servers: Vec<sys::mrtc_ice_server> = config
            .ice_servers
            .iter()
            .zip(&urls)
            .map(|(s, urls)| sys::mrtc_ice_server {
                urls: urls.as_ptr(),
                url_count: urls.len(),
                username: mstr(&s.username),
                credential: mstr(&s.credential),
            })
            .collect();
        let raw_config = sys::mrtc_peer_config {
            ice_servers: servers.as_ptr(),
            ice_server_count: servers.len(),
            ice_transport_policy: ffi::policy_to_sys(config.ice_transport_policy),
        };

        let (tx, rx) = BoundedSender::new(PEER_QUEUE_EVENTS);
        let observer = Box::into_raw(Box::new(PeerObserver {
            tx,
            factory: factory.inner.clone(),
        }));
        let mut out = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the call; observer stays alive until after
        // mrtc_peer_destroy (see Drop).
        let status = unsafe {
            sys::mrtc_peer_create(
                factory.inner.raw(),
                &raw_config,
                Some(peer_event_cb),
                observer.cast(),
                &mut out,
            )
        };
        let result = check("PeerConnection::new", raw!(status), String::new()).and_then(|()| {
            NonNull::new(out).ok_or_else(|| Error::Shim {
                op: "PeerConnection::new",
                code: crate::ErrorCode::Internal,
                message: "shim returned a null peer".into(),
            })
        });
        match result {
            Ok(raw) => Ok((
                PeerConnection {
                    raw,
                    observer,
                    factory: factory.inner.clone(),
                },
                rx,
            )),
            Err(e) => {
                // SAFETY: no peer exists, so the shim holds no reference to the observer.
                drop(unsafe { Box::from_raw(observer) });
                Err(e)
            }
        }
    }

    pub(crate) fn raw(&self) -> *mut sys::mrtc_peer {
        self.raw.as_ptr()
    }

    /// Creates an offer (blocking until WebRTC is done).
    pub fn create_offer(&self) -> Result<SessionDescription> {
        ffi::block_on(|f| self.create_offer_with(f))
    }

    /// Creates an offer; `done` runs exactly once, on a WebRTC thread.
    pub fn create_offer_with(
        &self,
        done: impl FnOnce(Result<SessionDescription>) + Send + 'static,
    ) {
        ffi::start(Completion::new("create_offer", done), |ud| {
            // SAFETY: live peer; ud is reclaimed by sdp_cb or by start.
            raw!(unsafe { sys::mrtc_peer_create_offer(self.raw(), Some(ffi::sdp_cb), ud) })
        });
    }

    /// Creates an answer to the applied remote offer (blocking).
    pub fn create_answer(&self) -> Result<SessionDescription> {
        ffi::block_on(|f| self.create_answer_with(f))
    }

    /// Creates an answer; `done` runs exactly once, on a WebRTC thread.
    pub fn create_answer_with(
        &self,
        done: impl FnOnce(Result<SessionDescription>) + Send + 'static,
    ) {
        ffi::start(Completion::new("create_answer", done), |ud| {
            // SAFETY: as in create_offer_with.
            raw!(unsafe { sys::mrtc_peer_create_answer(self.raw(), Some(ffi::sdp_cb), ud) })
        });
    }

    /// Applies a local description (blocking). Starts ICE gathering on the first one.
    pub fn set_local_description(&self, desc: &SessionDescription) -> Result<()> {
        ffi::block_on(|f| self.set_local_description_with(desc, f))
    }

    /// Applies a local description; `done` runs exactly once, on a WebRTC thread.
    pub fn set_local_description_with(
        &self,
        desc: &SessionDescription,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) {
        ffi::start(Completion::new("set_local_description", done), |ud| {
            // SAFETY: live peer; the SDP is copied by the shim before returning.
            raw!(unsafe {
                sys::mrtc_peer_set_local_description(
                    self.raw(),
                    ffi::sdp_type_to_sys(desc.kind),
                    mstr(&desc.sdp),
                    Some(ffi::done_cb),
                    ud,
                )
            })
        });
    }

    /// Applies the remote peer's description (blocking).
    pub fn set_remote_description(&self, desc: &SessionDescription) -> Result<()> {
        ffi::block_on(|f| self.set_remote_description_with(desc, f))
    }

    /// Applies a remote description; `done` runs exactly once, on a WebRTC thread.
    pub fn set_remote_description_with(
        &self,
        desc: &SessionDescription,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) {
        ffi::start(Completion::new("set_remote_description", done), |ud| {
            // SAFETY: as in set_local_description_with.
            raw!(unsafe {
                sys::mrtc_peer_set_remote_description(
                    self.raw(),
                    ffi::sdp_type_to_sys(desc.kind),
                    mstr(&desc.sdp),
                    Some(ffi::done_cb),
                    ud,
                )
            })
        });
    }

    /// Adds a remote ICE candidate (blocking). Candidates may arrive before the remote
    /// description: the shim queues them and this returns once they are applied, so
    /// prefer [`add_ice_candidate_with`](Self::add_ice_candidate_with) on a signaling
    /// thread that must not wait for the remote description.
    pub fn add_ice_candidate(&self, candidate: &IceCandidate) -> Result<()> {
        ffi::block_on(|f| self.add_ice_candidate_with(candidate, f))
    }

    /// Adds a remote ICE candidate; `done` runs exactly once, on a WebRTC thread.
    pub fn add_ice_candidate_with(
        &self,
        candidate: &IceCandidate,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) {
        ffi::start(Completion::new("add_ice_candidate", done), |ud| {
            // SAFETY: live peer; strings copied by the shim before returning.
            raw!(unsafe {
                sys::mrtc_peer_add_ice_candidate(
                    self.raw(),
                    mstr(&candidate.sdp_mid),
                    candidate.sdp_mline_index,
                    mstr(&candidate.candidate),
                    Some(ffi::done_cb),
                    ud,
                )
            })
        });
    }

    /// The raw RTCStatsReport as JSON (blocking).
    pub fn stats_json(&self) -> Result<String> {
        ffi::block_on(|f| self.stats_json_with(f))
    }

    /// The raw RTCStatsReport as JSON; `done` runs exactly once, on a WebRTC thread.
    pub fn stats_json_with(&self, done: impl FnOnce(Result<String>) + Send + 'static) {
        ffi::start(Completion::new("get_stats", done), |ud| {
            // SAFETY: live peer; ud reclaimed by stats_cb or by start.
            raw!(unsafe { sys::mrtc_peer_get_stats(self.raw(), Some(ffi::stats_cb), ud) })
        });
    }

    /// The stats report, parsed (blocking).
    pub fn stats(&self) -> Result<Stats> {
        Stats::from_json(&self.stats_json()?)
    }

    /// The current signaling state.
    pub fn signaling_state(&self) -> SignalingState {
        // SAFETY: live peer.
        SignalingState::from_raw(raw!(unsafe { sys::mrtc_peer_signaling_state(self.raw()) }) as i32)
    }

    /// The current connection state.
    pub fn connection_state(&self) -> PeerConnectionState {
        // SAFETY: live peer.
        PeerConnectionState::from_raw(raw!(unsafe {
            sys::mrtc_peer_connection_state_get(self.raw())
        }) as i32)
    }

    /// Creates a data channel (`init` `None`: reliable and ordered). Its events arrive on
    /// the returned receiver, from before it can open, so none is missed. A label or
    /// protocol over 65,535 bytes (SCTP's limit) is an `InvalidArgument` error.
    pub fn create_data_channel(
        &self,
        label: &str,
        init: Option<&DataChannelInit>,
    ) -> Result<(DataChannel, Receiver<DataChannelEvent>)> {
        DataChannel::create(self, &self.factory, label, init)
    }

    /// Adds an audio track fed by the factory's capture PCM ([`Factory::push_audio`]).
    ///
    /// Track and stream ids go into the SDP (`a=msid`): 1 to 64 RFC 8830 token
    /// characters (letters, digits and ``!#$%&'*+-.^_`{|}~``; no space, CR or LF), else
    /// `InvalidArgument`. An empty `stream_id` means no stream.
    pub fn add_audio_track(&self, track_id: &str, stream_id: &str) -> Result<AudioTrack> {
        AudioTrack::add(self, &self.factory, track_id, stream_id)
    }

    /// Adds a video track showing `source`'s frames (ids as in
    /// [`add_audio_track`](Self::add_audio_track)).
    pub fn add_video_track(
        &self,
        source: &VideoSource,
        track_id: &str,
        stream_id: &str,
    ) -> Result<VideoTrack> {
        VideoTrack::add(self, &self.factory, source, track_id, stream_id)
    }

    /// Closes the connection (idempotent; safe at any moment). Pending completions run
    /// with [`ErrorCode::Closed`](crate::ErrorCode::Closed). Dropping also closes.
    pub fn close(&self) {
        // SAFETY: live peer; close is idempotent and thread-safe in the shim.
        unsafe { sys::mrtc_peer_close(self.raw()) };
    }
}

impl Drop for PeerConnection {
    fn drop(&mut self) {
        // SAFETY: we own the peer; after destroy returns no callback uses the observer.
        unsafe { sys::mrtc_peer_destroy(self.raw()) };
        // SAFETY: leaked in `new`, reclaimed only here.
        drop(unsafe { Box::from_raw(self.observer) });
    }
}

unsafe extern "C" fn peer_event_cb(user_data: *mut c_void, event: *const sys::mrtc_peer_event) {
    guard(|| {
        // SAFETY: user_data is our live PeerObserver, event valid during the callback.
        let observer = &*user_data.cast::<PeerObserver>();
        let event = &*event;
        let state = event.state;
        let ev = match raw!(event.kind) {
            0 => PeerEvent::IceCandidate(IceCandidate {
                sdp_mid: owned(event.sdp_mid),
                sdp_mline_index: event.sdp_mline_index,
                candidate: owned(event.candidate),
            }),
            1 => PeerEvent::SignalingState(SignalingState::from_raw(state)),
            2 => PeerEvent::IceConnectionState(IceConnectionState::from_raw(state)),
            3 => PeerEvent::ConnectionState(PeerConnectionState::from_raw(state)),
            4 => PeerEvent::IceGatheringState(IceGatheringState::from_raw(state)),
            5 => match NonNull::new(event.data_channel) {
                // Ownership of the channel passes to us here; wrap it at once so it is
                // destroyed even if nobody reads the event.
                Some(dc) => PeerEvent::DataChannel(DataChannel::adopt(dc, &observer.factory)),
                None => return,
            },
            6 => match NonNull::new(event.track) {
                Some(track) => PeerEvent::Track(RemoteTrack::adopt(
                    track,
                    raw!(event.track_kind),
                    &observer.factory,
                )),
                None => return,
            },
            7 => PeerEvent::RenegotiationNeeded,
            _ => return,
        };
        // A dropped or cut-off receiver just means nobody listens any more; the event (and
        // any handle in it) is dropped, which destroys it.
        drop(observer.tx.offer(ev));
    });
}
