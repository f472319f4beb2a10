//! The Redis store (`--redis URL`): rooms, peers and queues in one Redis that several server
//! instances share, so any instance serves any peer and a restarted one loses nothing.
//!
//! Every operation is one Lua script (the `.lua` files here, after `common.lua`), atomic in
//! Redis as the in-memory store's room lock is in one process: the protocol's answers, the
//! order of its checks and the caps are the same, counted in Redis across all instances.
//! A waiting poll sleeps on a local `Notify`; each instance holds one subscription to
//! `mrtc:wake`, on which the scripts publish `<room>/<peer>` whenever that peer's queue,
//! poll or existence changes, and wakes its own waiting polls of that peer.
//!
//! Client: the `redis` crate (redis-rs), the maintained Rust client with tokio support, a
//! multiplexed connection that reconnects by itself (`ConnectionManager`) and scripts
//! loaded by SHA with EVALSHA (`Script`). fred would do as well; redis-rs has the smaller
//! dependency tree for what is used here.

use crate::error::ApiError;
use crate::limits::full_retry;
use crate::protocol::{message_tail, messages_body, DeliveredBody, Outgoing, PollQuery};
use crate::store::{BoxFut, Joined, Shared, Store};
use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::{Script, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

const COMMON: &str = include_str!("common.lua");

/// How often a waiting poll looks again without a wake-up: a lost publish (the subscription
/// reconnecting) costs at most this much delay.
const RECHECK: Duration = Duration::from_secs(5);

/// Most peers one expiry pass removes (the next pass, a quarter of expire_after later, goes on).
const EXPIRE_BATCH: usize = 500;

struct Scripts {
    join: Script,
    leave: Script,
    send: Script,
    poll_start: Script,
    poll_check: Script,
    poll_end: Script,
    expire: Script,
}

fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

/// Waiting polls of this instance, by `<room>/<peer>`.
#[derive(Default)]
struct Waiters(Mutex<HashMap<String, (Arc<Notify>, usize)>>);

impl Waiters {
    fn register(&self, key: &str) -> Arc<Notify> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry(key.to_string())
            .or_insert_with(|| (Arc::new(Notify::new()), 0));
        entry.1 += 1;
        entry.0.clone()
    }

    fn unregister(&self, key: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = map.get_mut(key) {
            entry.1 -= 1;
            if entry.1 == 0 {
                map.remove(key);
            }
        }
    }

    fn wake(&self, key: &str) {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((n, _)) = map.get(key) {
            n.notify_waiters();
        }
    }

    fn wake_all(&self) {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (n, _) in map.values() {
            n.notify_waiters();
        }
    }
}

pub(crate) struct RedisStore {
    shared: Arc<Shared>,
    conn: ConnectionManager,
    scripts: Scripts,
    waiters: Arc<Waiters>,
    subscriber: tokio::task::JoinHandle<()>,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

/// Redis unreachable or answering what the scripts never return.
fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::StoreUnavailable(e.to_string())
}

/// A script's answer: its status word and the rest.
fn reply(v: Value) -> Result<(String, Vec<Value>), ApiError> {
    let Value::Array(mut items) = v else {
        return Err(unavailable(format!("unexpected script answer {v:?}")));
    };
    if items.is_empty() {
        return Err(unavailable("empty script answer"));
    }
    let status = text(&items.remove(0))?;
    Ok((status, items))
}

