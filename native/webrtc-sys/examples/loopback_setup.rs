//! Setup time of an in-process call over the raw shim: createOffer → data channel open,
//! with trickle ICE (candidates forwarded as they come; the shim queues the early ones).
//! A shim-level reference for the safe crate's benchmark:
//!
//! ```text
//! cargo run --release -p webrtc-sys --example loopback_setup -- [iterations]
//! ```

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant};

use webrtc_sys::*;

enum Ev {
    Cand(usize, String, i32, String),
    RemoteDc(usize, usize),
    Sdp(usize, mrtc_sdp_type, String),
    Open(usize),
    State(usize, mrtc_peer_event_kind, i32),
}

struct Ctx {
    tx: Sender<Ev>,
    who: usize,
}

fn s(text: &str) -> mrtc_str {
    mrtc_str::from_str(text)
}

unsafe fn text(s: mrtc_str) -> String {
    s.to_string_lossy()
}

unsafe extern "C" fn on_peer(ud: *mut c_void, ev: *const mrtc_peer_event) {
    let ctx = &*(ud as *const Ctx);
    let ev = &*ev;
    match ev.kind {
        MRTC_EVENT_ICE_CANDIDATE => {
            let _ = ctx.tx.send(Ev::Cand(
                ctx.who,
                text(ev.sdp_mid),
                ev.sdp_mline_index,
                text(ev.candidate),
            ));
        }
        MRTC_EVENT_DATA_CHANNEL => {
            let _ = ctx.tx.send(Ev::RemoteDc(ctx.who, ev.data_channel as usize));
        }
        MRTC_EVENT_TRACK => mrtc_remote_track_destroy(ev.track),
        kind => {
            let _ = ctx.tx.send(Ev::State(ctx.who, kind, ev.state));
        }
    }
}

unsafe extern "C" fn on_sdp(
    ud: *mut c_void,
    status: mrtc_status,
    kind: mrtc_sdp_type,
    sdp: mrtc_str,
    error: mrtc_str,
) {
    let ctx = &*(ud as *const Ctx);
    assert_eq!(status, MRTC_OK, "{}", text(error));
    let _ = ctx.tx.send(Ev::Sdp(ctx.who, kind, text(sdp)));
}

unsafe extern "C" fn on_done(_ud: *mut c_void, status: mrtc_status, error: mrtc_str) {
    if status != MRTC_OK && status != MRTC_ERR_CLOSED {
        eprintln!("operation failed: {status} {}", text(error));
    }
}

unsafe extern "C" fn on_dc(ud: *mut c_void, ev: *const mrtc_data_channel_event) {
    let ctx = &*(ud as *const Ctx);
    if (*ev).kind == MRTC_DC_EVENT_STATE && (*ev).state == MRTC_DC_OPEN {
        let _ = ctx.tx.send(Ev::Open(ctx.who));
    }
}

static RECEIVED: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" fn on_remote_dc(_ud: *mut c_void, ev: *const mrtc_data_channel_event) {
    if (*ev).kind == MRTC_DC_EVENT_MESSAGE {
        RECEIVED.fetch_add((*ev).len as u64, Ordering::Relaxed);
    }
}

