//! Loopback-call helpers shared by the tests and the benchmark (feature `testing`).
//!
//! A [`Loopback`] is two peer connections in one process, each on its own factory (so
//! each has its own threads and audio device, as two apps would), with trickle ICE wired
//! both ways: every candidate is forwarded the moment it is gathered, possibly before the
//! other side has a remote description (the shim queues those).

use std::collections::VecDeque;
use std::f64::consts::PI;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{
    DataChannel, DataChannelEvent, Factory, I420Frame, PeerConnection, PeerConnectionConfig,
    PeerConnectionState, PeerEvent, RemoteTrack, TrackKind,
};

/// Errors of the helpers: anything printable (tests and benches just report them).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// `Result` of the helpers.
pub type Result<T, E = BoxError> = std::result::Result<T, E>;

/// Generous default wait: the CI machine has 2 shared cores, and a wait that times out is
/// a failure, never a measurement.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// One side of a loopback call.
pub struct Endpoint {
    /// The side's factory.
    pub factory: Factory,
    /// The side's peer connection (shared with the other side's ICE router, weakly).
    pub pc: Arc<PeerConnection>,
    /// Candidates this side gathered (and forwarded).
    pub candidates_gathered: Arc<AtomicUsize>,
    events: Receiver<PeerEvent>,
    backlog: VecDeque<PeerEvent>,
}

impl Endpoint {
    /// Waits for the first event (in arrival order, earlier unpicked events included)
    /// for which `pick` returns true; other events are kept for later waits.
    pub fn wait_event(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&PeerEvent) -> bool,
    ) -> Option<PeerEvent> {
        if let Some(i) = self.backlog.iter().position(&mut pick) {
            return self.backlog.remove(i);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.events.recv_timeout(left) {
                Ok(ev) if pick(&ev) => return Some(ev),
                Ok(ev) => self.backlog.push_back(ev),
                Err(_) => return None,
            }
        }
    }

    /// Waits until the peer connection state is `Connected`.
    pub fn wait_connected(&mut self, timeout: Duration) -> Result<()> {
        let ev = self.wait_event(timeout, |ev| {
            matches!(
                ev,
                PeerEvent::ConnectionState(
                    PeerConnectionState::Connected | PeerConnectionState::Failed
                )
            )
        });
        match ev {
            Some(PeerEvent::ConnectionState(PeerConnectionState::Connected)) => Ok(()),
            Some(other) => Err(format!("connection did not come up: {other:?}").into()),
            None => Err(format!(
                "not connected after {timeout:?} (state {:?})",
                self.pc.connection_state()
            )
            .into()),
        }
    }

    /// Waits for a data channel opened by the other side, and starts its events.
    pub fn wait_data_channel(
        &mut self,
        timeout: Duration,
    ) -> Result<(DataChannel, Receiver<DataChannelEvent>)> {
        match self.wait_event(timeout, |ev| matches!(ev, PeerEvent::DataChannel(_))) {
            Some(PeerEvent::DataChannel(channel)) => {
                let events = channel.events();
                Ok((channel, events))
            }
            _ => Err(format!("no remote data channel after {timeout:?}").into()),
        }
    }

    /// Waits for a remote track of `kind`.
    pub fn wait_track(&mut self, kind: TrackKind, timeout: Duration) -> Result<RemoteTrack> {
        match self.wait_event(
            timeout,
            |ev| matches!(ev, PeerEvent::Track(t) if t.kind() == kind),
        ) {
            Some(PeerEvent::Track(track)) => Ok(track),
            _ => Err(format!("no remote {kind:?} track after {timeout:?}").into()),
        }
    }
}

/// Two peer connections calling each other in-process.
pub struct Loopback {
    /// The offering side.
    pub caller: Endpoint,
    /// The answering side.
    pub callee: Endpoint,
    routers: Vec<JoinHandle<()>>,
}

impl Loopback {
    /// Creates one peer connection on each factory (host candidates only) and wires their
    /// ICE candidates to each other. Add channels and tracks, then [`negotiate`].
    ///
    /// [`negotiate`]: Loopback::negotiate
    pub fn new(caller_factory: &Factory, callee_factory: &Factory) -> Result<Loopback> {
        let config = PeerConnectionConfig::default();
        let (caller_pc, caller_rx) = PeerConnection::new(caller_factory, &config)?;
        let (callee_pc, callee_rx) = PeerConnection::new(callee_factory, &config)?;
        let caller_pc = Arc::new(caller_pc);
        let callee_pc = Arc::new(callee_pc);
        let (caller, caller_router) = wire(
            caller_factory,
            &caller_pc,
            caller_rx,
            Arc::downgrade(&callee_pc),
            "caller",
        )?;
        let (callee, callee_router) = wire(
            callee_factory,
            &callee_pc,
            callee_rx,
            Arc::downgrade(&caller_pc),
            "callee",
        )?;
        Ok(Loopback {
            caller,
            callee,
            routers: vec![caller_router, callee_router],
        })
    }

