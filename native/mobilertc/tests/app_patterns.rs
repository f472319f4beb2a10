//! An independent set of re-entrancy reproducers (issue 16): what application code does
//! from inside callbacks and completions, written apart from the fixes (tests/reentrancy.rs
//! holds the original defects' tests). Each scenario must finish without a hang, an abort
//! or (under `cargo xtask test --asan` / `--tsan`) a sanitizer report.
//!
//! Every scenario runs on its own thread under a generous deadline: a deadlock fails the
//! test instead of hanging the suite. No timing is asserted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use mobilertc::testing::{wait_dc_event, wait_open, Loopback, TIMEOUT};
use mobilertc::{
    DataChannel, DataChannelEvent, Factory, FactoryConfig, I420Frame, Message, PeerConnection,
    PeerConnectionConfig, PeerConnectionState, PeerEvent, VideoSource,
};

/// Runs `scenario` on its own thread; fails if it does not finish within the deadline.
fn within(what: &str, scenario: impl FnOnce() + Send + 'static) {
    const DEADLINE: Duration = Duration::from_secs(120);
    let (tx, rx) = channel();
    let worker = std::thread::spawn(move || {
        scenario();
        let _ = tx.send(());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(()) => worker.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after {DEADLINE:?} (deadlock)")
        }
    }
}

fn factory() -> Factory {
    Factory::new(FactoryConfig::default()).unwrap()
}

/// Waits for a value a closure sends, failing (not hanging) if it never comes.
fn expect<T>(rx: &Receiver<T>, what: &str) -> T {
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|e| panic!("{what}: nothing within {TIMEOUT:?} ({e})"))
}

/// An open channel pair over a loopback call; the callee's side is read through a receiver.
struct Pair {
    call: Loopback,
    a: DataChannel,
    b: DataChannel,
    b_events: Receiver<DataChannelEvent>,
}

fn open_pair(fa: &Factory, fb: &Factory) -> Pair {
    let mut call = Loopback::new(fa, fb).unwrap();
    let (a, a_events) = call.caller.pc.create_data_channel("p", None).unwrap();
    call.connect(TIMEOUT).unwrap();
    let (b, b_events) = call.callee.wait_data_channel(TIMEOUT).unwrap();
    wait_open(&a, &a_events, TIMEOUT).unwrap();
    wait_open(&b, &b_events, TIMEOUT).unwrap();
    Pair {
        call,
        a,
        b,
        b_events,
    }
}

/// A channel's `on_event` owns the last handles of its own peer connection and of itself,
/// and drops both when the remote says "bye".
#[test]
fn a_channel_callback_drops_its_own_peer_connection_and_itself() {
    within("drop own peer", || {
        let (fa, fb) = (factory(), factory());
        let Pair {
            call,
            a,
            b,
            b_events,
            ..
        } = open_pair(&fa, &fb);
        // The loopback's strong handle is the only one (its ICE routers hold weak ones).
        let pc = call.caller.pc;
        type LastHandles = Option<(Arc<PeerConnection>, Arc<DataChannel>)>;
        let owned: Arc<Mutex<LastHandles>> = Arc::new(Mutex::new(None));
        let a = Arc::new(a);
        let (done_tx, done) = channel();
        let slot = owned.clone();
        a.on_event(move |ev| {
            if ev == DataChannelEvent::Message(Message::Text("bye".into())) {
                let last = slot.lock().unwrap().take();
                drop(last); // the channel (running this closure) and its peer go here
                let _ = done_tx.send(());
            }
        });
        *owned.lock().unwrap() = Some((pc, a));
        drop(owned);
        b.send_text("bye").unwrap();
        expect(&done, "the callback ran");
        // The remote side learns its channel closed.
        assert!(
            wait_dc_event(&b_events, TIMEOUT, |ev| *ev == DataChannelEvent::Closed).is_some(),
            "the remote channel did not close after its peer was dropped"
        );
    });
}

/// A stats completion creates, uses and closes data channels, nests a blocking stats call
/// and another completion, then closes the peer; later completions see `Closed`.
#[test]
fn a_stats_completion_creates_and_closes_channels() {
    within("stats completion", || {
        let f = factory();
        let (pc, _events) = PeerConnection::new(&f, &PeerConnectionConfig::default()).unwrap();
        let pc = Arc::new(pc);
        let (tx, rx) = channel::<String>();
        let p = pc.clone();
        pc.stats_json_with(move |r| {
            r.unwrap();
            for i in 0..5 {
                let (dc, _dc_events) = p.create_data_channel(&format!("c{i}"), None).unwrap();
                dc.close();
                assert!(dc.send_text("too early or closed").is_err());
            }
            // A blocking call and a nested completion from inside a completion.
            p.stats().unwrap();
            let (p2, tx2) = (p.clone(), tx.clone());
            p.stats_json_with(move |r| {
                r.unwrap();
                p2.close();
                p2.stats_json_with(move |r| {
                    let _ = tx2.send(format!("after close: {:?}", r.map(|_| ())));
                });
                assert!(p2.create_data_channel("late", None).is_err());
            });
            let _ = tx.send("outer done".into());
        });
        assert_eq!(expect(&rx, "outer completion"), "outer done");
        let after = expect(&rx, "completion after close");
        assert!(after.contains("Err"), "stats after close: {after}");
    });
}

