//! Call setup through the real signaling server: join → connected → first audible audio,
//! for N calls (two `Call`s in this process, the server in-process on loopback).
//!
//! `cargo run --release -p mobilertc-call --example setup_bench -- [N]` (default 20).
//! Results and the machine go into docs/benchmarks.md by hand.

use std::time::Duration;

use mobilertc_call::{Call, CallConfig, Role, Summary};
use mobilertc_signaling::{spawn_background, Config};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map_or(Ok(20), |s| s.parse())?;
    let server = spawn_background(
        "127.0.0.1:0".parse()?,
        Config {
            log: false,
            ..Config::default()
        },
    )?;
    let (mut connect, mut audio, mut offer_to_connected) = (vec![], vec![], vec![]);
    for i in 0..n {
        let room = format!("bench-{i}");
        let mut callee = CallConfig::new(server.url(), &room);
        callee.duration = Some(Duration::from_millis(1500));
        let callee = Call::start(callee, |_| {})?;
        std::thread::sleep(Duration::from_millis(100));
        let mut caller = CallConfig::new(server.url(), &room);
        caller.duration = Some(Duration::from_millis(1500));
        let second: Summary = Call::start(caller, |_| {})?.wait();
        let first = callee.wait();
        // Roles follow the join order, which the factory start-up can swap: measure the
        // side that actually called.
        let caller = if second.role == Some(Role::Caller) {
            second
        } else {
            first
        };
        anyhow::ensure!(caller.ok(), "call {i} failed: {:?}", caller.error);
        let t = &caller.timings_ms;
        let (joined, connected) = (t.joined.unwrap_or(0), t.connected.unwrap_or(0));
        connect.push((connected - joined) as f64);
        offer_to_connected.push((connected - t.offer_sent.unwrap_or(0)) as f64);
        if let Some(first) = t.first_audio {
            audio.push((first - joined) as f64);
        }
    }
    println!("calls: {n} (caller side, ms)");
    for (name, v) in [
        ("join -> connected", &mut connect),
        ("offer sent -> connected", &mut offer_to_connected),
        ("join -> first audible audio", &mut audio),
    ] {
        println!(
            "{name:<28} median {:>6.1}  p90 {:>6.1}  max {:>6.1}",
            pct(v, 0.5),
            pct(v, 0.9),
            pct(v, 1.0)
        );
    }
    Ok(())
}
