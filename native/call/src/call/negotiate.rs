//! Offer/answer, ICE candidates and the data channel: the negotiation half of the call.

use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use mobilertc::{
    DataChannel, DataChannelEvent, Factory, IceCandidate, IceTransportPolicy, PeerConnection,
    PeerConnectionConfig, SdpType, SessionDescription, VideoSource,
};
use serde_json::json;

use super::runner::{End, Flow, Media, Runner};
use super::{CallEvent, Ev};
use crate::devices::Camera;
use crate::signal::Session;
use crate::summary::Role;
use crate::video::{PatternCamera, VideoPusher};

impl Runner {
    /// Creates the peer connection with our tracks (and, for the caller, the data channel).
    pub(super) fn setup_pc(&mut self, factory: &Factory, flow: &mut Flow) -> Result<()> {
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
        audio.set_enabled(!flow.mic_muted);
        let camera: Option<Box<dyn Camera>> = match self.camera.take() {
            Some(camera) => Some(camera),
            None if self.config.video => Some(Box::new(PatternCamera::new())),
            None => None,
        };
        let platform_source = self.platform.as_ref().and_then(|p| p.video_source.clone());
        let video = match (platform_source, camera) {
            (Some(source), _) => {
                // The platform's capturer feeds it (Android: the Java camera).
                let track = pc
                    .add_video_track(&source, "video", "mobilertc")
                    .context("adding the camera's video track")?;
                track.set_enabled(flow.camera_on);
                Some((source, track, None))
            }
            (None, Some(camera)) => {
                let source =
                    Arc::new(VideoSource::new(factory).context("creating the video source")?);
                let track = pc
                    .add_video_track(&source, "video", "mobilertc")
                    .context("adding the video track")?;
                let tx = self.tx.clone();
                let pusher = VideoPusher::start(
                    source.clone(),
                    camera,
                    self.video_sink.clone(),
                    move |e| {
                        let _ = tx.send(Ev::DeviceError(format!("{e:#}; video stopped")));
                    },
                )?;
                pusher.set_enabled(flow.camera_on);
                track.set_enabled(flow.camera_on);
                Some((source, track, Some(pusher)))
            }
            (None, None) => None,
        };
        if let (Some(r), Some((source, _, _))) = (&self.renderers.local, &video) {
            if let Err(e) = r.attach_local(source) {
                (self.on_event)(CallEvent::Log(format!("self view not shown: {e}")));
            }
        }
        if flow.role == Role::Caller {
            let (dc, dc_events) = pc
                .create_data_channel("chat", None)
                .context("creating the chat channel")?;
            self.attach_dc(dc, dc_events, flow);
        }
        flow.media = Some(Media {
            pc: Arc::new(pc),
            audio,
            video,
            remote_tracks: vec![],
            video_in: None,
        });
        flow.negotiation_started = Some(Instant::now());
        Ok(())
    }

    pub(super) fn attach_dc(
        &self,
        dc: DataChannel,
        events: Receiver<DataChannelEvent>,
        flow: &mut Flow,
    ) {
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

    pub(super) fn offer(
        &mut self,
        factory: &Factory,
        session: &Session,
        flow: &mut Flow,
    ) -> Result<()> {
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

    pub(super) fn answer(
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

    pub(super) fn flush_candidates(&self, flow: &mut Flow) {
        let pc = flow.pc();
        for c in std::mem::take(&mut flow.pending_candidates) {
            if let Err(e) = pc.add_ice_candidate(&c) {
                (self.on_event)(CallEvent::Log(format!("remote candidate refused: {e}")));
            }
        }
    }

    pub(super) fn send_chat_line(&mut self, flow: &Flow, text: String) {
        match flow.dc.as_ref().map(|dc| dc.send_text(&text)) {
            Some(Ok(())) => self.summary.chat.sent.push(text),
            Some(Err(e)) => (self.on_event)(CallEvent::Log(format!("chat not sent: {e}"))),
            None => {}
        }
    }

    pub(super) fn on_signal(
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
            "offer" if from_remote && flow.remote_set => {
                let sdp = m.data["sdp"].as_str().context("offer without sdp")?;
                self.answer_reoffer(session, flow, sdp)?;
            }
            "offer" => (self.on_event)(CallEvent::Log(format!(
                "ignoring an offer from {} (already in a call with {})",
                m.from,
                flow.remote.as_deref().unwrap_or("nobody yet")
            ))),
            "answer" if from_remote && flow.reoffer_pending => {
                let sdp = m.data["sdp"].as_str().context("answer without sdp")?;
                self.apply_reoffer_answer(flow, sdp)?;
            }
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
}
