//! Where rooms, peers and queues live: the [`Store`] trait the HTTP layer talks to, with
//! one process's memory (`hub.rs`, the default) or Redis (`redis_store/`, `--redis URL`,
//! shared by several instances) behind it. Names, bodies, the join rate and the ICE
//! servers are checked or made by the HTTP layer before a store sees a request.

use crate::config::Config;
use crate::error::ApiError;
use crate::limits::Limits;
use crate::protocol::{Outgoing, PollQuery};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// A store's answer, boxed so the HTTP layer can hold any store as `dyn Store`.
pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a successful join returns.
pub(crate) struct Joined {
    pub peer_id: String,
    pub token: String,
    pub room: String,
    pub peers: Vec<(String, Option<String>)>,
}

/// The protocol's state operations (docs/signaling.md). Each answers exactly what the
/// document says for its endpoint, in the documented order of checks, from the room on:
/// `unknown_room`, `unknown_peer`, `wrong_token`, then the operation's own.
pub(crate) trait Store: Send + Sync {
    /// Joins `room` (creating it), `name` already checked.
    fn join<'a>(
        &'a self,
        room: &'a str,
        name: Option<String>,
    ) -> BoxFut<'a, Result<Joined, ApiError>>;

    /// Removes `peer`; `body` is the leave body's check, answered after the token's.
    fn leave<'a>(
        &'a self,
        room: &'a str,
        peer: &'a str,
        token: &'a str,
        body: Result<(), ApiError>,
    ) -> BoxFut<'a, Result<(), ApiError>>;

    /// Queues `msg` (its parse result, answered after the token's); returns the answer
    /// `{"delivered_to": [ids]}`.
    fn send<'a>(
        &'a self,
        room: &'a str,
        from: &'a str,
        token: &'a str,
        msg: Result<Outgoing<'a>, ApiError>,
    ) -> BoxFut<'a, Result<Bytes, ApiError>>;

    /// Acknowledges `q.after`, then waits for messages; returns the response body.
    fn poll<'a>(
        &'a self,
        room: &'a str,
        peer: &'a str,
        token: &'a str,
        q: PollQuery,
    ) -> BoxFut<'a, Result<Bytes, ApiError>>;

    /// Removes the peers whose expiry has come; run every [`Shared::expire_interval`].
    fn expire(&self) -> BoxFut<'_, ()>;
}

/// What every part of one server process shares: its configuration, its counters and join
/// buckets, and whether it is stopping.
pub(crate) struct Shared {
    pub config: Config,
    pub limits: Limits,
    shutting_down: AtomicBool,
    shutdown: Notify,
}

impl Shared {
    pub fn new(config: Config) -> Shared {
        Shared {
            config,
            limits: Limits::new(),
            shutting_down: AtomicBool::new(false),
            shutdown: Notify::new(),
        }
    }

    pub fn log(&self, line: std::fmt::Arguments<'_>) {
        if self.config.log {
            eprintln!("{line}");
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Makes every waiting and future poll answer 503.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
    }

    /// Resolves once shutdown has begun.
    pub async fn stopped(&self) {
        loop {
            let stopping = self.shutdown.notified();
            tokio::pin!(stopping);
            stopping.as_mut().enable();
            if self.is_shutting_down() {
                return;
            }
            stopping.await;
        }
    }

    /// A future that resolves on shutdown, registered now (so no wake-up is lost between
    /// this call and a check of the state).
    pub fn shutdown_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.shutdown.notified()
    }

    /// How often expiry runs: a quarter of `expire_after`, between 10 ms and 1 s.
    pub fn expire_interval(&self) -> Duration {
        (self.config.expire_after / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
    }

    /// The poll's wait, `timeout_ms` lowered to `poll_timeout`.
    pub fn poll_wait(&self, q: &PollQuery) -> Duration {
        q.timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(self.config.poll_timeout)
            .min(self.config.poll_timeout)
    }
}
