//! ICE servers handed out in the join answer, with short-lived TURN credentials of the
//! "TURN REST API" (draft-uberti-behave-turn-rest; coturn's `use-auth-secret` with
//! `static-auth-secret`): username `<expiry unix time>:<peer id>`, credential
//! `base64(HMAC-SHA1(secret, username))`. The TURN server, holding the same secret, checks
//! the HMAC and refuses a username whose expiry has passed, so nothing per user is stored
//! anywhere and a leaked credential stops working at its expiry.

use base64::Engine;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

/// STUN and TURN servers for clients (docs/signaling.md, *ICE servers*).
#[derive(Clone, Default, PartialEq)]
pub struct IceConfig {
    /// `stun:HOST:PORT` URLs, handed out as they are.
    pub stun_urls: Vec<String>,
    /// `turn:`/`turns:` URLs; each join gets a credential for them.
    pub turn_urls: Vec<String>,
    /// The secret shared with the TURN server (coturn's `static-auth-secret`).
    pub turn_secret: Option<String>,
    /// How long a credential is valid from the join.
    pub turn_ttl: Duration,
}

impl std::fmt::Debug for IceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never goes to a log.
        f.debug_struct("IceConfig")
            .field("stun_urls", &self.stun_urls)
            .field("turn_urls", &self.turn_urls)
            .field(
                "turn_secret",
                &self.turn_secret.as_ref().map(|_| "<hidden>"),
            )
            .field("turn_ttl", &self.turn_ttl)
            .finish()
    }
}

/// The TURN REST API username: `<expiry>:<peer>`.
pub fn turn_username(expiry_unix_secs: u64, peer: &str) -> String {
    format!("{expiry_unix_secs}:{peer}")
}

/// The TURN REST API credential of `username`: base64 of HMAC-SHA1 keyed with `secret`.
pub fn turn_credential(secret: &str, username: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let tag = ring::hmac::sign(&key, username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

impl IceConfig {
    /// Why this configuration cannot be served, if it cannot.
    pub fn problem(&self) -> Option<String> {
        for u in &self.stun_urls {
            if !(u.starts_with("stun:") || u.starts_with("stuns:")) {
                return Some(format!("STUN URL {u:?} must start with stun: or stuns:"));
            }
        }
        for u in &self.turn_urls {
            if !(u.starts_with("turn:") || u.starts_with("turns:")) {
                return Some(format!("TURN URL {u:?} must start with turn: or turns:"));
            }
        }
        if !self.turn_urls.is_empty() && self.turn_secret.as_deref().unwrap_or("").is_empty() {
            return Some(
                "TURN URLs need the secret shared with the TURN server (--turn-secret)".into(),
            );
        }
        if !self.turn_urls.is_empty() && self.turn_ttl.is_zero() {
            return Some("the TURN credential TTL must be at least 1 s".into());
        }
        None
    }

    /// The join answer's `ice_servers` (RTCIceServer dictionaries) for `peer`, and the
    /// TTL of its TURN credential (`None` without TURN).
    pub fn for_peer(&self, peer: &str, now: SystemTime) -> (Value, Option<u64>) {
        let mut servers = Vec::new();
        if !self.stun_urls.is_empty() {
            servers.push(json!({ "urls": self.stun_urls }));
        }
        let mut ttl = None;
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            let now = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let username = turn_username(now + self.turn_ttl.as_secs(), peer);
            let credential = turn_credential(secret, &username);
            servers.push(json!({
                "urls": self.turn_urls, "username": username, "credential": credential,
            }));
            ttl = Some(self.turn_ttl.as_secs());
        }
        (Value::Array(servers), ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_is_base64_hmac_sha1_of_the_username() {
        // Python: base64.b64encode(hmac.new(b'north-wind', b'1700000000:p7', 'sha1').digest())
        assert_eq!(
            turn_credential("north-wind", "1700000000:p7"),
            "3IG5L5iNfxcCrpryJqbLk0Pi5aQ="
        );
        assert_eq!(turn_username(1_700_000_000, "p7"), "1700000000:p7");
    }

    #[test]
    fn servers_for_a_peer() {
        let ice = IceConfig {
            stun_urls: vec!["stun:192.0.2.1:3478".into()],
            turn_urls: vec!["turn:192.0.2.1:3478?transport=udp".into()],
            turn_secret: Some("north-wind".into()),
            turn_ttl: Duration::from_secs(600),
        };
        assert_eq!(ice.problem(), None);
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_699_999_400);
        let (servers, ttl) = ice.for_peer("p7", at);
        assert_eq!(ttl, Some(600));
        assert_eq!(
            servers,
            json!([
                {"urls": ["stun:192.0.2.1:3478"]},
                {"urls": ["turn:192.0.2.1:3478?transport=udp"], "username": "1700000000:p7",
                 "credential": "3IG5L5iNfxcCrpryJqbLk0Pi5aQ="},
            ])
        );
        assert_eq!(IceConfig::default().for_peer("p1", at), (json!([]), None));
        assert!(!format!("{ice:?}").contains("north-wind"));
        let no_secret = IceConfig {
            turn_secret: None,
            ..ice.clone()
        };
        assert!(no_secret.problem().unwrap().contains("--turn-secret"));
        let bad = IceConfig {
            stun_urls: vec!["192.0.2.1:3478".into()],
            ..ice
        };
        assert!(bad.problem().is_some());
    }
}
