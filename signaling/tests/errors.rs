//! Authentication and every row of the error table of docs/signaling.md, over real HTTP.

mod common;

use common::{config, start, Peer};
use mobilertc_signaling::Config;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn auth_missing_wrong_and_other_peers_token() {
    let s = start(config()).await;
    let a = s.join("r", Some("a")).await;
    let b = s.join("r", Some("b")).await;
    let url = s.messages_url(&a);

    let r = common::reply(s.client.get(&url).send().await.unwrap()).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "missing_token")
    );
    let r = common::reply(
        s.client
            .get(&url)
            .header("authorization", "Basic eDp5")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "missing_token");
    let r = common::reply(s.client.post(&url).body("{}").send().await.unwrap()).await;
    assert_eq!(r.code(), "missing_token");

    let wrong = Peer {
        token: "0".repeat(32),
        ..a.clone()
    };
    let r = s.poll(&wrong, 0, 0).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "wrong_token"));
    // b's token for a's id, on every authenticated endpoint.
    let stolen = Peer {
        token: b.token.clone(),
        ..a.clone()
    };
    assert_eq!(s.poll(&stolen, 0, 0).await.code(), "wrong_token");
    assert_eq!(s.chat(&stolen, None, "x").await.code(), "wrong_token");
    assert_eq!(s.leave(&stolen).await.code(), "wrong_token");
    let short = Peer {
        token: "abc".into(),
        ..a.clone()
    };
    assert_eq!(s.poll(&short, 0, 0).await.code(), "wrong_token");

    // Nothing of that reached anyone: a still has b's join only, b nothing.
    assert_eq!(s.poll(&a, 0, 0).await.seqs(), vec![1]);
    assert!(s.poll(&b, 0, 0).await.seqs().is_empty());
    // The scheme is case-insensitive.
    let r = common::reply(
        s.client
            .get(&url)
            .header("authorization", format!("bearer {}", a.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_bodies_and_message_shapes() {
    let s = start(config()).await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    let raw = |body: &str| s.send_raw(&a, &a.token, "application/json", body.to_string());

    for (body, code) in [
        ("{", "bad_json"),
        ("", "bad_json"),
        ("[1,2]", "bad_json"),
        ("\"offer\"", "bad_json"),
        ("{}", "bad_message"),
        (r#"{"type": 5}"#, "bad_message"),
        (r#"{"type": "dance", "data": {}}"#, "bad_message"),
        (r#"{"type": "join", "data": {"name": null}}"#, "bad_message"),
        (
            r#"{"type": "leave", "data": {"reason": "left"}}"#,
            "bad_message",
        ),
        (r#"{"type": "offer", "data": {}}"#, "bad_message"),
        (
            r#"{"type": "offer", "data": {"sdp": "hello"}}"#,
            "bad_message",
        ),
        (r#"{"type": "answer", "data": {"sdp": 1}}"#, "bad_message"),
        (r#"{"type": "offer", "data": "v=0"}"#, "bad_message"),
        (
            r#"{"type": "candidate", "data": {"sdpMid": "0"}}"#,
            "bad_message",
        ),
        (
            r#"{"type": "candidate", "data": {"candidate": 3}}"#,
            "bad_message",
        ),
        (
            r#"{"type": "candidate", "data": {"candidate": "", "sdpMLineIndex": "0"}}"#,
            "bad_message",
        ),
        (
            r#"{"type": "candidate", "data": {"candidate": "", "sdpMid": 0}}"#,
            "bad_message",
        ),
        (r#"{"type": "chat", "data": {}}"#, "bad_message"),
        (
            r#"{"type": "chat", "data": {"text": ["hi"]}}"#,
            "bad_message",
        ),
        (r#"{"type": "bye", "data": []}"#, "bad_message"),
        (r#"{"type": "bye", "to": 7}"#, "bad_message"),
        (r#"{"type": "bye", "to": "bad id!"}"#, "bad_name"),
        (r#"{"type": "bye", "to": "p999999"}"#, "unknown_peer"),
    ] {
        let r = raw(body).await;
        assert_eq!(r.code(), code, "{body} → {:?}", r.body);
        let status = if code == "unknown_peer" { 404 } else { 400 };
        assert_eq!(r.status.as_u16(), status, "{body}");
    }
    let to_self = s.send(&a, json!({"to": a.id, "type": "bye"})).await;
    assert_eq!(to_self.code(), "bad_message");
    let long = "é".repeat(4097);
    assert_eq!(s.chat(&a, None, &long).await.code(), "bad_message");
    // The limits themselves pass, and unknown fields are relayed untouched.
    assert_eq!(
        s.chat(&a, None, &"é".repeat(4096)).await.status,
        StatusCode::OK
    );
    let ok = [
        json!({"type": "offer", "data": {"sdp": "v=0\r\n", "x-extra": {"k": [1, 2]}}}),
        json!({"type": "candidate", "data": {"candidate": "", "sdpMid": null, "sdpMLineIndex": null}}),
        json!({"type": "candidate", "data": {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "u"}}),
        json!({"type": "bye"}),
    ];
    for body in &ok {
        assert_eq!(
            s.send(&a, body.clone()).await.status,
            StatusCode::OK,
            "{body}"
        );
    }
    // None of the rejected sends reached b: only the five accepted ones, in order.
    let got = s.poll(&b, 0, 0).await.messages();
    assert_eq!(got.len(), 5);
    assert_eq!(got[0]["seq"], 1);
    assert_eq!(got[1]["data"], ok[0]["data"]);
    assert_eq!(got[3]["data"]["usernameFragment"], "u");
    assert_eq!(got[4]["data"], json!({}));

    // Join bodies.
    for (body, code) in [
        (json!([1]), "bad_json"),
        (json!({"name": 5}), "bad_message"),
        (json!({"name": ""}), "bad_name"),
        (json!({"name": "a\u{7}b"}), "bad_name"),
        (json!({"name": "x".repeat(65)}), "bad_name"),
    ] {
        assert_eq!(s.join_raw("r", body.clone()).await.code(), code, "{body}");
    }
    let r = common::reply(
        s.client
            .post(format!("{}/rooms/r/join", s.url))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "bad_json"));
    // An empty join body is fine.
    let r = common::reply(
        s.client
            .post(format!("{}/rooms/r/join", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_names_queries_unknowns_routes() {
    let s = start(config()).await;
    let a = s.join("r", None).await;
    let get = |path: String| {
        let c = s.client.clone();
        let token = a.token.clone();
        async move { common::reply(c.get(path).bearer_auth(token).send().await.unwrap()).await }
    };
    let post = |path: String| {
        let c = s.client.clone();
        let token = a.token.clone();
        async move { common::reply(c.post(path).bearer_auth(token).send().await.unwrap()).await }
    };
    let u = &s.url;
    let long = "a".repeat(65);
    for path in [
        format!("{u}/rooms/bad%20room/join"),
        format!("{u}/rooms/{long}/join"),
        format!("{u}/rooms/b.d/join"),
        format!("{u}/rooms//join"),
    ] {
        let r = post(path.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "bad_name"),
            "{path}"
        );
    }
    let r = get(format!("{u}/rooms/r/peers/p%2F1/messages")).await;
    assert_eq!(r.code(), "bad_name");
    let r = post(format!("{u}/rooms/r/peers/{long}/leave")).await;
    assert_eq!(r.code(), "bad_name");

    for q in [
        "after=x",
        "after=-1",
        "timeout_ms=1.5",
        "after=",
        "after=1&after=1",
        "after=18446744073709551616",
    ] {
        let r = get(format!("{u}/rooms/r/peers/{}/messages?{q}", a.id)).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "bad_query"),
            "{q}"
        );
    }
    // Acknowledging a seq never given would lose later messages.
    let r = get(format!(
        "{u}/rooms/r/peers/{}/messages?after=1&timeout_ms=0",
        a.id
    ))
    .await;
    assert_eq!(r.code(), "bad_query");

    let r = get(format!("{u}/rooms/nope/peers/{}/messages", a.id)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "unknown_room")
    );
    let r = get(format!("{u}/rooms/r/peers/p0/messages")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "unknown_peer")
    );
    let r = post(format!("{u}/rooms/r/peers/p0/leave")).await;
    assert_eq!(r.code(), "unknown_peer");

    for path in [
        "/nope",
        "/rooms",
        "/rooms/r",
        "/rooms/r/join/",
        "/rooms/r/peers/p1",
        "/healthz/x",
    ] {
        let r = get(format!("{u}{path}")).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    for (method, path, allow) in [
        (reqwest::Method::GET, "/rooms/r/join", "POST"),
        (
            reqwest::Method::PUT,
            "/rooms/r/peers/p1/messages",
            "GET, POST",
        ),
        (reqwest::Method::GET, "/rooms/r/peers/p1/leave", "POST"),
        (reqwest::Method::POST, "/", "GET"),
        (reqwest::Method::DELETE, "/healthz", "GET"),
    ] {
        let resp = s
            .client
            .request(method.clone(), format!("{u}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
        let r = common::reply(resp).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        );
    }
}

#[tokio::test]
async fn room_full_body_size_content_type() {
    let s = start(Config {
        max_room_peers: 2,
        max_body_bytes: 1024,
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    let r = s.join_raw("r", json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "room_full"));
    // Another room is unaffected; a place frees when a peer leaves.
    s.join("other", None).await;
    assert_eq!(s.leave(&b).await.status, StatusCode::NO_CONTENT);
    let c = s.join("r", None).await;

    let big = json!({"type": "chat", "data": {"text": "x".repeat(1100)}}).to_string();
    let r = s
        .send_raw(&a, &a.token, "application/json", big.clone())
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );
    // Without a Content-Length (chunked), the limit holds while reading.
    let half = big.len() / 2;
    let head = format!(
        "POST /rooms/r/peers/{}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        a.id, a.token
    );
    let chunked = format!(
        "{head}{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        half,
        &big[..half],
        big.len() - half,
        &big[half..]
    );
    let answer = common::raw_exchange(s.addr, chunked.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"body_too_large\""), "{answer}");
    let r = s
        .send_raw(
            &a,
            &a.token,
            "text/plain",
            json!({"type": "bye"}).to_string(),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let r = common::reply(
        s.client
            .post(format!("{}/rooms/r/join", s.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "unsupported_media_type");
    // Parameters of the media type and no Content-Type at all are fine.
    let r = s
        .send_raw(
            &a,
            &a.token,
            "application/json; charset=utf-8",
            json!({"type": "bye"}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = common::reply(
        s.client
            .post(s.messages_url(&a))
            .bearer_auth(&a.token)
            .body(json!({"type": "bye"}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // c got a's two byes and nothing of the rejected sends.
    let got = s.poll(&c, 0, 0).await.messages();
    assert_eq!(
        got.iter()
            .map(|m| m["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["bye", "bye"]
    );
}

#[tokio::test]
async fn queue_full_is_all_or_nothing() {
    let s = start(Config {
        max_queue: 3,
        rate_per_sec: 0,
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    let c = s.join("r", None).await;
    // a: join(b), join(c) queued; b: join(c). One more to a fills it.
    assert_eq!(s.chat(&b, Some(&a.id), "1").await.status, StatusCode::OK);
    let r = s.chat(&c, None, "room").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "queue_full")
    );
    assert!(r.body["error"]["message"].as_str().unwrap().contains(&a.id));
    let r = s.chat(&b, Some(&a.id), "2").await;
    assert_eq!(r.code(), "queue_full");
    // b's queue has room but the room send queued nothing there either.
    assert_eq!(s.poll(&b, 0, 0).await.seqs(), vec![1]);
    // Acknowledging frees a's queue; the room send then reaches both.
    assert_eq!(s.poll(&a, 3, 0).await.seqs(), Vec::<u64>::new());
    let r = s.chat(&c, None, "room").await;
    assert_eq!(r.body["delivered_to"], json!([a.id, b.id]));
    assert_eq!(s.poll(&b, 1, 0).await.seqs(), vec![2]);
    // Server notifications are never refused: fill a, then a new peer joins.
    s.chat(&b, Some(&a.id), "x").await;
    s.chat(&b, Some(&a.id), "y").await;
    assert_eq!(s.poll(&a, 3, 0).await.seqs(), vec![4, 5, 6]);
    s.join("r", None).await;
    let got = s.poll(&a, 3, 0).await.messages();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3]["type"], "join");
}

#[tokio::test]
async fn rate_limited_with_retry_after() {
    let s = start(Config {
        rate_per_sec: 1,
        rate_burst: 3,
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    // The burst passes; the bucket refills at 1/s, so on a stalled machine a send or two
    // more may pass before the limit shows.
    let start = std::time::Instant::now();
    let mut passed = 0;
    let limited = loop {
        let r = s.chat(&a, None, &passed.to_string()).await;
        if r.status != StatusCode::OK {
            break r;
        }
        passed += 1;
        assert!(passed <= 10, "never rate limited");
    };
    let refilled = start.elapsed().as_secs() as usize + 1;
    assert!(
        (3..=3 + refilled).contains(&passed),
        "{passed} sends passed"
    );
    assert_eq!(
        (limited.status, limited.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert_eq!(limited.retry_after.as_deref(), Some("1"));
    // Per peer: b is not limited; and the rejected message was not queued.
    assert_eq!(s.chat(&b, None, "b").await.status, StatusCode::OK);
    // The rejected message was not queued: b has exactly the ones that passed.
    let got = s.poll(&b, 0, 0).await.messages();
    assert_eq!(got.len(), passed);
}

#[tokio::test]
async fn index_page_and_healthz() {
    let s = start(config()).await;
    let r = s.client.get(format!("{}/", s.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.text().await.unwrap(), include_str!("../web/index.html"));
    let r = common::reply(
        s.client
            .get(format!("{}/healthz", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn checks_apply_in_the_documented_order() {
    let s = start(Config {
        max_body_bytes: 512,
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let u = &s.url;
    let big = "x".repeat(600);
    // Body size first, even on an unknown endpoint.
    let r = common::reply(
        s.client
            .post(format!("{u}/nope"))
            .body(big.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "body_too_large");
    // Method before names, names before the token.
    let r = common::reply(
        s.client
            .put(format!("{u}/rooms/b!d/peers/p1/messages"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "method_not_allowed");
    let r = common::reply(
        s.client
            .get(format!("{u}/rooms/b!d/peers/p1/messages"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "bad_name");
    let r = common::reply(
        s.client
            .get(format!("{u}/rooms/r/peers/p1/messages?after=x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "bad_query");
    // Without a valid token, nothing about the body shows.
    let wrong = Peer {
        token: "f".repeat(32),
        ..a.clone()
    };
    let r = s
        .send_raw(&wrong, &wrong.token, "application/json", "{broken".into())
        .await;
    assert_eq!(r.code(), "wrong_token");
    let r = s
        .send_raw(&a, "", "application/json", "{broken".into())
        .await;
    assert_eq!(r.code(), "missing_token");
    let r = s
        .send_raw(&wrong, &wrong.token, "text/plain", "{broken".into())
        .await;
    assert_eq!(r.code(), "unsupported_media_type");
    // Unknown room before unknown peer before the token.
    let ghost = Peer {
        room: "ghost".into(),
        ..wrong.clone()
    };
    assert_eq!(s.poll(&ghost, 0, 0).await.code(), "unknown_room");
    let nobody = Peer {
        id: "p999".into(),
        ..wrong
    };
    assert_eq!(s.poll(&nobody, 0, 0).await.code(), "unknown_peer");
}