fn text(v: &Value) -> Result<String, ApiError> {
    match v {
        Value::BulkString(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Ok(s.clone()),
        Value::Int(i) => Ok(i.to_string()),
        other => Err(unavailable(format!("unexpected value {other:?}"))),
    }
}

fn int(v: &Value) -> Result<u64, ApiError> {
    text(v)?
        .parse()
        .map_err(|_| unavailable(format!("not a number: {v:?}")))
}

fn bytes(v: &Value) -> Bytes {
    match v {
        Value::BulkString(b) => Bytes::copy_from_slice(b),
        _ => Bytes::new(),
    }
}

/// `seq, message, …` into what `messages_body` writes.
fn messages(items: &[Value]) -> Result<Vec<(u64, Bytes)>, ApiError> {
    items
        .chunks_exact(2)
        .map(|pair| Ok((int(&pair[0])?, bytes(&pair[1]))))
        .collect()
}

/// The SHA-256 of a token, hex: what Redis holds instead of the token.
fn token_sha(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The common errors of an authenticated operation.
fn auth_error(code: &str, room: &str, peer: &str) -> Option<ApiError> {
    match code {
        "unknown_room" => Some(ApiError::UnknownRoom(room.into())),
        "unknown_peer" => Some(ApiError::UnknownPeer {
            room: room.into(),
            peer: peer.into(),
        }),
        "wrong_token" => Some(ApiError::WrongToken {
            room: room.into(),
            peer: peer.into(),
        }),
        _ => None,
    }
}

impl RedisStore {
    /// Connects to `url` and subscribes to the wake-ups; fails when Redis cannot be reached.
    pub async fn connect(url: &str, shared: Arc<Shared>) -> anyhow::Result<RedisStore> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let mut conn = tokio::time::timeout(
            Duration::from_secs(10),
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("no answer within 10 s"))??;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        let waiters = Arc::new(Waiters::default());
        // Subscribed before the first request is served, so no wake-up is missed.
        let first = client.get_async_pubsub().await?;
        let subscriber = tokio::spawn(subscribe(client, first, waiters.clone()));
        Ok(RedisStore {
            shared,
            conn,
            scripts: Scripts {
                join: script(include_str!("join.lua")),
                leave: script(include_str!("leave.lua")),
                send: script(include_str!("send.lua")),
                poll_start: script(include_str!("poll_start.lua")),
                poll_check: script(include_str!("poll_check.lua")),
                poll_end: script(include_str!("poll_end.lua")),
                expire: script(include_str!("expire.lua")),
            },
            waiters,
            subscriber,
        })
    }

    async fn run(&self, script: &Script, args: &[&str]) -> Result<Value, ApiError> {
        let mut invocation = script.prepare_invoke();
        for a in args {
            invocation.arg(*a);
        }
        let mut conn = self.conn.clone();
        invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn join_now(&self, room: &str, name: Option<String>) -> Result<Joined, ApiError> {
        let c = &self.shared.config;
        let token = crate::hub::new_token();
        let data = format!(
            "{{\"name\":{}}}",
            serde_json::to_string(&name).expect("a string serializes")
        );
        let args = [
            room,
            if name.is_some() { "1" } else { "0" },
            name.as_deref().unwrap_or(""),
            &token_sha(&token),
            &c.max_peers.to_string(),
            &c.max_rooms.to_string(),
            &c.max_room_peers.to_string(),
            &(c.expire_after.as_millis() as u64).to_string(),
            &c.rate_burst.to_string(),
            &data,
        ];
        let (status, items) = reply(self.run(&self.scripts.join, &args).await?)?;
        let full = |what| ApiError::ServerFull {
            what,
            retry_after_secs: full_retry(c),
        };
        match status.as_str() {
            "ok" => {}
            "peers" => return Err(full("peers")),
            "rooms" => return Err(full("rooms")),
            "room_full" => {
                return Err(ApiError::RoomFull {
                    room: room.into(),
                    max: c.max_room_peers,
                })
            }
            other => return Err(unavailable(format!("join: {other}"))),
        }
        let peer_id = text(items.first().ok_or_else(|| unavailable("join: no id"))?)?;
        let mut peers = Vec::new();
        for p in items[1..].chunks_exact(3) {
            let named = int(&p[2])? == 1;
            peers.push((text(&p[0])?, named.then(|| text(&p[1])).transpose()?));
        }
        let shown = name.as_deref().unwrap_or("-");
        self.shared.log(format_args!(
            "join room={room} peer={peer_id} name={shown:?} peers={}",
            peers.len() + 1
        ));
        Ok(Joined {
            peer_id,
            token,
            room: room.into(),
            peers,
        })
    }

    async fn leave_now(
        &self,
        room: &str,
        peer: &str,
        token: &str,
        body: Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let ok = if body.is_ok() { "1" } else { "0" };
        let args = [room, peer, &token_sha(token), ok];
        let (status, _) = reply(self.run(&self.scripts.leave, &args).await?)?;
        match status.as_str() {
            "ok" => {
                self.shared
                    .log(format_args!("leave room={room} peer={peer} reason=left"));
                Ok(())
            }
            "body" => body,
            code => Err(auth_error(code, room, peer)
                .unwrap_or_else(|| unavailable(format!("leave: {code}")))),
        }
    }

    async fn send_now(
        &self,
        room: &str,
        from: &str,
        token: &str,
        msg: Result<Outgoing<'_>, ApiError>,
    ) -> Result<Bytes, ApiError> {
        let c = &self.shared.config;
        let (to, tail) = match &msg {
            Ok(m) => (
                m.to.as_deref().unwrap_or(""),
                message_tail(from, m.to.as_deref(), m.kind.as_str(), m.data),
            ),
            Err(_) => ("", Bytes::new()),
        };
        let tail = std::str::from_utf8(&tail).map_err(unavailable)?;
        let args = [
            room,
            from,
            &token_sha(token),
            if msg.is_ok() { "1" } else { "0" },
            to,
            tail,
            &c.rate_per_sec.to_string(),
            &c.rate_burst.to_string(),
            &c.max_queue.to_string(),
            &c.max_queued_bytes.to_string(),
        ];
        let (status, items) = reply(self.run(&self.scripts.send, &args).await?)?;
        match status.as_str() {
            "ok" => {
                let mut answer = DeliveredBody::new();
                for id in &items {
                    answer.add(&text(id)?);
                }
                Ok(answer.finish())
            }
            "body" => Err(msg.err().unwrap_or_else(|| unavailable("send: body"))),
            "self" => Err(ApiError::BadMessage(
                "`to` is the sender itself; a peer does not receive its own messages".into(),
            )),
            "unknown_to" => Err(ApiError::UnknownPeer {
                room: room.into(),
                peer: to.into(),
            }),
            "rate" => Err(ApiError::RateLimited {
                rate: c.rate_per_sec,
                burst: c.rate_burst,
                retry_after_secs: items.first().map(int).transpose()?.unwrap_or(1),
            }),
            "queue_full" => Err(ApiError::QueueFull {
                peer: items.first().map(text).transpose()?.unwrap_or_default(),
                max: c.max_queue,
            }),
            "bytes" => Err(ApiError::ServerFull {
                what: "queued bytes (recipients have not acknowledged their messages)",
                retry_after_secs: 1,
            }),
            code => Err(auth_error(code, room, from)
                .unwrap_or_else(|| unavailable(format!("send: {code}")))),
        }
    }

    async fn poll_now(
        &self,
        room: &str,
        peer: &str,
        token: &str,
        q: PollQuery,
    ) -> Result<Bytes, ApiError> {
        let wait = self.shared.poll_wait(&q);
        let expire_ms = (self.shared.config.expire_after.as_millis() as u64).to_string();
        let args = [
            room,
            peer,
            &token_sha(token),
            &q.after.to_string(),
            &(wait.as_millis() as u64).to_string(),
            &expire_ms,
        ];
        let key = format!("{room}/{peer}");
        // Registered before the first look, so a wake-up right after it is not lost.
        let notify = self.waiters.register(&key);
        let _registered = Unregister(&self.waiters, &key);
        let (status, items) = reply(self.run(&self.scripts.poll_start, &args).await?)?;
        match status.as_str() {
            "ok" => {}
            "after" => {
                let last = items.first().map(int).transpose()?.unwrap_or(0);
                return Err(ApiError::BadQuery(format!(
                    "after={} is beyond the last seq given to {peer} ({last})",
                    q.after
                )));
            }
            code => {
                return Err(auth_error(code, room, peer)
                    .unwrap_or_else(|| unavailable(format!("poll: {code}"))))
            }
        }
        let generation = text(items.first().ok_or_else(|| unavailable("poll: no gen"))?)?;
        if self.shared.is_shutting_down() {
            return Err(ApiError::ShuttingDown);
        }
        let first = messages(&items[1..])?;
        if !first.is_empty() || wait.is_zero() {
            return Ok(messages_body(&first));
        }
        // From here the poll waits; when it ends, however, the expiry clock restarts.
        let _end = PollEnd {
            conn: self.conn.clone(),
            script: self.scripts.poll_end.clone(),
            args: [room.into(), peer.into(), generation.clone(), expire_ms],
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let woken = notify.notified();
            let stopping = self.shared.shutdown_notified();
            tokio::pin!(woken, stopping);
            woken.as_mut().enable();
            stopping.as_mut().enable();
            let (status, items) = reply(
                self.run(&self.scripts.poll_check, &[room, peer, &generation])
                    .await?,
            )?;
            match status.as_str() {
                "ok" if items.is_empty() => {}
                "ok" => return Ok(messages_body(&messages(&items)?)),
                "superseded" => return Ok(messages_body(&[])),
                "gone" => return Err(ApiError::Gone { peer: peer.into() }),
                other => return Err(unavailable(format!("poll: {other}"))),
            }
            if self.shared.is_shutting_down() {
                return Err(ApiError::ShuttingDown);
            }
            let recheck = (tokio::time::Instant::now() + RECHECK).min(deadline);
            tokio::select! {
                _ = &mut woken => {}
                _ = &mut stopping => {}
                _ = tokio::time::sleep_until(recheck) => {
                    if recheck >= deadline {
                        return Ok(messages_body(&[]));
                    }
                }
            }
        }
    }

    async fn expire_now(&self) {
        let Ok(v) = self
            .run(&self.scripts.expire, &[&EXPIRE_BATCH.to_string()])
            .await
        else {
            return; // Redis unreachable: the next pass tries again.
        };
        if let Value::Array(items) = v {
            for member in items.iter().filter_map(|m| text(m).ok()) {
                if let Some((room, peer)) = member.split_once('/') {
                    self.shared
                        .log(format_args!("leave room={room} peer={peer} reason=expired"));
                }
            }
        }
    }
}

struct Unregister<'a>(&'a Waiters, &'a str);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0.unregister(self.1);
    }
}

