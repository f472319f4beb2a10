//! The Redis mode with real processes: a private `redis-server` and `mobilertc-signaling`
//! instances on it, killed with SIGKILL where a test says so. Without redis-server these
//! print SKIPPED, unless MOBILERTC_REQUIRE_REDIS is set (`cargo xtask test --ci`).

mod common;

use common::TestServer;
use mobilertc_signaling::testing::{redis_or_skip, RedisServer, ServerProcess};
use reqwest::StatusCode;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_mobilertc-signaling");

/// A redis-server in a temp dir; `None` when the test is skipped.
fn redis(test: &str) -> Option<(tempfile::TempDir, RedisServer)> {
    let bin = redis_or_skip(test)?;
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(&bin, dir.path());
    Some((dir, server))
}

fn instance(redis: &RedisServer, extra: &[&str]) -> (ServerProcess, TestServer) {
    let url = redis.url();
    let mut args = vec!["--redis", url.as_str()];
    args.extend_from_slice(extra);
    let p = ServerProcess::start(BIN.as_ref(), &args);
    let client = TestServer::remote(&p.url, p.addr);
    (p, client)
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(15), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within 15 s"))
}

#[tokio::test]
async fn two_instances_serve_the_same_rooms() {
    let Some((_dir, redis)) = redis("two_instances_serve_the_same_rooms") else {
        return;
    };
    let (_p1, s1) = instance(&redis, &["--poll-timeout-ms", "8000"]);
    let (_p2, s2) = instance(&redis, &["--poll-timeout-ms", "8000"]);
    let a = s1.join("r", Some("a")).await;
    let joined = s2.join_raw("r", serde_json::json!({"name": "b"})).await;
    assert_eq!(
        joined.body["peers"],
        serde_json::json!([{"id": a.id, "name": "a"}])
    );
    let b = common::Peer {
        room: "r".into(),
        id: joined.body["peer_id"].as_str().unwrap().into(),
        token: joined.body["token"].as_str().unwrap().into(),
    };
    assert_ne!(a.id, b.id);
    // a reads its queue through the other instance: b's join.
    let m = s2.poll(&a, 0, 0).await.messages();
    assert_eq!(
        (m[0]["seq"].as_u64(), &m[0]["type"]),
        (Some(1), &"join".into())
    );
    // a waits on s2; b sends through s1; the wait ends with it.
    let waiting = s2.spawn_poll(&a, "after=1&timeout_ms=8000");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s1.chat(&b, Some(&a.id), "hi").await.status, StatusCode::OK);
    let m = within("a cross-instance wake-up", waiting)
        .await
        .unwrap()
        .messages();
    assert_eq!(
        (m[0]["seq"].as_u64(), &m[0]["data"]["text"]),
        (Some(2), &"hi".into())
    );
    // a acknowledges 2 and waits on s2; a newer poll on s1 ends that wait (empty answer).
    let waiting = s2.spawn_poll(&a, "after=2&timeout_ms=8000");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(s1.poll(&a, 2, 0).await.seqs().is_empty());
    let superseded = within("the older poll ending", waiting).await.unwrap();
    assert_eq!(superseded.seqs(), Vec::<u64>::new());
    // A message is redelivered until acknowledged, on whichever instance.
    assert_eq!(
        s2.chat(&b, Some(&a.id), "again").await.status,
        StatusCode::OK
    );
    assert_eq!(s1.poll(&a, 2, 0).await.seqs(), vec![3]);
    assert_eq!(s2.poll(&a, 2, 0).await.seqs(), vec![3]);
    assert!(s1.poll(&a, 3, 0).await.seqs().is_empty());
    // Tokens are checked against what Redis holds: b's token is not a's.
    let stolen = common::Peer {
        token: b.token.clone(),
        ..a.clone()
    };
    assert_eq!(s2.poll(&stolen, 0, 0).await.code(), "wrong_token");
    assert_eq!(s1.chat(&stolen, None, "x").await.code(), "wrong_token");
    // b leaves through s1: its waiting poll on s2 answers 410, a hears of it.
    let b_waits = s2.spawn_poll(&b, "after=0&timeout_ms=8000");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s1.leave(&b).await.status, StatusCode::NO_CONTENT);
    let r = within("the leave ending b's poll", b_waits).await.unwrap();
    assert_eq!((r.status, r.code()), (StatusCode::GONE, "gone"));
    let m = s2.poll(&a, 2, 0).await.messages();
    assert_eq!(
        (&m[0]["type"], &m[0]["data"]["reason"]),
        (&"leave".into(), &"left".into())
    );
    // a leaves: the room is gone everywhere.
    assert_eq!(s2.leave(&a).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s1.poll(&a, 0, 0).await.code(), "unknown_room");
}

