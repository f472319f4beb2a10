//! The console mode: events and a status line on stderr, chat lines on stdin, the summary
//! at the end (`--json`).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mobilertc_call::{Call, CallConfig, CallEvent, CallHandle};

use crate::{Args, Opened};

/// Ok(success) for a call that ran; Err for bad input before any call.
pub fn run(args: &Args, config: CallConfig, opened: Opened) -> Result<bool> {
    for note in &opened.notes {
        eprintln!("note: {note}");
    }
    let tty = std::io::stderr().is_terminal();
    let call = Call::start_with(config, opened.devices, move |e| match e {
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
    let handle = call.handle();
    handle.set_mic_muted(args.muted);
    handle.set_camera_on(!args.camera_off);

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
                    _ if command(&call, line) => {}
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

/// `/mute`, `/unmute`, `/camera off|on`: true when `line` was one of them.
fn command(call: &CallHandle, line: &str) -> bool {
    match line {
        "/mute" => call.set_mic_muted(true),
        "/unmute" => call.set_mic_muted(false),
        "/camera off" => call.set_camera_on(false),
        "/camera on" => call.set_camera_on(true),
        _ => return false,
    }
    eprintln!("({})", &line[1..]);
    true
}

pub fn print_summary(summary: &mobilertc_call::Summary, json: Option<&str>) -> Result<()> {
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
