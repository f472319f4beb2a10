//! Data channels (SCTP over DTLS): text and binary messages.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use webrtc_sys as sys;

use crate::dispatch::Dispatch;
use crate::error::{check, Error, Result};
use crate::factory::FactoryInner;
use crate::ffi::{guard, mstr, owned, raw, BoundedSender};
use crate::peer::PeerConnection;

/// How many events a data channel receiver ([`DataChannel::events`], or the channel's
/// creation) holds unread. Beyond it the receiver is cut off: it yields the events queued so
/// far, then reports disconnection, and this channel's later events are dropped until a new
/// [`events`](DataChannel::events) or [`on_event`](DataChannel::on_event) call. A reader
/// that falls that far behind thus learns it lost messages instead of reading a stream
/// with a hole in it, and a stalled reader cannot grow memory without bound. Large enough
/// for bursts of small messages (SCTP flow control does not help here: the crate takes
/// each message off libwebrtc at once); messages are at most
/// [`max_message_size`](DataChannel::max_message_size) bytes each.
pub const DATA_CHANNEL_QUEUE_EVENTS: usize = 16384;

/// Options for [`PeerConnection::create_data_channel`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannelInit {
    /// Deliver in order (default true).
    pub ordered: bool,
    /// Partial reliability: give up after this many retransmissions.
    pub max_retransmits: Option<u16>,
    /// Partial reliability: give up after this many milliseconds.
    pub max_packet_life_time_ms: Option<u16>,
    /// Application sub-protocol name.
    pub protocol: String,
    /// Negotiated out of band with this stream id (no in-band open handshake).
    pub negotiated_id: Option<u16>,
}

impl Default for DataChannelInit {
    fn default() -> Self {
        DataChannelInit {
            ordered: true,
            max_retransmits: None,
            max_packet_life_time_ms: None,
            protocol: String::new(),
            negotiated_id: None,
        }
    }
}

/// RTCDataChannelState.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataChannelState {
    /// Opening.
    Connecting,
    /// Messages can be sent.
    Open,
    /// Closing.
    Closing,
    /// Closed.
    Closed,
}

impl DataChannelState {
    fn from_raw(value: u32) -> DataChannelState {
        match value {
            0 => DataChannelState::Connecting,
            1 => DataChannelState::Open,
            2 => DataChannelState::Closing,
            _ => DataChannelState::Closed,
        }
    }
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (invalid UTF-8 is replaced, as browsers do).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

/// Something that happened on a data channel, delivered from the factory's WebRTC
/// signaling thread (where libwebrtc runs data channel observers) into the channel's
/// receiver, which holds up to [`DATA_CHANNEL_QUEUE_EVENTS`] unread events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataChannelEvent {
    /// The channel opened: sending is possible.
    Open,
    /// The channel is closing.
    Closing,
    /// The channel closed (the receiver disconnects when the channel handle is dropped).
    Closed,
    /// A message arrived.
    Message(Message),
    /// Bytes queued for sending changed to this amount (use it to pace large transfers).
    BufferedAmount(u64),
}

/// The data channel observer's user_data. Owned by the [`DataChannel`] and lent to the
/// shim; freed once a later `mrtc_data_channel_set_observer` or
/// `mrtc_data_channel_destroy` has returned (the shim waits for a running callback, and
/// runs none after either).
enum DcObserver {
    Channel(BoundedSender<DataChannelEvent>),
    /// `on_event`: each event becomes a task on the factory's dispatcher thread.
    Callback {
        dispatch: Dispatch,
        slot: Arc<CallbackSlot>,
    },
}

/// An `on_event` closure, shared by the tasks carrying its events: a task may outlive the
/// channel handle (or the closure's replacement), so the closure is freed by whichever of
/// them is last, never under a running call.
struct CallbackSlot {
    /// Only ever locked by the dispatcher thread, one task at a time: uncontended, and a
    /// closure cannot re-enter itself.
    f: Mutex<Box<dyn FnMut(DataChannelEvent) + Send>>,
    /// False once replaced, dropped or cut off: queued events are discarded.
    live: AtomicBool,
    /// Events posted and not yet run.
    queued: AtomicUsize,
}

