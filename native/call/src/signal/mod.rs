//! Client of the chat-room signaling protocol v1 (docs/signaling.md), written from that
//! document alone.
//!
//! Blocking on purpose (ureq, no async runtime): the call core also runs inside the Android
//! cdylib. One poll thread long-polls the peer's queue, acknowledges with `after=` only what
//! it has handed over, drops duplicates by `seq` and delivers messages on a channel.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What went wrong talking to the signaling server.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// The server answered with a protocol error (`{"error":{"code","message"}}`).
    #[error("signaling server: {status} {code}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The protocol's error code (`wrong_token`, `room_full`, …).
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// No answer (connection refused, DNS, timeout).
    #[error(
        "cannot reach the signaling server at {url}: {source} (is it running? check --server)"
    )]
    Unreachable {
        /// The URL that was tried.
        url: String,
        /// The transport error.
        #[source]
        source: Box<ureq::Transport>,
    },
    /// The server's answer was not what the protocol says.
    #[error("unexpected answer from the signaling server ({url}): {why}")]
    Protocol {
        /// The URL that was tried.
        url: String,
        /// What was wrong.
        why: String,
    },
    /// Bad input on our side (URL, room name).
    #[error("{0}")]
    Invalid(String),
}

impl SignalError {
    /// The protocol error code, when the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            SignalError::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// One message of a peer's queue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Envelope {
    /// Position in our queue.
    pub seq: u64,
    /// Sender's peer id (for `join`/`leave`: the peer concerned).
    pub from: String,
    /// Our id for a direct message, `None` for a room message.
    pub to: Option<String>,
    /// `offer`, `answer`, `candidate`, `bye`, `chat`, `join`, `leave`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's payload.
    #[serde(default)]
    pub data: Value,
}

/// A peer already in the room when we joined.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoomPeer {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: Option<String>,
}

/// The answer to a join.
#[derive(Debug, Clone, Deserialize)]
pub struct Joined {
    /// Our peer id.
    pub peer_id: String,
    /// Our secret token.
    pub token: String,
    /// Peers already there, in join order.
    pub peers: Vec<RoomPeer>,
    /// The server's long-poll timeout.
    pub poll_timeout_ms: u64,
    /// STUN/TURN servers the server hands out (TURN with a short-lived credential); empty
    /// when it has none configured or predates them.
    #[serde(default)]
    pub ice_servers: Vec<JoinIceServer>,
    /// Seconds the TURN credential stays valid, when there is one.
    #[serde(default)]
    pub ice_servers_ttl_s: Option<u64>,
}

/// One entry of the join's `ice_servers`, shaped as the browser's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JoinIceServer {
    /// One URL or several.
    pub urls: Urls,
    /// TURN user name (`<expiry>:<peer id>`).
    #[serde(default)]
    pub username: Option<String>,
    /// TURN credential.
    #[serde(default)]
    pub credential: Option<String>,
}

/// `urls` of an `RTCIceServer`: a string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Urls {
    /// One URL.
    One(String),
    /// Several URLs.
    Many(Vec<String>),
}

impl Joined {
    /// The join's ICE servers in the form the peer connection takes.
    pub fn ice_servers(&self) -> Vec<mobilertc::IceServer> {
        self.ice_servers
            .iter()
            .map(|s| mobilertc::IceServer {
                urls: match &s.urls {
                    Urls::One(u) => vec![u.clone()],
                    Urls::Many(us) => us.clone(),
                },
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            })
            .collect()
    }
}

/// What the poll thread delivers.
#[derive(Debug)]
pub enum Incoming {
    /// A message, in `seq` order, each exactly once.
    Message(Envelope),
    /// Polling failed for good (token refused, peer expired, server gone for too long).
    Failed(SignalError),
}

