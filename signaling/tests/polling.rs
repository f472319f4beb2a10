//! Long-polling: timeout, wake-up, acknowledgement, re-delivery across dropped polls,
//! ordering, one poll per peer.

mod common;

use common::{config, start};
use mobilertc_signaling::Config;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

#[tokio::test]
async fn poll_times_out_empty() {
    let s = start(Config {
        poll_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let t = Instant::now();
    // Asking for more than the maximum gets the maximum.
    let r = s.poll(&a, 0, 60_000).await;
    assert!(r.messages().is_empty());
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "answered before the timeout"
    );
    // timeout_ms=0 answers at once; the default is the server's poll timeout.
    assert!(s.poll(&a, 0, 0).await.messages().is_empty());
    let r = common::reply(
        s.client
            .get(s.messages_url(&a))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(r.messages().is_empty());
}

#[tokio::test]
async fn send_wakes_a_waiting_poll() {
    // A long timeout: only a wake-up can bring the message before the test gives up.
    let s = start(Config {
        poll_timeout: Duration::from_secs(30),
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    assert_eq!(s.poll(&a, 0, 0).await.seqs(), vec![1]);
    let waiting = s.spawn_poll(&a, "after=1");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiting.is_finished(),
        "the poll answered with nothing to say"
    );
    assert_eq!(
        s.chat(&b, Some(&a.id), "wake up").await.status,
        StatusCode::OK
    );
    let r = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the send did not wake the poll")
        .unwrap();
    let m = r.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["seq"], 2);
    assert_eq!(m[0]["from"], b.id);
    assert_eq!(m[0]["to"], a.id);
    assert_eq!(m[0]["data"]["text"], "wake up");
}

#[tokio::test]
async fn redelivered_until_acknowledged() {
    let s = start(config()).await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    s.chat(&b, None, "one").await;
    s.chat(&b, None, "two").await;
    // Not acknowledged: the same messages again, as often as asked.
    assert_eq!(s.poll(&a, 0, 0).await.seqs(), vec![1, 2, 3]);
    assert_eq!(s.poll(&a, 0, 0).await.seqs(), vec![1, 2, 3]);
    // after=2 deletes 1 and 2 only; going back does not bring them back.
    assert_eq!(s.poll(&a, 2, 0).await.seqs(), vec![3]);
    assert_eq!(s.poll(&a, 0, 0).await.seqs(), vec![3]);
    assert_eq!(s.poll(&a, 3, 0).await.seqs(), Vec::<u64>::new());
    // seq keeps counting after the queue emptied.
    s.chat(&b, None, "three").await;
    assert_eq!(s.poll(&a, 3, 0).await.seqs(), vec![4]);
}

/// A GET of `a`'s queue on a raw connection that is dropped without reading the answer.
async fn abandoned_poll(
    s: &common::TestServer,
    a: &common::Peer,
    after: u64,
    wait_for_answer: bool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "GET /rooms/{}/peers/{}/messages?after={after} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        a.room, a.id, a.token
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    if wait_for_answer {
        // The server has sent (part of) the answer: the client loses it all the same.
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
    } else {
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    drop(stream);
}

#[tokio::test]
async fn nothing_lost_across_dropped_polls() {
    let s = start(config()).await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    assert_eq!(s.poll(&a, 0, 0).await.seqs(), vec![1]);

    // 1. The answer was sent, the client dropped the connection while reading it.
    s.chat(&b, None, "sent then lost").await;
    abandoned_poll(&s, &a, 1, true).await;
    let m = s.poll(&a, 1, 0).await.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["data"]["text"], "sent then lost");

    // 2. The poll was waiting, the client went away, then a message came.
    abandoned_poll(&s, &a, 1, false).await;
    s.chat(&b, None, "queued while nobody listened").await;
    let m = s.poll(&a, 1, 0).await.messages();
    assert_eq!(
        m.iter()
            .map(|m| m["data"]["text"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["sent then lost", "queued while nobody listened"]
    );
    // And a client that gives up on a poll (its HTTP timeout) loses nothing either.
    let gave_up = tokio::time::timeout(Duration::from_millis(100), s.poll(&a, 3, 1000)).await;
    assert!(gave_up.is_err());
    s.chat(&b, None, "after the timeout").await;
    assert_eq!(s.poll(&a, 3, 0).await.seqs(), vec![4]);
}

#[tokio::test]
async fn order_is_kept_per_sender() {
    let s = start(Config {
        rate_per_sec: 0,
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    let c = s.join("r", None).await;
    for i in 0..40 {
        let (from, to) = if i % 2 == 0 {
            (&b, Some(a.id.as_str()))
        } else {
            (&c, None)
        };
        assert_eq!(
            s.chat(from, to, &i.to_string()).await.status,
            StatusCode::OK
        );
    }
    let m = s.poll(&a, 0, 0).await.messages();
    // join(b), join(c), then the 40 chats in sending order, seq 1..=42.
    assert_eq!(m.len(), 42);
    for (i, msg) in m.iter().enumerate() {
        assert_eq!(msg["seq"], i as u64 + 1);
    }
    let texts: Vec<String> = m[2..]
        .iter()
        .map(|m| m["data"]["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts, (0..40).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(m[2]["to"], a.id);
    assert_eq!(m[3]["to"], serde_json::Value::Null);
    // b got the room messages of c only (its own are never echoed), with its own seqs.
    let m = s.poll(&b, 0, 0).await.messages();
    assert_eq!(m.len(), 21);
    assert!(m[1..].iter().all(|m| m["from"] == c.id));
    assert_eq!(m[20]["seq"], 21);
}

#[tokio::test]
async fn a_newer_poll_ends_the_older_one() {
    let s = start(Config {
        poll_timeout: Duration::from_secs(30),
        ..config()
    })
    .await;
    let a = s.join("r", None).await;
    let b = s.join("r", None).await;
    let spawn_poll = |after: u64| s.spawn_poll(&a, &format!("after={after}"));
    let old = spawn_poll(0);
    // The old poll answers at once (join of b is queued); ack it and wait with a new one.
    assert_eq!(old.await.unwrap().seqs(), vec![1]);
    let first = spawn_poll(1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!first.is_finished());
    let second = spawn_poll(1);
    let r = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the older poll kept waiting")
        .unwrap();
    assert!(r.messages().is_empty());
    // The newer one is the one that gets the next message.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!second.is_finished());
    s.chat(&b, None, "to the newest").await;
    let r = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.seqs(), vec![2]);
}
