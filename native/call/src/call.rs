//! The call: the classic chat-room flow over the signaling client and mobilertc.
//!
//! One thread runs the call. Everything that can happen — signaling messages, peer events,
//! data-channel events, commands from the app — arrives on one channel, so the flow reads
//! top to bottom and no state is shared between callbacks.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use mobilertc::{
    DataChannel, DataChannelEvent, Factory, FactoryConfig, IceCandidate, IceConnectionState,
    IceServer, IceTransportPolicy, Message, PeerConnection, PeerConnectionConfig,
    PeerConnectionState, PeerEvent, RemoteTrack, SdpType, SessionDescription, TrackKind,
    VideoSource, VideoTrack,
};
use serde_json::json;

use crate::audio::{AudioInput, AudioPusher, SAMPLE_RATE};
use crate::signal::{Incoming, Session, SignalError};
use crate::summary::{PairInfo, Role, Status, Summary};
use crate::video::{VideoCounter, VideoPusher};

/// Everything a call needs to know.
#[derive(Debug, Clone)]
pub struct CallConfig {
    /// Signaling server base URL, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// Room name.
    pub room: String,
    /// Display name passed to the others.
    pub name: Option<String>,
    /// STUN/TURN servers.
    pub ice_servers: Vec<IceServer>,
    /// Use relay candidates only (forces TURN).
    pub relay_only: bool,
    /// What the audio track sends.
    pub audio: AudioInput,
    /// Look for this frequency in the received audio.
    pub expect_tone: Option<f64>,
    /// Send a synthetic video track (320x240, 15 fps).
    pub video: bool,
    /// Record the received audio to this WAV file.
    pub record: Option<PathBuf>,
    /// Chat lines sent as soon as the data channel opens.
    pub chat: Vec<String>,
    /// Hang up this long after connecting; `None`: until [`Call::hang_up`] or the other side.
    pub duration: Option<Duration>,
    /// Fail when the connection is not up this long after negotiation started.
    pub connect_timeout: Duration,
    /// Callee: give up when nobody called within this long; `None`: wait forever.
    pub wait_timeout: Option<Duration>,
}

impl CallConfig {
    /// A config with defaults: a 440 Hz tone, no video, 20 s to connect.
    pub fn new(server: impl Into<String>, room: impl Into<String>) -> CallConfig {
        CallConfig {
            server: server.into(),
            room: room.into(),
            name: None,
            ice_servers: vec![],
            relay_only: false,
            audio: AudioInput::Tone(440.0),
            expect_tone: None,
            video: false,
            record: None,
            chat: vec![],
            duration: None,
            connect_timeout: Duration::from_secs(20),
            wait_timeout: None,
        }
    }
}

/// Parses `stun:host:port` (a bare `host:port` gets the scheme).
pub fn parse_stun(spec: &str) -> Result<IceServer> {
    let url = if spec.starts_with("stun:") || spec.starts_with("stuns:") {
        spec.to_owned()
    } else if spec.contains(':') && !spec.contains("//") {
        format!("stun:{spec}")
    } else {
        bail!("STUN server {spec:?}: expected stun:HOST:PORT (e.g. stun:192.0.2.1:3478)");
    };
    Ok(IceServer::stun(url))
}

/// Parses `turn:host:port[?transport=udp],USER,PASS`.
pub fn parse_turn(spec: &str) -> Result<IceServer> {
    let mut parts = spec.splitn(3, ',');
    let (url, user, pass) = match (parts.next(), parts.next(), parts.next()) {
        (Some(u), Some(n), Some(p)) if !u.is_empty() && !n.is_empty() => (u, n, p),
        _ => bail!(
            "TURN server {spec:?}: expected URL,USER,PASS (e.g. turn:192.0.2.1:3478,alice,secret)"
        ),
    };
    if !(url.starts_with("turn:") || url.starts_with("turns:")) {
        bail!("TURN server URL {url:?} must start with turn: or turns:");
    }
    Ok(IceServer {
        urls: vec![url.to_owned()],
        username: user.to_owned(),
        credential: pass.to_owned(),
    })
}

