//! Server limits and timeouts (the table in docs/signaling.md).

use crate::ice::IceConfig;
use std::time::Duration;

/// Limits and timeouts of one server. `Default` gives the values documented in
/// docs/signaling.md; every field has a `--flag` of the same name on the binary.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Longest a poll waits (and the default of `timeout_ms`).
    pub poll_timeout: Duration,
    /// A peer with no poll waiting and no poll for this long is removed (`leave`, `expired`).
    pub expire_after: Duration,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// Peers per room (409 `room_full` beyond).
    pub max_room_peers: usize,
    /// Unacknowledged messages per peer queue (429 `queue_full` beyond). Server
    /// notifications (`join`, `leave`) are always queued, even over this limit.
    pub max_queue: usize,
    /// Sends per second and peer, refilled continuously; 0 disables the limit.
    pub rate_per_sec: u32,
    /// Token bucket size: how many sends may come in a burst.
    pub rate_burst: u32,
    /// Peers on the whole server (503 `server_full` beyond).
    pub max_peers: usize,
    /// Rooms on the whole server (503 `server_full` for a join that would create one more).
    pub max_rooms: usize,
    /// Bytes of unacknowledged messages in all queues together, each message counted once
    /// per recipient (503 `server_full` for a send beyond).
    pub max_queued_bytes: usize,
    /// Joins per second from one client address (IPv4, or IPv6 /64), refilled continuously;
    /// 0 disables the limit.
    pub join_rate_per_sec: u32,
    /// Joins one client address may make in a burst.
    pub join_burst: u32,
    /// Open connections; one more is answered 503 `server_full` and closed.
    pub max_connections: usize,
    /// STUN/TURN servers and the TURN secret for the join answer's `ice_servers`.
    pub ice: IceConfig,
    /// One line per join/leave/expiry on stderr.
    pub log: bool,
    /// `redis://HOST:PORT[/DB]`: rooms, peers and queues in this Redis, shared with every
    /// server given the same one (`None`: in this process's memory).
    pub redis: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            poll_timeout: Duration::from_millis(25_000),
            expire_after: Duration::from_millis(60_000),
            max_body_bytes: 65_536,
            max_room_peers: 16,
            max_queue: 256,
            rate_per_sec: 50,
            rate_burst: 200,
            max_peers: 10_000,
            max_rooms: 5_000,
            max_queued_bytes: 64 << 20,
            join_rate_per_sec: 5,
            join_burst: 30,
            max_connections: 16_384,
            ice: IceConfig {
                turn_ttl: Duration::from_secs(86_400),
                ..IceConfig::default()
            },
            log: true,
            redis: None,
        }
    }
}

/// A configuration the server cannot run with.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{0}")]
    Ice(String),
    #[error("{field} must be at least {min} (got {got})")]
    TooSmall {
        field: &'static str,
        min: u64,
        got: u64,
    },
}

impl Config {
    /// Checks that every limit leaves the server usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |field, min: u64, got: u64| {
            if got < min {
                Err(ConfigError::TooSmall { field, min, got })
            } else {
                Ok(())
            }
        };
        check("expire_after_ms", 1, self.expire_after.as_millis() as u64)?;
        // A join body with a display name must fit.
        check("max_body_bytes", 256, self.max_body_bytes as u64)?;
        check("max_room_peers", 1, self.max_room_peers as u64)?;
        check("max_queue", 1, self.max_queue as u64)?;
        if self.rate_per_sec > 0 {
            check("rate_burst", 1, self.rate_burst as u64)?;
        }
        check("max_peers", 1, self.max_peers as u64)?;
        check("max_rooms", 1, self.max_rooms as u64)?;
        // One largest message must fit.
        check(
            "max_queued_bytes",
            self.max_body_bytes as u64 + 1024,
            self.max_queued_bytes as u64,
        )?;
        if self.join_rate_per_sec > 0 {
            check("join_burst", 1, self.join_burst as u64)?;
        }
        check("max_connections", 2, self.max_connections as u64)?;
        if let Some(p) = self.ice.problem() {
            return Err(ConfigError::Ice(p));
        }
        Ok(())
    }
}