/// Checks a room name the way the server does, so a typo fails before any request.
pub fn check_name(what: &str, name: &str) -> Result<(), SignalError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(SignalError::Invalid(format!(
            "{what} {name:?} is not valid: use 1-64 of A-Z a-z 0-9 _ -"
        )))
    }
}

fn base_url(server: &str) -> Result<String, SignalError> {
    let base = server.trim_end_matches('/');
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("https://"))
        .ok_or_else(|| {
            SignalError::Invalid(format!(
                "server URL {server:?} must start with http:// or https:// (e.g. http://127.0.0.1:8080)"
            ))
        })?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(SignalError::Invalid(format!(
            "server URL {server:?} has no host"
        )));
    }
    Ok(base.to_owned())
}

fn map_err(url: &str, err: ureq::Error) -> SignalError {
    match err {
        ureq::Error::Status(status, response) => {
            let body: Value = response.into_json().unwrap_or(Value::Null);
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or("unknown")
                .to_owned();
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or("(no error body)")
                .to_owned();
            SignalError::Server {
                status,
                code,
                message,
            }
        }
        ureq::Error::Transport(t) => SignalError::Unreachable {
            url: url.to_owned(),
            source: Box::new(t),
        },
    }
}

/// The instances of one deployment (a signaling server on Redis, docs/signaling.md): the
/// one in use, and the others to move to when it stops answering.
#[derive(Debug)]
struct Servers {
    bases: Vec<String>,
    current: AtomicUsize,
}

impl Servers {
    fn current(&self) -> (usize, &str) {
        let i = self.current.load(Ordering::SeqCst) % self.bases.len();
        (i, &self.bases[i])
    }

    /// After `err` from instance `i`: moves on to the next one when `err` says that instance
    /// is gone or stopping (no answer, 503) and there is another. Returns whether it moved.
    fn fail_over(&self, i: usize, err: &SignalError) -> bool {
        let gone = matches!(
            err,
            SignalError::Unreachable { .. } | SignalError::Server { status: 503, .. }
        );
        if !gone || self.bases.len() < 2 {
            return false;
        }
        let next = (i + 1) % self.bases.len();
        // Only the first to see instance i fail moves; the others follow it.
        let _ = self
            .current
            .compare_exchange(i, next, Ordering::SeqCst, Ordering::SeqCst);
        true
    }
}

/// A joined peer: sends messages, and reads its queue through [`Session::start_polling`].
#[derive(Debug, Clone)]
pub struct Session {
    agent: ureq::Agent,
    servers: Arc<Servers>,
    /// `/rooms/{room}/peers/{peer}`, after the base URL.
    path: String,
    auth: String,
    /// Our peer id.
    pub peer_id: String,
    /// The join's full answer.
    pub joined: Joined,
}

impl Session {
    /// Joins `room` on `server` (e.g. `http://127.0.0.1:8080`).
    pub fn join(server: &str, room: &str, name: Option<&str>) -> Result<Session, SignalError> {
        Session::join_trusting(server, room, name, None)
    }

    /// [`Session::join`] trusting the PEM certificate(s) in `cert` for an `https://` server,
    /// besides the public CAs (e.g. a self-signed one).
    pub fn join_trusting(
        server: &str,
        room: &str,
        name: Option<&str>,
        cert: Option<&std::path::Path>,
    ) -> Result<Session, SignalError> {
        Session::join_any(&[server.to_owned()], room, name, cert)
    }

