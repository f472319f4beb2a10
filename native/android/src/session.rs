//! What the activity drives, without JNI: at most one call at a time, its events turned into
//! `(kind, text)` pairs for the UI, chat, hang-up and a status line. The JNI glue
//! ([`crate::jni_glue`]) is a thin layer over this, so the logic is tested on the host.

use anyhow::{bail, Result};
use mobilertc_call::{AudioInput, Call, CallConfig, CallEvent, Role};

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

/// The call settings the app uses: the server and room from the UI; audio is the app-fed
/// 440 Hz tone (docs/android.md, "Audio"), video the synthetic pattern.
pub fn app_config(server: &str, room: &str) -> CallConfig {
    let mut c = CallConfig::new(server.trim(), room.trim());
    c.name = Some("android".into());
    c.audio = AudioInput::Tone(440.0);
    c.video = true;
    c
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
        self.call = Some(Call::start(config, move |e| {
            let (kind, text) = event_kind(&e);
            sink(kind, text)
        })?);
        Ok(())
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
    /// cellular"). Recorded for the status line. The restart itself needs the call core to
    /// call `mrtc_peer_restart_ice` and renegotiate, which it cannot yet (docs/android.md,
    /// "What the Rust side does not do yet"): until then this says so, and the call relies
    /// on ICE's own recovery.
    pub fn network_changed(&mut self, change: &str) -> Result<()> {
        if !self.is_running() {
            bail!("no call: a network change needs no ICE restart");
        }
        self.network_changes.push(change.to_owned());
        bail!(
            "network change {change} noted; no ICE restart: the call core has no restart hook \
             yet (docs/android.md)"
        )
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
