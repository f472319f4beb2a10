//! One step of the call loop: a timer tick or one event (command, signal, peer, channel).

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mobilertc::{
    DataChannelEvent, Factory, IceConnectionState, Message, PeerConnectionState, PeerEvent,
    TrackKind,
};
use serde_json::json;

use super::ice::candidate_type;
use super::runner::{End, Flow, Runner};
use super::{CallEvent, Cmd, Ev};
use crate::signal::{Incoming, Session};
use crate::summary::Role;
use crate::video::VideoCounter;

impl Runner {
    /// One event (or a timer tick): returns how the call ended, if it did.
    pub(super) fn step(
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
            Ev::Cmd(Cmd::MuteMic(muted)) => {
                flow.mic_muted = muted;
                if let Some(media) = &flow.media {
                    media.audio.set_enabled(!muted);
                }
                self.status
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .mic_muted = muted;
            }
            Ev::Cmd(Cmd::Camera(on)) => {
                flow.camera_on = on;
                if let Some((_, track, pusher)) = flow.media.as_ref().and_then(|m| m.video.as_ref())
                {
                    if let Some(pusher) = pusher {
                        pusher.set_enabled(on);
                    }
                    track.set_enabled(on);
                }
                self.status
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .camera_off = !on;
            }
            Ev::Cmd(Cmd::Renderers(renderers)) => self.set_renderers(flow, renderers),
            Ev::Cmd(Cmd::RestartIce(reason)) => {
                if let Err(e) = self.restart_ice(session, flow, &reason) {
                    return Some(End::Failed(format!("{e:#}")));
                }
            }
            Ev::DeviceError(text) => (self.on_event)(CallEvent::Log(text)),
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

    pub(super) fn timers(
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

    pub(super) fn on_peer(
        &mut self,
        session: &Session,
        flow: &mut Flow,
        e: PeerEvent,
    ) -> Option<End> {
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
                        media.video_in = VideoCounter::start(&track, self.video_sink.clone()).ok();
                        if let Some(r) = &self.renderers.remote {
                            if let Err(e) = r.attach_remote(&track) {
                                (self.on_event)(CallEvent::Log(format!(
                                    "remote video not shown: {e}"
                                )));
                            }
                        }
                    }
                    media.remote_tracks.push(track);
                }
            }
            _ => {}
        }
        None
    }
}