    /// Joins through the first of `servers` that answers: instances of one deployment
    /// (several servers on one Redis). Later requests stay on that instance and move to
    /// the next (in turn) when it stops answering or answers 503; the peer id and token are
    /// valid on all of them.
    pub fn join_any(
        servers: &[String],
        room: &str,
        name: Option<&str>,
        cert: Option<&std::path::Path>,
    ) -> Result<Session, SignalError> {
        let bases = servers
            .iter()
            .map(|s| base_url(s))
            .collect::<Result<Vec<_>, _>>()?;
        if bases.is_empty() {
            return Err(SignalError::Invalid("no signaling server given".into()));
        }
        check_name("room", room)?;
        let mut builder = ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(5));
        if bases.iter().any(|b| b.starts_with("https://")) || cert.is_some() {
            builder = tls::configure(builder, cert)?;
        }
        let agent = builder.build();
        let servers = Arc::new(Servers {
            bases,
            current: AtomicUsize::new(0),
        });
        loop {
            let (i, base) = servers.current();
            match Session::join_at(&agent, base, room, name) {
                Ok(joined) => {
                    let peer = &joined.peer_id;
                    return Ok(Session {
                        path: format!("/rooms/{room}/peers/{peer}"),
                        auth: format!("Bearer {}", joined.token),
                        peer_id: joined.peer_id.clone(),
                        servers: servers.clone(),
                        agent,
                        joined,
                    });
                }
                // Each instance once: the last one's error is the answer.
                Err(e) if i + 1 < servers.bases.len() && servers.fail_over(i, &e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn join_at(
        agent: &ureq::Agent,
        base: &str,
        room: &str,
        name: Option<&str>,
    ) -> Result<Joined, SignalError> {
        let url = format!("{base}/rooms/{room}/join");
        let joined: Joined = agent
            .post(&url)
            .timeout(Duration::from_secs(10))
            .send_json(json!({ "name": name }))
            .map_err(|e| map_err(&url, e))?
            .into_json()
            .map_err(|e| SignalError::Protocol {
                url: url.clone(),
                why: format!("join answer is not the documented JSON: {e}"),
            })?;
        Ok(joined)
    }

    /// The URL of `what` (`messages`, `leave`) on the instance in use, and its index.
    fn url(&self, what: &str) -> (usize, String) {
        let (i, base) = self.servers.current();
        (i, format!("{base}{}/{what}", self.path))
    }

    /// Sends `kind` with `data` to peer `to` (or the room with `None`); returns the ids it
    /// was queued for.
    pub fn send(
        &self,
        to: Option<&str>,
        kind: &str,
        data: Value,
    ) -> Result<Vec<String>, SignalError> {
        #[derive(Serialize)]
        struct Out<'a> {
            to: Option<&'a str>,
            #[serde(rename = "type")]
            kind: &'a str,
            data: Value,
        }
        #[derive(Deserialize)]
        struct Sent {
            delivered_to: Vec<String>,
        }
        let (mut attempt, mut moved) = (0, 0);
        loop {
            let (i, url) = self.url("messages");
            let result = self
                .agent
                .post(&url)
                .set("Authorization", &self.auth)
                .timeout(Duration::from_secs(10))
                .send_json(Out {
                    to,
                    kind,
                    data: data.clone(),
                });
            match result {
                Ok(response) => {
                    let sent: Sent = response.into_json().map_err(|e| SignalError::Protocol {
                        url: url.clone(),
                        why: format!("send answer: {e}"),
                    })?;
                    return Ok(sent.delivered_to);
                }
                // Rate limit or a full queue on the other side: back off and retry a few
                // times (a candidate burst can hit the token bucket), then give up loudly.
                Err(ureq::Error::Status(429, response)) if attempt < 5 => {
                    let wait = response
                        .header("Retry-After")
                        .and_then(|s| s.parse::<u64>().ok())
                        .map_or(Duration::from_millis(200 << attempt), Duration::from_secs);
                    attempt += 1;
                    std::thread::sleep(wait.min(Duration::from_secs(2)));
                }
                Err(e) => {
                    let e = map_err(&url, e);
                    // Another instance, each once. A send whose answer was lost may have
                    // been queued already: the other side may get it twice (at least once).
                    if moved + 1 < self.servers.bases.len() && self.servers.fail_over(i, &e) {
                        moved += 1;
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Leaves the room (best effort: the server expires us anyway).
    pub fn leave(&self) -> Result<(), SignalError> {
        for moved in 0.. {
            let (i, url) = self.url("leave");
            let result = self
                .agent
                .post(&url)
                .set("Authorization", &self.auth)
                .timeout(Duration::from_secs(5))
                .call();
            match result.map_err(|e| map_err(&url, e)) {
                Ok(_) => break,
                Err(e) if moved + 1 < self.servers.bases.len() && self.servers.fail_over(i, &e) => {
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One long-poll: acknowledges everything up to `after`, returns what is newer.
    pub fn poll(&self, after: u64, timeout: Duration) -> Result<Vec<Envelope>, SignalError> {
        #[derive(Deserialize)]
        struct Polled {
            messages: Vec<Envelope>,
        }
        let (i, url) = self.url("messages");
        let answer = self
            .agent
            .get(&url)
            .query("after", &after.to_string())
            .query("timeout_ms", &timeout.as_millis().to_string())
            .set("Authorization", &self.auth)
            // The server answers by `timeout`; the margin covers a slow network.
            .timeout(timeout + Duration::from_secs(10))
            .call()
            .map_err(|e| map_err(&url, e));
        let answer = answer.inspect_err(|e| {
            // The poll loop retries after its back-off, then on the next instance.
            self.servers.fail_over(i, e);
        })?;
        let polled: Polled = answer.into_json().map_err(|e| SignalError::Protocol {
            url: url.clone(),
            why: format!("poll answer: {e}"),
        })?;
        Ok(polled.messages)
    }

    /// Starts the poll thread: every new message goes to `tx` once, in order. Stops when
    /// the returned [`Poller`] is dropped, when `tx`'s receiver is gone, or on a fatal error
    /// (sent as [`Incoming::Failed`]). Transient failures are retried with backoff for up to
    /// `give_up_after`.
    pub fn start_polling(&self, tx: Sender<Incoming>, give_up_after: Duration) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let session = self.clone();
        let flag = stop.clone();
        let timeout = Duration::from_millis(session.joined.poll_timeout_ms.clamp(1_000, 25_000));
        let thread = std::thread::Builder::new()
            .name("signal-poll".into())
            .spawn(move || {
                let mut after = 0;
                let mut failing_since: Option<std::time::Instant> = None;
                let mut backoff = Duration::from_millis(100);
                while !flag.load(Ordering::Relaxed) {
                    // Short polls once stopping was asked would be nicer, but a leave ends
                    // our waiting poll (410) at once, which is how hang-up unblocks us.
                    match session.poll(after, timeout) {
                        Ok(messages) => {
                            failing_since = None;
                            backoff = Duration::from_millis(100);
                            for m in messages {
                                // Redelivery after a lost answer: we have it already.
                                if m.seq <= after {
                                    continue;
                                }
                                after = m.seq;
                                if tx.send(Incoming::Message(m)).is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) if flag.load(Ordering::Relaxed) => {
                            let _ = e;
                            return;
                        }
                        Err(e @ SignalError::Server { status, .. })
                            if status != 503 && status != 429 =>
                        {
                            let _ = tx.send(Incoming::Failed(e));
                            return;
                        }
                        Err(e) => {
                            let since = *failing_since.get_or_insert_with(std::time::Instant::now);
                            if since.elapsed() > give_up_after {
                                let _ = tx.send(Incoming::Failed(e));
                                return;
                            }
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_secs(2));
                        }
                    }
                }
            })
            .expect("spawning the signaling poll thread");
        Poller {
            stop,
            thread: Some(thread),
        }
    }
}

/// The running poll thread; dropping it stops polling. The thread ends when its current
/// poll returns (at once after a leave, which answers the waiting poll with 410); drop does
/// not wait for that, so a vanished server cannot stall a hang-up.
pub struct Poller {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    /// Asks the thread to stop without waiting for it.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop();
        if let Some(t) = self.thread.take() {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests;

mod tls;
