//! Wire format of protocol v1: names, query strings, request bodies and the pre-serialized
//! messages that sit in the queues.

use crate::error::ApiError;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::Write;

/// Longest room name, peer id and display name.
pub const MAX_NAME: usize = 64;
/// Longest `chat` text, in characters.
pub const MAX_CHAT_CHARS: usize = 4096;

/// Checks a room name or peer id: 1–64 of `A-Z a-z 0-9 _ -`.
pub fn check_name(kind: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadName(format!(
            "{kind} {name:?} must be 1-{MAX_NAME} characters of A-Z a-z 0-9 _ -"
        )))
    }
}

/// Bidirectional formatting characters: ALM, LRM, RLM, LRE…RLO, LRI…PDI. In a name shown
/// in a line of text they reorder what follows ("\u{202E}gnp.exe" reads "exe.png").
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a display name: 1–64 characters, no control or bidirectional formatting characters.
pub fn check_display_name(name: &str) -> Result<(), ApiError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME || name.chars().any(|c| c.is_control() || is_bidi_control(c))
    {
        return Err(ApiError::BadName(format!(
            "display name {name:?} must be 1-{MAX_NAME} characters without control or \
             bidirectional formatting characters"
        )));
    }
    Ok(())
}

/// The query of a poll.
#[derive(Debug, Default, PartialEq)]
pub struct PollQuery {
    pub after: u64,
    pub timeout_ms: Option<u64>,
}

/// Parses `after=N&timeout_ms=T`; other parameters are ignored, a repeated one is an error.
pub fn parse_poll_query(query: Option<&str>) -> Result<PollQuery, ApiError> {
    let mut q = PollQuery::default();
    let (mut seen_after, mut seen_timeout) = (false, false);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (seen, name) = match key {
            "after" => (&mut seen_after, "after"),
            "timeout_ms" => (&mut seen_timeout, "timeout_ms"),
            _ => continue,
        };
        if *seen {
            return Err(ApiError::BadQuery(format!("{name} is given twice")));
        }
        *seen = true;
        let n = parse_u64(value).ok_or_else(|| {
            ApiError::BadQuery(format!(
                "{name}={value:?} is not an unsigned 64-bit integer"
            ))
        })?;
        if name == "after" {
            q.after = n;
        } else {
            q.timeout_ms = Some(n);
        }
    }
    Ok(q)
}

fn parse_u64(s: &str) -> Option<u64> {
    // Digits only: `str::parse` would also take a leading `+`.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Checks that a non-empty body is a JSON object; `Ok(None)` for an empty body.
fn json_object(body: &[u8]) -> Result<Option<&RawValue>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let raw: &RawValue = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadJson(format!("the body is not JSON: {e}")))?;
    if !raw.get().starts_with('{') {
        return Err(ApiError::BadJson("the body must be a JSON object".into()));
    }
    Ok(Some(raw))
}

fn bad_message(e: serde_json::Error) -> ApiError {
    ApiError::BadMessage(e.to_string())
}

/// The join body: optional, `{"name": string|null}`.
pub fn parse_join(body: &[u8]) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Join {
        #[serde(default)]
        name: Option<String>,
    }
    let Some(raw) = json_object(body)? else {
        return Ok(None);
    };
    let join: Join = serde_json::from_str(raw.get()).map_err(bad_message)?;
    if let Some(name) = &join.name {
        check_display_name(name)?;
    }
    Ok(join.name)
}

/// The message types a peer may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerType {
    Offer,
    Answer,
    Candidate,
    Bye,
    Chat,
}

impl PeerType {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerType::Offer => "offer",
            PeerType::Answer => "answer",
            PeerType::Candidate => "candidate",
            PeerType::Bye => "bye",
            PeerType::Chat => "chat",
        }
    }
}

/// The leave body: optional; when given, a JSON object (its fields are ignored).
pub fn parse_leave(body: &[u8]) -> Result<(), ApiError> {
    json_object(body).map(|_| ())
}

/// `data` as the sender wrote it, `null` included (a plain `Option` would take `null` for
/// an absent field).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// A checked send body. `data` keeps the sender's exact bytes (unknown fields included).
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub to: Option<Cow<'a, str>>,
    pub kind: PeerType,
    pub data: &'a str,
}

