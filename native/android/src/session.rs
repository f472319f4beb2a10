//! What the activity drives, without JNI: at most one call at a time, its events turned into
//! `(kind, text)` pairs for the UI, chat, hang-up and a status line. The JNI glue
//! ([`crate::jni_glue`]) is a thin layer over this, so the logic is tested on the host.

use anyhow::{bail, Result};
use std::sync::Arc;

use mobilertc::{ErrorCode, Factory, VideoSource};
use mobilertc_call::{
    AudioInput, Call, CallConfig, CallEvent, Devices, PlatformMedia, Renderers, Role, Status,
};

/// The UI's view of an event: `kind` is one of `joined`, `state`, `connected`, `chat-open`,
/// `chat`, `log`, `ended` (CallActivity.onEvent switches on it).
pub fn event_kind(e: &CallEvent) -> (&'static str, String) {
    match e {
        CallEvent::Joined { role, peer_id } => {
            let role = match role {
                Role::Caller => "caller",
                Role::Callee => "callee (waiting for a peer)",
            };
            ("joined", format!("as {role}, peer {peer_id}"))
        }
        CallEvent::State(s) => ("state", format!("{s:?}").to_lowercase()),
        CallEvent::Connected(Some(p)) => (
            "connected",
            format!(
                "{} ({}/{}, {} -> {})",
                p.kind(),
                p.local_type,
                p.remote_type,
                p.local_address,
                p.remote_address
            ),
        ),
        CallEvent::Connected(None) => ("connected", "media flowing".to_owned()),
        CallEvent::ChatOpen => ("chat-open", "chat open".to_owned()),
        CallEvent::Chat(t) => ("chat", t.clone()),
        CallEvent::Log(t) => ("log", t.clone()),
        CallEvent::Ended { result, reason } => ("ended", format!("{result}: {reason}")),
    }
}

/// The call settings the app uses: the server and room from the UI. The audio and video
/// here are what a call sends without the platform's media ([`call_media`]): the app-fed
/// 440 Hz tone and the synthetic pattern; with it, the microphone and the camera.
pub fn app_config(server: &str, room: &str) -> CallConfig {
    let mut c = CallConfig::new(server.trim(), room.trim());
    c.name = Some("android".into());
    c.audio = AudioInput::Tone(440.0);
    c.video = true;
    c
}

/// What a call sends, decided in `nativeCall`: the platform's factory (on Android the Java
/// audio device, codec factories and network monitor: the microphone instead of the tone)
/// and, when the camera was granted, the camera's source as the video track.
pub struct CallMedia {
    /// `None`: the shim's own factory (off Android), with the tone and, for `video`, the
    /// synthetic pattern.
    pub platform: Option<PlatformMedia>,
    /// For the status line.
    pub note: String,
}

/// Builds [`CallMedia`]: `make_factory` is the platform's factory (`Factory::new_android`),
/// `make_camera` its camera source (`VideoSource::new_android`), tried only when `video`
/// (the camera permission) is granted. An `Unsupported` factory (not Android) falls back to
/// the shim's own; any other failure is the call's error. A camera source that cannot be
/// made leaves the call audio-only, said in the note.
pub fn call_media(
    video: bool,
    make_factory: impl FnOnce() -> mobilertc::Result<Factory>,
    make_camera: impl FnOnce(&Factory) -> mobilertc::Result<VideoSource>,
) -> Result<CallMedia> {
    let factory = match make_factory() {
        Ok(f) => f,
        Err(e) if e.code() == Some(ErrorCode::Unsupported) => {
            return Ok(CallMedia {
                platform: None,
                note: format!(
                    "media: the shim's own (platform parts: {e}): tone{}",
                    if video {
                        ", pattern video"
                    } else {
                        ", audio only"
                    }
                ),
            })
        }
        Err(e) => bail!("creating the WebRTC factory from the platform's parts: {e}"),
    };
    let (video_source, camera) = if video {
        match make_camera(&factory) {
            Ok(s) => (Some(Arc::new(s)), "camera".to_owned()),
            Err(e) => (None, format!("audio only (camera source: {e})")),
        }
    } else {
        (None, "audio only (no camera permission)".to_owned())
    };
    Ok(CallMedia {
        note: format!("media: platform audio device, {camera}"),
        platform: Some(PlatformMedia {
            factory,
            video_source,
        }),
    })
}

