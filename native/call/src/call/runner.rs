//! The call thread: joins the room, runs the event loop, and always cleans up.

use std::collections::BTreeSet;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use mobilertc::{
    AudioDevice, DataChannel, Factory, FactoryConfig, IceCandidate, PeerConnection, RemoteTrack,
    VideoSource, VideoTrack,
};
use serde_json::json;

use super::{CallConfig, CallEvent, Ev};
use crate::audio::{AudioInput, AudioPusher, SAMPLE_RATE};
use crate::devices::{
    Camera, Devices, MicSink, Microphone, PlatformMedia, Renderers, Running, Speaker, VideoSink,
};
use crate::signal::{Incoming, Session};
use crate::summary::{Role, Status, Summary};
use crate::video::{VideoCounter, VideoPusher};

/// Media and channel handles of the peer connection, dropped together.
pub(super) struct Media {
    pub(super) pc: Arc<PeerConnection>,
    /// Our audio: held for the call's length; muted with `set_enabled(false)`.
    pub(super) audio: mobilertc::AudioTrack,
    /// Our video: held for the call's length; its pusher counts the frames sent (none for
    /// a platform's source, which its own capturer feeds).
    pub(super) video: Option<(Arc<VideoSource>, VideoTrack, Option<VideoPusher>)>,
    pub(super) remote_tracks: Vec<RemoteTrack>,
    pub(super) video_in: Option<VideoCounter>,
}

pub(super) struct Runner {
    pub(super) config: CallConfig,
    pub(super) tx: Sender<Ev>,
    pub(super) status: Arc<Mutex<Status>>,
    pub(super) on_event: Box<dyn Fn(CallEvent) + Send>,
    pub(super) started: Instant,
    pub(super) summary: Summary,
    /// The app's devices, each taken when the call starts using it.
    pub(super) microphone: Option<Box<dyn Microphone>>,
    pub(super) speaker: Option<Box<dyn Speaker>>,
    pub(super) camera: Option<Box<dyn Camera>>,
    pub(super) video_sink: Option<VideoSink>,
    /// The platform's factory and camera source, when the app made them.
    pub(super) platform: Option<PlatformMedia>,
    pub(super) renderers: Renderers,
}

pub(super) enum End {
    Ok(&'static str),
    Failed(String),
}

impl Runner {
    pub(super) fn new(
        config: CallConfig,
        tx: Sender<Ev>,
        status: Arc<Mutex<Status>>,
        on_event: Box<dyn Fn(CallEvent) + Send>,
        devices: Devices,
    ) -> Runner {
        let mut summary = Summary {
            room: config.room.clone(),
            ..Summary::default()
        };
        let platform_audio = devices
            .platform
            .as_ref()
            .is_some_and(|p| p.factory.audio_device() == AudioDevice::Platform);
        summary.audio.input = match (&devices.microphone, &config.audio) {
            _ if platform_audio => "platform device".into(),
            (Some(mic), _) => format!("mic:{}", mic.describe()),
            (None, AudioInput::Tone(hz)) => format!("tone:{hz}"),
            (None, AudioInput::Wav(p)) => format!("wav:{}", p.display()),
            (None, AudioInput::None) => "none".into(),
        };
        summary.audio.output = devices.speaker.as_ref().map(|s| s.describe());
        summary.audio.recording = config.record.as_ref().map(|p| p.display().to_string());
        let platform_video = devices
            .platform
            .as_ref()
            .is_some_and(|p| p.video_source.is_some());
        summary.video.sending = config.video || devices.camera.is_some() || platform_video;
        summary.video.source = match &devices.camera {
            _ if platform_video => Some("platform camera".into()),
            Some(camera) => Some(camera.describe()),
            None if config.video => Some(crate::video::PatternCamera::new().describe()),
            None => None,
        };
        Runner {
            config,
            tx,
            status,
            on_event,
            started: Instant::now(),
            summary,
            microphone: devices.microphone,
            speaker: devices.speaker,
            camera: devices.camera,
            video_sink: devices.video_sink,
            platform: devices.platform,
            renderers: devices.renderers,
        }
    }

