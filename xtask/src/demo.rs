//! `cargo xtask demo`: a real call between two calling-app processes through the signaling
//! server, on the distro libwebrtc, on any Debian/Ubuntu machine.
//!
//! Same host preparation as `cargo xtask test` (packages, then the system SDK), then the
//! release server and app, then the call: the server on a free loopback port, two `call`
//! processes in one room (tones 440 and 660 Hz, chat lines, video), both summaries printed
//! and checked: the demo fails unless audio and chat flowed both ways.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use xshell::{cmd, Shell};

use crate::test::{execute_plan, host_facts, host_steps, Step, BUILD_PACKAGES};

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Never install packages: list what is missing and stop.
    #[arg(long)]
    pub no_install: bool,
    /// Install missing packages with `sudo apt-get` without asking first (when not root;
    /// sudo itself may still ask for a password). Without it a terminal session asks.
    #[arg(long, short = 'y', alias = "sudo")]
    pub yes: bool,
    /// How long the call lasts once connected, in seconds (default 6; with `--gui`, until
    /// a window hangs up).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub seconds: Option<u32>,
    /// Print the plan and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Two windows on this desktop instead of two console apps: Alice with this machine's
    /// microphone, speaker and camera (when present), Bob with a 660 Hz tone and the test
    /// pattern and no speaker (one machine: no feedback loop). The call lasts until a
    /// window hangs up, or `--seconds` when given.
    #[arg(long)]
    pub gui: bool,
}

pub fn run(sh: &Shell, args: DemoArgs) -> Result<()> {
    let mut steps = host_steps(
        args.no_install,
        args.yes,
        &host_facts(sh, &[BUILD_PACKAGES]),
    )?;
    steps.push(Step::BuildApps);
    steps.push(if args.gui {
        Step::DemoGui {
            seconds: args.seconds,
        }
    } else {
        Step::DemoCall {
            seconds: args.seconds.unwrap_or(6),
        }
    });
    execute_plan(sh, &steps, args.dry_run)
}

