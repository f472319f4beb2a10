//! A server on 127.0.0.1:0 in the test's runtime and a small protocol client over reqwest.
#![allow(dead_code)] // each test file uses part of it

use mobilertc_signaling::{Config, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

pub struct TestServer {
    pub url: String,
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub client: reqwest::Client,
}

/// Test defaults: quiet, a 2 s poll timeout (tests that wait say so), generous limits.
pub fn config() -> Config {
    Config {
        poll_timeout: Duration::from_secs(2),
        log: false,
        ..Config::default()
    }
}

pub async fn start(config: Config) -> TestServer {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("bind 127.0.0.1:0");
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    TestServer {
        url: format!("http://{addr}"),
        addr,
        stop: Some(stop),
        task: Some(task),
        client: reqwest::Client::new(),
    }
}

impl TestServer {
    /// A client of a server running elsewhere (another process).
    pub fn remote(url: &str, addr: std::net::SocketAddr) -> TestServer {
        TestServer {
            url: url.to_string(),
            addr,
            stop: None,
            task: None,
            client: reqwest::Client::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Peer {
    pub room: String,
    pub id: String,
    pub token: String,
}

/// A response: status, `Retry-After` if any, JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Reply {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    /// The messages of a poll answer.
    pub fn messages(&self) -> Vec<Value> {
        assert_eq!(self.status, StatusCode::OK, "{:?}", self.body);
        self.body["messages"].as_array().expect("messages").clone()
    }

    pub fn seqs(&self) -> Vec<u64> {
        self.messages()
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect()
    }
}

pub async fn reply(r: reqwest::Response) -> Reply {
    let status = r.status();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = r.bytes().await.expect("response body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    };
    if !status.is_success() {
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "error without the protocol's JSON body: {status} {body}"
        );
    }
    Reply {
        status,
        retry_after,
        body,
    }
}

impl TestServer {
    pub async fn join(&self, room: &str, name: Option<&str>) -> Peer {
        let r = self.join_raw(room, json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        Peer {
            room: room.into(),
            id: r.body["peer_id"].as_str().unwrap().into(),
            token: r.body["token"].as_str().unwrap().into(),
        }
    }

    pub async fn join_raw(&self, room: &str, body: Value) -> Reply {
        let r = self
            .client
            .post(format!("{}/rooms/{room}/join", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        reply(r).await
    }

    pub fn messages_url(&self, p: &Peer) -> String {
        format!("{}/rooms/{}/peers/{}/messages", self.url, p.room, p.id)
    }

    pub async fn poll(&self, p: &Peer, after: u64, timeout_ms: u64) -> Reply {
        let r = self
            .client
            .get(format!(
                "{}?after={after}&timeout_ms={timeout_ms}",
                self.messages_url(p)
            ))
            .bearer_auth(&p.token)
            .send()
            .await
            .unwrap();
        reply(r).await
    }

    /// A poll left waiting in the background; `query` is the raw query string (`""` for
    /// the server's defaults, `"after=1"`, …).
    pub fn spawn_poll(&self, p: &Peer, query: &str) -> tokio::task::JoinHandle<Reply> {
        let url = match query {
            "" => self.messages_url(p),
            q => format!("{}?{q}", self.messages_url(p)),
        };
        let (client, token) = (self.client.clone(), p.token.clone());
        tokio::spawn(async move {
            reply(client.get(url).bearer_auth(token).send().await.unwrap()).await
        })
    }

    pub async fn send(&self, p: &Peer, body: Value) -> Reply {
        self.send_raw(p, &p.token, "application/json", body.to_string())
            .await
    }

    pub async fn send_raw(&self, p: &Peer, token: &str, content_type: &str, body: String) -> Reply {
        let r = self
            .client
            .post(self.messages_url(p))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        reply(r).await
    }

    pub async fn chat(&self, p: &Peer, to: Option<&str>, text: &str) -> Reply {
        self.send(p, json!({"to": to, "type": "chat", "data": {"text": text}}))
            .await
    }

    pub async fn leave(&self, p: &Peer) -> Reply {
        let r = self
            .client
            .post(format!(
                "{}/rooms/{}/peers/{}/leave",
                self.url, p.room, p.id
            ))
            .bearer_auth(&p.token)
            .send()
            .await
            .unwrap();
        reply(r).await
    }

    /// Stops the server and returns what `run_until` returned.
    pub async fn stop(mut self) -> std::io::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.expect("server task")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Writes `request` on a new connection and reads until the server closes it.
pub async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
