//! Loopback benchmark: `cargo bench -p mobilertc-bench`.
//!
//! The safe Rust API and the same call written directly in C++ against the same libwebrtc
//! (`cpp/loopback.cc`), in one run, so the table shows what the Rust layer costs.
//! Measures, on two factories in one process (host candidates, as tests/call.rs):
//! * setup: create_offer → data channel open on the caller, median of `SETUP_RUNS`;
//! * data channel throughput with 16 KiB messages (MB/s, ordered, reliable);
//! * small-message rate (100-byte messages per second);
//! * memory per idle peer connection (RSS growth / count).
//!
//! A plain program (no harness); it prints a Markdown table for docs/benchmarks.md.
//! Set `MOBILERTC_BENCH_QUICK=1` for a fast smoke run.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use mobilertc::testing::{send_paced, wait_open, Loopback, TIMEOUT};
use mobilertc::{
    DataChannel, DataChannelEvent, Factory, FactoryConfig, Message, PeerConnection,
    PeerConnectionConfig,
};

fn quick() -> bool {
    std::env::var_os("MOBILERTC_BENCH_QUICK").is_some()
}

fn factories() -> (Factory, Factory) {
    let config = FactoryConfig::default();
    (Factory::new(config).unwrap(), Factory::new(config).unwrap())
}

/// One connected call with an open data channel on each side.
struct Open {
    call: Loopback,
    a: DataChannel,
    a_events: Receiver<DataChannelEvent>,
    b: DataChannel,
    b_events: Receiver<DataChannelEvent>,
}