/// A child process killed on drop: a failed demo leaves nothing running.
struct Proc {
    name: &'static str,
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One side of the demo call.
struct Side {
    name: &'static str,
    tone: u32,
    expect: u32,
    chat: &'static str,
    json: PathBuf,
    log: PathBuf,
}

/// What both demos start from: the release binaries, a fresh summary dir, a signaling
/// server on a free port and a room of their own.
struct Demo {
    bin: PathBuf,
    dir: PathBuf,
    _server: Proc,
    url: String,
    room: String,
    sides: [Side; 2],
}

impl Demo {
    /// `tones`: (sent, expected) Hz for alice and bob; 0 = none.
    fn start(sh: &Shell, tones: [(u32, u32); 2]) -> Result<Demo> {
        let bin = target_dir(sh)?.join("release");
        let dir = crate::project_root().join(".mobilertc/demo");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let (server, url) =
            start_server(&bin.join("mobilertc-signaling"), &dir.join("server.log"))?;
        eprintln!("signaling server: {url}");
        let room = format!("demo-{}", std::process::id());
        let side = |name: &'static str, (tone, expect): (u32, u32), chat: &'static str| Side {
            name,
            tone,
            expect,
            chat,
            json: dir.join(format!("{name}.json")),
            log: dir.join(format!("{name}.log")),
        };
        let sides = [
            side("alice", tones[0], "hello from alice"),
            side("bob", tones[1], "hi alice, bob here"),
        ];
        for side in &sides {
            let _ = std::fs::remove_file(&side.json);
        }
        Ok(Demo {
            bin,
            dir,
            _server: server,
            url,
            room,
            sides,
        })
    }
}

/// Cargo's target directory (honours CARGO_TARGET_DIR and config).
pub fn target_dir(sh: &Shell) -> Result<PathBuf> {
    let meta = cmd!(sh, "cargo metadata --format-version 1 --no-deps")
        .quiet()
        .read()?;
    let meta: Value = serde_json::from_str(&meta).context("parsing `cargo metadata`")?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` has no target_directory")
}

/// Starts the server on a free port and returns it with its URL (from its first line).
fn start_server(bin: &Path, log: &Path) -> Result<(Proc, String)> {
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("server stdout")?;
    let proc = Proc {
        name: "signaling server",
        child,
    };
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("reading the server's first line")?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .with_context(|| {
            format!(
                "the server did not say where it listens (got {line:?}); see {}",
                log.display()
            )
        })?
        .to_owned();
    Ok((proc, url))
}

fn start_call(bin: &Path, url: &str, room: &str, side: &Side, seconds: u32) -> Result<Proc> {
    let tone = side.tone.to_string();
    let expect = side.expect.to_string();
    let duration = seconds.to_string();
    let args = [
        "--tone-hz",
        &tone,
        "--expect-tone",
        &expect,
        "--video",
        "--duration",
        &duration,
    ];
    spawn_call(bin, url, room, side, &args)
}

fn spawn_call(bin: &Path, url: &str, room: &str, side: &Side, args: &[&str]) -> Result<Proc> {
    let child = Command::new(bin)
        .args(["--server", url, "--room", room, "--name", side.name])
        .args(args)
        .args(["--chat", side.chat, "--no-stdin"])
        .arg("--json")
        .arg(&side.json)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&side.log)?)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(Proc {
        name: side.name,
        child,
    })
}

fn wait(proc: &mut Proc, deadline: Instant) -> Result<()> {
    while proc.child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            bail!("{} did not finish in time", proc.name);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Runs the call and checks both summaries.
pub fn demo_call(sh: &Shell, seconds: u32) -> Result<()> {
    let Demo {
        bin,
        dir,
        _server,
        url,
        room,
        sides,
    } = Demo::start(sh, [(440, 660), (660, 440)])?;
    let call = bin.join("call");
    let mut alice = start_call(&call, &url, &room, &sides[0], seconds)?;
    // Alice joins first and waits (callee); Bob finds her and calls.
    std::thread::sleep(Duration::from_millis(500));
    let mut bob = start_call(&call, &url, &room, &sides[1], seconds)?;
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 60);
    let waited = wait(&mut bob, deadline).and_then(|()| wait(&mut alice, deadline));

    let mut problems = Vec::new();
    let mut summaries = Vec::new();
    for side in &sides {
        match std::fs::read_to_string(&side.json) {
            Ok(text) => {
                let s: Value = serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", side.json.display()))?;
                print_summary(side, &s);
                summaries.push(s);
            }
            Err(_) => {
                problems.push(format!(
                    "{} wrote no summary; its log: {}",
                    side.name,
                    side.log.display()
                ));
                summaries.push(Value::Null);
            }
        }
    }
    waited?;
    if let [a, b] = &summaries[..] {
        problems.extend(check(&sides[0], a, &sides[1]));
        problems.extend(check(&sides[1], b, &sides[0]));
    }
    if !problems.is_empty() {
        bail!(
            "the demo call did not carry audio and chat both ways:\n  {}\nlogs and summaries: {}",
            problems.join("\n  "),
            dir.display()
        );
    }
    println!(
        "\ndemo ok: audio and chat flowed both ways (summaries: {})",
        dir.display()
    );
    Ok(())
}

/// `demo --gui`: two windows on this desktop; the call counts when it connected and chat
/// went both ways (Alice's real microphone carries no known tone to check).
pub fn demo_gui(sh: &Shell, seconds: Option<u32>) -> Result<()> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        bail!(
            "demo --gui opens two windows and needs a desktop session (DISPLAY is not set); \
             without one, run `xvfb-run -a cargo xtask demo --gui --seconds 10`, or `cargo xtask demo`"
        );
    }
    let Demo {
        bin,
        dir,
        _server,
        url,
        room,
        sides,
    } = Demo::start(sh, [(0, 0), (660, 0)])?;
    let duration = seconds.map(|s| s.to_string());
    let timed: Vec<&str> = match &duration {
        Some(d) => vec!["--duration", d],
        None => vec![],
    };
    let call = bin.join("call");
    // Alice: this machine's devices (the window's defaults; missing ones become notes).
    let mut alice = spawn_call(
        &call,
        &url,
        &room,
        &sides[0],
        &[&["--gui"][..], &timed].concat(),
    )?;
    std::thread::sleep(Duration::from_millis(500));
    // Bob: a tone and the test pattern, no speaker (both windows share one room's air).
    let bob_args = [
        &[
            "--gui",
            "--tone-hz",
            "660",
            "--camera",
            "pattern",
            "--speaker",
            "none",
        ][..],
        &timed,
    ]
    .concat();
    let mut bob = spawn_call(&call, &url, &room, &sides[1], &bob_args)?;
    eprintln!(
        "two windows: alice (this machine's microphone, speaker, camera) and bob (660 Hz, test pattern); \
         hang up or close a window to end. Logs: {}",
        dir.display()
    );
    let deadline =
        Instant::now() + Duration::from_secs(seconds.map_or(24 * 3600, |s| u64::from(s) + 60));
    let waited = wait(&mut bob, deadline).and_then(|()| wait(&mut alice, deadline));
    let mut problems = Vec::new();
    for (side, other) in [(&sides[0], &sides[1]), (&sides[1], &sides[0])] {
        let Ok(text) = std::fs::read_to_string(&side.json) else {
            problems.push(format!(
                "{} wrote no summary; its log: {}",
                side.name,
                side.log.display()
            ));
            continue;
        };
        let s: Value = serde_json::from_str(&text)?;
        print_summary(side, &s);
        if s["timings_ms"]["connected"].is_null() {
            problems.push(format!("{}: never connected: {}", side.name, s["error"]));
        }
        let received = s["chat"]["received"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !received.iter().any(|l| l == other.chat) {
            problems.push(format!(
                "{}: did not receive {}'s chat line",
                side.name, other.name
            ));
        }
    }
    waited?;
    if !problems.is_empty() {
        bail!("the demo call did not work:\n  {}", problems.join("\n  "));
    }
    println!("\ndemo ok: the windows connected and chat flowed both ways");
    Ok(())
}

fn print_summary(side: &Side, s: &Value) {
    let pair = &s["selected_pair"];
    let audio = &s["audio"];
    println!(
        "\n== {} ({}, {}) ==",
        side.name,
        s["role"].as_str().unwrap_or("?"),
        s["result"].as_str().unwrap_or("?")
    );
    if let Some(e) = s["error"].as_str() {
        println!("  error      {e}");
    }
    println!(
        "  connection {} ({} {} <-> {} {}), rtt {} ms",
        s["connection"].as_str().unwrap_or("-"),
        pair["local_type"].as_str().unwrap_or("-"),
        pair["local_address"].as_str().unwrap_or("-"),
        pair["remote_type"].as_str().unwrap_or("-"),
        pair["remote_address"].as_str().unwrap_or("-"),
        s["rtt_ms"]
            .as_f64()
            .map_or("-".into(), |r| format!("{r:.1}")),
    );
    let t = &s["timings_ms"];
    println!(
        "  setup      joined {} ms, connected {} ms, first audio {} ms",
        t["joined"], t["connected"], t["first_audio"]
    );
    println!(
        "  audio      sent {} packets ({} Hz), received {} packets, heard {} Hz (expected {} Hz: {})",
        audio["sent_packets"],
        side.tone,
        audio["received_packets"],
        audio["received"]["dominant_hz"],
        side.expect,
        if audio["received"]["tone_detected"] == true { "detected" } else { "NOT detected" }
    );
    println!(
        "  video      sent {} frames, received {} frames",
        s["video"]["frames_sent"], s["video"]["frames_received"]
    );
    println!(
        "  chat       sent {}, received {}",
        s["chat"]["sent"], s["chat"]["received"]
    );
    println!("  hang-up    {}", s["hangup"].as_str().unwrap_or("-"));
}

/// What is wrong with `side`'s summary, given what `other` sent.
fn check(side: &Side, s: &Value, other: &Side) -> Vec<String> {
    let mut problems = Vec::new();
    let name = side.name;
    if s["result"] != "ok" {
        problems.push(format!(
            "{name}: call failed: {}",
            s["error"].as_str().unwrap_or("(no error given)")
        ));
    }
    if s["audio"]["received_packets"].as_u64().unwrap_or(0) == 0 {
        problems.push(format!("{name}: received no audio packets"));
    }
    if s["audio"]["received"]["tone_detected"] != true {
        problems.push(format!(
            "{name}: did not hear {}'s {} Hz tone (heard {})",
            other.name, other.tone, s["audio"]["received"]["dominant_hz"]
        ));
    }
    let received = s["chat"]["received"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !received.iter().any(|l| l == other.chat) {
        problems.push(format!(
            "{name}: did not receive {}'s chat line {:?}",
            other.name, other.chat
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(name: &'static str, tone: u32, chat: &'static str) -> Side {
        Side {
            name,
            tone,
            expect: 0,
            chat,
            json: PathBuf::new(),
            log: PathBuf::new(),
        }
    }

    #[test]
    fn a_call_counts_only_when_audio_and_chat_came_through() {
        let (a, b) = (side("alice", 440, "hi"), side("bob", 660, "yo"));
        let good = serde_json::json!({
            "result": "ok",
            "audio": {"received_packets": 200, "received": {"tone_detected": true, "dominant_hz": 660.0}},
            "chat": {"received": ["yo"]},
        });
        assert!(check(&a, &good, &b).is_empty());
        let bad = serde_json::json!({
            "result": "failed", "error": "not connected within 20 s",
            "audio": {"received_packets": 0, "received": {"tone_detected": false, "dominant_hz": null}},
            "chat": {"received": []},
        });
        let problems = check(&a, &bad, &b).join("\n");
        for expect in [
            "call failed: not connected",
            "no audio packets",
            "did not hear bob's 660 Hz",
            "did not receive bob's chat",
        ] {
            assert!(problems.contains(expect), "{problems}");
        }
    }
}
