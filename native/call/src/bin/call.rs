//! `call`: the mobilertc calling app for Linux. Joins a room; the first peer waits, the
//! second calls. See docs/calling-app.md.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use mobilertc_call::{parse_stun, parse_turn, AudioInput, Call, CallConfig, CallEvent};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Call another peer through a mobilertc signaling server"
)]
struct Args {
    /// Signaling server, e.g. http://127.0.0.1:8080 or https://host:8443.
    #[arg(long, env = "MOBILERTC_SERVER")]
    server: String,
    /// A PEM certificate to trust for an https:// server besides the public CAs (e.g. the
    /// file `mobilertc-signaling --tls-self-signed … --tls-cert-out FILE` wrote).
    #[arg(long, value_name = "PEM")]
    server_cert: Option<PathBuf>,
    /// Room to join (1-64 of A-Z a-z 0-9 _ -).
    #[arg(long)]
    room: String,
    /// Display name for the others.
    #[arg(long)]
    name: Option<String>,
    /// Send a sine tone at this frequency (Hz).
    #[arg(long, default_value_t = 440.0, conflicts_with_all = ["audio_file", "no_audio"])]
    tone_hz: f64,
    /// Send this WAV file (looped) instead of a tone.
    #[arg(long)]
    audio_file: Option<PathBuf>,
    /// Send silence.
    #[arg(long)]
    no_audio: bool,
    /// Report whether the received audio carries a tone at this frequency (Hz).
    #[arg(long)]
    expect_tone: Option<f64>,
    /// Send synthetic video (320x240, 15 fps).
    #[arg(long)]
    video: bool,
    /// Record the received audio to this WAV file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// STUN server (stun:HOST:PORT); repeatable.
    #[arg(long)]
    stun: Vec<String>,
    /// TURN server as URL,USER,PASS (turn:HOST:PORT[?transport=udp|tcp]); repeatable.
    #[arg(long)]
    turn: Vec<String>,
    /// Use relay candidates only (needs --turn).
    #[arg(long)]
    relay_only: bool,
    /// Hang up this many seconds after connecting.
    #[arg(long)]
    duration: Option<f64>,
    /// Send this chat line once the chat channel opens; repeatable.
    #[arg(long)]
    chat: Vec<String>,
    /// Print the final summary as JSON: to stdout, or to PATH.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "-")]
    json: Option<String>,
    /// Fail when not connected this many seconds after negotiation started.
    #[arg(long, default_value_t = 20.0)]
    connect_timeout: f64,
    /// As callee, give up when nobody called within this many seconds.
    #[arg(long)]
    wait: Option<f64>,
    /// Don't read chat lines from stdin.
    #[arg(long)]
    no_stdin: bool,
}

fn secs(what: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v).with_context(|| format!("--{what} {v}: not a number of seconds"))
}

fn config(args: &Args) -> Result<CallConfig> {
    let mut c = CallConfig::new(&args.server, &args.room);
    c.server_cert = args.server_cert.clone();
    c.name = args.name.clone();
    c.audio = if args.no_audio {
        AudioInput::None
    } else if let Some(path) = &args.audio_file {
        AudioInput::Wav(path.clone())
    } else {
        if !(20.0..=20_000.0).contains(&args.tone_hz) {
            anyhow::bail!("--tone-hz {}: use 20-20000 Hz", args.tone_hz);
        }
        AudioInput::Tone(args.tone_hz)
    };
    c.expect_tone = args.expect_tone;
    c.video = args.video;
    c.record = args.record.clone();
    for s in &args.stun {
        c.ice_servers.push(parse_stun(s)?);
    }
    for t in &args.turn {
        c.ice_servers.push(parse_turn(t)?);
    }
    c.relay_only = args.relay_only;
    if c.relay_only && args.turn.is_empty() {
        anyhow::bail!("--relay-only needs a --turn server (only relay candidates are allowed)");
    }
    c.chat = args.chat.clone();
    c.duration = args.duration.map(|d| secs("duration", d)).transpose()?;
    c.connect_timeout = secs("connect-timeout", args.connect_timeout)?;
    c.wait_timeout = args.wait.map(|w| secs("wait", w)).transpose()?;
    Ok(c)
}

