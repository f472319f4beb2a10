//! Loopback benchmark over the safe API: `cargo bench -p mobilertc --bench loopback`.
//!
//! Measures, on two factories in one process (host candidates, as tests/call.rs):
//! * setup: create_offer → data channel open on the caller, median of `SETUP_RUNS`;
//! * data channel throughput with 16 KiB messages (MB/s, ordered, reliable);
//! * small-message rate (100-byte messages per second);
//! * memory per idle peer connection (RSS growth / count).
//!
//! A plain program (no harness), so its output is the report. Set `MOBILERTC_BENCH_QUICK=1`
//! for a fast smoke run.

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

fn main() {
    let (fa, fb) = factories();
    let setup_runs = if quick() { 5 } else { 25 };

    // Warm-up: first call pays for lazy initialisation (SSL, codecs, sockets).
    let (open, _) = open_call(&fa, &fb);
    drop((open.a, open.b));
    open.call.shutdown();

    let mut setups = Vec::new();
    for _ in 0..setup_runs {
        let (open, setup) = open_call(&fa, &fb);
        setups.push(setup.as_secs_f64() * 1e3);
        drop((open.a, open.b));
        open.call.shutdown();
    }
    let (min, max) = setups
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    println!(
        "setup create_offer -> data channel open: median {:.1} ms (min {min:.1}, max {max:.1}, n={setup_runs})",
        median(setups.clone())
    );

    let total = if quick() { 8 << 20 } else { 64 << 20 };
    let (open, _) = open_call(&fa, &fb);
    let (elapsed, bytes) = transfer(open, 16 * 1024, total);
    println!(
        "throughput 16 KiB messages: {:.1} MB/s ({} MiB in {:.2} s)",
        bytes as f64 / elapsed.as_secs_f64() / 1e6,
        bytes >> 20,
        elapsed.as_secs_f64()
    );

    let small = if quick() { 5_000 } else { 50_000 };
    let (open, _) = open_call(&fa, &fb);
    let (elapsed, _) = transfer(open, 100, small * 100);
    println!(
        "small messages (100 B): {:.0} msg/s ({small} in {:.2} s)",
        small as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );

    let idle = if quick() { 10 } else { 50 };
    let before = rss_bytes();
    let peers: Vec<_> = (0..idle)
        .map(|_| PeerConnection::new(&fa, &PeerConnectionConfig::default()).unwrap())
        .collect();
    let after = rss_bytes();
    println!(
        "memory per idle peer connection: {:.0} KiB (RSS +{} KiB for {idle})",
        (after.saturating_sub(before)) as f64 / idle as f64 / 1024.0,
        after.saturating_sub(before) / 1024
    );
    drop(peers);
}
