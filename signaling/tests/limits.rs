//! The server-wide bounds (docs/signaling.md, *Limits*): peers, rooms, queued bytes,
//! connections and the per-address join rate, each answered with 429/503 and Retry-After.

mod common;

use common::{config, start};
use mobilertc_signaling::Config;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn peers_over_max_peers_get_503_with_retry_after_until_one_leaves() {
    let s = start(Config {
        max_peers: 3,
        ..config()
    })
    .await;
    let a = s.join("r1", None).await;
    s.join("r1", None).await;
    s.join("r2", None).await;
    for room in ["r1", "r3"] {
        let r = s.join_raw(room, json!({})).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "server_full")
        );
        assert_eq!(r.retry_after.as_deref(), Some("15"), "expire_after / 4");
    }
    // The refused join made no room.
    let probe = common::Peer {
        room: "r3".into(),
        id: "p1".into(),
        token: "0".repeat(32),
    };
    assert_eq!(s.poll(&probe, 0, 0).await.code(), "unknown_room");
    assert_eq!(s.leave(&a).await.status, StatusCode::NO_CONTENT);
    s.join("r3", None).await;
}

#[tokio::test]
async fn rooms_over_max_rooms_get_503_but_existing_rooms_take_peers() {
    let s = start(Config {
        max_rooms: 2,
        ..config()
    })
    .await;
    let a = s.join("a", None).await;
    let b = s.join("b", None).await;
    let r = s.join_raw("c", json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "server_full")
    );
    assert!(r.retry_after.is_some());
    s.join("a", None).await;
    // a's room stays (another peer is in it); an emptied room frees its place.
    s.leave(&a).await;
    assert_eq!(s.join_raw("c", json!({})).await.code(), "server_full");
    s.leave(&b).await;
    s.join("c", None).await;
}

#[tokio::test]
async fn queued_bytes_are_bounded_server_wide_and_freed_by_acks_and_leaves() {
    // Two queues of 3 KiB chat messages; 8 KiB in all may wait.
    let s = start(Config {
        max_body_bytes: 4096,
        max_queued_bytes: 8192,
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    let c = s.join("q", None).await;
    let d = s.join("q", None).await;
    // a holds b's join notice; the notices count but are never refused.
    let text = "x".repeat(3000);
    assert_eq!(s.chat(&b, None, &text).await.status, StatusCode::OK);
    assert_eq!(s.chat(&d, None, &text).await.status, StatusCode::OK);
    // A third message would pass 8 KiB: refused, whoever it is for, and nothing queued.
    let r = s.chat(&a, None, &text).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "server_full")
    );
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    assert!(s.poll(&b, 0, 0).await.seqs().is_empty());
    // a acknowledges its queue: room for one again.
    let seqs = s.poll(&a, 0, 0).await.seqs();
    assert_eq!(seqs.len(), 2);
    s.poll(&a, *seqs.last().unwrap(), 0).await;
    assert_eq!(s.chat(&a, None, &text).await.status, StatusCode::OK);
    assert_eq!(s.chat(&b, None, &text).await.code(), "server_full");
    // c leaves with d's message unread: its queue's bytes are freed too.
    s.leave(&c).await;
    assert_eq!(s.chat(&b, None, &text).await.status, StatusCode::OK);
}

#[tokio::test]
async fn joins_from_one_address_are_rate_limited() {
    let s = start(Config {
        join_rate_per_sec: 1,
        join_burst: 3,
        ..config()
    })
    .await;
    for i in 0..3 {
        s.join(&format!("r{i}"), None).await;
    }
    let r = s.join_raw("r9", json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "join_rate_limited")
    );
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    // Limited before the body is read: a bad body is still 429.
    let r = s.join_raw("r9", json!({"name": 5})).await;
    assert_eq!(r.code(), "join_rate_limited");
    // One token per second comes back (generous wait: a loaded machine).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let p = s.join("r9", None).await;
    assert_eq!(
        s.join_raw("r9", json!({})).await.code(),
        "join_rate_limited"
    );
    // Sends and polls are not join-limited.
    assert_eq!(s.chat(&p, None, "hi").await.status, StatusCode::OK);
    assert_eq!(s.poll(&p, 0, 0).await.status, StatusCode::OK);
}

#[tokio::test]
async fn connections_over_max_connections_get_503_and_are_closed() {
    let s = start(Config {
        max_connections: 2,
        ..config()
    })
    .await;
    let _one = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let _two = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let answer = common::raw_exchange(s.addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("\"server_full\""), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1\r\n"),
        "{answer}"
    );
    drop((_one, _two));
    // Once they are closed the server takes connections again.
    let mut ok = false;
    for _ in 0..100 {
        let answer =
            common::raw_exchange(s.addr, b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n").await;
        if answer.starts_with("HTTP/1.1 200 ") {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "the server did not take connections again");
}

#[test]
fn limits_are_validated() {
    let bad = Config {
        max_queued_bytes: 1000,
        ..Config::default()
    };
    assert!(bad.validate().is_err());
    let bad = Config {
        max_peers: 0,
        ..Config::default()
    };
    assert!(bad.validate().is_err());
    Config::default().validate().unwrap();
}
