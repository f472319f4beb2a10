//! Two `call` processes through the real signaling server on loopback: the classic flow end
//! to end, media and chat checked from each side's `--json` summary and recording.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mobilertc_call::audio::{tone_ratio, TONE_RMS};
use mobilertc_signaling::{spawn_background, BackgroundServer, Config};

mod app;
use app::{summary, App};

fn server() -> BackgroundServer {
    spawn_background("127.0.0.1:0".parse().unwrap(), Config::default()).expect("server starts")
}

/// A `call` process killed on drop, so a failing test leaves nothing running.
impl App {
    fn start(server: &str, room: &str, extra: &[&str]) -> App {
        let args: Vec<&str> = ["--server", server, "--room", room, "--no-stdin"]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        App::spawn(&args)
    }
}

/// Goertzel share of `hz` in the recording's last audible second.
fn recorded_tone(path: &Path, hz: f64) -> f64 {
    let mut reader = hound::WavReader::open(path).unwrap();
    let samples: Vec<f64> = reader
        .samples::<i16>()
        .map(|s| f64::from(s.unwrap()))
        .collect();
    let audible: Vec<f64> = samples
        .chunks(480)
        .filter(|c| c.iter().map(|s| s * s).sum::<f64>() / 480.0 > 100.0 * 100.0)
        .flatten()
        .copied()
        .collect();
    assert!(
        audible.len() >= 48_000,
        "{}: only {} audible samples",
        path.display(),
        audible.len()
    );
    tone_ratio(&audible[audible.len() - 48_000..], 48_000, hz)
}

/// RMS (share of full scale) of each half second of the recording's audible audio, the
/// first half second left out.
fn recorded_levels(path: &Path) -> Vec<f64> {
    let mut reader = hound::WavReader::open(path).unwrap();
    let samples: Vec<f64> = reader
        .samples::<i16>()
        .map(|s| f64::from(s.unwrap()) / 32768.0)
        .collect();
    let audible: Vec<f64> = samples
        .chunks(480)
        .filter(|c| c.iter().map(|s| s * s).sum::<f64>() / 480.0 > 0.003 * 0.003)
        .flatten()
        .copied()
        .collect();
    audible
        .chunks_exact(24_000)
        .skip(1)
        .map(|c| (c.iter().map(|s| s * s).sum::<f64>() / c.len() as f64).sqrt())
        .collect()
}

struct Side {
    json: PathBuf,
    wav: PathBuf,
}

fn side(dir: &Path, name: &str) -> Side {
    Side {
        json: dir.join(format!("{name}.json")),
        wav: dir.join(format!("{name}.wav")),
    }
}

#[test]
fn two_processes_call_through_the_server() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a"), side(dir.path(), "b"));
    let url = server.url();
    let callee = App::start(
        &url,
        "two-procs",
        &[
            "--tone-hz",
            "660",
            "--expect-tone",
            "440",
            "--video",
            "--record",
            a.wav.to_str().unwrap(),
            "--json",
            a.json.to_str().unwrap(),
            "--chat",
            "hello from the callee",
            "--chat",
            "second line",
        ],
    );
    // The callee must be in the room first to be the callee; the join is quick.
    std::thread::sleep(Duration::from_millis(300));
    let caller = App::start(
        &url,
        "two-procs",
        &[
            "--tone-hz",
            "440",
            "--expect-tone",
            "660",
            "--video",
            "--duration",
            "4",
            "--record",
            b.wav.to_str().unwrap(),
            "--json",
            b.json.to_str().unwrap(),
            "--chat",
            "hello from the caller",
        ],
    );
    let caller_out = caller.wait(Duration::from_secs(40));
    let callee_out = callee.wait(Duration::from_secs(20));
    let (sa, sb) = (summary(&a.json, &callee_out), summary(&b.json, &caller_out));
    assert!(callee_out.status.success(), "{sa:#}");
    assert!(caller_out.status.success(), "{sb:#}");

    assert_eq!(sa["role"], "callee");
    assert_eq!(sb["role"], "caller");
    assert_eq!(sb["hangup"], "duration");
    // The caller's bye ended the callee's call cleanly.
    assert_eq!(sa["hangup"], "remote_bye");
    for s in [&sa, &sb] {
        assert_eq!(s["result"], "ok", "{s:#}");
        assert_eq!(s["connection"], "local", "{s:#}");
        assert_eq!(s["selected_pair"]["local_type"], "host");
        assert_eq!(s["selected_pair"]["remote_type"], "host");
        assert!(
            s["audio"]["received_packets"].as_u64().unwrap() > 50,
            "{s:#}"
        );
        assert!(s["audio"]["sent_packets"].as_u64().unwrap() > 50, "{s:#}");
        assert!(
            s["video"]["frames_received"].as_u64().unwrap() > 10,
            "{s:#}"
        );
        assert_eq!(s["audio"]["received"]["tone_detected"], true, "{s:#}");
        let t = &s["timings_ms"];
        assert!(t["joined"].as_u64().unwrap() <= t["connected"].as_u64().unwrap());
    }
    // Audio flowed for the whole call, both ways: packets against what the other side
    // sent, audible for most of the connected time.
    for (receiver, sender) in [(&sa, &sb), (&sb, &sa)] {
        let problems = mobilertc_call::media_flow::audio_problems(receiver, sender);
        assert!(problems.is_empty(), "{problems:?}\n{receiver:#}");
    }
    assert_eq!(sa["audio"]["received"]["dominant_hz"], 440.0);
    assert_eq!(sb["audio"]["received"]["dominant_hz"], 660.0);
    assert_eq!(
        sa["chat"]["received"],
        serde_json::json!(["hello from the caller"])
    );
    assert_eq!(
        sb["chat"]["received"],
        serde_json::json!(["hello from the callee", "second line"])
    );

    // The tone arrives at the level docs/calling-app.md states (TONE_RMS, -9.2 dBFS), within
    // 3 dB: at the end of the call (the summary's last audible second) and all along the
    // recording after its first half second (libwebrtc's gain control, when it processed
    // the tone, took it down to -18..-27 dBFS after ~0.3 s).
    for (s, wav) in [(&sa, &a.wav), (&sb, &b.wav)] {
        let db = |level: f64| 20.0 * (level / TONE_RMS).log10();
        let last = s["audio"]["received"]["level"].as_f64().unwrap();
        assert!(
            db(last).abs() < 3.0,
            "last second at {:+.1} dB of the stated level",
            db(last)
        );
        for (i, level) in recorded_levels(wav).into_iter().enumerate() {
            assert!(
                db(level).abs() < 3.0,
                "{}: audible half second {i} at {:+.1} dB of the stated level",
                wav.display(),
                db(level)
            );
        }
    }

    // The recordings themselves carry the other side's tone, and not our own.
    assert!(recorded_tone(&a.wav, 440.0) > 0.5);
    assert!(recorded_tone(&a.wav, 660.0) < 0.1);
    assert!(recorded_tone(&b.wav, 660.0) > 0.5);
    assert!(recorded_tone(&b.wav, 440.0) < 0.1);
}