impl DcObserver {
    /// Runs on WebRTC's signaling thread: never blocks, never runs application code.
    fn deliver(&self, ev: DataChannelEvent) {
        match self {
            DcObserver::Channel(tx) => drop(tx.offer(ev)),
            DcObserver::Callback { dispatch, slot } => {
                if !slot.live.load(Ordering::Acquire) {
                    return;
                }
                if slot.queued.fetch_add(1, Ordering::AcqRel) >= DATA_CHANNEL_QUEUE_EVENTS {
                    // As far behind as a full receiver: cut off the same way.
                    slot.queued.fetch_sub(1, Ordering::AcqRel);
                    slot.live.store(false, Ordering::Release);
                    return;
                }
                let slot = slot.clone();
                dispatch.post(Box::new(move || {
                    slot.queued.fetch_sub(1, Ordering::AcqRel);
                    if slot.live.load(Ordering::Acquire) {
                        (slot.f.lock().unwrap_or_else(|p| p.into_inner()))(ev);
                    }
                }));
            }
        }
    }

    /// No further call of an `on_event` closure starts (one running on the dispatcher
    /// thread finishes).
    fn retire(&self) {
        if let DcObserver::Callback { slot, .. } = self {
            slot.live.store(false, Ordering::Release);
        }
    }
}

/// A data channel. Drop closes and frees it; no event is sent after the drop.
///
/// Channels you create come with their event receiver; channels the remote side opens
/// ([`PeerEvent::DataChannel`](crate::PeerEvent::DataChannel)) start unobserved (WebRTC
/// queues their messages) until you call [`events`](Self::events).
///
/// `Send + Sync`: the shim's data channel entry points go through libwebrtc's thread-safe
/// DataChannel proxy (send, state and buffered amount may be called from any thread).
pub struct DataChannel {
    raw: NonNull<sys::mrtc_data_channel>,
    observer: Mutex<Option<Box<DcObserver>>>,
    label: String,
    // The factory must outlive the channel (its threads run the channel).
    factory: Arc<FactoryInner>,
}

// SAFETY: see the type's docs; the observer box is only read by the shim's callbacks and
// replaced or freed (under the mutex) after the shim stopped using it.
unsafe impl Send for DataChannel {}
unsafe impl Sync for DataChannel {}

impl std::fmt::Debug for DataChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataChannel")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

fn opt(value: Option<u16>) -> i32 {
    value.map_or(-1, i32::from)
}

impl DataChannel {
    pub(crate) fn create(
        peer: &PeerConnection,
        factory: &Arc<FactoryInner>,
        label: &str,
        init: Option<&DataChannelInit>,
    ) -> Result<(DataChannel, Receiver<DataChannelEvent>)> {
        let raw_init = init.map(|i| sys::mrtc_data_channel_init {
            ordered: i.ordered.into(),
            max_retransmits: opt(i.max_retransmits),
            max_packet_life_time_ms: opt(i.max_packet_life_time_ms),
            protocol: mstr(&i.protocol),
            negotiated: i.negotiated_id.is_some().into(),
            id: opt(i.negotiated_id),
        });
        let (tx, rx) = BoundedSender::new(DATA_CHANNEL_QUEUE_EVENTS);
        let observer = Box::new(DcObserver::Channel(tx));
        let user_data: *const DcObserver = &*observer;
        let mut out = std::ptr::null_mut();
        // SAFETY: pointers valid for the call; the observer box lives in the handle until
        // after destroy.
        let status = unsafe {
            sys::mrtc_peer_create_data_channel(
                peer.raw(),
                mstr(label),
                raw_init
                    .as_ref()
                    .map_or(std::ptr::null(), |i| i as *const _),
                Some(dc_event_cb),
                user_data as *mut c_void,
                &mut out,
            )
        };
        let result = check("create_data_channel", raw!(status), String::new()).and_then(|()| {
            NonNull::new(out).ok_or_else(|| Error::Shim {
                op: "create_data_channel",
                code: crate::ErrorCode::Internal,
                message: "shim returned a null data channel".into(),
            })
        });
        // On failure no channel exists, so nothing refers to the observer: it just drops.
        let raw = result?;
        Ok((
            DataChannel {
                raw,
                observer: Mutex::new(Some(observer)),
                label: label.to_owned(),
                factory: factory.clone(),
            },
            rx,
        ))
    }