/// Parses and checks a send body against the message table.
pub fn parse_send(body: &[u8]) -> Result<Outgoing<'_>, ApiError> {
    #[derive(Deserialize)]
    struct Send<'a> {
        #[serde(default, borrow)]
        to: Option<Cow<'a, str>>,
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
        #[serde(default, borrow, deserialize_with = "present")]
        data: Option<&'a RawValue>,
    }
    let raw = json_object(body)?
        .ok_or_else(|| ApiError::BadJson("the body is empty; a message is a JSON object".into()))?;
    let send: Send = serde_json::from_str(raw.get()).map_err(bad_message)?;
    let kind = match &*send.kind {
        "offer" => PeerType::Offer,
        "answer" => PeerType::Answer,
        "candidate" => PeerType::Candidate,
        "bye" => PeerType::Bye,
        "chat" => PeerType::Chat,
        "join" | "leave" => {
            return Err(ApiError::BadMessage(format!(
                "`{}` messages come from the server only",
                send.kind
            )))
        }
        other => {
            return Err(ApiError::BadMessage(format!(
                "unknown type {other:?} (offer, answer, candidate, bye, chat)"
            )))
        }
    };
    if let Some(to) = &send.to {
        check_name("peer id in `to`", to)?;
    }
    // An absent `data` is `{}`; `null` is not absent.
    let data = send.data.map(RawValue::get).unwrap_or("{}");
    if data == "null" {
        return Err(ApiError::BadMessage(format!(
            "`data` of `{}` is null: give an object, or omit `data` (which means {{}})",
            kind.as_str()
        )));
    }
    check_data(kind, data)?;
    Ok(Outgoing {
        to: send.to,
        kind,
        data,
    })
}

fn check_data(kind: PeerType, data: &str) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Sdp<'a> {
        #[serde(borrow)]
        sdp: Cow<'a, str>,
    }
    #[derive(Deserialize)]
    #[allow(non_snake_case, dead_code)] // the browser's RTCIceCandidateInit field names
    struct Candidate<'a> {
        #[serde(borrow)]
        candidate: Cow<'a, str>,
        #[serde(default, borrow)]
        sdpMid: Option<Cow<'a, str>>,
        #[serde(default)]
        sdpMLineIndex: Option<u32>,
    }
    #[derive(Deserialize)]
    struct Chat<'a> {
        #[serde(borrow)]
        text: Cow<'a, str>,
    }
    #[derive(Deserialize)]
    struct Empty {}

    if !data.starts_with('{') {
        return Err(ApiError::BadMessage(format!(
            "`data` of `{}` must be an object",
            kind.as_str()
        )));
    }
    let ctx =
        |e: serde_json::Error| ApiError::BadMessage(format!("`data` of `{}`: {e}", kind.as_str()));
    match kind {
        PeerType::Offer | PeerType::Answer => {
            let d: Sdp = serde_json::from_str(data).map_err(ctx)?;
            if !d.sdp.starts_with("v=0") {
                return Err(ApiError::BadMessage(format!(
                    "`data.sdp` of `{}` must start with v=0",
                    kind.as_str()
                )));
            }
        }
        PeerType::Candidate => {
            serde_json::from_str::<Candidate>(data).map_err(ctx)?;
        }
        PeerType::Bye => {
            serde_json::from_str::<Empty>(data).map_err(ctx)?;
        }
        PeerType::Chat => {
            let d: Chat = serde_json::from_str(data).map_err(ctx)?;
            let n = d.text.chars().count();
            if n > MAX_CHAT_CHARS {
                return Err(ApiError::BadMessage(format!(
                    "`data.text` has {n} characters, at most {MAX_CHAT_CHARS}"
                )));
            }
        }
    }
    Ok(())
}

/// A queued message without its `seq`: `"from":…,"to":…,"type":…,"data":…}`. Shared by every
/// recipient of a room message; the poll response writes `{"seq":N,` in front of it.
pub fn message_tail(from: &str, to: Option<&str>, kind: &str, data: &str) -> Bytes {
    // Names are checked ASCII without quotes or backslashes, `kind` is one of ours and
    // `data` is valid JSON: no escaping needed.
    let mut out = Vec::with_capacity(48 + from.len() + to.map_or(4, str::len) + data.len());
    out.extend_from_slice(b"\"from\":\"");
    out.extend_from_slice(from.as_bytes());
    match to {
        Some(to) => {
            out.extend_from_slice(b"\",\"to\":\"");
            out.extend_from_slice(to.as_bytes());
            out.extend_from_slice(b"\",\"type\":\"");
        }
        None => out.extend_from_slice(b"\",\"to\":null,\"type\":\""),
    }
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    out.extend_from_slice(data.as_bytes());
    out.push(b'}');
    Bytes::from(out)
}

