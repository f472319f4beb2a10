//! The call: the classic chat-room flow over the signaling client and mobilertc.
//!
//! One thread runs the call. Everything that can happen — signaling messages, peer events,
//! data-channel events, commands from the app — arrives on one channel, so the flow reads
//! top to bottom and no state is shared between callbacks.
//!
//! This module holds the public face (config, events, [`Call`], [`CallHandle`]); the call
//! thread's [`runner`] joins and cleans up, [`negotiate`] does offer/answer and ICE,
//! [`events`] dispatches one event at a time, [`stats`] reads the stats report.

mod events;
mod ice;
mod negotiate;
mod restart;
mod runner;
mod stats;

use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use mobilertc::{DataChannelEvent, IceServer, PeerConnectionState, PeerEvent};

use crate::audio::AudioInput;
use crate::devices::{Devices, Renderers};
use crate::signal::Incoming;
use crate::summary::{PairInfo, Role, Status, Summary};

pub use ice::{parse_stun, parse_turn, signal_code};
use runner::Runner;

/// Everything a call needs to know.
#[derive(Debug, Clone)]
pub struct CallConfig {
    /// Signaling server base URL, e.g. `http://127.0.0.1:8080` or `https://host:8443`.
    pub server: String,
    /// Other instances of the same deployment (servers sharing one Redis), moved to in turn
    /// when the one in use stops answering (docs/signaling.md, *Several instances*).
    pub more_servers: Vec<String>,
    /// A PEM certificate to trust for an `https://` server besides the public CAs (e.g. the
    /// server's self-signed one, `mobilertc-signaling --tls-cert-out`).
    pub server_cert: Option<PathBuf>,
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
            more_servers: vec![],
            server_cert: None,
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
    MuteMic(bool),
    Camera(bool),
    /// The device changed networks: restart ICE and re-offer (the reason, for the log).
    RestartIce(String),
    /// New native renderers (attached to what exists now and to what comes later).
    Renderers(Renderers),
}

enum Ev {
    Sig(Incoming),
    Peer(PeerEvent),
    Dc(DataChannelEvent),
    Cmd(Cmd),
    /// A device stopped working (the call goes on without it).
    DeviceError(String),
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

    /// Mutes the microphone (the audio track sends silence) or unmutes it.
    pub fn set_mic_muted(&self, muted: bool) {
        let _ = self.tx.send(Ev::Cmd(Cmd::MuteMic(muted)));
    }

    /// Turns the camera on or off (off: no frames are taken, the track sends black).
    pub fn set_camera_on(&self, on: bool) {
        let _ = self.tx.send(Ev::Cmd(Cmd::Camera(on)));
    }

    /// Replaces the native renderers: the local one shows our video source, the remote one
    /// the other side's video track, from now on (the previous ones are detached).
    pub fn set_renderers(&self, renderers: Renderers) {
        let _ = self.tx.send(Ev::Cmd(Cmd::Renderers(renderers)));
    }

    /// The device changed networks (`reason`, e.g. "wifi -> cellular", goes to the log):
    /// restart ICE and send a new offer through signaling; the other side answers it as it
    /// answered the first one, and the call moves to the candidates gathered on the new
    /// network. Either side may do this (the callee re-offers too; should both offer at
    /// once, the callee rolls its offer back and answers the caller's). Before the first
    /// offer/answer is done there is nothing to restart: the call logs that and goes on.
    /// Progress shows as `Log` events and in [`Status::ice_restarts`].
    pub fn restart_ice(&self, reason: &str) -> Result<()> {
        self.tx
            .send(Ev::Cmd(Cmd::RestartIce(reason.to_owned())))
            .map_err(|_| anyhow!("the call has ended"))
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
        Call::start_with(config, Devices::default(), on_event)
    }

    /// [`Call::start`] with the app's own [`Devices`] (microphone, speaker, camera, a video
    /// sink for a UI) instead of the synthetic sources.
    pub fn start_with(
        config: CallConfig,
        devices: Devices,
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
        let runner = Runner::new(
            config,
            tx.clone(),
            status.clone(),
            Box::new(on_event),
            devices,
        );
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

    /// See [`CallHandle::restart_ice`].
    pub fn restart_ice(&self, reason: &str) -> Result<()> {
        self.handle().restart_ice(reason)
    }

    /// A cloneable handle for other threads (a stdin reader, a UI): chat, hang-up, mute,
    /// camera, ICE restart.
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