/// The whole negotiation chained through completions that call the other factory's peer
/// (blocking and not), with every ICE candidate's completion reading both peers.
#[test]
fn negotiation_driven_from_completions_across_factories() {
    within("completion-driven negotiation", || {
        let (fa, fb) = (factory(), factory());
        let config = PeerConnectionConfig::default();
        let (pa, ea) = PeerConnection::new(&fa, &config).unwrap();
        let (pb, eb) = PeerConnection::new(&fb, &config).unwrap();
        let (pa, pb) = (Arc::new(pa), Arc::new(pb));
        let (a_dc, a_dc_events) = pa.create_data_channel("chain", None).unwrap();
        let reads = Arc::new(AtomicUsize::new(0));
        // Candidates of one side are added to the other from a reader thread; each add's
        // completion (on the receiving peer's dispatcher) reads both peers' state. Weak
        // handles: a router ends when its peer is dropped.
        let route = |events: Receiver<PeerEvent>,
                     to: &Arc<PeerConnection>,
                     from: &Arc<PeerConnection>,
                     out: Sender<PeerEvent>| {
            let (to, from, reads) = (Arc::downgrade(to), Arc::downgrade(from), reads.clone());
            std::thread::spawn(move || {
                for ev in events {
                    match ev {
                        PeerEvent::IceCandidate(c) => {
                            let Some(target) = to.upgrade() else { continue };
                            let (to2, from2, reads) = (to.clone(), from.clone(), reads.clone());
                            target.add_ice_candidate_with(&c, move |_| {
                                for pc in [to2.upgrade(), from2.upgrade()].into_iter().flatten() {
                                    let _ = (pc.signaling_state(), pc.connection_state());
                                }
                                reads.fetch_add(1, Ordering::Relaxed);
                            });
                        }
                        other => {
                            let _ = out.send(other);
                        }
                    }
                }
            })
        };
        let (a_out, a_rx) = channel();
        let (b_out, b_rx) = channel();
        let ra = route(ea, &pb, &pa, a_out);
        let rb = route(eb, &pa, &pb, b_out);

        let (done_tx, done) = channel::<mobilertc::Result<()>>();
        let (a1, b1) = (pa.clone(), pb.clone());
        pa.create_offer_with(move |offer| {
            let offer = offer.unwrap();
            let (a2, b2) = (a1.clone(), b1.clone());
            a1.set_local_description_with(&offer.clone(), move |r| {
                r.unwrap();
                // On fa's dispatcher: fb's peer, not blocking.
                let (a3, b3) = (a2.clone(), b2.clone());
                b2.set_remote_description_with(&offer, move |r| {
                    r.unwrap();
                    // On fb's dispatcher: everything blocking, fa's peer included.
                    let answer = b3.create_answer().unwrap();
                    b3.set_local_description(&answer).unwrap();
                    let _ = done_tx.send(a3.set_remote_description(&answer));
                });
            });
        });
        expect(&done, "the chain finished").unwrap();
        let connected = |rx: &Receiver<PeerEvent>| loop {
            match rx.recv_timeout(TIMEOUT) {
                Ok(PeerEvent::ConnectionState(PeerConnectionState::Connected)) => break,
                Ok(_) => {}
                Err(e) => panic!("not connected: {e}"),
            }
        };
        connected(&a_rx);
        connected(&b_rx);
        wait_open(&a_dc, &a_dc_events, TIMEOUT).unwrap();
        assert!(
            reads.load(Ordering::Relaxed) > 0,
            "no candidate completion ran"
        );
        drop((a_dc, a_dc_events));
        drop((pa, pb));
        ra.join().unwrap();
        rb.join().unwrap();
    });
}

