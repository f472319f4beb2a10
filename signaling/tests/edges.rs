//! The edges of the protocol and of HTTP/1.1 that docs/signaling.md pins down: `data: null`,
//! leave bodies, an empty bearer token, Host, request targets and Transfer-Encoding lists.

mod common;

use common::{config, start};
use reqwest::StatusCode;
use serde_json::json;

/// The status line and the error code of a raw exchange (`""` when the body has none).
fn status_and_code(answer: &str) -> (u16, String) {
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let code = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_default();
    (status, code)
}

#[tokio::test]
async fn data_null_is_refused_not_relayed_as_an_empty_object() {
    let s = start(config()).await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    for kind in ["bye", "chat", "offer", "candidate"] {
        let r = s
            .send(&b, json!({"to": a.id, "type": kind, "data": null}))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "bad_message"),
            "{kind}"
        );
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("null") && message.contains("omit"),
            "{message}"
        );
    }
    // An omitted `data` is `{}`, and only that reaches a.
    assert_eq!(
        s.send(&b, json!({"type": "bye"})).await.status,
        StatusCode::OK
    );
    let got = s.poll(&a, 1, 0).await.messages();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (&got[0]["type"], &got[0]["data"]),
        (&json!("bye"), &json!({}))
    );
}

#[tokio::test]
async fn a_leave_body_that_is_not_a_json_object_is_refused() {
    let s = start(config()).await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    let leave = |p: &common::Peer, token: &str, body: &'static str| {
        let url = format!("{}/rooms/{}/peers/{}/leave", s.url, p.room, p.id);
        let req = s
            .client
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body);
        async move { common::reply(req.send().await.unwrap()).await }
    };
    for body in ["leave", "[1]", "null", "{"] {
        let r = leave(&b, &b.token, body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "bad_json"),
            "{body}"
        );
    }
    // Checked after the token: a stranger learns nothing about the body.
    assert_eq!(leave(&b, &a.token, "[1]").await.code(), "wrong_token");
    // b is still there (a heard of its join only), and a JSON object is a fine body.
    assert_eq!(s.poll(&a, 0, 0).await.seqs(), vec![1]);
    assert_eq!(
        leave(&b, &b.token, r#"{"why": "done"}"#).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.poll(&a, 1, 0).await.messages()[0]["type"], "leave");
}

#[tokio::test]
async fn an_empty_bearer_token_is_a_missing_token() {
    let s = start(config()).await;
    let a = s.join("r", None).await;
    for auth in ["Bearer ", "Bearer", "Bearer    ", "Basic eDp5"] {
        let req = format!(
            "GET /rooms/r/peers/{}/messages?timeout_ms=0 HTTP/1.1\r\nHost: x\r\n\
             Authorization: {auth}\r\nConnection: close\r\n\r\n",
            a.id
        );
        let answer = common::raw_exchange(s.addr, req.as_bytes()).await;
        assert_eq!(
            status_and_code(&answer),
            (401, "missing_token".into()),
            "{auth:?}: {answer}"
        );
    }
}

/// Sends `request` on its own connection; the status and code of the answer.
async fn exchange(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    status_and_code(&common::raw_exchange(addr, request.as_bytes()).await)
}

#[tokio::test]
async fn host_header_per_rfc_9112() {
    let s = start(config()).await;
    let bad = (400, "bad_request".to_string());
    for request in [
        "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: u@h\r\nConnection: close\r\n\r\n",
    ] {
        assert_eq!(exchange(s.addr, request).await, bad, "{request:?}");
    }
    for request in [
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n",
        // The URI had no authority: an empty Host is the right one.
        "GET /healthz HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n",
        // HTTP/1.0 clients need not send one.
        "GET /healthz HTTP/1.0\r\n\r\n",
    ] {
        assert_eq!(exchange(s.addr, request).await.0, 200, "{request:?}");
    }
}

#[tokio::test]
async fn request_target_must_be_a_path_or_an_absolute_url() {
    let s = start(config()).await;
    let bad = (400, "bad_request".to_string());
    for target in [
        "healthz",
        "*",
        "127.0.0.1:80",
        "ftp://x/healthz",
        "healthz?x=/",
    ] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(exchange(s.addr, &request).await, bad, "{target}");
    }
    // Absolute-form is accepted (RFC 9112, 3.2.2): its path is what counts.
    for (target, status) in [
        ("http://x/healthz", 200),
        ("HTTP://x:1", 200), // the page at /
        ("http://x/nope", 404),
    ] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(exchange(s.addr, &request).await.0, status, "{target}");
    }
}

#[tokio::test]
async fn chunked_twice_is_refused_whether_on_one_line_or_two() {
    let s = start(config()).await;
    let join = |te: &str| {
        format!("POST /rooms/te/join HTTP/1.1\r\nHost: x\r\n{te}\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n")
    };
    let one_line = exchange(s.addr, &join("Transfer-Encoding: chunked, chunked")).await;
    let two_lines = exchange(
        s.addr,
        &join("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"),
    )
    .await;
    assert_eq!(one_line, (400, "bad_request".into()));
    assert_eq!(two_lines, one_line);
    // A coding we do not implement is 501, on one line or two; an empty element is nothing.
    for te in [
        "Transfer-Encoding: gzip, chunked",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
    ] {
        assert_eq!(
            exchange(s.addr, &join(te)).await,
            (501, "not_implemented".into()),
            "{te}"
        );
    }
    for te in [
        "Transfer-Encoding: ,",
        "Transfer-Encoding: chunked\r\nContent-Length: 2",
    ] {
        assert_eq!(
            exchange(s.addr, &join(te)).await,
            (400, "bad_request".into()),
            "{te}"
        );
    }
    // HTTP/1.0 has no Transfer-Encoding: the framing is faulty (RFC 9112, 6.1).
    let http10 =
        "POST /rooms/te/join HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    assert_eq!(exchange(s.addr, http10).await, (400, "bad_request".into()));
    // Once, with empty list elements around it, is fine.
    let ok = join("Transfer-Encoding: , chunked ,\r\nConnection: close");
    assert_eq!(exchange(s.addr, &ok).await.0, 200);
}
