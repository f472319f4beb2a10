//! Re-entrancy (issue 16): what app code naturally does from inside callbacks and
//! completions — echo from a channel's own callback, close inside a completion, bridge two
//! calls on different factories, own the last handle in a closure — must neither deadlock
//! nor abort nor touch freed memory (the last is caught by the AddressSanitizer run).
//!
//! Every scenario runs on its own thread under a generous deadline, so a deadlock fails the
//! test (and leaves the stuck thread behind) instead of hanging the suite.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use mobilertc::testing::{wait_dc_event, wait_open, Loopback, TIMEOUT};
use mobilertc::{
    DataChannel, DataChannelEvent, ErrorCode, Factory, FactoryConfig, Message, PeerConnection,
    PeerConnectionConfig, PeerEvent, SignalingState,
};

/// Runs `scenario` on its own thread; fails if it does not finish within `DEADLINE`.
fn within(what: &str, scenario: impl FnOnce() + Send + 'static) {
    const DEADLINE: Duration = Duration::from_secs(90);
    let (tx, rx) = channel();
    let worker = std::thread::spawn(move || {
        scenario();
        let _ = tx.send(());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(()) => worker.join().unwrap(),
        // The scenario panicked: rethrow its message.
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

/// A peer and its event receiver (nobody reads it; keep it alive for the test's length).
fn peer(f: &Factory) -> (Arc<PeerConnection>, Receiver<PeerEvent>) {
    let (pc, events) = PeerConnection::new(f, &PeerConnectionConfig::default()).unwrap();
    (Arc::new(pc), events)
}

/// An open channel pair over a loopback call, the remote side observed through a receiver.
fn open_pair(fa: &Factory, fb: &Factory) -> (Loopback, DataChannel, DataChannel) {
    let mut call = Loopback::new(fa, fb).unwrap();
    let (a, a_events) = call.caller.pc.create_data_channel("pair", None).unwrap();
    call.connect(TIMEOUT).unwrap();
    let (b, b_events) = call.callee.wait_data_channel(TIMEOUT).unwrap();
    wait_open(&a, &a_events, TIMEOUT).unwrap();
    wait_open(&b, &b_events, TIMEOUT).unwrap();
    (call, a, b)
}

/// Collects text messages of a channel into `tx`.
fn forward_text(dc: &DataChannel, tx: Sender<String>) {
    dc.on_event(move |ev| {
        if let DataChannelEvent::Message(Message::Text(t)) = ev {
            let _ = tx.send(t);
        }
    });
}

/// Defect 2: send (and then close) from the channel's own `on_event`.
#[test]
fn echo_and_close_from_the_channels_own_callback() {
    within("echo", || {
        let (fa, fb) = (factory(), factory());
        let (call, a, b) = open_pair(&fa, &fb);
        let b = Arc::new(b);
        let weak: Weak<DataChannel> = Arc::downgrade(&b);
        b.on_event(move |ev| {
            let Some(b) = weak.upgrade() else { return };
            if let DataChannelEvent::Message(Message::Text(t)) = ev {
                b.send_text(&format!("echo {t}")).unwrap();
                if t == "bye" {
                    b.close();
                }
            }
        });
        let (tx, rx) = channel();
        forward_text(&a, tx);
        for i in 0..20 {
            a.send_text(&i.to_string()).unwrap();
        }
        a.send_text("bye").unwrap();
        for i in 0..20 {
            assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), format!("echo {i}"));
        }
        assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "echo bye");
        drop((a, b));
        call.shutdown();
    });
}

/// Defect 3: a completion adds an audio track while the app thread adds the factory's
/// first one.
#[test]
fn add_audio_track_in_a_completion_while_the_app_adds_the_first() {
    within("audio source", || {
        for round in 0..10 {
            let fa = factory();
            let (pc, _pc_events) = peer(&fa);
            let (tx, rx) = channel();
            let inner = pc.clone();
            pc.create_offer_with(move |_| {
                let _ = tx.send(inner.add_audio_track("late", "s").map(drop));
            });
            pc.add_audio_track("first", "s").unwrap();
            rx.recv_timeout(TIMEOUT)
                .unwrap_or_else(|e| panic!("round {round}: {e}"))
                .unwrap();
        }
    });
}

