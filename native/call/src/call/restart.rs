//! ICE restart during a call: after a network change, one side restarts ICE and re-offers
//! through signaling; the other answers as it answered the first offer. Either side may
//! re-offer. Should both do it at once (both in have-local-offer), the callee is the polite
//! one: it rolls its offer back and answers the caller's, whose offer restarts ICE for both;
//! the caller ignores the callee's offer and waits for its answer.

use anyhow::{Context, Result};
use mobilertc::{SdpType, SessionDescription};
use serde_json::json;

use super::runner::{Flow, Runner};
use super::CallEvent;
use crate::signal::Session;
use crate::summary::Role;

impl Runner {
    /// Restarts ICE and sends the new offer, once the first offer/answer is done.
    pub(super) fn restart_ice(
        &mut self,
        session: &Session,
        flow: &mut Flow,
        reason: &str,
    ) -> Result<()> {
        let (Some(remote), true) = (flow.remote.clone(), flow.media.is_some() && flow.remote_set)
        else {
            (self.on_event)(CallEvent::Log(format!(
                "network change ({reason}) before the call was negotiated: nothing to restart"
            )));
            return Ok(());
        };
        if flow.reoffer_pending {
            (self.on_event)(CallEvent::Log(format!(
                "network change ({reason}): an ICE restart is already under way"
            )));
            return Ok(());
        }
        let pc = flow.pc();
        pc.restart_ice().context("restarting ICE")?;
        let offer = pc
            .create_offer()
            .context("creating the ICE restart offer")?;
        pc.set_local_description(&offer)
            .context("applying our ICE restart offer")?;
        session
            .send(Some(&remote), "offer", json!({ "sdp": offer.sdp }))
            .context("sending the ICE restart offer")?;
        flow.reoffer_pending = true;
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ice_restarts += 1;
        (self.on_event)(CallEvent::Log(format!(
            "network change ({reason}): ICE restarted, new offer sent"
        )));
        Ok(())
    }

    /// The other side re-offered during the call (its ICE restart): answer it.
    pub(super) fn answer_reoffer(
        &mut self,
        session: &Session,
        flow: &mut Flow,
        sdp: &str,
    ) -> Result<()> {
        let pc = flow.pc();
        if flow.reoffer_pending {
            if flow.role == Role::Caller {
                (self.on_event)(CallEvent::Log(
                    "both sides re-offered: keeping ours, the callee answers it".into(),
                ));
                return Ok(());
            }
            pc.set_local_description(&SessionDescription {
                kind: SdpType::Rollback,
                sdp: String::new(),
            })
            .context("rolling back our ICE restart offer")?;
            flow.reoffer_pending = false;
        }
        pc.set_remote_description(&SessionDescription {
            kind: SdpType::Offer,
            sdp: sdp.to_owned(),
        })
        .context("applying the other side's new offer")?;
        let answer = pc.create_answer().context("answering the new offer")?;
        pc.set_local_description(&answer)
            .context("applying our new answer")?;
        let remote = flow.remote.clone().context("a re-offer without a peer")?;
        session
            .send(Some(&remote), "answer", json!({ "sdp": answer.sdp }))
            .context("sending the new answer")?;
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .reoffers_answered += 1;
        (self.on_event)(CallEvent::Log(
            "the other side re-offered (ICE restart): answered".into(),
        ));
        Ok(())
    }

    /// The answer to our ICE restart offer.
    pub(super) fn apply_reoffer_answer(&mut self, flow: &mut Flow, sdp: &str) -> Result<()> {
        flow.pc()
            .set_remote_description(&SessionDescription {
                kind: SdpType::Answer,
                sdp: sdp.to_owned(),
            })
            .context("applying the answer to our ICE restart")?;
        flow.reoffer_pending = false;
        (self.on_event)(CallEvent::Log(
            "ICE restart answered: checking the new candidates".into(),
        ));
        Ok(())
    }
}

impl Runner {
    /// New native renderers: the old ones leave what they showed, the new ones show our
    /// video source and the other side's video track when those exist (else when they come).
    pub(super) fn set_renderers(&mut self, flow: &Flow, renderers: crate::devices::Renderers) {
        for old in [&self.renderers.local, &self.renderers.remote]
            .into_iter()
            .flatten()
        {
            old.detach();
        }
        self.renderers = renderers;
        let Some(media) = &flow.media else { return };
        if let (Some(r), Some((source, _, _))) = (&self.renderers.local, &media.video) {
            if let Err(e) = r.attach_local(source) {
                (self.on_event)(CallEvent::Log(format!("self view not shown: {e}")));
            }
        }
        let remote_video = media
            .remote_tracks
            .iter()
            .find(|t| t.kind() == mobilertc::TrackKind::Video);
        if let (Some(r), Some(track)) = (&self.renderers.remote, remote_video) {
            if let Err(e) = r.attach_remote(track) {
                (self.on_event)(CallEvent::Log(format!("remote video not shown: {e}")));
            }
        }
    }
}
