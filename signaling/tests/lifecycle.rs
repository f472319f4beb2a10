//! Joins and leaves, expiry, graceful shutdown of the library server, the background
//! server and the binary.

mod common;

use common::{config, start};
use mobilertc_signaling::Config;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn join_lists_peers_and_notifies_them() {
    let s = start(config()).await;
    let a = s.join("r", Some("alice")).await;
    let r = s.join_raw("r", json!({})).await;
    assert_eq!(r.body["peers"], json!([{"id": a.id, "name": "alice"}]));
    assert_eq!(r.body["room"], "r");
    assert_eq!(r.body["poll_timeout_ms"], 2000);
    assert_eq!(r.body["expire_after_ms"], 60000);
    assert_eq!(
        r.body["limits"],
        json!({"max_body_bytes": 65536, "max_room_peers": 16, "max_queue": 256, "rate_per_sec": 50, "rate_burst": 200})
    );
    let token = r.body["token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let b_id = r.body["peer_id"].as_str().unwrap().to_string();
    let c = s.join("r", Some("Zoë")).await;
    let r = s.join_raw("r", json!({"name": null})).await;
    let ids: Vec<_> = r.body["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(ids, [json!(a.id), json!(b_id), json!(c.id)]);
    assert_eq!(r.body["peers"][2]["name"], "Zoë");
    // Ids are never reused, tokens differ.
    let mut all = vec![
        a.id.clone(),
        b_id.clone(),
        c.id.clone(),
        r.body["peer_id"].as_str().unwrap().into(),
    ];
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4, "{all:?}");
    let m = s.poll(&a, 0, 0).await.messages();
    assert_eq!(m.len(), 3);
    assert_eq!(
        m[0],
        json!({"seq": 1, "from": b_id, "to": null, "type": "join", "data": {"name": null}})
    );
    assert_eq!(m[1]["data"], json!({"name": "Zoë"}));
}

#[tokio::test]
async fn leave_ends_the_waiting_poll_and_tells_the_others() {
    let s = start(Config {
        poll_timeout: Duration::from_secs(30),
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    let waiting = s.spawn_poll(&b, "");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = s.leave(&b).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::NO_CONTENT, serde_json::Value::Null)
    );
    let r = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.status, r.code()), (StatusCode::GONE, "gone"));
    let m = s.poll(&a, 1, 0).await.messages();
    assert_eq!(
        m,
        [json!({"seq": 2, "from": b.id, "to": null, "type": "leave", "data": {"reason": "left"}})]
    );
    // The departed peer is unknown now, its token useless; a second leave is unknown_peer.
    assert_eq!(s.poll(&b, 0, 0).await.code(), "unknown_peer");
    assert_eq!(s.leave(&b).await.code(), "unknown_peer");
    assert_eq!(
        s.chat(&a, Some(&b.id), "hello?").await.code(),
        "unknown_peer"
    );
    // The last peer out deletes the room; a join makes a fresh one.
    assert_eq!(s.leave(&a).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.poll(&a, 0, 0).await.code(), "unknown_room");
    let r = s.join_raw("r", json!({})).await;
    assert_eq!(r.body["peers"], json!([]));
}

#[tokio::test]
async fn silent_peers_expire_waiting_ones_do_not() {
    let s = start(Config {
        expire_after: Duration::from_millis(500),
        poll_timeout: Duration::from_secs(5),
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    // a long-polls for longer than expire_after; b never polls.
    let r = s.poll(&a, 0, 0).await;
    assert_eq!(r.seqs(), vec![1]);
    let r = tokio::time::timeout(Duration::from_secs(5), s.poll(&a, 1, 4000))
        .await
        .expect("a's poll should have ended with b's expiry");
    let m = r.messages();
    assert_eq!(
        m,
        [
            json!({"seq": 2, "from": b.id, "to": null, "type": "leave", "data": {"reason": "expired"}})
        ]
    );
    assert_eq!(s.poll(&b, 0, 0).await.code(), "unknown_peer");
    // a itself was waiting all along and is still there.
    assert_eq!(s.poll(&a, 2, 0).await.status, StatusCode::OK);
    // Once a stops polling it expires too, and the room goes with it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(s.poll(&a, 2, 0).await.code(), "unknown_room");
}

#[tokio::test]
async fn shutdown_answers_waiting_polls_503_and_returns() {
    let s = start(Config {
        poll_timeout: Duration::from_secs(30),
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let waiting = s.spawn_poll(&a, "");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = s.addr;
    tokio::time::timeout(Duration::from_secs(10), s.stop())
        .await
        .expect("run_until did not return")
        .expect("run_until failed");
    let r = waiting.await.unwrap();
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "shutting_down")
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting"
    );
}

#[test]
fn background_server_stops_on_drop() {
    let server =
        mobilertc_signaling::spawn_background("127.0.0.1:0".parse().unwrap(), config()).unwrap();
    let url = server.url();
    assert_eq!(url, format!("http://{}", server.addr()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let r = c.get(format!("{url}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let j: serde_json::Value = c
            .post(format!("{url}/rooms/r/join"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let poll = c
            .get(format!(
                "{url}/rooms/r/peers/{}/messages",
                j["peer_id"].as_str().unwrap()
            ))
            .bearer_auth(j["token"].as_str().unwrap())
            .send();
        let poll = tokio::spawn(poll);
        tokio::time::sleep(Duration::from_millis(500)).await;
        std::thread::spawn(move || drop(server)).join().unwrap();
        let r = common::reply(poll.await.unwrap().unwrap()).await;
        assert_eq!(r.code(), "shutting_down");
        assert!(c.get(format!("{url}/healthz")).send().await.is_err());
    });
}

#[test]
fn binary_prints_its_address_and_exits_0_on_sigterm() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mobilertc-signaling"))
        .args(["--listen", "127.0.0.1:0", "--poll-timeout-ms", "30000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    assert!(!url.ends_with(":0"), "{url}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let j: serde_json::Value = c
            .post(format!("{url}/rooms/r/join"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let poll = tokio::spawn(
            c.get(format!(
                "{url}/rooms/r/peers/{}/messages",
                j["peer_id"].as_str().unwrap()
            ))
            .bearer_auth(j["token"].as_str().unwrap().to_string())
            .send(),
        );
        // Time for the poll to reach the server and wait there.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        // SAFETY: kill(2) on the pid of our own child.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
        let r = common::reply(poll.await.unwrap().unwrap()).await;
        assert_eq!(r.code(), "shutting_down");
    });
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("join room=r peer=p1"), "{stderr}");

    // A configuration the server cannot run with is a clear error and exit 1.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mobilertc-signaling"))
        .args(["--max-queue", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_queue must be at least 1"));
}