/// Every getter of every handle, from every kind of callback, on both factories.
#[test]
fn every_getter_from_every_callback_kind() {
    within("getters", || {
        let (fa, fb) = (factory(), factory());
        let pair = open_pair(&fa, &fb);
        let handles = Arc::new((pair.call.caller.pc.clone(), pair.call.callee.pc.clone()));
        let a = Arc::new(pair.a);
        let b = Arc::new(pair.b);
        let poke = {
            let (handles, a, b) = (handles.clone(), Arc::downgrade(&a), Arc::downgrade(&b));
            move |kind: &str, tx: &Sender<String>| {
                for pc in [&handles.0, &handles.1] {
                    let _ = (pc.signaling_state(), pc.connection_state());
                    pc.stats().unwrap();
                }
                for dc in [a.upgrade(), b.upgrade()].into_iter().flatten() {
                    let _ = (dc.label(), dc.id(), dc.state(), dc.buffered_amount());
                    let _ = dc.max_message_size();
                }
                let _ = tx.send(kind.to_owned());
            }
        };
        let (tx, rx) = channel::<String>();
        let (pa, pb) = (&handles.0, &handles.1);
        // Completions of every kind (renegotiating is harmless on a connected call).
        let (p, t, k) = (pa.clone(), tx.clone(), poke.clone());
        pa.create_offer_with(move |offer| {
            k("create_offer", &t);
            let offer = offer.unwrap();
            let (t2, k2) = (t.clone(), k.clone());
            p.set_local_description_with(&offer, move |_| k2("set_local", &t2));
            let (t3, k3) = (t.clone(), k.clone());
            p.set_local_description_with(
                &mobilertc::SessionDescription {
                    kind: mobilertc::SdpType::Rollback,
                    sdp: String::new(),
                },
                move |_| k3("rollback", &t3),
            );
        });
        let (t, k) = (tx.clone(), poke.clone());
        pb.stats_json_with(move |_| k("stats", &t));
        let (t, k) = (tx.clone(), poke.clone());
        pb.create_answer_with(move |_| k("create_answer (fails: stable)", &t));
        let (t, k) = (tx.clone(), poke.clone());
        pb.set_remote_description_with(
            &mobilertc::SessionDescription {
                kind: mobilertc::SdpType::Answer,
                sdp: "v=0 not sdp".into(),
            },
            move |_| k("set_remote", &t),
        );
        let (t, k) = (tx.clone(), poke.clone());
        pa.add_ice_candidate_with(
            &mobilertc::IceCandidate {
                sdp_mid: "0".into(),
                sdp_mline_index: 0,
                candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
            },
            move |_| k("add_ice_candidate", &t),
        );
        // Channel callbacks: messages, buffered amount, closing and closed.
        let (t, k) = (tx.clone(), poke.clone());
        b.on_event(move |ev| {
            let kind = match ev {
                DataChannelEvent::Message(_) => "on_event message",
                DataChannelEvent::BufferedAmount(_) => "on_event buffered",
                DataChannelEvent::Closing | DataChannelEvent::Closed => "on_event closing",
                DataChannelEvent::Open => "on_event open",
            };
            k(kind, &t);
        });
        a.send_text("hi").unwrap();
        b.send_binary(&[0; 4096]).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let wanted = [
            "create_offer",
            "set_local",
            "rollback",
            "stats",
            "create_answer (fails: stable)",
            "set_remote",
            "add_ice_candidate",
            "on_event message",
        ];
        while !wanted.iter().all(|w| seen.contains(*w)) {
            seen.insert(expect(&rx, &format!("callbacks (so far {seen:?})")));
        }
        a.close();
        while !seen.contains("on_event closing") {
            seen.insert(expect(&rx, "the closing callback"));
        }
        drop((a, b, handles));
    });
}

/// A panic in a closure is caught where the closure runs (the dispatcher): it ends only
/// that call. The same `on_event` closure keeps receiving, later completions of the
/// factory still run on its dispatcher, and the process does not abort.
#[test]
fn panics_in_closures_end_only_that_call() {
    within("panics", || {
        let (fa, fb) = (factory(), factory());
        let pair = open_pair(&fa, &fb);
        let (tx, rx) = channel::<String>();
        let t = tx.clone();
        pair.b.on_event(move |ev| {
            if let DataChannelEvent::Message(Message::Text(text)) = ev {
                if text.starts_with("panic") {
                    panic!("app closure panicked on {text:?} (expected by the test)");
                }
                let _ = t.send(text);
            }
        });
        for i in 0..3 {
            pair.a.send_text(&format!("panic {i}")).unwrap();
            pair.a.send_text(&format!("ok {i}")).unwrap();
        }
        for i in 0..3 {
            assert_eq!(expect(&rx, "message after a panic"), format!("ok {i}"));
        }
        let pc = pair.call.caller.pc.clone();
        for _ in 0..3 {
            pc.stats_json_with(|_| panic!("completion panicked (expected by the test)"));
        }
        let t = tx.clone();
        pc.stats_json_with(move |r| {
            r.unwrap();
            let _ = t.send(std::thread::current().name().unwrap_or("?").to_owned());
        });
        assert_eq!(expect(&rx, "completion after panics"), "mrtc-dispatch");
    });
}

