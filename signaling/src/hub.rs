//! The in-memory store (the default): rooms, peers and their queues in this process. One
//! mutex per room guards its peers; the room map is only read-locked on the hot path (poll,
//! send) and write-locked when a room appears or disappears. Locks are never held across
//! an await.

use crate::error::ApiError;
use crate::limits::{cost, full_retry, Bucket, Limits};
use crate::protocol::{message_tail, messages_body, DeliveredBody, Outgoing, PollQuery};
use crate::store::{BoxFut, Joined, Shared, Store};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

pub(crate) struct Hub {
    shared: Arc<Shared>,
    rooms: RwLock<HashMap<Box<str>, Arc<Room>>>,
    next_peer: AtomicU64,
}

struct Room {
    name: Box<str>,
    inner: Mutex<RoomInner>,
}

#[derive(Default)]
struct RoomInner {
    /// Set when the last peer went; the room is then (or about to be) out of the map.
    closed: bool,
    /// In join order.
    peers: Vec<Peer>,
}

struct Peer {
    id: Box<str>,
    name: Option<Box<str>>,
    token: Box<str>,
    queue: VecDeque<(u64, Bytes)>,
    /// The seq the next queued message gets.
    next_seq: u64,
    /// Woken on a new message, a newer poll, removal.
    wake: Arc<Notify>,
    /// Incremented by every poll: a waiting poll with an older generation ends.
    poll_gen: u64,
    waiting: u32,
    last_seen: Instant,
    bucket: Bucket,
}

/// Why a peer is removed.
#[derive(Clone, Copy)]
enum Reason {
    Left,
    Expired,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Left => "left",
            Reason::Expired => "expired",
        }
    }
}

fn lock(room: &Room) -> MutexGuard<'_, RoomInner> {
    // A panic while holding the lock leaves consistent data (no multi-step invariants are
    // broken half-way by a panicking path), so a poisoned lock is still usable.
    room.inner.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    let mut s = String::with_capacity(32);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl RoomInner {
    fn peer_mut(&mut self, room: &str, id: &str) -> Result<&mut Peer, ApiError> {
        self.peers
            .iter_mut()
            .find(|p| &*p.id == id)
            .ok_or_else(|| ApiError::UnknownPeer {
                room: room.into(),
                peer: id.into(),
            })
    }

    /// The peer `id` if `token` is its token.
    fn authed(&mut self, room: &str, id: &str, token: &str) -> Result<usize, ApiError> {
        let i = self
            .peers
            .iter()
            .position(|p| &*p.id == id)
            .ok_or_else(|| ApiError::UnknownPeer {
                room: room.into(),
                peer: id.into(),
            })?;
        let mine = self.peers[i].token.as_bytes();
        // Token length is not secret (always 32); the content is compared in constant time.
        if mine.len() != token.len() || !bool::from(mine.ct_eq(token.as_bytes())) {
            return Err(ApiError::WrongToken {
                room: room.into(),
                peer: id.into(),
            });
        }
        Ok(i)
    }

    /// Queues a server notification to every peer but `from` (exempt from `max_queue` and
    /// `max_queued_bytes`, but counted).
    fn notify_others(&mut self, limits: &Limits, from: &str, kind: &str, data: &str) {
        let tail = message_tail(from, None, kind, data);
        for p in self.peers.iter_mut().filter(|p| &*p.id != from) {
            p.push(limits, tail.clone());
        }
    }

    /// Removes peer `i`: its poll answers 410, the others get `leave`.
    fn remove(&mut self, limits: &Limits, i: usize, reason: Reason) -> Peer {
        let peer = self.peers.remove(i);
        peer.wake.notify_waiters();
        limits.dequeued(peer.queue.iter().map(|(_, t)| cost(t.len())).sum());
        limits.remove_peer();
        let data = format!("{{\"reason\":\"{}\"}}", reason.as_str());
        self.notify_others(limits, &peer.id, "leave", &data);
        if self.peers.is_empty() {
            self.closed = true;
        }
        peer
    }
}

impl Peer {
    fn push(&mut self, limits: &Limits, tail: Bytes) {
        limits.queued(cost(tail.len()));
        self.queue.push_back((self.next_seq, tail));
        self.next_seq += 1;
        self.wake.notify_waiters();
    }