/// Runs `poll_end` when a waiting poll ends, also when its connection dropped it.
struct PollEnd {
    conn: ConnectionManager,
    script: Script,
    args: [String; 4],
}

impl Drop for PollEnd {
    fn drop(&mut self) {
        let (mut conn, script) = (self.conn.clone(), self.script.clone());
        let args = std::mem::take(&mut self.args);
        // Not during the runtime's own shutdown (the expiry clock is Redis's: the poll's
        // `until` still ends it).
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut invocation = script.prepare_invoke();
            for a in &args {
                invocation.arg(a.as_str());
            }
            let _: Result<Value, _> = invocation.invoke_async(&mut conn).await;
        });
    }
}

/// Holds the subscription to `mrtc:wake` and wakes this instance's waiting polls; resubscribes
/// after a lost connection, then wakes every waiting poll (a publish may have been missed).
async fn subscribe(client: redis::Client, first: redis::aio::PubSub, waiters: Arc<Waiters>) {
    use futures_util::StreamExt;
    let mut pubsub = Some(first);
    loop {
        if let Some(mut ps) = pubsub.take() {
            if ps.subscribe("mrtc:wake").await.is_ok() {
                waiters.wake_all();
                let mut stream = ps.into_on_message();
                while let Some(msg) = stream.next().await {
                    if let Ok(key) = msg.get_payload::<String>() {
                        waiters.wake(&key);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        pubsub = client.get_async_pubsub().await.ok();
    }
}

impl Store for RedisStore {
    fn join<'a>(
        &'a self,
        room: &'a str,
        name: Option<String>,
    ) -> BoxFut<'a, Result<Joined, ApiError>> {
        Box::pin(self.join_now(room, name))
    }

    fn leave<'a>(
        &'a self,
        room: &'a str,
        peer: &'a str,
        token: &'a str,
        body: Result<(), ApiError>,
    ) -> BoxFut<'a, Result<(), ApiError>> {
        Box::pin(self.leave_now(room, peer, token, body))
    }

    fn send<'a>(
        &'a self,
        room: &'a str,
        from: &'a str,
        token: &'a str,
        msg: Result<Outgoing<'a>, ApiError>,
    ) -> BoxFut<'a, Result<Bytes, ApiError>> {
        Box::pin(self.send_now(room, from, token, msg))
    }

    fn poll<'a>(
        &'a self,
        room: &'a str,
        peer: &'a str,
        token: &'a str,
        q: PollQuery,
    ) -> BoxFut<'a, Result<Bytes, ApiError>> {
        Box::pin(self.poll_now(room, peer, token, q))
    }

    fn expire(&self) -> BoxFut<'_, ()> {
        Box::pin(self.expire_now())
    }
}