/// What the call reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// Joined the room.
    Joined {
        /// Our role.
        role: Role,
        /// Our peer id.
        peer_id: String,
    },
    /// The peer connection's state changed.
    State(PeerConnectionState),
    /// Media can flow; the selected pair when stats already name it.
    Connected(Option<PairInfo>),
    /// The data channel opened: chat can be sent.
    ChatOpen,
    /// A chat line from the other side.
    Chat(String),
    /// Informational (a peer joined, a candidate was refused, …).
    Log(String),
    /// The call is over; [`Call::wait`] returns at once now.
    Ended {
        /// `ok` or `failed`.
        result: String,
        /// The hang-up reason or the error.
        reason: String,
    },
}

enum Cmd {
    Chat(String),
    HangUp,
}

enum Ev {
    Sig(Incoming),
    Peer(PeerEvent),
    Dc(DataChannelEvent),
    Cmd(Cmd),
}

/// Sends commands to a running call from any thread.
#[derive(Clone)]
pub struct CallHandle {
    tx: Sender<Ev>,
}

impl CallHandle {
    /// Sends a chat line (queued until the data channel is open).
    pub fn send_chat(&self, text: &str) -> Result<()> {
        if text.len() > 4096 {
            bail!("chat line of {} bytes: at most 4096", text.len());
        }
        self.tx
            .send(Ev::Cmd(Cmd::Chat(text.to_owned())))
            .map_err(|_| anyhow!("the call has ended"))
    }

    /// Hangs up (sends `bye`, leaves the room). Idempotent; a no-op after the end.
    pub fn hang_up(&self) {
        let _ = self.tx.send(Ev::Cmd(Cmd::HangUp));
    }
}

/// A running call. Dropping it hangs up and waits for the end.
pub struct Call {
    tx: Sender<Ev>,
    status: Arc<Mutex<Status>>,
    thread: Option<JoinHandle<Summary>>,
}

impl Call {
    /// Checks the config, then joins and runs the call on its own thread. `on_event` runs on
    /// that thread: it must not block.
    pub fn start(
        config: CallConfig,
        on_event: impl Fn(CallEvent) + Send + 'static,
    ) -> Result<Call> {
        crate::signal::check_name("room", &config.room)?;
        if let AudioInput::Wav(path) = &config.audio {
            // Fail before joining: a bad file is the user's input, not a call failure.
            crate::audio::load_wav(path)?;
        }
        let (tx, rx) = channel();
        let status = Arc::new(Mutex::new(Status {
            state: "joining".into(),
            ..Status::default()
        }));
        let runner = Runner::new(config, tx.clone(), status.clone(), Box::new(on_event));
        let thread = std::thread::Builder::new()
            .name("call".into())
            .spawn(move || runner.run(rx))
            .context("spawning the call thread")?;
        Ok(Call {
            tx,
            status,
            thread: Some(thread),
        })
    }

    /// Sends a chat line (queued until the data channel is open).
    pub fn send_chat(&self, text: &str) -> Result<()> {
        self.handle().send_chat(text)
    }

    /// Hangs up (sends `bye`, leaves the room). Idempotent.
    pub fn hang_up(&self) {
        self.handle().hang_up()
    }

    /// A cloneable handle for other threads (a stdin reader, a UI): chat and hang-up only.
    pub fn handle(&self) -> CallHandle {
        CallHandle {
            tx: self.tx.clone(),
        }
    }

    /// The latest status.
    pub fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether the call has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the end of the call and returns its summary.
    pub fn wait(mut self) -> Summary {
        self.join()
    }

    fn join(&mut self) -> Summary {
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(summary)) => summary,
            Some(Err(_)) => Summary {
                result: "failed".into(),
                error: Some("the call thread panicked".into()),
                ..Summary::default()
            },
            None => Summary::default(),
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.hang_up();
            self.join();
        }
    }
}

/// Media and channel handles of the peer connection, dropped together.
struct Media {
    pc: Arc<PeerConnection>,
    _audio: mobilertc::AudioTrack,
    /// Our video: held for the call's length; its pusher counts the frames sent.
    video: Option<(Arc<VideoSource>, VideoTrack, VideoPusher)>,
    remote_tracks: Vec<RemoteTrack>,
    video_in: Option<VideoCounter>,
}

struct Runner {
    config: CallConfig,
    tx: Sender<Ev>,
    status: Arc<Mutex<Status>>,
    on_event: Box<dyn Fn(CallEvent) + Send>,
    started: Instant,
    summary: Summary,
}

