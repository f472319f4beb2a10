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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub role: String,
    pub connected: bool,
    pub error: Option<String>,
    /// The selected candidate pair: (local type, remote type).
    pub pair: Option<(CandidateType, CandidateType)>,
    pub chat_received: Vec<String>,
    /// `None`: this side did not record.
    pub tone_detected: Option<bool>,
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

fn from_value(v: &Value) -> Result<Summary> {
    let pair = match v.pointer("/selected_pair") {
        None | Some(Value::Null) => None,
        Some(p) => {
            let t = |side: &str| -> Result<CandidateType> {
                let s = str_at(p, &format!("/{side}/candidate_type"))
                    .with_context(|| format!("selected_pair.{side}.candidate_type missing"))?;
                CandidateType::parse(s)
            };
            Some((t("local")?, t("remote")?))
        }
    };
    Ok(Summary {
        role: str_at(v, "/role").unwrap_or_default().to_string(),
        connected: v
            .pointer("/connected")
            .and_then(Value::as_bool)
            .context("`connected` missing")?,
        error: str_at(v, "/error").map(str::to_string),
        pair,
        chat_received: v
            .pointer("/chat/received")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().or_else(|| str_at(m, "/text")))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        tone_detected: v
            .pointer("/recording/tone_detected")
            .and_then(Value::as_bool),
    })
}
