//! libwebrtc's own ICE on the scenario networks, without the calling app: one factory per
//! peer, each created on a thread moved into that peer's namespace (its network thread,
//! hence its sockets, live there), offer/answer and candidates handed over in-process,
//! coturn as STUN/TURN. The same checks as the app scenarios (`run::problems`): selected
//! pair, chat both ways, the caller's tone at the callee, coturn's counters. When an app
//! scenario fails and this passes, the fault is in the app, not in the network.
//!
//! Root and the tools are needed (see tests/netns.rs for the skip rules). ~25 s.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use mobilertc::testing::{collect_pcm, tone_ratio, wait_dc_event, wait_open, TonePusher};
use mobilertc::{
    DataChannelEvent, Factory, FactoryConfig, IceServer, Message, PeerConnection,
    PeerConnectionConfig, PeerConnectionState, PeerEvent, TrackKind,
};
use mobilertc_netlab::coturn;
use mobilertc_netlab::lab::{self, wait_for_text, Lab};
use mobilertc_netlab::run::{chat_text, problems, stun_ip, BAD_TURN_TIMEOUT_SECS};
use mobilertc_netlab::scenario::Scenario;
use mobilertc_netlab::summary::{CandidateType, Summary};

const WAIT: Duration = Duration::from_secs(20);

fn ice_config(s: Scenario, server: Ipv4Addr) -> PeerConnectionConfig {
    let stun = stun_ip(s);
    let mut servers = vec![IceServer::stun(format!("stun:{stun}:{}", coturn::PORT))];
    let password = match s {
        Scenario::Relay => Some(coturn::PASSWORD),
        Scenario::BadTurn => Some("not-the-password"),
        _ => None,
    };
    if let Some(pw) = password {
        servers.push(IceServer {
            urls: vec![format!("turn:{server}:{}?transport=udp", coturn::PORT)],
            username: coturn::USER.into(),
            credential: pw.into(),
        });
    }
    PeerConnectionConfig {
        ice_servers: servers,
        ..PeerConnectionConfig::default()
    }
}

/// One peer: its connection, and its events minus the candidates (those go to the other
/// side once the other's `ready` says its remote description is set: earlier ones would
/// be refused).
struct Side {
    pc: Arc<PeerConnection>,
    events: Receiver<PeerEvent>,
    backlog: VecDeque<PeerEvent>,
    ready: Arc<AtomicBool>,
}

/// Forward `from`'s candidates to `to` (after `to` has its remote description), the rest
/// of `from`'s events to `from`'s queue.
fn wire(
    rx: Receiver<PeerEvent>,
    to: Weak<PeerConnection>,
    to_ready: Arc<AtomicBool>,
) -> (Receiver<PeerEvent>, JoinHandle<()>) {
    let (tx, events) = channel();
    let router = std::thread::spawn(move || {
        let mut pending = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(PeerEvent::IceCandidate(c)) => pending.push(c),
                Ok(ev) => {
                    let _ = tx.send(ev);
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The peer connection is gone.
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if to_ready.load(Ordering::SeqCst) {
                if let Some(to) = to.upgrade() {
                    for c in pending.drain(..) {
                        to.add_ice_candidate_with(&c, |_| {});
                    }
                }
            }
        }
    });
    (events, router)
}

impl Side {
    fn wait(&mut self, what: &str, pick: impl FnMut(&PeerEvent) -> bool) -> Result<PeerEvent> {
        self.wait_for(WAIT, what, pick)
    }

    fn wait_for(
        &mut self,
        wait: Duration,
        what: &str,
        mut pick: impl FnMut(&PeerEvent) -> bool,
    ) -> Result<PeerEvent> {
        if let Some(i) = self.backlog.iter().position(&mut pick) {
            return Ok(self.backlog.remove(i).expect("found"));
        }
        let end = Instant::now() + wait;
        loop {
            let left = end
                .checked_duration_since(Instant::now())
                .with_context(|| format!("no {what} within {wait:?}"))?;
            match self.events.recv_timeout(left) {
                Ok(ev) if pick(&ev) => return Ok(ev),
                Ok(ev) => self.backlog.push_back(ev),
                Err(_) => bail!("no {what} within {wait:?}"),
            }
        }
    }

    /// Connected, or why not (the last connection state seen).
    fn connect(&mut self, wait: Duration) -> Result<(), String> {
        let started = Instant::now();
        let mut states = Vec::new();
        let r = self.wait_for(wait, "connection", |e| match e {
            PeerEvent::ConnectionState(st) => {
                states.push(format!("{st:?} at {:?}", started.elapsed()));
                matches!(
                    st,
                    PeerConnectionState::Connected | PeerConnectionState::Failed
                )
            }
            _ => false,
        });
        match r {
            Ok(PeerEvent::ConnectionState(PeerConnectionState::Connected)) => Ok(()),
            Ok(_) => Err(format!("ICE failed: {}", states.join(", "))),
            Err(e) => Err(format!("{e:#}: {}", states.join(", "))),
        }
    }

