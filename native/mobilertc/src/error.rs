//! The crate's error type: a shim status code plus what we were doing when it came back.

use std::fmt;

/// What went wrong, mirroring the shim's `mrtc_status` codes (minus `MRTC_OK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// An argument was rejected (bad config, bad frame geometry, …).
    InvalidArgument,
    /// The operation is not allowed in the current signaling or channel state.
    InvalidState,
    /// An SDP or ICE candidate did not parse.
    Parse,
    /// The peer connection or data channel is closed.
    Closed,
    /// The data channel's send buffer is full: wait for its buffered amount to drop.
    BufferFull,
    /// libwebrtc failed for a reason the shim could not classify.
    Internal,
    /// Not available in this build (a platform's entry point on another platform, e.g. the
    /// Android factory on Linux).
    Unsupported,
    /// The shim returned a status this crate does not know (a newer shim?).
    Unknown(u32),
}

impl ErrorCode {
    /// Maps a raw `mrtc_status`; `None` for `MRTC_OK`.
    pub(crate) fn from_status(status: u32) -> Option<ErrorCode> {
        // Values are the header's ABI (mrtc.h), so numeric matching is stable whether
        // bindgen emits constants or Rust enums.
        Some(match status {
            0 => return None,
            1 => ErrorCode::InvalidArgument,
            2 => ErrorCode::InvalidState,
            3 => ErrorCode::Parse,
            4 => ErrorCode::Closed,
            5 => ErrorCode::BufferFull,
            6 => ErrorCode::Internal,
            7 => ErrorCode::Unsupported,
            other => ErrorCode::Unknown(other),
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::InvalidArgument => f.write_str("invalid argument"),
            ErrorCode::InvalidState => f.write_str("invalid state"),
            ErrorCode::Parse => f.write_str("parse error"),
            ErrorCode::Closed => f.write_str("closed"),
            ErrorCode::BufferFull => {
                f.write_str("send buffer full (wait for the buffered amount to drop)")
            }
            ErrorCode::Internal => f.write_str("internal libwebrtc error"),
            ErrorCode::Unsupported => f.write_str("not supported on this platform"),
            ErrorCode::Unknown(code) => write!(f, "unknown shim status {code}"),
        }
    }
}

/// Errors returned by this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The shim (or libwebrtc behind it) reported a failure.
    #[error("{op}: {code}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Shim {
        /// The operation, e.g. `"set_remote_description"`.
        op: &'static str,
        /// The classified status.
        code: ErrorCode,
        /// libwebrtc's own message (`RTCError::message()`), possibly empty.
        message: String,
    },
    /// An argument was rejected before reaching the shim.
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The stats report was not the JSON we expect.
    #[error("stats report did not parse: {0}")]
    Stats(#[from] serde_json::Error),
}

impl Error {
    /// The classified code, when this error came from the shim.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Shim { code, .. } => Some(*code),
            Error::InvalidArgument { .. } => Some(ErrorCode::InvalidArgument),
            Error::Stats(_) => None,
        }
    }

    pub(crate) fn invalid(op: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            op,
            reason: reason.into(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a raw status into `Ok(())` or an [`Error::Shim`] naming `op`.
pub(crate) fn check(op: &'static str, status: u32, message: String) -> Result<()> {
    match ErrorCode::from_status(status) {
        None => Ok(()),
        Some(code) => Err(Error::Shim { op, code, message }),
    }
}