#[tokio::test]
async fn a_queued_message_survives_an_instance_restart() {
    let Some((_dir, redis)) = redis("a_queued_message_survives_an_instance_restart") else {
        return;
    };
    let (mut p1, s1) = instance(&redis, &[]);
    let a = s1.join("r", None).await;
    let b = s1.join("r", None).await;
    assert_eq!(
        s1.chat(&b, Some(&a.id), "kept").await.status,
        StatusCode::OK
    );
    p1.kill(); // SIGKILL: nothing is flushed or handed over
    let (_p1b, s1b) = instance(&redis, &[]);
    let m = s1b.poll(&a, 0, 0).await.messages();
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(
        (m[0]["seq"].as_u64(), &m[0]["type"]),
        (Some(1), &"join".into())
    );
    assert_eq!(
        (m[1]["seq"].as_u64(), &m[1]["data"]["text"]),
        (Some(2), &"kept".into())
    );
    // The seqs go on where they were, and peer ids are not reused.
    assert_eq!(
        s1b.chat(&b, Some(&a.id), "after").await.status,
        StatusCode::OK
    );
    assert_eq!(s1b.poll(&a, 2, 0).await.seqs(), vec![3]);
    let c = s1b.join("r", None).await;
    assert!(![&a.id, &b.id].contains(&&c.id), "{} reused", c.id);
}

#[tokio::test]
async fn caps_are_counted_across_instances() {
    let Some((_dir, redis)) = redis("caps_are_counted_across_instances") else {
        return;
    };
    let caps = ["--max-peers", "3", "--max-rooms", "2", "--max-queue", "2"];
    let (_p1, s1) = instance(&redis, &caps);
    let (_p2, s2) = instance(&redis, &caps);
    let a = s1.join("r1", None).await;
    let b = s2.join("r2", None).await;
    // A third room would be one too many, wherever it is asked for.
    let r = s1.join_raw("r3", serde_json::json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "server_full")
    );
    assert!(r.retry_after.is_some());
    let c = s2.join("r1", None).await;
    // Three peers on two instances: the fourth is refused by both.
    for s in [&s1, &s2] {
        let r = s.join_raw("r1", serde_json::json!({})).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "server_full")
        );
    }
    // a's queue holds c's join; one more fits (max_queue 2), sent through either instance.
    assert_eq!(s1.chat(&c, Some(&a.id), "1").await.status, StatusCode::OK);
    let r = s2.chat(&c, Some(&a.id), "2").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "queue_full")
    );
    // Leaving frees a place for everyone.
    assert_eq!(s2.leave(&b).await.status, StatusCode::NO_CONTENT);
    s1.join("r3", None).await;
}

#[tokio::test]
async fn a_peer_whose_instance_was_killed_mid_poll_expires() {
    let Some((_dir, redis)) = redis("a_peer_whose_instance_was_killed_mid_poll_expires") else {
        return;
    };
    let times = ["--expire-after-ms", "1000", "--poll-timeout-ms", "2000"];
    let (mut p1, s1) = instance(&redis, &times);
    let (_p2, s2) = instance(&redis, &times);
    let a = s1.join("r", None).await;
    let b = s2.join("r", None).await;
    let _a_waits = s1.spawn_poll(&a, "after=0");
    tokio::time::sleep(Duration::from_millis(300)).await;
    p1.kill(); // a's poll never ends there: its deadline, in Redis, ends it
               // b keeps polling through s2 and hears a expire.
    let mut after = 0;
    let leave = within("a's expiry", async {
        loop {
            for m in s2.poll(&b, after, 2000).await.messages() {
                after = m["seq"].as_u64().unwrap();
                if m["type"] == "leave" {
                    return m;
                }
            }
        }
    })
    .await;
    assert_eq!(
        (&leave["from"], &leave["data"]["reason"]),
        (&a.id.clone().into(), &"expired".into())
    );
}