enum End {
    Ok(&'static str),
    Failed(String),
}

impl Runner {
    fn new(
        config: CallConfig,
        tx: Sender<Ev>,
        status: Arc<Mutex<Status>>,
        on_event: Box<dyn Fn(CallEvent) + Send>,
    ) -> Runner {
        let mut summary = Summary {
            room: config.room.clone(),
            ..Summary::default()
        };
        summary.audio.input = match &config.audio {
            AudioInput::Tone(hz) => format!("tone:{hz}"),
            AudioInput::Wav(p) => format!("wav:{}", p.display()),
            AudioInput::None => "none".into(),
        };
        summary.audio.recording = config.record.as_ref().map(|p| p.display().to_string());
        summary.video.sending = config.video;
        Runner {
            config,
            tx,
            status,
            on_event,
            started: Instant::now(),
            summary,
        }
    }

    fn ms(&self) -> Option<u64> {
        Some(self.started.elapsed().as_millis() as u64)
    }

    fn set_state(&self, state: &str) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        s.state = state.into();
        s.elapsed_s = self.started.elapsed().as_secs_f64();
    }

    fn run(mut self, rx: Receiver<Ev>) -> Summary {
        let end = match Factory::new(FactoryConfig {
            sample_rate: SAMPLE_RATE,
            channels: 1,
        }) {
            Ok(factory) => self.call(&factory, &rx),
            Err(e) => End::Failed(format!("creating the WebRTC factory: {e}")),
        };
        let (result, reason) = match end {
            End::Ok(reason) => {
                self.summary.hangup = Some(reason.into());
                ("ok", reason.to_owned())
            }
            End::Failed(error) => {
                self.summary.hangup.get_or_insert_with(|| "failed".into());
                self.summary.error = Some(error.clone());
                ("failed", error)
            }
        };
        self.summary.result = result.into();
        self.summary.timings_ms.ended = self.ms();
        self.set_state("ended");
        (self.on_event)(CallEvent::Ended {
            result: result.into(),
            reason,
        });
        self.summary
    }

