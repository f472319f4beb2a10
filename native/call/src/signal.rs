//! Client of the chat-room signaling protocol v1 (docs/signaling.md), written from that
//! document alone.
//!
//! Blocking on purpose (ureq, no async runtime): the call core also runs inside the Android
//! cdylib. One poll thread long-polls the peer's queue, acknowledges with `after=` only what
//! it has handed over, drops duplicates by `seq` and delivers messages on a channel.

use std::sync::atomic::{AtomicBool, Ordering};
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

/// A joined peer: sends messages, and reads its queue through [`Session::start_polling`].
#[derive(Debug, Clone)]
pub struct Session {
    agent: ureq::Agent,
    messages_url: String,
    leave_url: String,
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
        let base = base_url(server)?;
        check_name("room", room)?;
        let mut builder = ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(5));
        if base.starts_with("https://") || cert.is_some() {
            builder = tls::configure(builder, cert)?;
        }
        let agent = builder.build();
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
        let peer = &joined.peer_id;
        Ok(Session {
            messages_url: format!("{base}/rooms/{room}/peers/{peer}/messages"),
            leave_url: format!("{base}/rooms/{room}/peers/{peer}/leave"),
            auth: format!("Bearer {}", joined.token),
            peer_id: joined.peer_id.clone(),
            agent,
            joined,
        })
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
        let mut attempt = 0;
        loop {
            let result = self
                .agent
                .post(&self.messages_url)
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
                        url: self.messages_url.clone(),
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
                Err(e) => return Err(map_err(&self.messages_url, e)),
            }
        }
    }

    /// Leaves the room (best effort: the server expires us anyway).
    pub fn leave(&self) -> Result<(), SignalError> {
        self.agent
            .post(&self.leave_url)
            .set("Authorization", &self.auth)
            .timeout(Duration::from_secs(5))
            .call()
            .map_err(|e| map_err(&self.leave_url, e))?;
        Ok(())
    }

    /// One long-poll: acknowledges everything up to `after`, returns what is newer.
    pub fn poll(&self, after: u64, timeout: Duration) -> Result<Vec<Envelope>, SignalError> {
        #[derive(Deserialize)]
        struct Polled {
            messages: Vec<Envelope>,
        }
        let polled: Polled = self
            .agent
            .get(&self.messages_url)
            .query("after", &after.to_string())
            .query("timeout_ms", &timeout.as_millis().to_string())
            .set("Authorization", &self.auth)
            // The server answers by `timeout`; the margin covers a slow network.
            .timeout(timeout + Duration::from_secs(10))
            .call()
            .map_err(|e| map_err(&self.messages_url, e))?
            .into_json()
            .map_err(|e| SignalError::Protocol {
                url: self.messages_url.clone(),
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
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_are_checked_before_any_request() {
        assert!(check_name("room", "lobby-1_A").is_ok());
        for bad in ["", "a b", "é", &"x".repeat(65), "a/b"] {
            assert!(check_name("room", bad).is_err(), "{bad:?}");
        }
        assert_eq!(base_url("http://h:1/").unwrap(), "http://h:1");
        let err = base_url("localhost:8080").unwrap_err().to_string();
        assert!(err.contains("http://"), "{err}");
        assert!(base_url("http://").is_err());
    }

    #[test]
    fn join_ice_servers_become_peer_connection_servers() {
        let joined: Joined = serde_json::from_value(json!({
            "peer_id": "p7", "token": "t", "peers": [], "poll_timeout_ms": 25000,
            "ice_servers": [
                {"urls": "stun:192.0.2.1:3478"},
                {"urls": ["turn:192.0.2.1:3478?transport=udp", "turn:192.0.2.1:3478?transport=tcp"],
                 "username": "1700000000:p7", "credential": "3IG5L5iNfxcCrpryJqbLk0Pi5aQ="},
            ],
            "ice_servers_ttl_s": 86400,
        }))
        .unwrap();
        let servers = joined.ice_servers();
        assert_eq!(servers[0].urls, ["stun:192.0.2.1:3478"]);
        assert_eq!(servers[0].username, "");
        assert_eq!(servers[1].urls.len(), 2);
        assert_eq!(servers[1].username, "1700000000:p7");
        assert_eq!(servers[1].credential, "3IG5L5iNfxcCrpryJqbLk0Pi5aQ=");
        assert_eq!(joined.ice_servers_ttl_s, Some(86400));
        // A server without them.
        let old: Joined = serde_json::from_value(
            json!({"peer_id": "p1", "token": "t", "peers": [], "poll_timeout_ms": 25000}),
        )
        .unwrap();
        assert!(old.ice_servers().is_empty());
    }
}

#[cfg(feature = "tls")]
mod tls {
    use super::SignalError;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    use std::sync::Arc;

    /// rustls with the public CAs (webpki-roots) plus the certificates in `extra`.
    pub fn configure(
        builder: ureq::AgentBuilder,
        extra: Option<&std::path::Path>,
    ) -> Result<ureq::AgentBuilder, SignalError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra {
            let bad = |why: String| {
                SignalError::Invalid(format!("server certificate {}: {why}", path.display()))
            };
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no CERTIFICATE in it".into()));
            }
            for c in certs {
                roots.add(c).map_err(|e| bad(e.to_string()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SignalError::Invalid(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(builder.tls_config(Arc::new(config)))
    }
}

#[cfg(not(feature = "tls"))]
mod tls {
    use super::SignalError;

    pub fn configure(
        _: ureq::AgentBuilder,
        _: Option<&std::path::Path>,
    ) -> Result<ureq::AgentBuilder, SignalError> {
        Err(SignalError::Invalid(
            "https:// needs mobilertc-call built with its `tls` feature".into(),
        ))
    }
}