/// Sends `total` bytes in 16 KiB messages over an open channel; returns MB/s at the receiver.
unsafe fn throughput(dc: *mut mrtc_data_channel, total: u64) -> f64 {
    let msg = vec![0x5au8; 16 * 1024];
    RECEIVED.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        match mrtc_data_channel_send(dc, msg.as_ptr(), msg.len(), 1) {
            MRTC_OK => sent += msg.len() as u64,
            MRTC_ERR_BUFFER_FULL => std::thread::sleep(Duration::from_micros(200)),
            st => panic!("send failed: {st}"),
        }
    }
    while RECEIVED.load(Ordering::Relaxed) < total {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "transfer stalled"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    total as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// One call; returns createOffer → caller's channel open, and MB/s if `transfer` > 0.
unsafe fn call(factories: [*mut mrtc_factory; 2], transfer: u64) -> (Duration, f64) {
    let (tx, rx): (Sender<Ev>, Receiver<Ev>) = channel();
    let ctx: Vec<*mut Ctx> = (0..2)
        .map(|who| {
            Box::into_raw(Box::new(Ctx {
                tx: tx.clone(),
                who,
            }))
        })
        .collect();
    let mut peers = [ptr::null_mut(); 2];
    for who in 0..2 {
        let config = mrtc_peer_config::default();
        let st = mrtc_peer_create(
            factories[who],
            &config,
            Some(on_peer),
            ctx[who].cast(),
            &mut peers[who],
        );
        assert_eq!(st, MRTC_OK);
    }
    let mut dc = ptr::null_mut();
    let st = mrtc_peer_create_data_channel(
        peers[0],
        s("bench"),
        ptr::null(),
        Some(on_dc),
        ctx[0].cast(),
        &mut dc,
    );
    assert_eq!(st, MRTC_OK);

    let start = Instant::now();
    assert_eq!(
        mrtc_peer_create_offer(peers[0], Some(on_sdp), ctx[0].cast()),
        MRTC_OK
    );
    let mut remote_dcs = Vec::new();
    let trace = std::env::var_os("MRTC_TRACE").is_some();
    let elapsed = loop {
        let ev = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("call timed out");
        if trace {
            let t = start.elapsed().as_secs_f64() * 1e3;
            match &ev {
                Ev::Cand(w, _, _, c) => eprintln!("{t:7.2} ms peer{w} candidate {c}"),
                Ev::Sdp(w, k, _) => eprintln!("{t:7.2} ms peer{w} sdp type {k}"),
                Ev::State(w, k, st) => eprintln!("{t:7.2} ms peer{w} event {k} state {st}"),
                Ev::RemoteDc(w, _) => eprintln!("{t:7.2} ms peer{w} remote channel"),
                Ev::Open(w) => eprintln!("{t:7.2} ms peer{w} open"),
            }
        }
        match ev {
            Ev::State(..) => {}
            Ev::Cand(who, mid, idx, cand) => {
                let other = peers[1 - who];
                let st = mrtc_peer_add_ice_candidate(
                    other,
                    s(&mid),
                    idx,
                    s(&cand),
                    Some(on_done),
                    ptr::null_mut(),
                );
                assert_eq!(st, MRTC_OK);
            }
            Ev::Sdp(0, kind, sdp) => {
                mrtc_peer_set_local_description(
                    peers[0],
                    kind,
                    s(&sdp),
                    Some(on_done),
                    ptr::null_mut(),
                );
                mrtc_peer_set_remote_description(
                    peers[1],
                    kind,
                    s(&sdp),
                    Some(on_done),
                    ptr::null_mut(),
                );
                mrtc_peer_create_answer(peers[1], Some(on_sdp), ctx[1].cast());
            }
            Ev::Sdp(_, kind, sdp) => {
                mrtc_peer_set_local_description(
                    peers[1],
                    kind,
                    s(&sdp),
                    Some(on_done),
                    ptr::null_mut(),
                );
                mrtc_peer_set_remote_description(
                    peers[0],
                    kind,
                    s(&sdp),
                    Some(on_done),
                    ptr::null_mut(),
                );
            }
            Ev::RemoteDc(_, handle) => {
                let handle = handle as *mut mrtc_data_channel;
                mrtc_data_channel_set_observer(handle, Some(on_remote_dc), ptr::null_mut());
                remote_dcs.push(handle);
            }
            Ev::Open(_) => break start.elapsed(),
        }
    };
    while transfer > 0 && remote_dcs.is_empty() {
        if let Ev::RemoteDc(_, handle) = rx.recv_timeout(Duration::from_secs(10)).unwrap() {
            let handle = handle as *mut mrtc_data_channel;
            mrtc_data_channel_set_observer(handle, Some(on_remote_dc), ptr::null_mut());
            remote_dcs.push(handle);
        }
    }
    let mbps = if transfer > 0 {
        throughput(dc, transfer)
    } else {
        0.0
    };
    mrtc_data_channel_destroy(dc);
    for h in remote_dcs {
        mrtc_data_channel_destroy(h);
    }
    for peer in peers {
        mrtc_peer_destroy(peer);
    }
    for c in ctx {
        drop(Box::from_raw(c));
    }
    (elapsed, mbps)
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(21);
    unsafe {
        if let Some(level) = std::env::var("MRTC_LOG").ok().and_then(|l| l.parse().ok()) {
            mrtc_set_log_level(level);
        }
        let config = mrtc_factory_config {
            audio_sample_rate: 48_000,
            audio_channels: 1,
            raw_audio: 0,
        };
        let mut factories = [ptr::null_mut(); 2];
        for f in &mut factories {
            assert_eq!(mrtc_factory_create(&config, f), MRTC_OK);
        }
        let mut times: Vec<Duration> = (0..iterations).map(|_| call(factories, 0).0).collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "createOffer -> data channel open over {iterations} calls: median {:.2} ms, min {:.2} ms, max {:.2} ms",
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
        let (_, mbps) = call(factories, 64 << 20);
        println!("data channel throughput, 16 KiB messages, 64 MiB: {mbps:.1} MB/s");
        for f in factories {
            mrtc_factory_destroy(f);
        }
    }
}