/// A panic whose payload itself panics when dropped must not end the dispatcher thread
/// (its tasks would then run inline on WebRTC's threads, where blocking calls deadlock).
#[test]
fn a_panic_payload_that_panics_on_drop_does_not_kill_the_dispatcher() {
    struct Nasty;
    impl Drop for Nasty {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("payload drop panicked (expected by the test)");
            }
        }
    }
    within("nasty payload", || {
        let f = factory();
        let (pc, _events) = PeerConnection::new(&f, &PeerConnectionConfig::default()).unwrap();
        let pc = Arc::new(pc);
        pc.stats_json_with(|_| std::panic::panic_any(Nasty));
        let (tx, rx) = channel();
        let p = pc.clone();
        pc.stats_json_with(move |_| {
            // Blocking from the dispatcher is fine; from WebRTC's signaling thread it
            // would deadlock, so this also proves where it runs.
            let _ = p.stats_json();
            let _ = tx.send(std::thread::current().name().unwrap_or("?").to_owned());
        });
        assert_eq!(expect(&rx, "completion after the payload"), "mrtc-dispatch");
    });
}

/// Factories created, used and dropped from other factories' completions, nested and on
/// several threads at once, and a factory whose last handle its own completion drops.
#[test]
fn factories_made_and_dropped_inside_other_factories_callbacks() {
    fn nest(depth: u32, done: Sender<u32>) {
        let f = factory();
        let (pc, _events) = PeerConnection::new(&f, &PeerConnectionConfig::default()).unwrap();
        let pc = Arc::new(pc);
        let p = pc.clone();
        pc.create_offer_with(move |offer| {
            offer.unwrap();
            if depth == 0 {
                let _ = done.send(0);
            } else {
                nest(depth - 1, done);
            }
            // The last handles of this factory and peer: dropped on their own dispatcher.
            drop(p);
            drop(f);
        });
    }
    within("nested factories", || {
        let threads: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(|| {
                    let (tx, rx) = channel();
                    nest(4, tx);
                    expect(&rx, "the innermost completion");
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
}

/// Factory, peer connection, data channel and tracks dropped in every order of the four
/// groups, each on its own thread, one after the other; then all at once behind a barrier.
#[test]
fn drop_orders_across_threads() {
    type Bundle = (
        Option<Factory>,
        Option<PeerConnection>,
        Option<DataChannel>,
        Option<(mobilertc::AudioTrack, VideoSource, mobilertc::VideoTrack)>,
    );
    fn bundle() -> Bundle {
        let f = factory();
        let (pc, events) = PeerConnection::new(&f, &PeerConnectionConfig::default()).unwrap();
        drop(events);
        let (dc, dc_events) = pc.create_data_channel("d", None).unwrap();
        drop(dc_events);
        let audio = pc.add_audio_track("a", "s").unwrap();
        let source = VideoSource::new(&f).unwrap();
        source.push_i420(&I420Frame::new(2, 2)).unwrap();
        let video = pc.add_video_track(&source, "v", "s").unwrap();
        (Some(f), Some(pc), Some(dc), Some((audio, source, video)))
    }
    fn drop_one(b: &mut Bundle, which: usize) {
        let item: Box<dyn Send> = match which {
            0 => Box::new(b.0.take()),
            1 => Box::new(b.1.take()),
            2 => Box::new(b.2.take()),
            _ => Box::new(b.3.take()),
        };
        std::thread::spawn(move || drop(item)).join().unwrap();
    }
    within("drop orders", || {
        let mut orders = Vec::new();
        for i in 0..4 {
            for j in 0..4 {
                for k in 0..4 {
                    for l in 0..4 {
                        let o = [i, j, k, l];
                        if (0..4).all(|x| o.contains(&x)) {
                            orders.push(o);
                        }
                    }
                }
            }
        }
        assert_eq!(orders.len(), 24);
        for order in orders {
            let mut b = bundle();
            for which in order {
                drop_one(&mut b, which);
            }
        }
        // All four at once, several rounds.
        for _ in 0..4 {
            let (f, pc, dc, tracks) = bundle();
            let barrier = Arc::new(Barrier::new(4));
            let items: Vec<Box<dyn Send>> =
                vec![Box::new(f), Box::new(pc), Box::new(dc), Box::new(tracks)];
            let threads: Vec<_> = items
                .into_iter()
                .map(|item| {
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        barrier.wait();
                        drop(item);
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
    });
}