    /// Takes ownership of a channel the remote side opened, without observing it yet.
    ///
    /// Installing the observer here (inside the peer event callback, on the signaling
    /// thread) would make the shim block on its own thread, which libwebrtc forbids while
    /// it delivers OnDataChannel; [`events`](Self::events) installs it later, off that thread.
    pub(crate) fn adopt(
        raw: NonNull<sys::mrtc_data_channel>,
        factory: &Arc<FactoryInner>,
    ) -> DataChannel {
        // SAFETY: the label stays valid until destroy; copied now.
        let label = unsafe { owned(sys::mrtc_data_channel_label(raw.as_ptr())) };
        DataChannel {
            raw,
            observer: Mutex::new(None),
            label,
            factory: factory.clone(),
        }
    }

    /// A new receiver for this channel's events, replacing any previous receiver or
    /// callback (a previous receiver disconnects). For a remote channel, the first call
    /// also starts delivery: messages WebRTC queued since the channel arrived follow its
    /// current state (`Open`). It holds up to [`DATA_CHANNEL_QUEUE_EVENTS`] unread events.
    /// May be called from any thread, callbacks of this crate included.
    pub fn events(&self) -> Receiver<DataChannelEvent> {
        let (tx, rx) = BoundedSender::new(DATA_CHANNEL_QUEUE_EVENTS);
        self.observe(Box::new(DcObserver::Channel(tx)));
        rx
    }

    /// Like [`events`](Self::events), but `on_event` is called for each event, in order,
    /// on the factory's dispatcher thread (see the crate docs' threading rules) instead of
    /// a receiver carrying it to yours. It may call any method of any handle — send on
    /// this channel, replace this very callback, drop the channel's last handle — and
    /// should return promptly (it delays the factory's other callbacks). Replaces any
    /// previous receiver or callback; after this call, or the handle's drop, returns, no
    /// further call of the replaced callback starts. A callback that falls
    /// [`DATA_CHANNEL_QUEUE_EVENTS`] events behind is cut off like a receiver.
    pub fn on_event(&self, on_event: impl FnMut(DataChannelEvent) + Send + 'static) {
        self.observe(Box::new(DcObserver::Callback {
            dispatch: self.factory.dispatch().clone(),
            slot: Arc::new(CallbackSlot {
                f: Mutex::new(Box::new(on_event)),
                live: AtomicBool::new(true),
                queued: AtomicUsize::new(0),
            }),
        }));
    }

    fn observe(&self, observer: Box<DcObserver>) {
        let user_data: *const DcObserver = &*observer;
        let mut slot = self.observer.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: live channel; the box is kept in `slot` until replaced after a later set
        // call (or destroy) has returned.
        unsafe {
            sys::mrtc_data_channel_set_observer(
                self.raw.as_ptr(),
                Some(dc_event_cb),
                user_data as *mut c_void,
            )
        };
        // The previous observer is unused by the shim from here on.
        if let Some(previous) = slot.replace(observer) {
            previous.retire();
        }
    }