    fn collect(&self) -> Vec<(u64, Bytes)> {
        self.queue.iter().cloned().collect()
    }
}

/// The result of one check of a waiting poll.
enum Check {
    Messages(Vec<(u64, Bytes)>),
    Wait,
}

impl Store for Hub {
    fn join<'a>(
        &'a self,
        room: &'a str,
        name: Option<String>,
    ) -> BoxFut<'a, Result<Joined, ApiError>> {
        Box::pin(std::future::ready(self.join(room, name)))
    }

    fn leave<'a>(
        &'a self,
        room: &'a str,
        peer: &'a str,
        token: &'a str,
        body: Result<(), ApiError>,
    ) -> BoxFut<'a, Result<(), ApiError>> {
        Box::pin(std::future::ready(self.leave(room, peer, token, body)))
    }

    fn send<'a>(
        &'a self,
        room: &'a str,
        from: &'a str,
        token: &'a str,
        msg: Result<Outgoing<'a>, ApiError>,
    ) -> BoxFut<'a, Result<Bytes, ApiError>> {
        Box::pin(std::future::ready(self.send(room, from, token, msg)))
    }

    fn poll<'a>(
        &'a self,
        room: &'a str,
        peer: &'a str,
        token: &'a str,
        q: PollQuery,
    ) -> BoxFut<'a, Result<Bytes, ApiError>> {
        Box::pin(self.poll(room, peer, token, q))
    }

    fn expire(&self) -> BoxFut<'_, ()> {
        self.expire(Instant::now());
        Box::pin(std::future::ready(()))
    }
}

impl Hub {
    pub fn new(shared: Arc<Shared>) -> Hub {
        Hub {
            shared,
            rooms: RwLock::default(),
            next_peer: AtomicU64::new(1),
        }
    }

    fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    fn log(&self, line: std::fmt::Arguments<'_>) {
        self.shared.log(line)
    }