    /// Joins, runs the flow, and always cleans up (bye, close, leave).
    fn call(&mut self, factory: &Factory, rx: &Receiver<Ev>) -> End {
        let session = match Session::join(
            &self.config.server,
            &self.config.room,
            self.config.name.as_deref(),
        ) {
            Ok(s) => s,
            Err(e) => return End::Failed(format!("joining room {}: {e}", self.config.room)),
        };
        let role = if session.joined.peers.is_empty() {
            Role::Callee
        } else {
            Role::Caller
        };
        self.summary.role = Some(role);
        self.summary.peer_id = Some(session.peer_id.clone());
        self.summary.timings_ms.joined = self.ms();
        self.status.lock().unwrap_or_else(|p| p.into_inner()).role = Some(role);
        (self.on_event)(CallEvent::Joined {
            role,
            peer_id: session.peer_id.clone(),
        });
        let sig_tx = self.tx.clone();
        let (poll_tx, poll_rx) = channel::<Incoming>();
        // Forwards signaling into the call's channel; ends when the poll thread drops its
        // sender (after the leave below), so it is not joined.
        std::thread::spawn(move || {
            for m in poll_rx {
                if sig_tx.send(Ev::Sig(m)).is_err() {
                    break;
                }
            }
        });
        let poller = session.start_polling(poll_tx, Duration::from_secs(30));
        let playout = factory.playout_frames();
        let receiver = match crate::audio::Receiver::new(self.config.record.as_deref()) {
            Ok(r) => Arc::new(Mutex::new(r)),
            Err(e) => {
                let _ = session.leave();
                return End::Failed(format!("{e:#}"));
            }
        };
        let recorder = {
            let receiver = receiver.clone();
            std::thread::spawn(move || -> Result<()> {
                for frame in playout {
                    receiver
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(&frame)?;
                }
                Ok(())
            })
        };
        let pusher = match AudioPusher::start(factory, &self.config.audio) {
            Ok(p) => p,
            Err(e) => {
                let _ = session.leave();
                return End::Failed(format!("{e:#}"));
            }
        };

        let mut flow = Flow {
            role,
            remote: session.joined.peers.first().map(|p| p.id.clone()),
            media: None,
            dc: None,
            dc_open: false,
            chat_queue: self.config.chat.clone(),
            pending_candidates: vec![],
            remote_set: false,
            negotiation_started: None,
            connected_at: None,
            local_types: BTreeSet::new(),
            last_stats: Instant::now(),
        };
        self.set_state(match role {
            Role::Callee => "waiting",
            Role::Caller => "negotiating",
        });
        let mut end = match role {
            Role::Caller => {
                self.summary.timings_ms.remote_peer = self.ms();
                self.summary.remote_peer = flow.remote.clone();
                self.offer(factory, &session, &mut flow)
                    .err()
                    .map(|e| End::Failed(format!("{e:#}")))
            }
            Role::Callee => None,
        };
        while end.is_none() {
            end = self.step(factory, &session, &mut flow, rx, &receiver);
        }
        let mut end = end.expect("loop ends with an end");
        // A hang-up before media ever flowed (the other side gave up first, or hung up while
        // connecting) is not a successful call: say so, with what we know about why.
        if let (End::Ok(reason), None) = (&end, flow.connected_at) {
            let what = match *reason {
                "remote_bye" => "the other side hung up".to_owned(),
                "remote_left" | "remote_expired" => "the other side left the room".to_owned(),
                other => format!("hung up ({other})"),
            };
            self.summary.hangup = Some((*reason).to_owned());
            end = End::Failed(if flow.negotiation_started.is_some() {
                format!(
                    "{what} before the call connected; {}",
                    self.diagnosis(&flow)
                )
            } else {
                format!("{what} before the call connected")
            });
        }

        // Cleanup, in the order that loses nothing: tell the other side, take the last
        // stats, close, leave (which ends our waiting poll), then the local media threads.
        let remote_gone = matches!(
            end,
            End::Ok("remote_bye" | "remote_left" | "remote_expired")
        );
        if let (Some(remote), false) = (&flow.remote, remote_gone) {
            let _ = session.send(Some(remote), "bye", json!({}));
        }
        if let Some(media) = &flow.media {
            self.refresh_stats(media.pc.clone());
        }
        self.summary.local_candidate_types = flow.local_types.iter().cloned().collect();
        if let Some(media) = flow.media.take() {
            media.pc.close();
            if let Some(v) = &media.video_in {
                let (n, w, h) = v.snapshot();
                self.summary.video.frames_received = n;
                self.summary.video.received_width = w;
                self.summary.video.received_height = h;
            }
            if let Some((_, _, p)) = &media.video {
                self.summary.video.frames_sent = p.frames();
            }
            drop(flow.dc.take());
            drop(media);
        }
        let _ = session.leave();
        poller.stop();
        drop(poller);
        drop(pusher);
        factory.stop_playout();
        let record_result = recorder.join();
        let mut receiver = receiver.lock().unwrap_or_else(|p| p.into_inner());
        self.summary.audio.received = receiver.analyse(self.config.expect_tone);
        if let Some(first) = receiver.first_audible {
            self.summary.timings_ms.first_audio =
                Some(first.duration_since(self.started).as_millis() as u64);
        }
        let finish = receiver.finish();
        match (end, record_result, finish) {
            (End::Failed(e), _, _) => End::Failed(e),
            (_, Ok(Err(e)), _) | (_, _, Err(e)) => End::Failed(format!("recording: {e:#}")),
            (End::Ok(r), _, _) => End::Ok(r),
        }
    }