    /// The largest message the remote side accepts, as negotiated (`a=max-message-size`);
    /// `None` until the connection is up. Larger sends fail with
    /// [`ErrorCode::InvalidArgument`](crate::ErrorCode) and leave the channel open.
    pub fn max_message_size(&self) -> Option<u64> {
        // SAFETY: live channel.
        match unsafe { sys::mrtc_data_channel_max_message_size(self.raw.as_ptr()) } {
            0 => None,
            max => Some(max),
        }
    }

    /// The channel's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The SCTP stream id (`None` until negotiated).
    pub fn id(&self) -> Option<u16> {
        // SAFETY: live channel.
        let id = unsafe { sys::mrtc_data_channel_id(self.raw.as_ptr()) };
        u16::try_from(id).ok()
    }

    /// The current state.
    pub fn state(&self) -> DataChannelState {
        // SAFETY: live channel.
        DataChannelState::from_raw(raw!(unsafe {
            sys::mrtc_data_channel_state_get(self.raw.as_ptr())
        }))
    }

    /// Bytes queued for sending but not yet handed to SCTP.
    pub fn buffered_amount(&self) -> u64 {
        // SAFETY: live channel.
        unsafe { sys::mrtc_data_channel_buffered_amount(self.raw.as_ptr()) }
    }

    fn send(&self, op: &'static str, data: &[u8], binary: bool) -> Result<()> {
        // SAFETY: live channel; the shim copies the data before returning.
        let status = unsafe {
            sys::mrtc_data_channel_send(self.raw.as_ptr(), data.as_ptr(), data.len(), binary.into())
        };
        check(op, raw!(status), String::new())
    }

    /// Sends a text message. Fails with [`ErrorCode::BufferFull`](crate::ErrorCode) when
    /// WebRTC's send buffer (16 MiB) is full, with `InvalidState` while connecting, with
    /// `Closed` once closing or closed, and with `InvalidArgument` for a message larger than
    /// [`max_message_size`](Self::max_message_size) (the channel stays open).
    pub fn send_text(&self, text: &str) -> Result<()> {
        self.send("send_text", text.as_bytes(), false)
    }

    /// Sends a binary message (see [`send_text`](Self::send_text) for errors).
    pub fn send_binary(&self, data: &[u8]) -> Result<()> {
        self.send("send_binary", data, true)
    }

    /// Starts the closing handshake (idempotent). Dropping the handle also closes.
    pub fn close(&self) {
        // SAFETY: live channel.
        unsafe { sys::mrtc_data_channel_close(self.raw.as_ptr()) };
    }
}

impl Drop for DataChannel {
    fn drop(&mut self) {
        // SAFETY: we own the channel; no observer callback runs after destroy returns.
        unsafe { sys::mrtc_data_channel_destroy(self.raw.as_ptr()) };
        // The observer box drops with `self`, after destroy returned; queued callback
        // events are discarded.
        let observer = self.observer.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(observer) = observer.as_ref() {
            observer.retire();
        }
    }
}

unsafe extern "C" fn dc_event_cb(
    user_data: *mut c_void,
    event: *const sys::mrtc_data_channel_event,
) {
    guard(|| {
        // SAFETY: live observer (freed only after destroy); event valid during the call.
        let observer = &*user_data.cast::<DcObserver>();
        let event = &*event;
        let ev = match raw!(event.kind) {
            0 => match DataChannelState::from_raw(raw!(event.state)) {
                // The initial state is not news.
                DataChannelState::Connecting => return,
                DataChannelState::Open => DataChannelEvent::Open,
                DataChannelState::Closing => DataChannelEvent::Closing,
                DataChannelState::Closed => DataChannelEvent::Closed,
            },
            1 => {
                let data = if event.data.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(event.data, event.len)
                };
                DataChannelEvent::Message(if event.binary != 0 {
                    Message::Binary(data.to_vec())
                } else {
                    Message::Text(String::from_utf8_lossy(data).into_owned())
                })
            }
            2 => DataChannelEvent::BufferedAmount(event.buffered_amount),
            _ => return,
        };
        observer.deliver(ev);
    });
}
