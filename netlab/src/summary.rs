//! The calling app's `--json` summary (schema: docs/calling-app.md), reduced to what the
//! scenarios check.

use std::fmt;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CandidateType {
    Host,
    Srflx,
    Prflx,
    Relay,
}

impl CandidateType {
    pub fn parse(s: &str) -> Result<CandidateType> {
        // libwebrtc's stats say "host", "srflx", "prflx", "relay"; older names accepted too.
        Ok(match s.to_ascii_lowercase().as_str() {
            "host" | "local" => CandidateType::Host,
            "srflx" | "stun" | "serverreflexive" => CandidateType::Srflx,
            "prflx" | "peerreflexive" => CandidateType::Prflx,
            "relay" | "relayed" => CandidateType::Relay,
            other => bail!("unknown candidate type {other:?}"),
        })
    }
}

impl fmt::Display for CandidateType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CandidateType::Host => "host",
            CandidateType::Srflx => "srflx",
            CandidateType::Prflx => "prflx",
            CandidateType::Relay => "relay",
        })
    }
}

/// One side's call, as far as the scenarios care.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub role: String,
    /// The call came up and ended normally (`"result": "ok"`).
    pub connected: bool,
    pub error: Option<String>,
    /// The selected candidate pair: (local type, remote type).
    pub pair: Option<(CandidateType, CandidateType)>,
    /// How the call ended: `duration`, `remote_bye`, `failed`, ….
    pub hangup: Option<String>,
    /// The app's own name for it: `local`, `server-reflexive`, `relayed`.
    pub connection: Option<String>,
    /// Local candidate types gathered (`host`, `srflx`, `relay`).
    pub local_candidate_types: Vec<String>,
    pub chat_received: Vec<String>,
    /// `None`: this side was not asked to look for a tone (`--expect-tone`).
    pub tone_detected: Option<bool>,
    /// The expected tone's share of the received audio's energy (Goertzel).
    pub tone_ratio: Option<f64>,
    /// The whole summary, for checks that read more of it (`media_flow`).
    #[serde(skip)]
    pub raw: Value,
}

impl Summary {
    pub fn parse(text: &str) -> Result<Summary> {
        let v: Value = serde_json::from_str(text).context("the summary is not JSON")?;
        from_value(&v)
    }
}

fn str_at<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str)
}

fn strings_at(v: &Value, path: &str) -> Vec<String> {
    v.pointer(path)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The fields of docs/calling-app.md's summary that the scenarios read.
fn from_value(v: &Value) -> Result<Summary> {
    let result =
        str_at(v, "/result").context("`result` missing: is this a call --json summary?")?;
    let pair = match v.pointer("/selected_pair") {
        None | Some(Value::Null) => None,
        Some(p) => {
            let t = |key: &str| -> Result<CandidateType> {
                CandidateType::parse(
                    str_at(p, &format!("/{key}"))
                        .with_context(|| format!("selected_pair.{key} missing"))?,
                )
            };
            Some((t("local_type")?, t("remote_type")?))
        }
    };
    Ok(Summary {
        role: str_at(v, "/role").unwrap_or_default().to_string(),
        connected: result == "ok",
        error: str_at(v, "/error").map(str::to_string),
        pair,
        hangup: str_at(v, "/hangup").map(str::to_string),
        connection: str_at(v, "/connection").map(str::to_string),
        local_candidate_types: strings_at(v, "/local_candidate_types"),
        chat_received: strings_at(v, "/chat/received"),
        tone_detected: v
            .pointer("/audio/received/tone_detected")
            .and_then(Value::as_bool),
        tone_ratio: v
            .pointer("/audio/received/expected_ratio")
            .and_then(Value::as_f64),
        raw: v.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like native/call's `Summary` (docs/calling-app.md), trimmed.
    const RELAYED: &str = r#"{
      "result": "ok", "error": null, "role": "callee", "room": "r", "peer_id": "p1",
      "selected_pair": {"local_type": "prflx", "remote_type": "relay",
                        "local_address": "203.0.113.12:4000", "remote_address": "203.0.113.2:50000",
                        "protocol": "udp", "relay_protocol": null},
      "connection": "relayed", "local_candidate_types": ["host", "srflx", "relay"],
      "audio": {"input": "tone:660", "received": {"expected_hz": 440.0, "expected_ratio": 0.91,
                                                   "tone_detected": true}},
      "chat": {"sent": ["a"], "received": ["hello from the caller (relay)"]},
      "hangup": "duration"
    }"#;

    #[test]
    fn reads_the_fields_the_scenarios_check() {
        let s = Summary::parse(RELAYED).unwrap();
        assert_eq!(
            s,
            Summary {
                role: "callee".into(),
                connected: true,
                error: None,
                pair: Some((CandidateType::Prflx, CandidateType::Relay)),
                hangup: Some("duration".into()),
                connection: Some("relayed".into()),
                local_candidate_types: vec!["host".into(), "srflx".into(), "relay".into()],
                chat_received: vec!["hello from the caller (relay)".into()],
                tone_detected: Some(true),
                tone_ratio: Some(0.91),
                raw: serde_json::from_str(RELAYED).unwrap(),
            }
        );
    }

    #[test]
    fn a_failed_call_keeps_its_error_and_bad_input_is_refused() {
        let failed = r#"{"result": "failed", "error": "not connected within 6 s: no relay candidate",
                         "role": "caller", "selected_pair": null, "chat": {"received": []},
                         "audio": {"received": {"tone_detected": null}}}"#;
        let s = Summary::parse(failed).unwrap();
        assert!(!s.connected && s.pair.is_none() && s.tone_detected.is_none());
        assert_eq!(
            s.error.as_deref(),
            Some("not connected within 6 s: no relay candidate")
        );
        assert!(Summary::parse("{}")
            .unwrap_err()
            .to_string()
            .contains("`result` missing"));
        assert!(Summary::parse("not json").is_err());
        let odd = RELAYED.replace("\"prflx\"", "\"carrier-pigeon\"");
        assert!(format!("{:#}", Summary::parse(&odd).unwrap_err()).contains("carrier-pigeon"));
    }
}