    pub(super) fn ms(&self) -> Option<u64> {
        Some(self.started.elapsed().as_millis() as u64)
    }

    pub(super) fn set_state(&self, state: &str) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        s.state = state.into();
        s.elapsed_s = self.started.elapsed().as_secs_f64();
    }

    pub(super) fn run(mut self, rx: Receiver<Ev>) -> Summary {
        let made = match self.platform.as_ref() {
            Some(p) => Ok(p.factory.clone()),
            None => Factory::new(FactoryConfig {
                sample_rate: SAMPLE_RATE,
                channels: 1,
                // A tone or a file goes out as made (docs/calling-app.md states its level); a
                // microphone gets libwebrtc's echo cancellation, gain control and noise
                // suppression.
                raw_audio: self.microphone.is_none(),
            }),
        };
        let end = match made {
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
    pub(super) fn call(&mut self, factory: &Factory, rx: &Receiver<Ev>) -> End {
        let servers: Vec<String> = std::iter::once(&self.config.server)
            .chain(&self.config.more_servers)
            .cloned()
            .collect();
        let session = match Session::join_any(
            &servers,
            &self.config.room,
            self.config.name.as_deref(),
            self.config.server_cert.as_deref(),
        ) {
            Ok(s) => s,
            Err(e) => return End::Failed(format!("joining room {}: {e}", self.config.room)),
        };
        // The server's STUN/TURN servers (short-lived TURN credentials) come after the ones
        // given on the command line.
        self.config.ice_servers.extend(session.joined.ice_servers());
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
        // A speaker gets the playout on its own thread: the recorder waits for the analysis
        // (which holds the receiver's lock while it scans), the speaker must not.
        let playout = match self.speaker.take() {
            Some(mut speaker) => {
                let (tx, rx) = channel();
                std::thread::spawn(move || {
                    for frame in playout {
                        speaker.play(&frame.samples);
                        if tx.send(frame).is_err() {
                            break;
                        }
                    }
                });
                rx
            }
            None => playout,
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
        // A platform's device captures by itself; else the microphone when there is one,
        // else the configured synthetic input.
        let capture: Result<Running> = match self.microphone.take() {
            _ if factory.audio_device() == AudioDevice::Platform => Ok(Box::new(())),
            Some(mic) => mic.start(MicSink::new(factory)),
            None => AudioPusher::start(factory, &self.config.audio).map(|p| Box::new(p) as Running),
        };
        let pusher = match capture {
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
            mic_muted: false,
            camera_on: true,
            reoffer_pending: false,
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
            if let Some((_, _, Some(p))) = &media.video {
                self.summary.video.frames_sent = p.frames();
            }
            for r in [&self.renderers.local, &self.renderers.remote]
                .into_iter()
                .flatten()
            {
                r.detach();
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
}

pub(super) struct Flow {
    pub(super) role: Role,
    pub(super) remote: Option<String>,
    pub(super) media: Option<Media>,
    pub(super) dc: Option<DataChannel>,
    pub(super) dc_open: bool,
    pub(super) chat_queue: Vec<String>,
    pub(super) pending_candidates: Vec<IceCandidate>,
    pub(super) remote_set: bool,
    pub(super) negotiation_started: Option<Instant>,
    pub(super) connected_at: Option<Instant>,
    pub(super) local_types: BTreeSet<String>,
    pub(super) last_stats: Instant,
    /// Set by the app at any time; applied to the tracks when they exist.
    pub(super) mic_muted: bool,
    pub(super) camera_on: bool,
    /// We sent a new offer during the call (an ICE restart) and wait for its answer.
    pub(super) reoffer_pending: bool,
}

impl Flow {
    pub(super) fn pc(&self) -> Arc<PeerConnection> {
        self.media
            .as_ref()
            .expect("peer connection exists")
            .pc
            .clone()
    }
}
