//! The HTTP/1.1 layer, over raw TCP: keep-alive, pipelining, 100-continue, chunked bodies,
//! HTTP/1.0, malformed requests, and a client that goes away during a poll.

mod common;

use common::{config, start};
use mobilertc_signaling::Config;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response read off a raw connection.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: String,
}

/// Reads one response (status line, headers, Content-Length body) from `s`, keeping
/// anything after it in `rest`.
async fn read_response(s: &mut TcpStream, rest: &mut Vec<u8>) -> Option<Raw> {
    loop {
        if let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&rest[..end]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while rest.len() < end + 4 + len {
                let mut chunk = [0u8; 4096];
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "closed inside a body");
                rest.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&rest[end + 4..end + 4 + len]).into_owned();
            rest.drain(..end + 4 + len);
            let status = head[9..12].parse().unwrap();
            return Some(Raw { status, head, body });
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        if n == 0 {
            return None;
        }
        rest.extend_from_slice(&chunk[..n]);
    }
}

async fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn keep_alive_and_pipelining() {
    let s = start(config()).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let mut rest = Vec::new();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = read_response(&mut c, &mut rest).await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"status":"ok"}"#));
    assert!(
        r.head.to_ascii_lowercase().contains("\r\ndate: "),
        "{}",
        r.head
    );
    // Three requests in one write, answered in order on the same connection.
    c.write_all(
        b"POST /rooms/pipe/join HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n{\"name\":\"pipe\"}\
          GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .unwrap();
    let r = read_response(&mut c, &mut rest).await.unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("\"peer_id\""));
    let joined: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(read_response(&mut c, &mut rest).await.unwrap().status, 404);
    assert_eq!(read_response(&mut c, &mut rest).await.unwrap().status, 200);
    // 204 carries no Content-Length, and the connection stays usable.
    let leave = format!(
        "POST /rooms/pipe/peers/{}/leave HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        joined["peer_id"].as_str().unwrap(),
        joined["token"].as_str().unwrap()
    );
    c.write_all(leave.as_bytes()).await.unwrap();
    let r = read_response(&mut c, &mut rest).await.unwrap();
    assert_eq!(r.status, 204);
    assert!(
        !r.head.to_ascii_lowercase().contains("content-length"),
        "{}",
        r.head
    );
    assert_eq!(read_response(&mut c, &mut rest).await.unwrap().status, 200);
    // Connection: close is honoured.
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let r = read_response(&mut c, &mut rest).await.unwrap();
    assert!(r.head.to_ascii_lowercase().contains("connection: close"));
    assert!(closed(&mut c).await);
}

#[tokio::test]
async fn expect_continue_chunked_and_http10() {
    let s = start(Config {
        max_body_bytes: 1024,
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let mut rest = Vec::new();
    let body = r#"{"type":"chat","data":{"text":"continued"}}"#;
    let head = format!(
        "POST /rooms/r/peers/{}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        b.id, b.token, body.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let r = read_response(&mut c, &mut rest).await.unwrap();
    assert_eq!(r.status, 100);
    c.write_all(body.as_bytes()).await.unwrap();
    let r = read_response(&mut c, &mut rest).await.unwrap();
    assert_eq!(
        (r.status, r.body),
        (200, format!(r#"{{"delivered_to":["{}"]}}"#, a.id))
    );

    // A chunked body (with a trailer) is read whole.
    let msg = r#"{"type":"chat","data":{"text":"in chunks"}}"#;
    let (x, y) = msg.split_at(10);
    let req = format!(
        "POST /rooms/r/peers/{}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{x}\r\n{:x}\r\n{y}\r\n0\r\nX-Trailer: 1\r\n\r\n",
        b.id, b.token, x.len(), y.len()
    );
    c.write_all(req.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut c, &mut rest).await.unwrap().status, 200);
    let texts: Vec<_> = s
        .poll(&a, 1, 0)
        .await
        .messages()
        .iter()
        .map(|m| m["data"]["text"].clone())
        .collect();
    assert_eq!(texts, ["continued", "in chunks"]);

    // Too large for Expect: 413 at once, no 100, and the connection closes.
    let head = format!(
        "POST /rooms/r/peers/{}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n",
        b.id, b.token
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let r = read_response(&mut c, &mut rest).await.unwrap();
    assert_eq!(r.status, 413);
    assert!(r.body.contains("body_too_large"));
    assert!(closed(&mut c).await);

    // HTTP/1.0 without keep-alive: one answer, then close.
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    assert_eq!(read_response(&mut c, &mut rest).await.unwrap().status, 200);
    assert!(closed(&mut c).await);
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let s = start(config()).await;
    for (request, status, code) in [
        ("NOT HTTP AT ALL\r\n\r\n".to_string(), 400, "bad_request"),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n".into(),
            400,
            "bad_request",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".into(),
            400,
            "bad_request",
        ),
        (
            "POST /rooms/r/join HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".into(),
            501,
            "not_implemented",
        ),
        (
            format!("GET / HTTP/1.1\r\n{}\r\n", "X-A: b\r\n".repeat(60)),
            431,
            "headers_too_large",
        ),
        (
            format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "b".repeat(20_000)),
            431,
            "headers_too_large",
        ),
        (
            "POST /rooms/r/join HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
                .into(),
            400,
            "bad_request",
        ),
    ] {
        let answer = common::raw_exchange(s.addr, request.as_bytes()).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{request:.60} → {answer}"
        );
        assert!(answer.contains(&format!("\"code\":\"{code}\"")), "{answer}");
    }
}

#[tokio::test]
async fn a_poll_whose_client_left_no_longer_keeps_the_peer_alive() {
    let s = start(Config {
        expire_after: Duration::from_millis(300),
        poll_timeout: Duration::from_secs(30),
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    // a waits all along (so it never expires) and hears of b's expiry.
    assert_eq!(s.poll(&a, 0, 0).await.seqs(), vec![1]);
    let a_waits = s.spawn_poll(&a, "after=1&timeout_ms=10000");
    // b waits in a poll on a raw connection, then its client disappears.
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "GET /rooms/r/peers/{}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        b.id, b.token
    );
    c.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Twice expire_after later b is still there: its poll is open.
    assert!(!a_waits.is_finished(), "b expired while its poll waited");
    drop(c);
    // With the connection gone the poll ends, and b expires expire_after later.
    let m = tokio::time::timeout(Duration::from_secs(5), a_waits)
        .await
        .expect("b did not expire after its client left")
        .unwrap()
        .messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["type"], "leave");
    assert_eq!(m[0]["from"], b.id);
    assert_eq!(m[0]["data"]["reason"], "expired");
}