fn main() {
    let args = Args::parse();
    std::process::exit(match run(args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    });
}

/// Ok(success) for a call that ran; Err for bad input before any call.
fn run(args: Args) -> Result<bool> {
    let config = config(&args)?;
    let tty = std::io::stderr().is_terminal();
    let call = Call::start(config, move |e| match e {
        CallEvent::Joined { role, peer_id } => {
            eprintln!("joined as {peer_id}: {role:?}");
        }
        CallEvent::Connected(pair) => match pair {
            Some(p) => eprintln!(
                "connected: {} ({} {} <-> {} {})",
                p.kind(),
                p.local_type,
                p.local_address,
                p.remote_type,
                p.remote_address
            ),
            None => eprintln!("connected"),
        },
        CallEvent::ChatOpen => {
            eprintln!("chat open: type a line and Enter to send, /bye to hang up")
        }
        CallEvent::Chat(text) => eprintln!("< {text}"),
        CallEvent::Log(text) => eprintln!("note: {text}"),
        CallEvent::Ended { result, reason } => eprintln!("call ended ({result}): {reason}"),
        CallEvent::State(_) => {}
    })?;

    // Ctrl-C/SIGTERM: first one hangs up cleanly, a second one exits at once.
    let interrupts = Arc::new(AtomicUsize::new(0));
    {
        let interrupts = interrupts.clone();
        ctrlc::set_handler(move || {
            if interrupts.fetch_add(1, Ordering::SeqCst) >= 1 {
                std::process::exit(130);
            }
        })
        .context("installing the Ctrl-C handler")?;
    }
    if !args.no_stdin {
        let call = call.handle();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let line = line.trim_end();
                match line {
                    "" => {}
                    "/bye" | "/quit" => {
                        call.hang_up();
                        break;
                    }
                    text => {
                        if let Err(e) = call.send_chat(text) {
                            eprintln!("error: {e:#}");
                        }
                    }
                }
            }
        });
    }

    let mut last_status = Instant::now();
    let status_every = if tty {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(5)
    };
    let mut hung_up = false;
    while !call.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        if interrupts.load(Ordering::SeqCst) > 0 && !hung_up {
            hung_up = true;
            eprintln!("\nhanging up…");
            call.hang_up();
        }
        if last_status.elapsed() >= status_every {
            last_status = Instant::now();
            let line = call.status().line();
            if tty {
                eprint!("\r\x1b[2K{line}");
                if call.is_finished() {
                    eprintln!();
                }
            } else {
                eprintln!("{line}");
            }
        }
    }
    if tty {
        eprintln!();
    }
    let summary = call.wait();
    print_summary(&summary, args.json.as_deref())?;
    Ok(summary.ok())
}

fn print_summary(summary: &mobilertc_call::Summary, json: Option<&str>) -> Result<()> {
    let text = serde_json::to_string_pretty(summary)?;
    match json {
        Some("-") => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}")?;
        }
        Some(path) => {
            std::fs::write(path, format!("{text}\n")).with_context(|| format!("writing {path}"))?
        }
        None => {
            let pair = summary
                .selected_pair
                .as_ref()
                .map(|p| format!("{}/{} ({})", p.local_type, p.remote_type, p.kind()))
                .unwrap_or_else(|| "none".into());
            eprintln!(
                "summary: {} role={:?} pair={pair} rtt={} audio out/in={}/{} B tone={:?} video in={} chat out/in={}/{}",
                summary.result,
                summary.role,
                summary.rtt_ms.map_or("-".into(), |r| format!("{r:.1} ms")),
                summary.audio.sent_bytes,
                summary.audio.received_bytes,
                summary.audio.received.dominant_hz,
                summary.video.frames_received,
                summary.chat.sent.len(),
                summary.chat.received.len()
            );
            if let Some(e) = &summary.error {
                eprintln!("error: {e}");
            }
        }
    }
    Ok(())
}
