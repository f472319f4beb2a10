//! Did media flow for the whole call? The check every call test applies to two `call
//! --json` summaries (and netlab to its own), so "a tone was found" can no longer pass a
//! call whose audio died after the first 150 ms.
//!
//! Two measures per direction:
//! * packets: what the receiver got against what the sender sent (its last stats report);
//! * audible time: seconds of audible playout against the seconds the receiver was
//!   connected (connected → ended).

use serde_json::Value;

/// Share of the sender's audio packets the receiver must have counted. Not 1.0: the
/// sender's last report may include packets sent after the receiver hung up, and a
/// relayed or lossy path drops a few.
pub const MIN_PACKET_SHARE: f64 = 0.8;
/// Packets in flight around a hang-up (half a second of 20 ms Opus frames).
pub const PACKET_SLACK: f64 = 25.0;
/// Share of the connected time that must have been audible.
pub const MIN_AUDIBLE_SHARE: f64 = 0.7;
/// The jitter buffer's start and the teardown are not audible.
pub const AUDIBLE_SLACK_S: f64 = 0.6;

fn num(v: &Value, pointer: &str) -> Option<f64> {
    v.pointer(pointer).and_then(Value::as_f64)
}

/// What is wrong with the audio from `sender` to `receiver` (both `call --json`
/// summaries); empty when it flowed for the whole call.
pub fn audio_problems(receiver: &Value, sender: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let sent = num(sender, "/audio/sent_packets").unwrap_or(0.0);
    let received = num(receiver, "/audio/received_packets").unwrap_or(0.0);
    if sent <= 0.0 {
        problems.push("the sender reports no audio packets sent".to_string());
    } else if received < MIN_PACKET_SHARE * sent - PACKET_SLACK {
        problems.push(format!(
            "received {received} audio packets of {sent} sent (< {:.0}%)",
            MIN_PACKET_SHARE * 100.0
        ));
    }
    let connected = num(receiver, "/timings_ms/connected");
    let ended = num(receiver, "/timings_ms/ended");
    let audible = num(receiver, "/audio/received/audible_seconds").unwrap_or(0.0);
    match (connected, ended) {
        (Some(c), Some(e)) if e > c => {
            let call_s = (e - c) / 1000.0;
            if audible < MIN_AUDIBLE_SHARE * call_s - AUDIBLE_SLACK_S {
                problems.push(format!(
                    "audible for {audible:.2} s of a {call_s:.2} s call (< {:.0}%)",
                    MIN_AUDIBLE_SHARE * 100.0
                ));
            }
        }
        _ => problems.push("the receiver never connected".to_string()),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn side(sent: u64, received: u64, audible: f64, connected: u64, ended: u64) -> Value {
        json!({
            "audio": {"sent_packets": sent, "received_packets": received,
                      "received": {"audible_seconds": audible}},
            "timings_ms": {"connected": connected, "ended": ended}
        })
    }

    #[test]
    fn a_whole_call_passes() {
        let a = side(200, 195, 3.6, 100, 4100);
        let b = side(198, 190, 3.5, 120, 4050);
        assert!(
            audio_problems(&a, &b).is_empty(),
            "{:?}",
            audio_problems(&a, &b)
        );
        assert!(audio_problems(&b, &a).is_empty());
    }

    /// The NAT-lab case the issue describes: 0.21 s of audio in a 4 s call, most packets
    /// lost, yet "tone detected".
    #[test]
    fn audio_that_died_early_fails_on_both_measures() {
        let receiver = side(200, 8, 0.21, 100, 4100);
        let sender = side(200, 200, 3.8, 100, 4100);
        let p = audio_problems(&receiver, &sender);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("received 8 audio packets of 200"), "{p:?}");
        assert!(
            p[1].contains("audible for 0.21 s of a 4.00 s call"),
            "{p:?}"
        );
    }

    #[test]
    fn a_call_that_never_connected_or_sent_fails() {
        let receiver = json!({"audio": {"received_packets": 0}, "timings_ms": {}});
        let p = audio_problems(&receiver, &json!({}));
        assert_eq!(p.len(), 2, "{p:?}");
    }
}
