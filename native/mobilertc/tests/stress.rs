//! Concurrent churn (issue 16): threads create calls on a shared set of factories, bridge
//! their channels into each other's from inside callbacks, close and drop peers and
//! channels at random moments — from the app thread, from completions and from the
//! channels' own callbacks. It must end (no deadlock) with every thread done; the
//! AddressSanitizer run (`cargo xtask test --asan`) checks it for memory errors and leaks.
//!
//! `MOBILERTC_STRESS_SECS` (default 3) is how long new rounds start; rounds in flight
//! finish. The seed is printed; `MOBILERTC_STRESS_SEED` replays one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use mobilertc::testing::{Loopback, TIMEOUT};
use mobilertc::{DataChannel, DataChannelEvent, Factory, FactoryConfig, Message};

const THREADS: usize = 4;
const FACTORIES: usize = 3;

/// xorshift64*: enough randomness for choosing moments, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Channels any round may forward into (weak: a bridge never keeps a channel alive).
type Bridges = Arc<Mutex<Vec<Weak<DataChannel>>>>;

#[derive(Default)]
struct Counts {
    rounds: AtomicUsize,
    connected: AtomicUsize,
    forwarded: AtomicUsize,
}

/// A callback for `dc` that echoes text back on its own channel and forwards it into a
/// random bridged channel (usually another call, often another factory), sometimes
/// closing its own channel, or dropping the last handle held in `own`.
fn relay(
    dc: Weak<DataChannel>,
    own: Arc<Mutex<Option<Arc<DataChannel>>>>,
    bridges: Bridges,
    counts: Arc<Counts>,
    seed: u64,
) -> impl FnMut(DataChannelEvent) + Send + 'static {
    let mut rng = Rng(seed | 1);
    move |ev| {
        let DataChannelEvent::Message(Message::Text(text)) = ev else {
            return;
        };
        if let Some(dc) = dc.upgrade() {
            if !text.starts_with("echo") {
                let _ = dc.send_text(&format!("echo {text}"));
            }
        }
        let target = {
            let mut all = bridges.lock().unwrap();
            all.retain(|w| w.strong_count() > 0);
            if all.is_empty() {
                None
            } else {
                all[rng.below(all.len() as u64) as usize].upgrade()
            }
        };
        if let Some(target) = target {
            if !text.starts_with("fwd") && target.send_text(&format!("fwd {text}")).is_ok() {
                counts.forwarded.fetch_add(1, Ordering::Relaxed);
            }
        }
        match rng.below(8) {
            0 => {
                if let Some(dc) = dc.upgrade() {
                    dc.close();
                }
            }
            1 => drop(own.lock().unwrap().take()),
            _ => {}
        }
    }
}

fn round(factories: &[Factory], bridges: &Bridges, counts: &Arc<Counts>, rng: &mut Rng) {
    counts.rounds.fetch_add(1, Ordering::Relaxed);
    let pick = |rng: &mut Rng| &factories[rng.below(FACTORIES as u64) as usize];
    let (fa, fb) = (pick(rng), pick(rng));
    let Ok(mut call) = Loopback::new(fa, fb) else {
        return;
    };
    let Ok((a, _a_events)) = call.caller.pc.create_data_channel("churn", None) else {
        return;
    };
    let a = Arc::new(a);
    let a_own = Arc::new(Mutex::new(Some(a.clone())));
    a.on_event(relay(
        Arc::downgrade(&a),
        a_own.clone(),
        bridges.clone(),
        counts.clone(),
        rng.below(u64::MAX),
    ));
    // Completions that call into the API of this call and of the other side.
    let callee = call.callee.pc.clone();
    call.caller.pc.stats_json_with(move |_| {
        let _ = callee.signaling_state();
    });
    let fate = rng.below(4);
    let connect_timeout = Duration::from_secs(10);
    if call.connect(connect_timeout).is_ok() {
        counts.connected.fetch_add(1, Ordering::Relaxed);
        let b = call
            .callee
            .wait_event(connect_timeout, |ev| {
                matches!(ev, mobilertc::PeerEvent::DataChannel(_))
            })
            .and_then(|ev| match ev {
                mobilertc::PeerEvent::DataChannel(b) => Some(Arc::new(b)),
                _ => None,
            });
        if let Some(b) = &b {
            let b_own = Arc::new(Mutex::new(Some(b.clone())));
            b.on_event(relay(
                Arc::downgrade(b),
                b_own.clone(),
                bridges.clone(),
                counts.clone(),
                rng.below(u64::MAX),
            ));
            bridges.lock().unwrap().push(Arc::downgrade(b));
            for i in 0..rng.below(20) {
                let _ = a.send_text(&i.to_string());
            }
            // The callbacks may have dropped their own handles; the rest go at round end.
            std::thread::sleep(Duration::from_millis(rng.below(30)));
            drop(b_own.lock().unwrap().take());
        }
        bridges.lock().unwrap().push(Arc::downgrade(&a));
        match fate {
            // Close from inside a completion.
            0 => {
                let pc = call.caller.pc.clone();
                call.caller.pc.create_offer_with(move |_| pc.close());
            }
            // A completion owns the caller's last handle (after shutdown drops the others).
            1 => {
                let pc = call.callee.pc.clone();
                call.callee.pc.stats_json_with(move |_| drop(pc));
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(rng.below(20)));
        drop(b);
    }
    drop(a_own.lock().unwrap().take());
    if fate == 2 {
        drop(a);
        call.shutdown();
    } else {
        call.shutdown();
        drop(a);
    }
}

#[test]
fn concurrent_churn_with_reentrant_callbacks() {
    let secs: f64 = std::env::var("MOBILERTC_STRESS_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let seed: u64 = std::env::var("MOBILERTC_STRESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("stress: {secs} s, MOBILERTC_STRESS_SEED={seed}");

    let (done_tx, done_rx) = channel();
    let counts = Arc::new(Counts::default());
    let scenario = {
        let counts = counts.clone();
        std::thread::spawn(move || {
            let factories: Vec<Factory> = (0..FACTORIES)
                .map(|_| Factory::new(FactoryConfig::default()).unwrap())
                .collect();
            let factories = Arc::new(factories);
            let bridges: Bridges = Arc::default();
            let until = Instant::now() + Duration::from_secs_f64(secs);
            let workers: Vec<_> = (0..THREADS as u64)
                .map(|t| {
                    let (factories, bridges, counts) =
                        (factories.clone(), bridges.clone(), counts.clone());
                    std::thread::spawn(move || {
                        let mut rng = Rng(seed ^ (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
                        while Instant::now() < until {
                            round(&factories, &bridges, &counts, &mut rng);
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            // Factories go last, on this thread, after every round's handles.
            drop(factories);
            let _ = done_tx.send(());
        })
    };
    // Generous: a round waits up to 10 s for a connection, and sanitizers slow it all.
    let deadline = Duration::from_secs_f64(secs) + 4 * TIMEOUT;
    match done_rx.recv_timeout(deadline) {
        Ok(()) => scenario.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(scenario.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "stress (seed {seed}) still running after {deadline:?}: deadlock ({} rounds started)",
            counts.rounds.load(Ordering::Relaxed)
        ),
    }
    let (rounds, connected, forwarded) = (
        counts.rounds.load(Ordering::Relaxed),
        counts.connected.load(Ordering::Relaxed),
        counts.forwarded.load(Ordering::Relaxed),
    );
    eprintln!("stress: {rounds} rounds, {connected} connected, {forwarded} messages forwarded");
    assert!(connected > 0, "no round connected");
}