    fn pair(&self) -> Result<(CandidateType, CandidateType)> {
        let end = Instant::now() + WAIT;
        loop {
            let stats = self.pc.stats().map_err(err)?;
            if let Some(p) = stats.selected_pair {
                let t = |c: Option<mobilertc::CandidateType>| -> Result<CandidateType> {
                    CandidateType::parse(c.context("candidate type missing")?.as_str())
                };
                return Ok((t(p.local.candidate_type)?, t(p.remote.candidate_type)?));
            }
            if Instant::now() > end {
                bail!("no selected pair in the stats");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn bad_turn_problems(caller: &Summary, callee: &Summary, usage: &coturn::Usage) -> Vec<String> {
    let mut p = Vec::new();
    for sum in [caller, callee] {
        if sum.connected {
            p.push(format!(
                "{}: connected through symmetric NATs without TURN",
                sum.role
            ));
        }
    }
    if usage.auth_failures == 0 {
        p.push("coturn refused no credentials".into());
    }
    if usage.allocations > 0 {
        p.push(format!("coturn allocated {} relays", usage.allocations));
    }
    p
}

/// mobilertc's and its test helpers' errors, into anyhow.
fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

/// Straight to the process's stderr: the test harness captures `eprintln!` of passing
/// tests, and a skip must be seen.
fn skip_notice(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

fn text_of(ev: DataChannelEvent) -> Option<String> {
    match ev {
        DataChannelEvent::Message(Message::Text(t)) => Some(t),
        _ => None,
    }
}

/// One call over scenario `s`'s network: the summaries both sides would write, and
/// coturn's counters.
fn call(s: Scenario, dir: &Path) -> Result<(Summary, Summary, coturn::Usage)> {
    let topo = s.topology();
    let server = topo.node("server").addr();
    let mut lab = Lab::build(topo, dir)?;
    let turn = lab.spawn(
        "server",
        "turnserver",
        &coturn::argv(server, dir, coturn::Auth::Static),
    )?;
    let log = dir.join("turnserver.log");
    if !wait_for_text(&log, "turn server id=0 created", Duration::from_secs(10))? {
        bail!("coturn did not start:\n{}", lab.proc(turn).tail(20));
    }
    let config = ice_config(s, server);
    // Wrong TURN password on a network where only TURN gets through: it must not connect;
    // the apps give up after their connect timeout, so do the same.
    let connect_wait = match s {
        Scenario::BadTurn => Duration::from_secs(BAD_TURN_TIMEOUT_SECS.into()),
        _ => WAIT,
    };
    let deadline = Instant::now() + connect_wait;
    let factory =
        |node| lab.in_namespace(node, || Factory::new(FactoryConfig::default()).map_err(err));
    let (fa, fb) = (factory("caller")?, factory("callee")?);
    let (pa, rxa) = PeerConnection::new(&fa, &config).map_err(err)?;
    let (pb, rxb) = PeerConnection::new(&fb, &config).map_err(err)?;
    let (pa, pb) = (Arc::new(pa), Arc::new(pb));
    let (ready_a, ready_b) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (ev_a, router_a) = wire(rxa, Arc::downgrade(&pb), ready_b.clone());
    let (ev_b, router_b) = wire(rxb, Arc::downgrade(&pa), ready_a.clone());
    let mut a = Side {
        pc: pa,
        events: ev_a,
        backlog: VecDeque::new(),
        ready: ready_a,
    };
    let mut b = Side {
        pc: pb,
        events: ev_b,
        backlog: VecDeque::new(),
        ready: ready_b,
    };

    let (dc_a, dc_a_events) = a.pc.create_data_channel("chat", None).map_err(err)?;
    let _mic = a.pc.add_audio_track("mic", "stream").map_err(err)?;
    let _tone = TonePusher::start(&fa, 440.0);
    let offer = a.pc.create_offer().map_err(err)?;
    a.pc.set_local_description(&offer).map_err(err)?;
    b.pc.set_remote_description(&offer).map_err(err)?;
    b.ready.store(true, Ordering::SeqCst);
    let answer = b.pc.create_answer().map_err(err)?;
    b.pc.set_local_description(&answer).map_err(err)?;
    a.pc.set_remote_description(&answer).map_err(err)?;
    a.ready.store(true, Ordering::SeqCst);

    let mut caller = Summary {
        role: "caller".into(),
        ..Summary::default()
    };
    let mut callee = Summary {
        role: "callee".into(),
        ..Summary::default()
    };
    for (sum, side) in [(&mut caller, &mut a), (&mut callee, &mut b)] {
        // One deadline for both: they connect (or not) at the same time.
        let left = deadline.saturating_duration_since(Instant::now());
        match side.connect(left.max(Duration::from_millis(10))) {
            Ok(()) => sum.connected = true,
            Err(e) => sum.error = Some(e),
        }
    }
    if caller.connected && callee.connected {
        caller.pair = Some(a.pair()?);
        callee.pair = Some(b.pair()?);
        let dc_b = match b.wait("data channel", |e| matches!(e, PeerEvent::DataChannel(_)))? {
            PeerEvent::DataChannel(dc) => dc,
            _ => unreachable!(),
        };
        let dc_b_events = dc_b.events();
        wait_open(&dc_a, &dc_a_events, WAIT).map_err(err)?;
        dc_a.send_text(&chat_text("caller", s)).map_err(err)?;
        dc_b.send_text(&chat_text("callee", s)).map_err(err)?;
        let got = |events| {
            wait_dc_event(events, WAIT, |e| {
                matches!(e, DataChannelEvent::Message(Message::Text(_)))
            })
            .and_then(text_of)
        };
        callee.chat_received.extend(got(&dc_b_events));
        caller.chat_received.extend(got(&dc_a_events));
        let remote = match b.wait(
            "audio track",
            |e| matches!(e, PeerEvent::Track(t) if t.kind() == TrackKind::Audio),
        )? {
            PeerEvent::Track(t) => t,
            _ => unreachable!(),
        };
        let pcm = remote.audio_frames().map_err(err)?;
        // The first second after connecting may still be jitter-buffer ramp-up: take the
        // best of a few one-second windows.
        let mut ratio: f64 = 0.0;
        for _ in 0..4 {
            let (samples, rate) = collect_pcm(&pcm, Duration::from_secs(1), WAIT).map_err(err)?;
            let r = tone_ratio(&samples, rate, 440.0);
            eprintln!("{}: 440 Hz ratio at the callee {r:.3}", s.name());
            ratio = ratio.max(r);
            if ratio > 0.5 {
                break;
            }
        }
        callee.tone_detected = Some(ratio > 0.5);
    }
    // Closing releases the TURN allocations; coturn logs their usage as they close.
    for side in [&mut a, &mut b] {
        side.pc.close();
    }
    drop((a, b, dc_a, dc_a_events));
    // The routers end with their connection's events.
    for r in [router_a, router_b] {
        let _ = r.join();
    }
    if s == Scenario::Relay {
        wait_for_text(&log, ": peer usage: ", Duration::from_secs(5))?;
    }
    lab.stop_all(Duration::from_secs(2));
    let usage = coturn::parse_log(&std::fs::read_to_string(&log).unwrap_or_default());
    Ok((caller, callee, usage))
}

#[test]
fn libwebrtc_connects_with_each_kind_on_the_scenario_networks() {
    let tools = ["ip", "nft", "sysctl", "turnserver"];
    let missing: Vec<_> = tools.iter().filter(|t| !on_path(t)).collect();
    let why = match (lab::is_root(), missing.is_empty()) {
        (false, _) => Some("not root (network namespaces need CAP_NET_ADMIN)".to_string()),
        (true, false) => Some(format!(
            "missing {missing:?} (Debian: iproute2, nftables, procps, coturn)"
        )),
        _ => None,
    };
    if let Some(why) = why {
        let name = "libwebrtc_connects_with_each_kind_on_the_scenario_networks";
        if std::env::var_os("MOBILERTC_REQUIRE_NETNS").is_some() {
            panic!("{name}: MOBILERTC_REQUIRE_NETNS is set but this test cannot run: {why}");
        }
        skip_notice(&format!(
            "SKIPPED {name}: {why} (set MOBILERTC_REQUIRE_NETNS=1 to make this a failure)"
        ));
        return;
    }
    let tmp = tempfile::Builder::new()
        .prefix("netlab-libwebrtc-")
        .tempdir()
        .unwrap();
    let mut failures = Vec::new();
    let kinds = [
        Scenario::Local,
        Scenario::Srflx,
        Scenario::Relay,
        Scenario::StunUnreachable,
        Scenario::BadTurn,
    ];
    for s in kinds {
        let (caller, callee, usage) =
            call(s, &tmp.path().join(s.name())).unwrap_or_else(|e| panic!("{}: {e:#}", s.name()));
        eprintln!(
            "{}: caller {:?} callee {:?} coturn {usage:?}",
            s.name(),
            caller.pair,
            callee.pair
        );
        let p = match s {
            // No app here to turn the TURN server's 401 into an error message: check
            // what libwebrtc and coturn show (no connection, refused, nothing allocated).
            Scenario::BadTurn => bad_turn_problems(&caller, &callee, &usage),
            _ => problems(s, &caller, &callee, &usage),
        };
        if !p.is_empty() {
            failures.push(format!("{}: {}", s.name(), p.join("; ")));
        }
    }
    if !failures.is_empty() {
        let kept = tmp.keep();
        panic!("{}\nfiles kept in {}", failures.join("\n"), kept.display());
    }
}
