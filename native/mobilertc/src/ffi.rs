//! Glue to the generated bindings: string conversion, status mapping and the trampolines
//! that turn the shim's one-shot C callbacks into Rust closures.
//!
//! webrtc-sys keeps C enums as integers with C-named constants (`MRTC_SDP_OFFER`); what
//! depends on that spelling lives here, and incoming enum values are matched numerically
//! (their values are the header's ABI).

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;

use webrtc_sys as sys;

use crate::dispatch::Dispatch;
use crate::error::{check, Result};
use crate::peer::{IceTransportPolicy, SdpType, SessionDescription};

/// Borrows a Rust string as an `mrtc_str`; valid as long as `s` is.
pub(crate) fn mstr(s: &str) -> sys::mrtc_str {
    sys::mrtc_str::from_str(s)
}

/// Copies an `mrtc_str` handed to us by the shim (valid only during the callback).
///
/// # Safety
/// `s.ptr` must be null or point to `s.len` readable bytes.
pub(crate) unsafe fn owned(s: sys::mrtc_str) -> String {
    s.to_string_lossy()
}

/// Numeric value of any header enum, whatever Rust type bindgen gave it.
macro_rules! raw {
    ($e:expr) => {
        ($e) as u32
    };
}
pub(crate) use raw;

pub(crate) fn sdp_type_to_sys(kind: SdpType) -> sys::mrtc_sdp_type {
    match kind {
        SdpType::Offer => sys::MRTC_SDP_OFFER,
        SdpType::Pranswer => sys::MRTC_SDP_PRANSWER,
        SdpType::Answer => sys::MRTC_SDP_ANSWER,
        SdpType::Rollback => sys::MRTC_SDP_ROLLBACK,
    }
}

pub(crate) fn policy_to_sys(policy: IceTransportPolicy) -> sys::mrtc_ice_transport_policy {
    match policy {
        IceTransportPolicy::All => sys::MRTC_ICE_TRANSPORT_ALL,
        IceTransportPolicy::Relay => sys::MRTC_ICE_TRANSPORT_RELAY,
    }
}

/// The sending half of a bounded event queue read through an mpsc [`Receiver`]: offers
/// never block (they run on WebRTC's threads), and a full queue cuts the receiver off (it
/// drains what is queued, then disconnects); see `PEER_QUEUE_EVENTS` for why.
pub(crate) struct BoundedSender<T> {
    tx: Mutex<Option<SyncSender<T>>>,
}

impl<T> BoundedSender<T> {
    pub(crate) fn new(capacity: usize) -> (BoundedSender<T>, Receiver<T>) {
        let (tx, rx) = sync_channel(capacity);
        (
            BoundedSender {
                tx: Mutex::new(Some(tx)),
            },
            rx,
        )
    }

    /// Queues `event`, or returns it when it was not queued (full, cut off, or nobody
    /// listens), for the caller to drop outside the lock: dropping an event may destroy a
    /// handle in it.
    pub(crate) fn offer(&self, event: T) -> Option<T> {
        let mut slot = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let tx = slot.as_ref()?;
        match tx.try_send(event) {
            Ok(()) => None,
            Err(TrySendError::Full(event) | TrySendError::Disconnected(event)) => {
                *slot = None;
                Some(event)
            }
        }
    }
}

/// Runs a callback body, swallowing a panic: unwinding into C++ is undefined behaviour,
/// and a panicking user closure must take down neither WebRTC's thread nor the factory's
/// dispatcher (its later tasks would then run inline on WebRTC's threads). The panic hook
/// still reports it. A payload whose own drop panics is dropped under `catch_unwind` too
/// (that second panic would escape here), and so is the next payload, a few times; a chain
/// that keeps panicking is leaked.
pub(crate) fn guard(f: impl FnOnce()) {
    let Err(mut payload) = catch_unwind(AssertUnwindSafe(f)) else {
        return;
    };
    for _ in 0..8 {
        match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(next) => payload = next,
        }
    }
    std::mem::forget(payload);
}

// ------------------------------------------------------------------ one-shot completions

