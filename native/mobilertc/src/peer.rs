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
pub use crate::session::{
    IceCandidate, IceConnectionState, IceGatheringState, IceServer, IceTransportPolicy,
    PeerConnectionConfig, PeerConnectionState, SdpType, SessionDescription, SignalingState,
};
use crate::stats::Stats;

/// How many events a peer's receiver (from [`PeerConnection::new`]) holds unread. Beyond
/// it the receiver is cut off: it yields the events queued so far, then reports
/// disconnection while the peer lives on, and later events are dropped (a data channel or
/// track in a dropped event is destroyed). An app that stops reading its peer's events
/// learns so instead of missing candidates or states silently, and cannot grow memory
/// without bound. A call produces a few dozen events; 1024 is far from a normal backlog.
pub const PEER_QUEUE_EVENTS: usize = 1024;

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
/// All methods take `&self` and may be called from any thread, including from the crate's
/// closures (see the crate docs' [threading rules](crate#threading-rules)): the shim
/// forwards them to WebRTC's signaling thread through libwebrtc's thread-safe proxies.
/// Blocking methods (e.g. [`create_offer`](Self::create_offer)) wait for WebRTC's
/// completion; each has a `*_with` form whose closure runs on the factory's dispatcher
/// thread instead. A `*_with` closure may own (and drop) the last handle of its peer.
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
        ffi::block_on("create_offer", |c| self.create_offer_start(c))
    }

    /// Creates an offer; `done` runs exactly once, on the factory's dispatcher thread
    /// (see the crate docs' threading rules).
    pub fn create_offer_with(
        &self,
        done: impl FnOnce(Result<SessionDescription>) + Send + 'static,
    ) {
        let completion = Completion::on(self.factory.dispatch(), "create_offer", done);
        self.create_offer_start(completion);
    }

    fn create_offer_start(&self, completion: Completion<SessionDescription>) {
        ffi::start(completion, |ud| {
            // SAFETY: live peer; ud is reclaimed by sdp_cb or by start.
            raw!(unsafe { sys::mrtc_peer_create_offer(self.raw(), Some(ffi::sdp_cb), ud) })
        });
    }

    /// Creates an answer to the applied remote offer (blocking).
    pub fn create_answer(&self) -> Result<SessionDescription> {
        ffi::block_on("create_answer", |c| self.create_answer_start(c))
    }

    /// Creates an answer; `done` runs exactly once, on the factory's dispatcher thread
    /// (see the crate docs' threading rules).
    pub fn create_answer_with(
        &self,
        done: impl FnOnce(Result<SessionDescription>) + Send + 'static,
    ) {
        let completion = Completion::on(self.factory.dispatch(), "create_answer", done);
        self.create_answer_start(completion);
    }

    fn create_answer_start(&self, completion: Completion<SessionDescription>) {
        ffi::start(completion, |ud| {
            // SAFETY: as in create_offer_with.
            raw!(unsafe { sys::mrtc_peer_create_answer(self.raw(), Some(ffi::sdp_cb), ud) })
        });
    }

    /// Applies a local description (blocking). Starts ICE gathering on the first one.
    pub fn set_local_description(&self, desc: &SessionDescription) -> Result<()> {
        ffi::block_on("set_local_description", |c| {
            self.set_local_description_start(desc, c)
        })
    }

    /// Applies a local description; `done` runs exactly once, on the factory's dispatcher thread
    /// (see the crate docs' threading rules).
    pub fn set_local_description_with(
        &self,
        desc: &SessionDescription,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) {
        let completion = Completion::on(self.factory.dispatch(), "set_local_description", done);
        self.set_local_description_start(desc, completion);
    }

    fn set_local_description_start(&self, desc: &SessionDescription, completion: Completion<()>) {
        ffi::start(completion, |ud| {
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
        ffi::block_on("set_remote_description", |c| {
            self.set_remote_description_start(desc, c)
        })
    }

    /// Applies a remote description; `done` runs exactly once, on the factory's dispatcher thread
    /// (see the crate docs' threading rules).
    pub fn set_remote_description_with(
        &self,
        desc: &SessionDescription,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) {
        let completion = Completion::on(self.factory.dispatch(), "set_remote_description", done);
        self.set_remote_description_start(desc, completion);
    }

    fn set_remote_description_start(&self, desc: &SessionDescription, completion: Completion<()>) {
        ffi::start(completion, |ud| {
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
        ffi::block_on("add_ice_candidate", |c| {
            self.add_ice_candidate_start(candidate, c)
        })
    }

    /// Adds a remote ICE candidate; `done` runs exactly once, on the factory's dispatcher thread
    /// (see the crate docs' threading rules).
    pub fn add_ice_candidate_with(
        &self,
        candidate: &IceCandidate,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) {
        let completion = Completion::on(self.factory.dispatch(), "add_ice_candidate", done);
        self.add_ice_candidate_start(candidate, completion);
    }

    fn add_ice_candidate_start(&self, candidate: &IceCandidate, completion: Completion<()>) {
        ffi::start(completion, |ud| {
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
        ffi::block_on("get_stats", |c| self.stats_json_start(c))
    }

    /// The raw RTCStatsReport as JSON; `done` runs exactly once, on the factory's dispatcher thread
    /// (see the crate docs' threading rules).
    pub fn stats_json_with(&self, done: impl FnOnce(Result<String>) + Send + 'static) {
        let completion = Completion::on(self.factory.dispatch(), "get_stats", done);
        self.stats_json_start(completion);
    }

    fn stats_json_start(&self, completion: Completion<String>) {
        ffi::start(completion, |ud| {
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

    /// Restarts ICE: the next offer carries new ICE credentials and gathers candidates
    /// afresh, so a call survives a change of network (Wi-Fi <-> cellular) instead of dying
    /// with its old candidate pairs. Fires [`PeerEvent::RenegotiationNeeded`]; the caller of
    /// this then makes that offer ([`create_offer`](Self::create_offer)), sends it through
    /// signaling and applies the answer as for the first one. Media keeps flowing over the
    /// old pair while the new one is checked. [`ErrorCode::Closed`](crate::ErrorCode) once
    /// the peer is closed.
    pub fn restart_ice(&self) -> Result<()> {
        // SAFETY: live peer; the shim marshals to the signaling thread.
        let status = unsafe { sys::mrtc_peer_restart_ice(self.raw()) };
        check("PeerConnection::restart_ice", raw!(status), String::new())
    }

    /// Closes the connection (idempotent; safe at any moment, from any thread or closure).
    /// Pending completions run with [`ErrorCode::Closed`](crate::ErrorCode::Closed).
    /// Dropping also closes.
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
