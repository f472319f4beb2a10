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
/// How the receiving side takes its messages.
#[derive(Clone, Copy, PartialEq)]
enum Receive {
    /// `DataChannel::on_event`: counted on WebRTC's thread, as the C++ observer does.
    Callback,
    /// `DataChannel::events()`: each message carried to an app thread over a channel.
    Channel,
}

fn transfer(open: Open, size: usize, total: usize, receive: Receive) -> (Duration, usize) {
    let Open {
        call,
        a,
        a_events,
        b,
        b_events,
    } = open;
    let count = total / size;
    let payload = vec![0x5a; size];
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let (mut bytes, mut messages) = (0usize, 0usize);
    let mut on_message = move |ev: DataChannelEvent| {
        if let DataChannelEvent::Message(Message::Binary(m)) = ev {
            bytes += m.len();
            messages += 1;
            if messages == count {
                let _ = done_tx.send((Instant::now(), bytes));
            }
        }
    };
    let receiver = match receive {
        Receive::Callback => {
            drop(b_events);
            b.on_event(on_message);
            None
        }
        Receive::Channel => Some(std::thread::spawn(move || {
            while let Ok(ev) = b_events.recv_timeout(TIMEOUT) {
                on_message(ev);
            }
        })),
    };
    let data = payload.repeat(count);
    let started = Instant::now();
    // 4 MiB of send buffer keeps SCTP busy without hitting WebRTC's 16 MiB limit.
    send_paced(&a, &a_events, &data, size, 4 << 20).unwrap();
    let (done, bytes) = done_rx
        .recv_timeout(TIMEOUT * 4)
        .expect("the receiver did not get every message");
    drop((a, b));
    call.shutdown();
    if let Some(receiver) = receiver {
        // Ends when the dropped channel disconnects its receiver.
        receiver.join().unwrap();
    }
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

/// CPU time (user + system, all threads) this process has used, in seconds. More stable
/// than wall time on a shared machine: another process's load does not add to it.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on every Linux target we run on.
    ticks as f64 / 100.0
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
    // Transfers are repeated, alternating sides, and the median kept: one transfer on this
    // shared 2-core machine can swing by half.
    let reps = if quick() { 1 } else { 7 };
    let total = if quick() { 8 << 20 } else { 32 << 20 };
    let chunk = 16 * 1024;
    let (mut rust_mbs, mut rust_channel_mbs, mut cpp_mbs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rust_cpu, mut cpp_cpu) = (Vec::new(), Vec::new());
    let mib = (total >> 20) as f64;
    for rep in 0..reps {
        let mut run_rust = || {
            let (open, _) = open_call(&fa, &fb);
            let cpu = cpu_secs();
            let (elapsed, bytes) = transfer(open, chunk, total, Receive::Callback);
            rust_cpu.push((cpu_secs() - cpu) * 1e3 / mib);
            rust_mbs.push(mb_per_s(bytes, elapsed.as_secs_f64()));
        };
        let mut run_cpp = || {
            let cpu = cpu_secs();
            let secs =
                mobilertc_bench::transfer_secs((total / chunk) as u64, chunk as u64, high_water)
                    .expect("C++ transfer failed");
            // Includes the C++ side's own call setup (a few ms of CPU): slightly against C++.
            cpp_cpu.push((cpu_secs() - cpu) * 1e3 / mib);
            cpp_mbs.push(mb_per_s(total, secs));
        };
        // Alternate who goes first, so a drift in machine load does not favour one side.
        if rep % 2 == 0 {
            run_rust();
            run_cpp();
        } else {
            run_cpp();
            run_rust();
        }
        let (open, _) = open_call(&fa, &fb);
        let (elapsed, bytes) = transfer(open, chunk, total, Receive::Channel);
        rust_channel_mbs.push(mb_per_s(bytes, elapsed.as_secs_f64()));
    }
    eprintln!(
        "throughput MB/s: Rust {rust_mbs:.1?}, Rust via channel {rust_channel_mbs:.1?}, C++ {cpp_mbs:.1?}"
    );
    eprintln!("CPU ms per MiB: Rust {rust_cpu:.1?}, C++ {cpp_cpu:.1?}");
    rows.push(Row {
        what: "data channel throughput, 16 KiB messages (median)",
        unit: "MB/s",
        rust: median(rust_mbs),
        cpp: Some(median(cpp_mbs)),
        higher_is_better: true,
    });
    rows.push(Row {
        what: "CPU time per MiB transferred, both peers (median)",
        unit: "ms",
        rust: median(rust_cpu),
        cpp: Some(median(cpp_cpu)),
        higher_is_better: false,
    });
    rows.push(Row {
        what: "… with the receiver on an app thread (`events()` channel)",
        unit: "MB/s",
        rust: median(rust_channel_mbs),
        cpp: None,
        higher_is_better: true,
    });

    let small = if quick() { 5_000 } else { 20_000 };
    let (mut rust_rate, mut cpp_rate) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let (open, _) = open_call(&fa, &fb);
        let (elapsed, _) = transfer(open, 100, small * 100, Receive::Callback);
        rust_rate.push(small as f64 / elapsed.as_secs_f64());
        let secs = mobilertc_bench::transfer_secs(small as u64, 100, high_water)
            .expect("C++ transfer failed");
        cpp_rate.push(small as f64 / secs);
    }
    eprintln!("small msg/s: Rust {rust_rate:.0?}, C++ {cpp_rate:.0?}");
    rows.push(Row {
        what: "small messages, 100 B (median)",
        unit: "msg/s",
        rust: median(rust_rate),
        cpp: Some(median(cpp_rate)),
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
            .map_or("–".to_owned(), |v| format!("{} {}", fmt(v), row.unit));
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
        "\nsetup n={} per side (alternating blocks of {block}); {reps} transfers per side of {} MiB and of {small} small messages; idle peers {idle}",
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
