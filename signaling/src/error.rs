//! The protocol's errors: one variant per row of the error table in docs/signaling.md.

use bytes::Bytes;

/// An error answered to a client as `{"error": {"code": …, "message": …}}`.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ApiError {
    #[error("{0}")]
    BadJson(String),
    #[error("{0}")]
    BadMessage(String),
    #[error("{0}")]
    BadName(String),
    #[error("{0}")]
    BadQuery(String),
    #[error("missing `Authorization: Bearer <token>` header (the token comes from the join)")]
    MissingToken,
    #[error("the token does not belong to peer {peer} of room {room}")]
    WrongToken { room: String, peer: String },
    #[error("no room {0} (rooms exist while they have peers; join creates one)")]
    UnknownRoom(String),
    #[error("no peer {peer} in room {room}")]
    UnknownPeer { room: String, peer: String },
    #[error("no endpoint {0} (see docs/signaling.md)")]
    NotFound(String),
    #[error("{method} is not allowed here; allowed: {allow}")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("room {room} is full ({max} peers)")]
    RoomFull { room: String, max: usize },
    #[error("peer {peer} left or expired while its poll waited")]
    Gone { peer: String },
    #[error("the body is larger than {max} bytes")]
    BodyTooLarge { max: usize },
    #[error("Content-Type must be application/json (got {0})")]
    UnsupportedMediaType(String),
    #[error("peer {peer} has {max} unacknowledged messages; nothing was queued, retry later")]
    QueueFull { peer: String, max: usize },
    #[error(
        "more than {rate} messages per second (burst {burst}); retry after {retry_after_secs} s"
    )]
    RateLimited {
        rate: u32,
        burst: u32,
        retry_after_secs: u64,
    },
    #[error(
        "more than {rate} joins per second from this address (burst {burst}); retry after {retry_after_secs} s"
    )]
    JoinRateLimited {
        rate: u32,
        burst: u32,
        retry_after_secs: u64,
    },
    #[error("the server is at its limit of {what}; retry after {retry_after_secs} s")]
    ServerFull {
        what: &'static str,
        retry_after_secs: u64,
    },
    #[error("the server is stopping")]
    ShuttingDown,
    #[error("the shared store (Redis) cannot be reached; retry in a moment ({0})")]
    StoreUnavailable(String),
}

impl ApiError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        use ApiError::*;
        match self {
            BadJson(_) | BadMessage(_) | BadName(_) | BadQuery(_) => 400,
            MissingToken => 401,
            WrongToken { .. } => 403,
            UnknownRoom(_) | UnknownPeer { .. } | NotFound(_) => 404,
            MethodNotAllowed { .. } => 405,
            RoomFull { .. } => 409,
            Gone { .. } => 410,
            BodyTooLarge { .. } => 413,
            UnsupportedMediaType(_) => 415,
            QueueFull { .. } | RateLimited { .. } | JoinRateLimited { .. } => 429,
            ServerFull { .. } | ShuttingDown | StoreUnavailable(_) => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            BadJson(_) => "bad_json",
            BadMessage(_) => "bad_message",
            BadName(_) => "bad_name",
            BadQuery(_) => "bad_query",
            MissingToken => "missing_token",
            WrongToken { .. } => "wrong_token",
            UnknownRoom(_) => "unknown_room",
            UnknownPeer { .. } => "unknown_peer",
            NotFound(_) => "not_found",
            MethodNotAllowed { .. } => "method_not_allowed",
            RoomFull { .. } => "room_full",
            Gone { .. } => "gone",
            BodyTooLarge { .. } => "body_too_large",
            UnsupportedMediaType(_) => "unsupported_media_type",
            QueueFull { .. } => "queue_full",
            RateLimited { .. } => "rate_limited",
            JoinRateLimited { .. } => "join_rate_limited",
            ServerFull { .. } => "server_full",
            ShuttingDown => "shutting_down",
            StoreUnavailable(_) => "store_unavailable",
        }
    }

    /// Seconds for `Retry-After`, on the errors that have one.
    pub fn retry_after_secs(&self) -> Option<u64> {
        use ApiError::*;
        match self {
            RateLimited {
                retry_after_secs, ..
            }
            | JoinRateLimited {
                retry_after_secs, ..
            }
            | ServerFull {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            StoreUnavailable(_) => Some(1),
            _ => None,
        }
    }

    /// The JSON body of the error response.
    pub fn body(&self) -> Bytes {
        let v = serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}});
        Bytes::from(v.to_string())
    }
}