#[test]
fn nobody_calling_and_bad_input_fail_clearly() {
    let server = server();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    // A callee alone gives up after --wait, with a summary that says why.
    let out = App::start(
        &url,
        "alone",
        &["--wait", "1", "--json", json.to_str().unwrap()],
    )
    .wait(Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1));
    let s = summary(&json, &out);
    assert_eq!(s["result"], "failed");
    assert!(
        s["error"].as_str().unwrap().contains("nobody called"),
        "{s:#}"
    );

    let cases: &[(&[&str], &str)] = &[
        (
            &["--server", "http://127.0.0.1:9", "--room", "r"],
            "cannot reach the signaling server",
        ),
        (
            &["--server", "localhost:8080", "--room", "r"],
            "must start with http://",
        ),
        (&["--server", &url, "--room", "bad room"], "not valid"),
        (
            &["--server", &url, "--room", "r", "--turn", "turn:x"],
            "URL,USER,PASS",
        ),
        (
            &["--server", &url, "--room", "r", "--relay-only"],
            "needs a --turn",
        ),
        (
            &[
                "--server",
                &url,
                "--room",
                "r",
                "--audio-file",
                "/nonexistent.wav",
            ],
            "nonexistent.wav",
        ),
    ];
    for (args, expect) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_call"))
            .args(*args)
            .args(["--no-stdin", "--wait", "1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}

#[test]
fn a_third_peer_does_not_disturb_the_call() {
    // The callee answers the first offer only; a later caller's offer is ignored, and the
    // call in progress still ends by the caller's hang-up.
    let server = server();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let callee = App::start(&url, "three", &["--json", a.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(300));
    let caller = App::start(&url, "three", &["--duration", "3"]);
    std::thread::sleep(Duration::from_millis(1000));
    let intruder = App::start(&url, "three", &["--connect-timeout", "2"]);
    let intruder_out = intruder.wait(Duration::from_secs(20));
    assert!(!intruder_out.status.success());
    assert!(caller.wait(Duration::from_secs(20)).status.success());
    let out = callee.wait(Duration::from_secs(20));
    let s = summary(&a, &out);
    assert_eq!(s["result"], "ok", "{s:#}");
    assert_eq!(s["hangup"], "remote_bye", "{s:#}");
}

#[test]
fn a_hang_up_before_connecting_is_a_failed_call_on_both_sides() {
    // The callee can only use a TURN server that does not exist: it gives up after 2 s and
    // sends bye; the caller, still connecting, must not report that as a good call.
    let server = server();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let callee = App::start(
        &url,
        "early-bye",
        &[
            "--relay-only",
            "--turn",
            "turn:127.0.0.1:9,user,pass",
            "--connect-timeout",
            "2",
            "--json",
            a.to_str().unwrap(),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    let caller = App::start(
        &url,
        "early-bye",
        &["--connect-timeout", "30", "--json", b.to_str().unwrap()],
    );
    let callee_out = callee.wait(Duration::from_secs(20));
    let caller_out = caller.wait(Duration::from_secs(20));
    let (sa, sb) = (summary(&a, &callee_out), summary(&b, &caller_out));
    assert_eq!(callee_out.status.code(), Some(1));
    assert_eq!(caller_out.status.code(), Some(1));
    assert_eq!(sa["result"], "failed");
    assert!(
        sa["error"].as_str().unwrap().contains("no relay candidate"),
        "{sa:#}"
    );
    assert_eq!(sb["result"], "failed", "{sb:#}");
    assert_eq!(sb["hangup"], "remote_bye", "{sb:#}");
    assert!(
        sb["error"]
            .as_str()
            .unwrap()
            .contains("the other side hung up before the call connected"),
        "{sb:#}"
    );
}