    /// Creates the peer connection with our tracks (and, for the caller, the data channel).
    fn setup_pc(&mut self, factory: &Factory, flow: &mut Flow) -> Result<()> {
        let config = PeerConnectionConfig {
            ice_servers: self.config.ice_servers.clone(),
            ice_transport_policy: if self.config.relay_only {
                IceTransportPolicy::Relay
            } else {
                IceTransportPolicy::All
            },
        };
        let (pc, events) =
            PeerConnection::new(factory, &config).context("creating the peer connection")?;
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            for e in events {
                if tx.send(Ev::Peer(e)).is_err() {
                    break;
                }
            }
        });
        let audio = pc
            .add_audio_track("audio", "mobilertc")
            .context("adding the audio track")?;
        let video = if self.config.video {
            let source = Arc::new(VideoSource::new(factory).context("creating the video source")?);
            let track = pc
                .add_video_track(&source, "video", "mobilertc")
                .context("adding the video track")?;
            let pusher = VideoPusher::start(source.clone())?;
            Some((source, track, pusher))
        } else {
            None
        };
        if flow.role == Role::Caller {
            let (dc, dc_events) = pc
                .create_data_channel("chat", None)
                .context("creating the chat channel")?;
            self.attach_dc(dc, dc_events, flow);
        }
        flow.media = Some(Media {
            pc: Arc::new(pc),
            _audio: audio,
            video,
            remote_tracks: vec![],
            video_in: None,
        });
        flow.negotiation_started = Some(Instant::now());
        Ok(())
    }

    fn attach_dc(&self, dc: DataChannel, events: Receiver<DataChannelEvent>, flow: &mut Flow) {
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            for e in events {
                if tx.send(Ev::Dc(e)).is_err() {
                    break;
                }
            }
        });
        flow.dc = Some(dc);
    }

    fn offer(&mut self, factory: &Factory, session: &Session, flow: &mut Flow) -> Result<()> {
        self.setup_pc(factory, flow)?;
        let pc = flow.pc();
        let offer = pc.create_offer().context("creating the offer")?;
        pc.set_local_description(&offer)
            .context("applying our offer")?;
        let remote = flow.remote.clone().expect("the caller knows its callee");
        session
            .send(Some(&remote), "offer", json!({ "sdp": offer.sdp }))
            .context("sending the offer")?;
        self.summary.timings_ms.offer_sent = self.ms();
        Ok(())
    }

    fn answer(
        &mut self,
        factory: &Factory,
        session: &Session,
        flow: &mut Flow,
        sdp: &str,
    ) -> Result<()> {
        self.setup_pc(factory, flow)?;
        let pc = flow.pc();
        pc.set_remote_description(&SessionDescription {
            kind: SdpType::Offer,
            sdp: sdp.to_owned(),
        })
        .context("applying the remote offer")?;
        flow.remote_set = true;
        self.flush_candidates(flow);
        let answer = pc.create_answer().context("creating the answer")?;
        pc.set_local_description(&answer)
            .context("applying our answer")?;
        let remote = flow.remote.clone().expect("the callee knows its caller");
        session
            .send(Some(&remote), "answer", json!({ "sdp": answer.sdp }))
            .context("sending the answer")?;
        self.summary.timings_ms.answer_sent = self.ms();
        Ok(())
    }

    fn flush_candidates(&self, flow: &mut Flow) {
        let pc = flow.pc();
        for c in std::mem::take(&mut flow.pending_candidates) {
            if let Err(e) = pc.add_ice_candidate(&c) {
                (self.on_event)(CallEvent::Log(format!("remote candidate refused: {e}")));
            }
        }
    }

    fn send_chat_line(&mut self, flow: &Flow, text: String) {
        match flow.dc.as_ref().map(|dc| dc.send_text(&text)) {
            Some(Ok(())) => self.summary.chat.sent.push(text),
            Some(Err(e)) => (self.on_event)(CallEvent::Log(format!("chat not sent: {e}"))),
            None => {}
        }
    }

    /// One event (or a timer tick): returns how the call ended, if it did.
    fn step(
        &mut self,
        factory: &Factory,
        session: &Session,
        flow: &mut Flow,
        rx: &Receiver<Ev>,
        receiver: &Arc<Mutex<crate::audio::Receiver>>,
    ) -> Option<End> {
        if let Some(end) = self.timers(flow, receiver) {
            return Some(end);
        }
        let ev = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => return None,
            Err(RecvTimeoutError::Disconnected) => {
                return Some(End::Failed("internal: event channel closed".into()))
            }
        };
        match ev {
            Ev::Cmd(Cmd::HangUp) => return Some(End::Ok("local")),
            Ev::Cmd(Cmd::Chat(text)) => {
                if flow.dc_open {
                    self.send_chat_line(flow, text);
                } else {
                    flow.chat_queue.push(text);
                }
            }
            Ev::Sig(Incoming::Failed(e)) => {
                return Some(End::Failed(format!("signaling: {e}")));
            }
            Ev::Sig(Incoming::Message(m)) => {
                return self
                    .on_signal(factory, session, flow, m)
                    .unwrap_or_else(|e| Some(End::Failed(format!("{e:#}"))));
            }
            Ev::Peer(e) => return self.on_peer(session, flow, e),
            Ev::Dc(DataChannelEvent::Open) => {
                flow.dc_open = true;
                self.summary.timings_ms.chat_open = self.ms();
                (self.on_event)(CallEvent::ChatOpen);
                for line in std::mem::take(&mut flow.chat_queue) {
                    self.send_chat_line(flow, line);
                }
            }
            Ev::Dc(DataChannelEvent::Message(Message::Text(text))) => {
                self.summary.chat.received.push(text.clone());
                self.status
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .chat_received += 1;
                (self.on_event)(CallEvent::Chat(text));
            }
            Ev::Dc(DataChannelEvent::Closed) => flow.dc_open = false,
            Ev::Dc(_) => {}
        }
        None
    }

    fn timers(
        &mut self,
        flow: &mut Flow,
        receiver: &Arc<Mutex<crate::audio::Receiver>>,
    ) -> Option<End> {
        if let (Some(since), None) = (flow.negotiation_started, flow.connected_at) {
            if since.elapsed() > self.config.connect_timeout {
                return Some(End::Failed(self.connect_failure(flow)));
            }
        }
        if flow.media.is_none() && flow.role == Role::Callee {
            if let Some(wait) = self.config.wait_timeout {
                if self.started.elapsed() > wait {
                    return Some(End::Failed(format!(
                        "nobody called within {} s (is the other app in room {:?} on the same server?)",
                        wait.as_secs(),
                        self.config.room
                    )));
                }
            }
        }
        if let (Some(at), Some(duration)) = (flow.connected_at, self.config.duration) {
            if at.elapsed() >= duration {
                return Some(End::Ok("duration"));
            }
        }
        if flow.last_stats.elapsed() >= Duration::from_secs(1) {
            flow.last_stats = Instant::now();
            if let Some(media) = &flow.media {
                let pc = media.pc.clone();
                self.refresh_stats(pc);
            }
            let level = receiver
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .analyse(None)
                .level;
            let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
            s.audio_level = level;
            s.elapsed_s = self.started.elapsed().as_secs_f64();
            if let Some(v) = flow.media.as_ref().and_then(|m| m.video_in.as_ref()) {
                s.frames_received = v.snapshot().0;
            }
        }
        None
    }

    fn connect_failure(&self, flow: &Flow) -> String {
        format!(
            "not connected within {} s: {}",
            self.config.connect_timeout.as_secs(),
            self.diagnosis(flow)
        )
    }

    /// Why no candidate pair worked, as far as we can tell.
    fn diagnosis(&self, flow: &Flow) -> String {
        let types: Vec<&str> = flow.local_types.iter().map(String::as_str).collect();
        let mut why = format!(
            "no ICE candidate pair worked (local candidates gathered: {})",
            if types.is_empty() {
                "none".into()
            } else {
                types.join(", ")
            }
        );
        let has_turn = self
            .config
            .ice_servers
            .iter()
            .any(|s| s.urls.iter().any(|u| u.starts_with("turn")));
        if has_turn && !flow.local_types.contains("relay") {
            why.push_str(
                "; no relay candidate: the TURN server refused or did not answer the allocation \
                 (check the --turn URL, user and password)",
            );
        } else if self.config.relay_only && !has_turn {
            why.push_str("; --relay-only needs a --turn server");
        } else if self.summary.timings_ms.answer_received.is_none()
            && self.summary.timings_ms.answer_sent.is_none()
        {
            why.push_str("; the offer/answer exchange did not complete");
        }
        why
    }

    fn refresh_stats(&mut self, pc: Arc<PeerConnection>) {
        let Ok(stats) = pc.stats() else { return };
        let mut pair_info = None;
        if let Some(pair) = &stats.selected_pair {
            let t = |c: &mobilertc::Candidate| {
                c.candidate_type
                    .map_or("unknown", |t| t.as_str())
                    .to_owned()
            };
            let info = PairInfo {
                local_type: t(&pair.local),
                remote_type: t(&pair.remote),
                local_address: format!("{}:{}", pair.local.address, pair.local.port),
                remote_address: format!("{}:{}", pair.remote.address, pair.remote.port),
                protocol: pair.local.protocol.clone(),
                relay_protocol: pair.local.relay_protocol.clone(),
            };
            self.summary.connection = Some(info.kind().into());
            self.summary.selected_pair = Some(info.clone());
            pair_info = Some(info);
            if let Some(rtt) = pair.current_round_trip_time {
                self.summary.rtt_ms = Some(rtt * 1000.0);
            }
        }
        let a = &mut self.summary.audio;
        let v = &mut self.summary.video;
        for o in &stats.outbound_rtp {
            match o.kind {
                Some(TrackKind::Audio) => {
                    a.sent_bytes = o.bytes_sent;
                    a.sent_packets = o.packets_sent;
                }
                Some(TrackKind::Video) => v.sent_bytes = o.bytes_sent,
                None => {}
            }
        }
        for i in &stats.inbound_rtp {
            match i.kind {
                Some(TrackKind::Audio) => {
                    a.received_bytes = i.bytes_received;
                    a.received_packets = i.packets_received;
                    a.received_level = i.audio_level.or(a.received_level);
                }
                Some(TrackKind::Video) => v.received_bytes = i.bytes_received,
                None => {}
            }
        }
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if pair_info.is_some() {
            s.pair = pair_info;
        }
        s.rtt_ms = self.summary.rtt_ms;
        s.audio_sent_bytes = self.summary.audio.sent_bytes;
        s.audio_received_bytes = self.summary.audio.received_bytes;
    }

    fn on_signal(
        &mut self,
        factory: &Factory,
        session: &Session,
        flow: &mut Flow,
        m: crate::signal::Envelope,
    ) -> Result<Option<End>> {
        let from_remote = flow.remote.as_deref() == Some(m.from.as_str());
        match m.kind.as_str() {
            "offer" if flow.media.is_none() && flow.role == Role::Callee => {
                let sdp = m.data["sdp"].as_str().context("offer without sdp")?;
                flow.remote = Some(m.from.clone());
                self.summary.remote_peer = Some(m.from.clone());
                self.summary.timings_ms.remote_peer = self.ms();
                self.summary.timings_ms.offer_received = self.ms();
                self.set_state("negotiating");
                self.answer(factory, session, flow, sdp)?;
            }
            "offer" => (self.on_event)(CallEvent::Log(format!(
                "ignoring an offer from {} (already in a call; renegotiation is not supported)",
                m.from
            ))),
            "answer" if from_remote && flow.role == Role::Caller && !flow.remote_set => {
                let sdp = m.data["sdp"].as_str().context("answer without sdp")?;
                flow.pc()
                    .set_remote_description(&SessionDescription {
                        kind: SdpType::Answer,
                        sdp: sdp.to_owned(),
                    })
                    .context("applying the remote answer")?;
                flow.remote_set = true;
                self.summary.timings_ms.answer_received = self.ms();
                self.flush_candidates(flow);
            }
            "candidate" if from_remote => {
                let candidate = m.data["candidate"].as_str().unwrap_or_default();
                if candidate.is_empty() {
                    return Ok(None); // end of candidates
                }
                let c = IceCandidate {
                    sdp_mid: m.data["sdpMid"].as_str().unwrap_or_default().to_owned(),
                    sdp_mline_index: m.data["sdpMLineIndex"].as_i64().unwrap_or(0) as i32,
                    candidate: candidate.to_owned(),
                };
                if flow.remote_set {
                    if let Err(e) = flow.pc().add_ice_candidate(&c) {
                        (self.on_event)(CallEvent::Log(format!("remote candidate refused: {e}")));
                    }
                } else {
                    flow.pending_candidates.push(c);
                }
            }
            "bye" if from_remote => return Ok(Some(End::Ok("remote_bye"))),
            "leave" if from_remote => {
                let expired = m.data["reason"] == "expired";
                return Ok(Some(End::Ok(if expired {
                    "remote_expired"
                } else {
                    "remote_left"
                })));
            }
            "chat" => {
                // Room chat through the server (the data channel is the main path).
                if let Some(text) = m.data["text"].as_str() {
                    self.summary.chat.received.push(text.to_owned());
                    (self.on_event)(CallEvent::Chat(text.to_owned()));
                }
            }
            "join" => (self.on_event)(CallEvent::Log(format!("peer {} joined the room", m.from))),
            other => (self.on_event)(CallEvent::Log(format!(
                "ignoring {other} from {} (not our call)",
                m.from
            ))),
        }
        Ok(None)
    }

    fn on_peer(&mut self, session: &Session, flow: &mut Flow, e: PeerEvent) -> Option<End> {
        match e {
            PeerEvent::IceCandidate(c) => {
                if let Some(t) = candidate_type(&c.candidate) {
                    flow.local_types.insert(t.to_owned());
                }
                let remote = flow.remote.clone()?;
                let data = json!({
                    "candidate": c.candidate,
                    "sdpMid": c.sdp_mid,
                    "sdpMLineIndex": c.sdp_mline_index,
                });
                if let Err(e) = session.send(Some(&remote), "candidate", data) {
                    return Some(End::Failed(format!("sending a candidate: {e}")));
                }
            }
            PeerEvent::IceConnectionState(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                self.summary
                    .timings_ms
                    .ice_connected
                    .get_or_insert(self.started.elapsed().as_millis() as u64);
            }
            PeerEvent::ConnectionState(state) => {
                (self.on_event)(CallEvent::State(state));
                match state {
                    PeerConnectionState::Connected if flow.connected_at.is_none() => {
                        flow.connected_at = Some(Instant::now());
                        self.summary.timings_ms.connected = self.ms();
                        self.set_state("connected");
                        let pc = flow.pc();
                        self.refresh_stats(pc);
                        (self.on_event)(CallEvent::Connected(self.summary.selected_pair.clone()));
                    }
                    PeerConnectionState::Failed => {
                        return Some(End::Failed(format!(
                            "the connection failed ({})",
                            self.connect_failure(flow)
                        )));
                    }
                    _ => {}
                }
            }
            PeerEvent::DataChannel(dc) => {
                // The callee's end of the caller's "chat" channel.
                let events = dc.events();
                self.attach_dc(dc, events, flow);
            }
            PeerEvent::Track(track) => {
                if let Some(media) = flow.media.as_mut() {
                    if track.kind() == TrackKind::Video && media.video_in.is_none() {
                        media.video_in = VideoCounter::start(&track).ok();
                    }
                    media.remote_tracks.push(track);
                }
            }
            _ => {}
        }
        None
    }
}