/// Writes the poll response `{"messages":[…]}` from `(seq, tail)` pairs.
pub fn messages_body(messages: &[(u64, Bytes)]) -> Bytes {
    let len: usize = messages.iter().map(|(_, t)| t.len() + 32).sum();
    let mut out = Vec::with_capacity(16 + len);
    out.extend_from_slice(b"{\"messages\":[");
    for (i, (seq, tail)) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{{\"seq\":{seq}");
        out.push(b',');
        out.extend_from_slice(tail);
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}

/// Writes the send answer `{"delivered_to":[…]}` one (checked, quote-free) peer id at a time.
pub struct DeliveredBody(Vec<u8>);

impl DeliveredBody {
    pub fn new() -> Self {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"{\"delivered_to\":[");
        DeliveredBody(out)
    }

    pub fn add(&mut self, id: &str) {
        if self.0.last() != Some(&b'[') {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(id.as_bytes());
        self.0.push(b'"');
    }

    pub fn finish(mut self) -> Bytes {
        self.0.extend_from_slice(b"]}");
        Bytes::from(self.0)
    }
}

impl Default for DeliveredBody {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("room", "lobby_1-A").is_ok());
        assert!(check_name("room", "").is_err());
        assert!(check_name("room", &"a".repeat(65)).is_err());
        assert!(check_name("room", "a b").is_err());
        assert!(check_name("room", "é").is_err());
        assert!(check_display_name("Zoë ☎").is_ok());
        assert!(check_display_name("a\nb").is_err());
        assert!(check_display_name("").is_err());
        for disguise in ["\u{202E}gnp.exe", "a\u{2066}b", "x\u{200F}", "\u{061C}y"] {
            assert!(check_display_name(disguise).is_err(), "{disguise:?}");
        }
        // Right-to-left letters themselves are fine.
        assert!(check_display_name("שלום").is_ok());
    }

    #[test]
    fn queries() {
        assert_eq!(parse_poll_query(None).unwrap(), PollQuery::default());
        assert_eq!(
            parse_poll_query(Some("after=3&timeout_ms=0&x=y")).unwrap(),
            PollQuery {
                after: 3,
                timeout_ms: Some(0)
            }
        );
        for bad in [
            "after=-1",
            "after=",
            "after=+1",
            "timeout_ms=1.5",
            "after=1&after=2",
        ] {
            let e = parse_poll_query(Some(bad)).unwrap_err();
            assert_eq!(e.code(), "bad_query", "{bad}");
        }
    }

    #[test]
    fn send_bodies() {
        let m = parse_send(br#"{"to":"p1","type":"chat","data":{"text":"hi","x":[1]}}"#).unwrap();
        assert_eq!(m.to.as_deref(), Some("p1"));
        assert_eq!(m.kind, PeerType::Chat);
        assert_eq!(m.data, r#"{"text":"hi","x":[1]}"#);
        let m = parse_send(br#"{"type":"bye"}"#).unwrap();
        assert_eq!((m.to, m.data), (None, "{}"));
        let code = |b: &[u8]| parse_send(b).unwrap_err().code();
        assert_eq!(code(b"{"), "bad_json");
        assert_eq!(code(b"[1]"), "bad_json");
        assert_eq!(code(b""), "bad_json");
        assert_eq!(
            code(br#"{"type":"offer","data":{"sdp":"x"}}"#),
            "bad_message"
        );
        assert_eq!(code(br#"{"type":"candidate","data":{}}"#), "bad_message");
        assert_eq!(code(br#"{"type":"join","data":{}}"#), "bad_message");
        assert_eq!(code(br#"{"type":"chat","data":"hi"}"#), "bad_message");
        // `null` is not an omitted `data`: refused, not relayed as `{}`.
        let e = parse_send(br#"{"type":"bye","data":null}"#).unwrap_err();
        assert_eq!(e.code(), "bad_message");
        assert!(e.to_string().contains("null"), "{e}");
        assert!(parse_leave(b"").is_ok() && parse_leave(b" {\"x\":1} ").is_ok());
        for bad in [&b"[1]"[..], b"leave", b"{", b"null", b"1"] {
            assert_eq!(parse_leave(bad).unwrap_err().code(), "bad_json");
        }
        assert_eq!(
            code(br#"{"type":"chat","to":"p 1","data":{"text":""}}"#),
            "bad_name"
        );
    }

    #[test]
    fn bodies_are_valid_json() {
        let t = message_tail("p1", None, "chat", r#"{"text":"a\"b"}"#);
        let body = messages_body(&[
            (7, t.clone()),
            (8, message_tail("p1", Some("p2"), "bye", "{}")),
        ]);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["messages"][0]["seq"], 7);
        assert_eq!(v["messages"][0]["to"], serde_json::Value::Null);
        assert_eq!(v["messages"][0]["data"]["text"], "a\"b");
        assert_eq!(v["messages"][1]["to"], "p2");
        assert_eq!(&DeliveredBody::new().finish()[..], b"{\"delivered_to\":[]}");
        let mut d = DeliveredBody::new();
        d.add("p1");
        d.add("p2");
        let v: serde_json::Value = serde_json::from_slice(&d.finish()).unwrap();
        assert_eq!(v, serde_json::json!({"delivered_to": ["p1", "p2"]}));
    }
}