/// At most one call.
#[derive(Default)]
pub struct Session {
    call: Option<Call>,
    /// Default-network changes the app reported during the current call, in order.
    network_changes: Vec<String>,
}

impl Session {
    /// Starts a call unless one is running; `sink` gets every event as `(kind, text)`, on the
    /// call's thread.
    pub fn start(
        &mut self,
        config: CallConfig,
        sink: impl Fn(&'static str, String) + Send + 'static,
    ) -> Result<()> {
        self.start_with(config, Devices::default(), sink)
    }

    /// [`start`](Self::start) with the app's devices: the platform's factory and camera
    /// source, the native renderers.
    pub fn start_with(
        &mut self,
        config: CallConfig,
        devices: Devices,
        sink: impl Fn(&'static str, String) + Send + 'static,
    ) -> Result<()> {
        if self.call.as_ref().is_some_and(|c| !c.is_finished()) {
            bail!("a call is already running: hang up first");
        }
        if !(config.server.starts_with("http://") || config.server.starts_with("https://")) {
            bail!(
                "server {:?}: expected http://HOST:PORT (the emulator reaches the host as 10.0.2.2)",
                config.server
            );
        }
        // The previous call has ended; dropping it joins its thread at once.
        self.call = None;
        self.network_changes.clear();
        self.call = Some(Call::start_with(config, devices, move |e| {
            let (kind, text) = event_kind(&e);
            sink(kind, text)
        })?);
        Ok(())
    }

    /// New renderers for the running call (a no-op without one: the next call gets them
    /// through [`start_with`](Self::start_with)).
    pub fn set_renderers(&self, renderers: Renderers) {
        if let Some(c) = self.call.as_ref().filter(|c| !c.is_finished()) {
            c.handle().set_renderers(renderers);
        }
    }

    pub fn send_chat(&self, text: &str) -> Result<()> {
        match &self.call {
            Some(c) if !c.is_finished() => c.send_chat(text),
            _ => bail!("no call: press Call first"),
        }
    }

    /// Hangs up without waiting (the UI thread must not block); a no-op without a call.
    pub fn hang_up(&self) {
        if let Some(c) = &self.call {
            c.hang_up();
        }
    }

    pub fn status_line(&self) -> String {
        let mut line = match &self.call {
            Some(c) => c.status().line(),
            None => "idle".to_owned(),
        };
        if let Some(last) = self.network_changes.last() {
            line.push_str(&format!(
                " | network changes: {} (last {last})",
                self.network_changes.len()
            ));
        }
        line
    }

    /// The device's default network changed during the call (`change`, e.g. "wifi ->
    /// cellular"): the call restarts ICE and sends a new offer through signaling (the other
    /// side answers it), so it moves to the new network's candidates instead of dying with
    /// the old pairs. Recorded for the status line; progress arrives as `log` events.
    pub fn network_changed(&mut self, change: &str) -> Result<()> {
        let call = match &self.call {
            Some(c) if !c.is_finished() => c,
            _ => bail!("no call: a network change needs no ICE restart"),
        };
        self.network_changes.push(change.to_owned());
        call.restart_ice(change)
    }

    /// The running (or last) call's status, `None` before the first call.
    pub fn status(&self) -> Option<Status> {
        self.call.as_ref().map(|c| c.status())
    }

    pub fn is_running(&self) -> bool {
        self.call.as_ref().is_some_and(|c| !c.is_finished())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobilertc_call::PairInfo;

    fn pair(local: &str, remote: &str) -> PairInfo {
        PairInfo {
            local_type: local.into(),
            remote_type: remote.into(),
            local_address: "10.0.0.2:5000".into(),
            remote_address: "203.0.113.9:6000".into(),
            protocol: "udp".into(),
            relay_protocol: None,
        }
    }

    #[test]
    fn events_name_the_connection_kind() {
        assert_eq!(
            event_kind(&CallEvent::Connected(Some(pair("relay", "srflx")))),
            (
                "connected",
                "relayed (relay/srflx, 10.0.0.2:5000 -> 203.0.113.9:6000)".to_owned()
            )
        );
        assert!(
            event_kind(&CallEvent::Connected(Some(pair("srflx", "host"))))
                .1
                .starts_with("server-reflexive")
        );
        assert!(
            event_kind(&CallEvent::Connected(Some(pair("host", "host"))))
                .1
                .starts_with("local")
        );
        assert_eq!(
            event_kind(&CallEvent::Ended {
                result: "failed".into(),
                reason: "connect timeout".into()
            }),
            ("ended", "failed: connect timeout".to_owned())
        );
        assert_eq!(
            event_kind(&CallEvent::Joined {
                role: Role::Caller,
                peer_id: "p2".into()
            }),
            ("joined", "as caller, peer p2".to_owned())
        );
        assert_eq!(event_kind(&CallEvent::Chat("hi".into())).0, "chat");
    }

    #[test]
    fn network_changes_need_a_call_and_show_in_the_status_line() {
        let mut s = Session::default();
        let err = s
            .network_changed("wifi -> cellular")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("no call"), "{err}");
        assert_eq!(s.status_line(), "idle");
    }

    fn unsupported() -> mobilertc::Result<Factory> {
        // What Factory::new_android answers off Android.
        let media = mobilertc::AndroidMedia {
            jni_env: std::ptr::null_mut(),
            application_context: std::ptr::null_mut(),
            video_encoder_factory: std::ptr::null_mut(),
            video_decoder_factory: std::ptr::null_mut(),
            network_monitor: true,
        };
        // SAFETY: off Android the shim reads none of the pointers.
        unsafe { Factory::new_android(mobilertc::FactoryConfig::default(), &media) }
    }

    #[test]
    fn call_media_uses_the_platforms_parts_and_falls_back_only_when_unsupported() {
        // Off Android: the shim's own factory, the tone, the pattern for video.
        let m = call_media(true, unsupported, |_| {
            unreachable!("no camera without a factory")
        })
        .unwrap();
        assert!(m.platform.is_none());
        assert!(
            m.note.contains("not supported on this platform"),
            "{}",
            m.note
        );
        assert!(m.note.ends_with("tone, pattern video"), "{}", m.note);

        // A platform factory (the host's stands in for Android's) and its camera source.
        let factory = || Factory::new(mobilertc::FactoryConfig::default());
        let m = call_media(true, factory, VideoSource::new).unwrap();
        let p = m.platform.as_ref().unwrap();
        assert!(p.video_source.is_some());
        assert_eq!(m.note, "media: platform audio device, camera");

        // No camera permission: the camera is not even tried.
        let m = call_media(false, factory, |_| unreachable!("camera not granted")).unwrap();
        assert!(m.platform.unwrap().video_source.is_none());
        assert_eq!(
            m.note,
            "media: platform audio device, audio only (no camera permission)"
        );

        // A camera that cannot be made: audio only, and why.
        let m = call_media(true, factory, |_| {
            Err(mobilertc::Error::Shim {
                op: "VideoSource::new_android",
                code: ErrorCode::Internal,
                message: String::new(),
            })
        })
        .unwrap();
        assert!(m.platform.unwrap().video_source.is_none());
        assert!(m.note.contains("audio only (camera source:"), "{}", m.note);

        // Any other factory failure is the call's error, not a silent fallback to the tone.
        let err = call_media(
            false,
            || {
                Err(mobilertc::Error::Shim {
                    op: "Factory::new_android",
                    code: ErrorCode::InvalidArgument,
                    message: "no application context".into(),
                })
            },
            |_| unreachable!(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("platform's parts"), "{err}");
    }

    #[test]
    fn app_config_trims_and_sends_tone_and_video() {
        let c = app_config(" http://10.0.2.2:8080 ", " lobby ");
        assert_eq!(
            (c.server.as_str(), c.room.as_str()),
            ("http://10.0.2.2:8080", "lobby")
        );
        assert!(c.video);
        assert!(matches!(c.audio, AudioInput::Tone(f) if f == 440.0));
    }
}