/// A completion's user_data: boxed, leaked into the shim, reclaimed exactly once, either by
/// the trampoline (the shim runs every accepted completion exactly once, with
/// `MRTC_ERR_CLOSED` at the latest when the peer is destroyed) or by [`start`] when the
/// shim refused the call (then it never runs the callback).
///
/// Application closures (`*_with`) are posted to the factory's dispatcher thread; the
/// blocking methods' own completions (a channel send) run inline, on WebRTC's thread, so a
/// blocking call works from the dispatcher thread too.
pub(crate) struct Completion<T> {
    op: &'static str,
    f: Box<dyn FnOnce(Result<T>) + Send>,
    dispatch: Option<Dispatch>,
}

impl<T: Send + 'static> Completion<T> {
    /// A completion that runs where the shim reports it (only for crate-internal closures
    /// that never block and never call back into the shim).
    pub(crate) fn inline(op: &'static str, f: impl FnOnce(Result<T>) + Send + 'static) -> Self {
        Completion {
            op,
            f: Box::new(f),
            dispatch: None,
        }
    }

    /// An application closure: it runs on `dispatch`'s thread.
    pub(crate) fn on(
        dispatch: &Dispatch,
        op: &'static str,
        f: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Self {
        Completion {
            op,
            f: Box::new(f),
            dispatch: Some(dispatch.clone()),
        }
    }

    fn finish(self, result: Result<T>) {
        let f = self.f;
        match self.dispatch {
            Some(dispatch) => dispatch.post(Box::new(move || f(result))),
            None => guard(move || f(result)),
        }
    }
}

/// Starts an asynchronous shim call. `call` gets the user_data pointer and returns the
/// shim's immediate status; on refusal the closure is called with the error right away, so
/// the caller's closure runs exactly once either way.
pub(crate) fn start<T: Send + 'static>(
    completion: Completion<T>,
    call: impl FnOnce(*mut c_void) -> u32,
) {
    let op = completion.op;
    let user_data = Box::into_raw(Box::new(completion));
    let status = call(user_data.cast());
    if let Err(e) = check(op, status, String::new()) {
        // SAFETY: the shim refused the call, so it did not keep `user_data` and will not
        // run the callback: this is the only reclaim.
        let completion = unsafe { Box::from_raw(user_data) };
        completion.finish(Err(e));
    }
}

/// Blocks on a completion-based operation; the thread-per-peer style the crate is built for.
pub(crate) fn block_on<T: Send + 'static>(
    op: &'static str,
    begin: impl FnOnce(Completion<T>),
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    begin(Completion::inline(op, move |r| {
        let _ = tx.send(r);
    }));
    // The shim runs every completion exactly once (at the latest with MRTC_ERR_CLOSED when
    // the peer is destroyed), so the sender is either used or dropped: recv cannot hang
    // unless the shim breaks its contract.
    rx.recv().unwrap_or_else(|_| {
        Err(crate::Error::Shim {
            op: "completion",
            code: crate::ErrorCode::Internal,
            message: "the shim dropped a completion without running it".into(),
        })
    })
}

pub(crate) unsafe extern "C" fn done_cb(
    user_data: *mut c_void,
    status: sys::mrtc_status,
    error: sys::mrtc_str,
) {
    // SAFETY: user_data is the Box leaked by `start`; the shim runs this exactly once.
    let completion = Box::from_raw(user_data.cast::<Completion<()>>());
    let result = check(completion.op, raw!(status), owned(error));
    completion.finish(result);
}

pub(crate) unsafe extern "C" fn sdp_cb(
    user_data: *mut c_void,
    status: sys::mrtc_status,
    kind: sys::mrtc_sdp_type,
    sdp: sys::mrtc_str,
    error: sys::mrtc_str,
) {
    // SAFETY: as in `done_cb`.
    let completion = Box::from_raw(user_data.cast::<Completion<SessionDescription>>());
    let result = check(completion.op, raw!(status), owned(error)).map(|()| SessionDescription {
        kind: SdpType::from_raw(raw!(kind)),
        sdp: owned(sdp),
    });
    completion.finish(result);
}

pub(crate) unsafe extern "C" fn stats_cb(
    user_data: *mut c_void,
    status: sys::mrtc_status,
    json: sys::mrtc_str,
) {
    // SAFETY: as in `done_cb`.
    let completion = Box::from_raw(user_data.cast::<Completion<String>>());
    let result = check(completion.op, raw!(status), String::new()).map(|()| owned(json));
    completion.finish(result);
}
