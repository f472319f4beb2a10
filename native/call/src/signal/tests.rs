//! The client's own checks and the join answer's ICE servers.

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

#[test]
fn only_an_instance_that_is_gone_is_left_and_only_once() {
    let servers = Servers {
        bases: vec!["http://a".into(), "http://b".into()],
        current: AtomicUsize::new(0),
    };
    let refused = SignalError::Server {
        status: 403,
        code: "wrong_token".into(),
        message: String::new(),
    };
    assert!(!servers.fail_over(0, &refused));
    assert_eq!(servers.current().1, "http://a");
    let stopping = SignalError::Server {
        status: 503,
        code: "shutting_down".into(),
        message: String::new(),
    };
    assert!(servers.fail_over(0, &stopping));
    assert_eq!(servers.current().1, "http://b");
    // A second report of a's failure (another thread's request) does not move past b.
    assert!(servers.fail_over(0, &stopping));
    assert_eq!(servers.current().1, "http://b");
    // b gone too: back to a, in turn.
    assert!(servers.fail_over(1, &stopping));
    assert_eq!(servers.current().1, "http://a");
    let alone = Servers {
        bases: vec!["http://a".into()],
        current: AtomicUsize::new(0),
    };
    assert!(!alone.fail_over(0, &stopping));
}