/// Defect 4: close inside a `create_offer_with` / `create_answer_with` closure.
#[test]
fn close_inside_an_sdp_completion() {
    within("close in completion", || {
        let fa = factory();
        let (pc, _pc_events) = peer(&fa);
        let _dc = pc.create_data_channel("d", None).unwrap();
        let (tx, rx) = channel();
        let inner = pc.clone();
        pc.create_offer_with(move |r| {
            inner.close();
            let _ = tx.send(r.map(|d| d.kind));
        });
        rx.recv_timeout(TIMEOUT).unwrap().unwrap();
        assert_eq!(pc.signaling_state(), SignalingState::Closed);

        // The answer side: apply an offer, close inside create_answer_with.
        let (offerer, _offerer_events) = peer(&fa);
        let _d = offerer.create_data_channel("d", None).unwrap();
        let offer = offerer.create_offer().unwrap();
        let (answerer, _answerer_events) = peer(&fa);
        answerer.set_remote_description(&offer).unwrap();
        let (tx, rx) = channel();
        let inner = answerer.clone();
        answerer.create_answer_with(move |r| {
            inner.close();
            let _ = tx.send(r.is_ok());
        });
        assert!(rx.recv_timeout(TIMEOUT).unwrap());
        let err = answerer.create_offer().unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Closed), "{err}");
    });
}

/// Defect 5: a relay app bridges two calls on different factories — each message received
/// on one call is forwarded from the callback into the other call's channel.
#[test]
fn a_relay_bridges_two_calls_on_different_factories() {
    within("relay", || {
        let fs: Vec<Factory> = (0..4).map(|_| factory()).collect();
        let (call1, a1, b1) = open_pair(&fs[0], &fs[1]);
        let (call2, a2, b2) = open_pair(&fs[2], &fs[3]);
        let a2 = Arc::new(a2);
        let relay = Arc::downgrade(&a2);
        b1.on_event(move |ev| {
            if let (DataChannelEvent::Message(Message::Text(t)), Some(out)) = (ev, relay.upgrade())
            {
                out.send_text(&format!("relayed {t}")).unwrap();
            }
        });
        let (tx, rx) = channel();
        forward_text(&b2, tx);
        for i in 0..10 {
            a1.send_text(&i.to_string()).unwrap();
        }
        for i in 0..10 {
            assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), format!("relayed {i}"));
        }
        drop((a1, b1, a2, b2));
        call1.shutdown();
        call2.shutdown();
    });
}

/// Defect 5: the first observer of a remote channel, a new channel and a getter on another
/// factory's peer, all from a completion.
#[test]
fn a_completion_calls_into_another_factorys_peer() {
    within("cross-factory completion", || {
        let (fa, fb) = (factory(), factory());
        let mut call = Loopback::new(&fa, &fb).unwrap();
        let (_a, _a_events) = call.caller.pc.create_data_channel("x", None).unwrap();
        call.connect(TIMEOUT).unwrap();
        let remote = match call.callee.wait_event(TIMEOUT, |ev| {
            matches!(ev, mobilertc::PeerEvent::DataChannel(_))
        }) {
            Some(mobilertc::PeerEvent::DataChannel(dc)) => dc,
            other => panic!("{other:?}"),
        };
        let (other, _other_events) = peer(&fb);
        let (tx, rx) = channel();
        let held = Arc::new(Mutex::new(Some(remote)));
        let (other2, held2) = (other.clone(), held.clone());
        call.caller.pc.stats_json_with(move |_| {
            // Factory A's completion, three calls into factory B.
            let events = held2.lock().unwrap().as_ref().unwrap().events();
            let made = other2.create_data_channel("from-a", None).map(drop);
            let state = other2.signaling_state();
            let _ = tx.send((events, made, state));
        });
        let (events, made, state) = rx.recv_timeout(TIMEOUT).unwrap();
        made.unwrap();
        assert_eq!(state, SignalingState::Stable);
        assert!(wait_dc_event(&events, TIMEOUT, |ev| *ev == DataChannelEvent::Open).is_some());
        drop(held);
        call.shutdown();
    });
}