    /// Offer/answer: the caller offers, the callee answers. Returns once both descriptions
    /// are applied on both sides (ICE runs on in the background).
    pub fn negotiate(&self) -> Result<()> {
        let offer = self.caller.pc.create_offer()?;
        self.caller.pc.set_local_description(&offer)?;
        self.callee.pc.set_remote_description(&offer)?;
        let answer = self.callee.pc.create_answer()?;
        self.callee.pc.set_local_description(&answer)?;
        self.caller.pc.set_remote_description(&answer)?;
        Ok(())
    }

    /// [`negotiate`](Loopback::negotiate), then wait until both sides are connected.
    pub fn connect(&mut self, timeout: Duration) -> Result<()> {
        self.negotiate()?;
        self.caller.wait_connected(timeout)?;
        self.callee.wait_connected(timeout)?;
        Ok(())
    }

    /// Drops both peer connections and joins the ICE routers (which end once their peer's
    /// events stop), so nothing of the call outlives this.
    pub fn shutdown(self) {
        let Loopback {
            caller,
            callee,
            routers,
        } = self;
        drop(caller);
        drop(callee);
        for router in routers {
            let _ = router.join();
        }
    }
}

/// Spawns the thread that forwards `pc`'s candidates to `other` and every other event to
/// the endpoint's queue.
fn wire(
    factory: &Factory,
    pc: &Arc<PeerConnection>,
    rx: Receiver<PeerEvent>,
    other: Weak<PeerConnection>,
    name: &str,
) -> Result<(Endpoint, JoinHandle<()>)> {
    let (tx, events) = channel();
    let gathered = Arc::new(AtomicUsize::new(0));
    let counter = gathered.clone();
    let router = std::thread::Builder::new()
        .name(format!("ice-{name}"))
        .spawn(move || {
            // Ends when the peer connection is destroyed (its event sender drops).
            for ev in rx {
                match ev {
                    PeerEvent::IceCandidate(candidate) => {
                        counter.fetch_add(1, Ordering::Relaxed);
                        // Weak: the routers must not keep each other's peers alive.
                        if let Some(other) = other.upgrade() {
                            // Not blocking: the remote description may not be there yet.
                            other.add_ice_candidate_with(&candidate, |_| {});
                        }
                    }
                    ev => {
                        let _ = tx.send(ev);
                    }
                }
            }
        })?;
    Ok((
        Endpoint {
            factory: factory.clone(),
            pc: pc.clone(),
            candidates_gathered: gathered,
            events,
            backlog: VecDeque::new(),
        },
        router,
    ))
}

// ------------------------------------------------------------------ data channel helpers