fn open_call(fa: &Factory, fb: &Factory) -> (Open, Duration) {
    let mut call = Loopback::new(fa, fb).unwrap();
    let (a, a_events) = call.caller.pc.create_data_channel("bench", None).unwrap();
    let started = Instant::now();
    call.negotiate().unwrap();
    wait_open(&a, &a_events, TIMEOUT).unwrap();
    let setup = started.elapsed();
    let (b, b_events) = call.callee.wait_data_channel(TIMEOUT).unwrap();
    wait_open(&b, &b_events, TIMEOUT).unwrap();
    (
        Open {
            call,
            a,
            a_events,
            b,
            b_events,
        },
        setup,
    )
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Sends `total` bytes in `size`-byte messages from a to b; returns (elapsed, bytes).
fn transfer(open: Open, size: usize, total: usize) -> (Duration, usize) {
    let Open {
        call,
        a,
        a_events,
        b,
        b_events,
    } = open;
    let count = total / size;
    let payload = vec![0x5a; size];
    let receiver = std::thread::spawn(move || {
        let mut bytes = 0;
        let mut messages = 0;
        while messages < count {
            match b_events.recv_timeout(TIMEOUT) {
                Ok(DataChannelEvent::Message(Message::Binary(m))) => {
                    bytes += m.len();
                    messages += 1;
                }
                Ok(_) => {}
                Err(e) => panic!("after {messages} messages: {e}"),
            }
        }
        (Instant::now(), bytes, b)
    });
    let started = Instant::now();
    let data = payload.repeat(count);
    // 4 MiB of send buffer keeps SCTP busy without hitting WebRTC's 16 MiB limit.
    send_paced(&a, &a_events, &data, size, 4 << 20).unwrap();
    let (done, bytes, b) = receiver.join().unwrap();
    drop((a, b));
    call.shutdown();
    (done - started, bytes)
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// One row of the report: what, Rust, C++, and whether bigger is better.
struct Row {
    what: &'static str,
    unit: &'static str,
    rust: f64,
    cpp: Option<f64>,
    higher_is_better: bool,
}

impl Row {
    /// The Rust layer's cost relative to plain C++, in percent (positive = Rust is worse).
    fn overhead(&self) -> Option<f64> {
        let cpp = self.cpp?;
        Some(if self.higher_is_better {
            (cpp / self.rust - 1.0) * 100.0
        } else {
            (self.rust / cpp - 1.0) * 100.0
        })
    }
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn main() {
    let (fa, fb) = factories();
    let setup_runs: usize = if quick() { 5 } else { 25 };
    let mut rows = Vec::new();

    // Warm-up: first call pays for lazy initialisation (SSL, codecs, sockets).
    let (open, _) = open_call(&fa, &fb);
    drop((open.a, open.b));
    open.call.shutdown();

    // Setup: Rust and C++ in alternating blocks, so a noisy moment of this shared machine
    // hits both sides alike.
    let (mut rust_setup, mut cpp_setup) = (Vec::new(), Vec::new());
    let block = 5;
    for _ in 0..setup_runs.div_ceil(block) {
        for _ in 0..block {
            let (open, setup) = open_call(&fa, &fb);
            rust_setup.push(setup.as_secs_f64() * 1e3);
            drop((open.a, open.b));
            open.call.shutdown();
        }
        cpp_setup.extend(mobilertc_bench::setup_ms(block).expect("C++ setup failed"));
    }
    for (name, v) in [("Rust", &rust_setup), ("C++", &cpp_setup)] {
        let (min, max) = v
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        eprintln!(
            "{name} setup: median {:.2} ms, min {min:.2}, max {max:.2}, n={}",
            median(v.to_vec()),
            v.len()
        );
    }
    rows.push(Row {
        what: "setup, createOffer → data channel open (median)",
        unit: "ms",
        rust: median(rust_setup.clone()),
        cpp: Some(median(cpp_setup.clone())),
        higher_is_better: false,
    });

    // 4 MiB of send buffer keeps SCTP busy without hitting WebRTC's 16 MiB limit.
    let high_water: u64 = 4 << 20;
    let total = if quick() { 8 << 20 } else { 64 << 20 };
    let chunk = 16 * 1024;
    let (open, _) = open_call(&fa, &fb);
    let (elapsed, bytes) = transfer(open, chunk, total);
    let cpp = mobilertc_bench::transfer_secs((total / chunk) as u64, chunk as u64, high_water)
        .map(|secs| mb_per_s(total, secs));
    rows.push(Row {
        what: "data channel throughput, 16 KiB messages",
        unit: "MB/s",
        rust: mb_per_s(bytes, elapsed.as_secs_f64()),
        cpp,
        higher_is_better: true,
    });

    let small = if quick() { 5_000 } else { 50_000 };
    let (open, _) = open_call(&fa, &fb);
    let (elapsed, _) = transfer(open, 100, small * 100);
    let cpp = mobilertc_bench::transfer_secs(small as u64, 100, high_water)
        .map(|secs| small as f64 / secs);
    rows.push(Row {
        what: "small messages (100 B)",
        unit: "msg/s",
        rust: small as f64 / elapsed.as_secs_f64(),
        cpp,
        higher_is_better: true,
    });

    let idle = if quick() { 10 } else { 50 };
    let before = rss_bytes();
    let peers: Vec<_> = (0..idle)
        .map(|_| PeerConnection::new(&fa, &PeerConnectionConfig::default()).unwrap())
        .collect();
    let after = rss_bytes();
    drop(peers);
    rows.push(Row {
        what: "memory per idle peer connection (RSS growth)",
        unit: "KiB",
        rust: after.saturating_sub(before) as f64 / idle as f64 / 1024.0,
        cpp: mobilertc_bench::idle_peer_kib(idle),
        higher_is_better: false,
    });

    println!("| measure | Rust (mobilertc) | C++ (same libwebrtc) | Rust layer cost |");
    println!("| --- | --- | --- | --- |");
    for row in &rows {
        let cpp = row
            .cpp
            .map_or("failed".to_owned(), |v| format!("{} {}", fmt(v), row.unit));
        let cost = row
            .overhead()
            .map_or("–".to_owned(), |p| format!("{p:+.0}%"));
        println!(
            "| {} | {} {} | {cpp} | {cost} |",
            row.what,
            fmt(row.rust),
            row.unit
        );
    }
    println!(
        "\nsetup n={} per side (alternating blocks of {block}); throughput {} MiB; small messages {small}; idle peers {idle}",
        rust_setup.len(),
        total >> 20
    );
}

/// Two significant decimals below 100, whole numbers above: what the eye compares.
fn fmt(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}