    fn room(&self, name: &str) -> Result<Arc<Room>, ApiError> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        rooms
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::UnknownRoom(name.into()))
    }

    /// Takes a closed room out of the map (unless a new room of that name replaced it).
    fn drop_room(&self, room: &Arc<Room>) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        if rooms.get(&room.name).is_some_and(|r| Arc::ptr_eq(r, room)) {
            rooms.remove(&room.name);
        }
    }

    pub fn join(&self, room_name: &str, name: Option<String>) -> Result<Joined, ApiError> {
        self.limits().add_peer(&self.shared.config)?;
        let joined = self.join_reserved(room_name, name);
        if joined.is_err() {
            self.limits().remove_peer();
        }
        joined
    }

    /// Joins once a place in `max_peers` is reserved.
    fn join_reserved(&self, room_name: &str, name: Option<String>) -> Result<Joined, ApiError> {
        let token = new_token();
        loop {
            let room = match self.room(room_name) {
                Ok(r) => r,
                Err(_) => {
                    let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
                    if !rooms.contains_key(room_name) && rooms.len() >= self.shared.config.max_rooms
                    {
                        return Err(ApiError::ServerFull {
                            what: "rooms",
                            retry_after_secs: full_retry(&self.shared.config),
                        });
                    }
                    rooms
                        .entry(room_name.into())
                        .or_insert_with(|| {
                            Arc::new(Room {
                                name: room_name.into(),
                                inner: Mutex::default(),
                            })
                        })
                        .clone()
                }
            };
            let mut inner = lock(&room);
            if inner.closed {
                // Emptied between the map lookup and the lock: the next lookup makes a new one.
                drop(inner);
                self.drop_room(&room);
                continue;
            }
            if inner.peers.len() >= self.shared.config.max_room_peers {
                return Err(ApiError::RoomFull {
                    room: room_name.into(),
                    max: self.shared.config.max_room_peers,
                });
            }
            let id = format!("p{}", self.next_peer.fetch_add(1, Ordering::Relaxed));
            let peers = inner
                .peers
                .iter()
                .map(|p| (p.id.to_string(), p.name.as_deref().map(str::to_string)))
                .collect();
            let data = format!(
                "{{\"name\":{}}}",
                serde_json::to_string(&name).expect("a string serializes")
            );
            inner.notify_others(self.limits(), &id, "join", &data);
            let now = Instant::now();
            inner.peers.push(Peer {
                id: id.as_str().into(),
                name: name.as_deref().map(Into::into),
                token: token.as_str().into(),
                queue: VecDeque::new(),
                next_seq: 1,
                wake: Arc::new(Notify::new()),
                poll_gen: 0,
                waiting: 0,
                last_seen: now,
                bucket: Bucket::full(self.shared.config.rate_burst, now),
            });
            let count = inner.peers.len();
            drop(inner);
            let shown = name.as_deref().unwrap_or("-");
            self.log(format_args!(
                "join room={room_name} peer={id} name={shown:?} peers={count}"
            ));
            return Ok(Joined {
                peer_id: id,
                token,
                room: room_name.into(),
                peers,
            });
        }
    }

    /// Removes `peer`; `body` is the leave body's check, answered after authentication.
    pub fn leave(
        &self,
        room_name: &str,
        peer: &str,
        token: &str,
        body: Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let room = self.room(room_name)?;
        let mut inner = lock(&room);
        let i = inner.authed(room_name, peer, token)?;
        body?;
        inner.remove(self.limits(), i, Reason::Left);
        let closed = inner.closed;
        drop(inner);
        if closed {
            self.drop_room(&room);
        }
        self.log(format_args!(
            "leave room={room_name} peer={peer} reason=left"
        ));
        Ok(())
    }

    /// Queues `msg` from `from`; returns the answer `{"delivered_to": [ids]}`.
    pub fn send(
        &self,
        room_name: &str,
        from: &str,
        token: &str,
        msg: Result<Outgoing<'_>, ApiError>,
    ) -> Result<Bytes, ApiError> {
        // Serialized before taking the lock; the body is checked after authentication so an
        // unauthenticated client learns nothing from it.
        let tail = msg
            .as_ref()
            .ok()
            .map(|m| message_tail(from, m.to.as_deref(), m.kind.as_str(), m.data));
        let room = self.room(room_name)?;
        let mut inner = lock(&room);
        let sender = inner.authed(room_name, from, token)?;
        let msg = msg?;
        let tail = tail.expect("serialized when the message parsed");
        // Recipients: the one `to` names, or everyone but the sender.
        let only = match &msg.to {
            Some(to) => {
                if **to == *from {
                    return Err(ApiError::BadMessage(
                        "`to` is the sender itself; a peer does not receive its own messages"
                            .into(),
                    ));
                }
                let i = inner
                    .peers
                    .iter()
                    .position(|p| *p.id == **to)
                    .ok_or_else(|| ApiError::UnknownPeer {
                        room: room_name.into(),
                        peer: to.to_string(),
                    })?;
                Some(i)
            }
            None => None,
        };
        let is_recipient = |i: usize| only.map_or(i != sender, |only| i == only);
        let now = Instant::now();
        let (rate, burst) = (
            self.shared.config.rate_per_sec,
            self.shared.config.rate_burst,
        );
        if rate > 0 {
            let wait = inner.peers[sender].bucket.refill(rate, burst, now);
            if wait > 0 {
                return Err(ApiError::RateLimited {
                    rate,
                    burst,
                    retry_after_secs: wait,
                });
            }
        }
        let max = self.shared.config.max_queue;
        if let Some(full) = (0..inner.peers.len())
            .filter(|&i| is_recipient(i))
            .find(|&i| inner.peers[i].queue.len() >= max)
        {
            return Err(ApiError::QueueFull {
                peer: inner.peers[full].id.to_string(),
                max,
            });
        }
        let recipients = (0..inner.peers.len()).filter(|&i| is_recipient(i)).count();
        self.limits()
            .check_queue_room(&self.shared.config, recipients * cost(tail.len()))?;
        if rate > 0 {
            inner.peers[sender].bucket.tokens -= 1.0;
        }
        let mut answer = DeliveredBody::new();
        for (i, p) in inner.peers.iter_mut().enumerate() {
            if is_recipient(i) {
                p.push(self.limits(), tail.clone());
                answer.add(&p.id);
            }
        }
        Ok(answer.finish())
    }

    /// Acknowledges `q.after`, then waits for messages; returns the response body.
    pub async fn poll(
        &self,
        room_name: &str,
        peer: &str,
        token: &str,
        q: PollQuery,
    ) -> Result<Bytes, ApiError> {
        let timeout = self.shared.poll_wait(&q);
        let room = self.room(room_name)?;
        let (wake, generation) = {
            let mut inner = lock(&room);
            let i = inner.authed(room_name, peer, token)?;
            let p = &mut inner.peers[i];
            if q.after >= p.next_seq {
                return Err(ApiError::BadQuery(format!(
                    "after={} is beyond the last seq given to {peer} ({})",
                    q.after,
                    p.next_seq - 1
                )));
            }
            let mut acked = 0;
            while p.queue.front().is_some_and(|(seq, _)| *seq <= q.after) {
                acked += p.queue.pop_front().map_or(0, |(_, t)| cost(t.len()));
            }
            self.limits().dequeued(acked);
            p.last_seen = Instant::now();
            // Ends a poll of this peer that still waits (it answers an empty list).
            p.poll_gen += 1;
            if p.waiting > 0 {
                p.wake.notify_waiters();
            }
            if self.shared.is_shutting_down() {
                return Err(ApiError::ShuttingDown);
            }
            if !p.queue.is_empty() || timeout.is_zero() {
                return Ok(messages_body(&p.collect()));
            }
            p.waiting += 1;
            (p.wake.clone(), p.poll_gen)
        };
        let _waiting = WaitGuard { room: &room, peer };
        let deadline = tokio::time::Instant::now() + timeout;
        let sleep = tokio::time::sleep_until(deadline);
        tokio::pin!(sleep);
        loop {
            // Registered before looking at the state, so no wake-up between the two is lost.
            let woken = wake.notified();
            let stopping = self.shared.shutdown_notified();
            tokio::pin!(woken, stopping);
            woken.as_mut().enable();
            stopping.as_mut().enable();
            match self.check(&room, peer, generation)? {
                Check::Messages(m) => return Ok(messages_body(&m)),
                Check::Wait => {}
            }
            tokio::select! {
                _ = &mut woken => {}
                _ = &mut stopping => {}
                _ = &mut sleep => return Ok(messages_body(&[])),
            }
        }
    }

    fn check(&self, room: &Room, peer: &str, generation: u64) -> Result<Check, ApiError> {
        let mut inner = lock(room);
        let Ok(p) = inner.peer_mut(&room.name, peer) else {
            return Err(ApiError::Gone { peer: peer.into() });
        };
        if p.poll_gen != generation {
            return Ok(Check::Messages(Vec::new()));
        }
        if self.shared.is_shutting_down() {
            return Err(ApiError::ShuttingDown);
        }
        if p.queue.is_empty() {
            Ok(Check::Wait)
        } else {
            Ok(Check::Messages(p.collect()))
        }
    }

    /// Removes every peer with no poll waiting and no poll for `expire_after`.
    pub fn expire(&self, now: Instant) {
        let rooms: Vec<Arc<Room>> = {
            let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
            rooms.values().cloned().collect()
        };
        let limit = self.shared.config.expire_after;
        for room in rooms {
            let mut inner = lock(&room);
            while let Some(i) = inner
                .peers
                .iter()
                .position(|p| p.waiting == 0 && now.saturating_duration_since(p.last_seen) >= limit)
            {
                let gone = inner.remove(self.limits(), i, Reason::Expired);
                self.log(format_args!(
                    "leave room={} peer={} reason=expired",
                    room.name, gone.id
                ));
            }
            let closed = inner.closed;
            drop(inner);
            if closed {
                self.drop_room(&room);
            }
        }
    }
}

/// Counts a waiting poll; when it ends (answered or its connection dropped) the peer's
/// expiry clock restarts.
struct WaitGuard<'a> {
    room: &'a Room,
    peer: &'a str,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let mut inner = lock(self.room);
        if let Ok(p) = inner.peer_mut(&self.room.name, self.peer) {
            p.waiting -= 1;
            p.last_seen = Instant::now();
        }
    }
}