/// Waits for a data channel event matching `pick`, discarding others.
pub fn wait_dc_event(
    events: &Receiver<DataChannelEvent>,
    timeout: Duration,
    mut pick: impl FnMut(&DataChannelEvent) -> bool,
) -> Option<DataChannelEvent> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match events.recv_timeout(left) {
            Ok(ev) if pick(&ev) => return Some(ev),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// Waits until the channel is open (it may already be).
pub fn wait_open(
    dc: &DataChannel,
    events: &Receiver<DataChannelEvent>,
    timeout: Duration,
) -> Result<()> {
    if dc.state() == crate::DataChannelState::Open {
        return Ok(());
    }
    wait_dc_event(events, timeout, |ev| *ev == DataChannelEvent::Open)
        .map(|_| ())
        .ok_or_else(|| format!("data channel {:?} not open after {timeout:?}", dc.label()).into())
}

/// Sends `data` as binary messages of `chunk` bytes, keeping WebRTC's send buffer under
/// `high_water` bytes (waiting for buffered-amount events from `events`, which must be
/// the channel's own receiver), so a large transfer never hits "buffer full".
pub fn send_paced(
    dc: &DataChannel,
    events: &Receiver<DataChannelEvent>,
    data: &[u8],
    chunk: usize,
    high_water: u64,
) -> Result<()> {
    // `bound` is an upper bound of what is buffered: the last queried amount plus what was
    // sent since. Asking only when the bound says we might be over the mark saves a
    // thread hop per message (buffered_amount goes through WebRTC's proxy).
    let mut bound = dc.buffered_amount();
    for piece in data.chunks(chunk) {
        let len = piece.len() as u64;
        if bound + len > high_water {
            bound = dc.buffered_amount();
            let deadline = Instant::now() + TIMEOUT;
            while bound + len > high_water {
                // Any event (usually BufferedAmount) is a reason to look again; the
                // timeout is only a backstop in case a change was not reported.
                match events.recv_timeout(Duration::from_millis(20)) {
                    Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return Err("data channel gone".into()),
                }
                if Instant::now() > deadline {
                    return Err("send buffer did not drain".into());
                }
                bound = dc.buffered_amount();
            }
        }
        dc.send_binary(piece)?;
        bound += len;
    }
    Ok(())
}

// ------------------------------------------------------------------ audio helpers

/// `n` samples of a sine at `freq` Hz (amplitude ~0.5 FS), starting at sample `start`.
pub fn sine(freq: f64, sample_rate: u32, start: u64, n: usize) -> Vec<i16> {
    (0..n as u64)
        .map(|i| {
            let t = (start + i) as f64 / f64::from(sample_rate);
            (16_000.0 * (2.0 * PI * freq * t).sin()) as i16
        })
        .collect()
}

pub use crate::analysis::tone_ratio;

/// Root mean square of samples in full-scale units (0..=1).
pub fn rms(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt() / 32768.0
}

/// Pushes a tone into a factory's capture queue in real time (10 ms chunks, kept ~60 ms
/// ahead of the device) until dropped.
pub struct TonePusher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TonePusher {
    /// Starts pushing `freq` Hz into `factory`.
    pub fn start(factory: &Factory, freq: f64) -> TonePusher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let factory = factory.clone();
        let thread = std::thread::spawn(move || {
            let config = factory.config();
            let chunk = (config.sample_rate / 100) as usize;
            let start = Instant::now();
            let mut pushed: u64 = 0;
            while !flag.load(Ordering::Relaxed) {
                let due = start.elapsed().as_secs_f64() * f64::from(config.sample_rate)
                    + 0.06 * f64::from(config.sample_rate);
                while (pushed as f64) < due {
                    let mono = sine(freq, config.sample_rate, pushed, chunk);
                    // The same tone on every channel, interleaved.
                    let pcm: Vec<i16> = mono
                        .iter()
                        .flat_map(|&s| vec![s; config.channels as usize])
                        .collect();
                    let _ = factory.push_audio(&pcm);
                    pushed += chunk as u64;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        TonePusher {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TonePusher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Collects `duration` worth of PCM (first channel, as f64) from an audio receiver,
/// discarding what was queued before the call.
pub fn collect_pcm(
    rx: &Receiver<crate::AudioFrame>,
    duration: Duration,
    timeout: Duration,
) -> Result<(Vec<f64>, u32)> {
    while rx.try_recv().is_ok() {}
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or("no audio arrived in time")?;
        let frame = rx.recv_timeout(left)?;
        let rate = frame.sample_rate;
        let ch = frame.channels.max(1) as usize;
        out.extend(frame.samples.iter().step_by(ch).map(|&s| f64::from(s)));
        if rate > 0 && out.len() as f64 >= duration.as_secs_f64() * f64::from(rate) {
            return Ok((out, rate));
        }
    }
}

// ------------------------------------------------------------------ video helpers

/// A synthetic frame: a diagonal gradient with a bright bar that moves with `n`, and
/// chroma that drifts, so every frame differs (encoders skip static content).
pub fn pattern_frame(width: u32, height: u32, n: u64) -> I420Frame {
    let mut frame = I420Frame::new(width, height);
    let bar = (n * 4 % u64::from(width)) as u32;
    for y in 0..height {
        for x in 0..width {
            let luma = if x.abs_diff(bar) < 8 {
                235
            } else {
                16 + ((x + y + n as u32) % 200) as u8
            };
            frame.y[(y * frame.stride_y + x) as usize] = luma;
        }
    }
    let (cw, ch) = (frame.chroma_width(), frame.chroma_height());
    for y in 0..ch {
        for x in 0..cw {
            frame.u[(y * frame.stride_u + x) as usize] = (64 + (x + n as u32) % 128) as u8;
            frame.v[(y * frame.stride_v + x) as usize] = (64 + (y + n as u32) % 128) as u8;
        }
    }
    frame
}
