//! What each scenario accepts and refuses, and the command lines it runs.

use super::*;
use CandidateType::*;

fn good(s: Scenario, role: &str, pair: (CandidateType, CandidateType)) -> Summary {
    let other = if role == "caller" { "callee" } else { "caller" };
    Summary {
        role: role.into(),
        connected: true,
        error: None,
        pair: Some(pair),
        chat_received: vec![chat_text(other, s)],
        tone_detected: (role == "callee").then_some(true),
        ..Summary::default()
    }
}

fn relayed() -> Usage {
    Usage {
        allocations: 2,
        peer_bytes: 90_000,
        ..Usage::default()
    }
}

#[test]
fn each_scenario_accepts_its_pair_and_rejects_the_others() {
    let cases = [
        (Scenario::Local, (Host, Host), Usage::default(), true),
        (Scenario::Local, (Srflx, Host), Usage::default(), false),
        (Scenario::Local, (Host, Prflx), Usage::default(), true),
        (Scenario::Local, (Prflx, Host), Usage::default(), false),
        (Scenario::Local, (Host, Relay), Usage::default(), false),
        (
            Scenario::StunUnreachable,
            (Host, Host),
            Usage::default(),
            true,
        ),
        (Scenario::Srflx, (Srflx, Prflx), Usage::default(), true),
        (Scenario::Srflx, (Srflx, Srflx), Usage::default(), true),
        (Scenario::Srflx, (Host, Host), Usage::default(), false),
        (Scenario::Srflx, (Srflx, Relay), Usage::default(), false),
        (Scenario::Relay, (Relay, Prflx), relayed(), true),
        (Scenario::Relay, (Srflx, Srflx), relayed(), false),
    ];
    for (s, pair, usage, pass) in cases {
        let p = problems(
            s,
            &good(s, "caller", pair),
            &good(s, "callee", pair),
            &usage,
        );
        assert_eq!(p.is_empty(), pass, "{s:?} {pair:?}: {p:?}");
    }
}

#[test]
fn media_chat_and_coturn_are_checked_too() {
    let s = Scenario::Relay;
    let caller = good(s, "caller", (Relay, Relay));
    let mut callee = good(s, "callee", (Relay, Relay));
    assert!(problems(s, &caller, &callee, &relayed()).is_empty());
    let none_relayed = Usage {
        peer_bytes: 0,
        ..relayed()
    };
    let p = problems(s, &caller, &callee, &none_relayed);
    assert_eq!(p, ["coturn logged no relayed bytes (peer usage)"]);
    callee.tone_detected = Some(false);
    callee.chat_received.clear();
    let p = problems(s, &caller, &callee, &relayed());
    assert_eq!(p.len(), 2, "{p:?}");
    // An allocation where none was asked for means the app used TURN it was not given.
    let l = Scenario::Local;
    let p = problems(
        l,
        &good(l, "caller", (Host, Host)),
        &good(l, "callee", (Host, Host)),
        &relayed(),
    );
    assert_eq!(p, ["coturn allocated 2 relays, none was asked for"]);
}

#[test]
fn bad_turn_wants_a_clear_turn_error_and_coturn_refusals() {
    let s = Scenario::BadTurn;
    let failed = |e: Option<&str>| Summary {
        connected: false,
        error: e.map(str::to_string),
        ..Summary::default()
    };
    let refused = Usage {
        auth_failures: 4,
        ..Usage::default()
    };
    let e = Some("TURN server turn:203.0.113.2:3478 refused the credentials (401 Unauthorized)");
    assert!(problems(s, &failed(e), &failed(e), &refused).is_empty());
    let vague = Some("connection timed out");
    assert_eq!(problems(s, &failed(vague), &failed(e), &refused).len(), 1);
    assert_eq!(problems(s, &failed(None), &failed(e), &refused).len(), 1);
    // The other side timed out first and said bye: still not a successful call.
    let bye_first = Summary {
        connected: true,
        hangup: Some("remote_bye".into()),
        ..Summary::default()
    };
    let p = problems(s, &bye_first, &failed(e), &refused);
    assert!(p[0].contains("never connected"), "{p:?}");
    assert_eq!(
        problems(s, &failed(e), &failed(e), &Usage::default()).len(),
        1
    );
}

#[test]
fn command_lines_are_quoted_for_the_shell() {
    let argv = ["call", "--chat", "it's (here)", "--room", "r-1"].map(String::from);
    assert_eq!(
        shell_line(&argv),
        r"call --chat 'it'\''s (here)' --room r-1"
    );
}

#[test]
fn peer_args_give_each_scenario_its_servers() {
    let dir = Path::new("/run/x");
    let call = Path::new("/bin/call");
    let joined = |s, role| peer_args(s, role, call, "room", dir).argv.join(" ");
    let local = joined(Scenario::Local, "caller");
    assert!(local.starts_with(
        "/bin/call --server http://10.0.0.2:8080 --room room --stun stun:10.0.0.2:3478 "
    ));
    assert!(
        local.contains("--tone-hz 440") && !local.contains("--turn"),
        "{local}"
    );
    assert!(joined(Scenario::StunUnreachable, "callee").contains("--stun stun:10.0.0.99:3478"));
    let callee = joined(Scenario::Srflx, "callee");
    assert!(
        callee.ends_with("--tone-hz 660 --expect-tone 440 --wait 30 --record /run/x/callee.wav"),
        "{callee}"
    );
    assert!(
        local.ends_with("--tone-hz 440 --expect-tone 660"),
        "{local}"
    );
    // relay: the TURN server and its credential come from the join answer.
    assert!(!joined(Scenario::Relay, "caller").contains("--turn"));
    let sig = signaling_args(
        Scenario::Relay,
        Path::new("/bin/sig"),
        Path::new("/run/x/s"),
    );
    assert_eq!(
        sig.join(" "),
        "/bin/sig --listen 203.0.113.2:8080 --turn turn:203.0.113.2:3478?transport=udp \
         --turn-secret-file /run/x/s"
    );
    let sig = signaling_args(
        Scenario::Local,
        Path::new("/bin/sig"),
        Path::new("/run/x/s"),
    );
    assert_eq!(sig.join(" "), "/bin/sig --listen 10.0.0.2:8080");
    // bad-turn: expired in 2001; the credential as Python's hmac computes it.
    let bad = joined(Scenario::BadTurn, "caller");
    assert!(
        bad.contains("--turn turn:203.0.113.2:3478,1000000000:caller,sPPGHqcmgdnqW0RWE/DP20z0b9k="),
        "{bad}"
    );
    assert!(bad.contains(&format!("--connect-timeout {BAD_TURN_TIMEOUT_SECS}")));
}