struct Flow {
    role: Role,
    remote: Option<String>,
    media: Option<Media>,
    dc: Option<DataChannel>,
    dc_open: bool,
    chat_queue: Vec<String>,
    pending_candidates: Vec<IceCandidate>,
    remote_set: bool,
    negotiation_started: Option<Instant>,
    connected_at: Option<Instant>,
    local_types: BTreeSet<String>,
    last_stats: Instant,
}

impl Flow {
    fn pc(&self) -> Arc<PeerConnection> {
        self.media
            .as_ref()
            .expect("peer connection exists")
            .pc
            .clone()
    }
}

/// The `typ` of a `candidate:` line.
fn candidate_type(candidate: &str) -> Option<&str> {
    let mut words = candidate.split_whitespace();
    words.find(|w| *w == "typ")?;
    words.next()
}

/// The error a signaling failure maps to, for callers that want the code.
pub fn signal_code(err: &anyhow::Error) -> Option<&str> {
    err.downcast_ref::<SignalError>()
        .and_then(SignalError::code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_server_specs() {
        assert_eq!(
            parse_stun("stun:1.2.3.4:3478").unwrap().urls,
            ["stun:1.2.3.4:3478"]
        );
        assert_eq!(
            parse_stun("1.2.3.4:3478").unwrap().urls,
            ["stun:1.2.3.4:3478"]
        );
        assert!(parse_stun("http://x").is_err());
        let t = parse_turn("turn:1.2.3.4:3478?transport=udp,alice,s,e,cret").unwrap();
        assert_eq!(t.username, "alice");
        assert_eq!(t.credential, "s,e,cret");
        for bad in ["turn:1.2.3.4", "turn:1.2.3.4,alice", "stun:x,a,b", ",a,b"] {
            let err = parse_turn(bad).unwrap_err().to_string();
            assert!(err.contains("TURN"), "{bad}: {err}");
        }
    }

    #[test]
    fn candidate_types_are_read_from_the_line() {
        assert_eq!(
            candidate_type("candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host generation 0"),
            Some("host")
        );
        assert_eq!(
            candidate_type("candidate:1 1 udp 1 1.2.3.4 5 typ relay raddr 0.0.0.0"),
            Some("relay")
        );
        assert_eq!(candidate_type("garbage"), None);
    }
}