/// Defect 6: completions on two factories each read the other's peer, many times at once.
#[test]
fn completions_on_two_factories_read_each_other() {
    within("lock order", || {
        let (fa, fb) = (factory(), factory());
        let ((pa, _pa_events), (pb, _pb_events)) = (peer(&fa), peer(&fb));
        let _da = pa.create_data_channel("a", None).unwrap();
        let _db = pb.create_data_channel("b", None).unwrap();
        let (tx, rx) = channel();
        const ROUNDS: usize = 50;
        for _ in 0..ROUNDS {
            for (me, other) in [(&pa, &pb), (&pb, &pa)] {
                let (other, tx) = (other.clone(), tx.clone());
                me.create_offer_with(move |_| {
                    let _ = tx.send(other.signaling_state());
                });
            }
        }
        for _ in 0..2 * ROUNDS {
            assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), SignalingState::Stable);
        }
    });
}

/// Defect 10: `on_event` replacing its own observer, and dropping its channel's last handle.
#[test]
fn on_event_may_replace_itself_and_drop_its_own_channel() {
    within("self-replacing callback", || {
        let (fa, fb) = (factory(), factory());
        let (call, a, b) = open_pair(&fa, &fb);
        let slot = Arc::new(Mutex::new(Some(b)));
        let (tx, rx) = channel();
        let inner = slot.clone();
        slot.lock().unwrap().as_ref().unwrap().on_event(move |ev| {
            if let DataChannelEvent::Message(Message::Text(t)) = ev {
                let mut held = inner.lock().unwrap();
                if t == "replace" {
                    // A receiver instead of this very closure.
                    let events = held.as_ref().unwrap().events();
                    let _ = tx.send(Some(events));
                } else if t == "drop" {
                    // The last handle of the channel whose callback this is.
                    drop(held.take());
                    let _ = tx.send(None);
                }
            }
        });
        a.send_text("replace").unwrap();
        let events = rx.recv_timeout(TIMEOUT).unwrap().unwrap();
        a.send_text("after").unwrap();
        assert_eq!(
            wait_dc_event(&events, TIMEOUT, |ev| matches!(
                ev,
                DataChannelEvent::Message(_)
            )),
            Some(DataChannelEvent::Message(Message::Text("after".into())))
        );
        // Again, now dropping the channel from its callback.
        let inner = slot.clone();
        let (tx, rx) = channel();
        slot.lock().unwrap().as_ref().unwrap().on_event(move |ev| {
            if let DataChannelEvent::Message(_) = ev {
                drop(inner.lock().unwrap().take());
                let _ = tx.send(());
            }
        });
        a.send_text("drop").unwrap();
        rx.recv_timeout(TIMEOUT).unwrap();
        assert!(slot.lock().unwrap().is_none());
        drop(a);
        call.shutdown();
    });
}

/// Defect 10: a `*_with` closure owning the last handle of its peer connection.
#[test]
fn a_completion_may_own_the_last_peer_connection() {
    within("closure owns the peer", || {
        let fa = factory();
        for _ in 0..5 {
            let (pc, _events) = PeerConnection::new(&fa, &PeerConnectionConfig::default()).unwrap();
            let _dc = pc.create_data_channel("d", None).unwrap();
            // The closure's slot receives the only handle right after the call (the slot is
            // locked until then, so the completion cannot look too early): dropping it
            // there destroys the peer.
            let slot: Arc<Mutex<Option<PeerConnection>>> = Arc::default();
            let (tx, rx) = channel();
            let inner = slot.clone();
            let mut held = slot.lock().unwrap();
            pc.create_offer_with(move |r| {
                let last = inner.lock().unwrap().take();
                let _ = tx.send((r.is_ok(), last.is_some()));
                drop(last);
            });
            *held = Some(pc);
            drop(held);
            drop(slot);
            let (_ok, was_last) = rx.recv_timeout(TIMEOUT).unwrap();
            assert!(
                was_last,
                "the completion ran before the handle moved into it"
            );
        }
        drop(fa);
    });
}
