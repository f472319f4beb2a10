//! ICE server specs from the command line, and small readers of ICE and signaling values.

use anyhow::{bail, Result};
use mobilertc::IceServer;

use crate::signal::SignalError;

/// Parses `stun:host:port` (a bare `host:port` gets the scheme).
pub fn parse_stun(spec: &str) -> Result<IceServer> {
    let url = if spec.starts_with("stun:") || spec.starts_with("stuns:") {
        spec.to_owned()
    } else if spec.contains(':') && !spec.contains("//") {
        format!("stun:{spec}")
    } else {
        bail!("STUN server {spec:?}: expected stun:HOST:PORT (e.g. stun:192.0.2.1:3478)");
    };
    Ok(IceServer::stun(url))
}

/// Parses `turn:host:port[?transport=udp],USER,PASS`.
pub fn parse_turn(spec: &str) -> Result<IceServer> {
    let mut parts = spec.splitn(3, ',');
    let (url, user, pass) = match (parts.next(), parts.next(), parts.next()) {
        (Some(u), Some(n), Some(p)) if !u.is_empty() && !n.is_empty() => (u, n, p),
        _ => bail!(
            "TURN server {spec:?}: expected URL,USER,PASS (e.g. turn:192.0.2.1:3478,alice,secret)"
        ),
    };
    if !(url.starts_with("turn:") || url.starts_with("turns:")) {
        bail!("TURN server URL {url:?} must start with turn: or turns:");
    }
    Ok(IceServer {
        urls: vec![url.to_owned()],
        username: user.to_owned(),
        credential: pass.to_owned(),
    })
}

/// The `typ` of a `candidate:` line.
pub(super) fn candidate_type(candidate: &str) -> Option<&str> {
    let mut words = candidate.split_whitespace();
    words.find(|w| *w == "typ")?;
    words.next()
}

/// The error a signaling failure maps to, for callers that want the code.
pub fn signal_code(err: &anyhow::Error) -> Option<&str> {
    err.downcast_ref::<SignalError>()
        .and_then(SignalError::code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_server_specs() {
        assert_eq!(
            parse_stun("stun:1.2.3.4:3478").unwrap().urls,
            ["stun:1.2.3.4:3478"]
        );
        assert_eq!(
            parse_stun("1.2.3.4:3478").unwrap().urls,
            ["stun:1.2.3.4:3478"]
        );
        assert!(parse_stun("http://x").is_err());
        let t = parse_turn("turn:1.2.3.4:3478?transport=udp,alice,s,e,cret").unwrap();
        assert_eq!(t.username, "alice");
        assert_eq!(t.credential, "s,e,cret");
        for bad in ["turn:1.2.3.4", "turn:1.2.3.4,alice", "stun:x,a,b", ",a,b"] {
            let err = parse_turn(bad).unwrap_err().to_string();
            assert!(err.contains("TURN"), "{bad}: {err}");
        }
    }

    #[test]
    fn candidate_types_are_read_from_the_line() {
        assert_eq!(
            candidate_type("candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host generation 0"),
            Some("host")
        );
        assert_eq!(
            candidate_type("candidate:1 1 udp 1 1.2.3.4 5 typ relay raddr 0.0.0.0"),
            Some("relay")
        );
        assert_eq!(candidate_type("garbage"), None);
    }
}
