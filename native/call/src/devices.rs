//! The app's own media ends: microphone, speaker, camera and a video sink for a UI.
//!
//! The call core knows them only through these traits, so it stays free of any sound or
//! camera API (the Android app uses the same core): the Linux `call` binary implements them
//! with cpal (ALSA, which reaches PulseAudio/PipeWire) and V4L2, tests with stand-ins.
//! Without [`Devices`] the call uses the synthetic sources of [`crate::CallConfig`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use mobilertc::{Factory, I420Frame, NativeVideoSink, VideoSource};

/// Keeps a started device running; dropping it stops the device.
pub type Running = Box<dyn Send>;

/// Where a microphone delivers its PCM: the factory's capture queue, which libwebrtc's
/// audio processing and the encoder pull from every 10 ms.
///
/// The device delivers in its own period (often 20-25 ms), the factory takes 10 ms every
/// 10 ms: the first push is preceded by [`MIC_PRIME_MS`] of silence, so the queue does not
/// run dry between two device periods (each time it did, 10 ms would be cut short, and the
/// voice would crackle).
#[derive(Clone)]
pub struct MicSink {
    factory: Factory,
    primed: Arc<AtomicBool>,
}

/// The capture queue's head start over the device's periods.
pub const MIC_PRIME_MS: usize = 60;

impl MicSink {
    pub(crate) fn new(factory: &Factory) -> MicSink {
        MicSink {
            factory: factory.clone(),
            primed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Queues 48 kHz mono samples, at the device's pace (any chunk size).
    pub fn push(&self, pcm: &[i16]) {
        if !self.primed.swap(true, Ordering::Relaxed) {
            let silence = vec![0i16; crate::audio::SAMPLE_RATE as usize * MIC_PRIME_MS / 1000];
            let _ = self.factory.push_audio(&silence);
        }
        // The only error is a chunk that is not a multiple of the channel count (1 here).
        let _ = self.factory.push_audio(pcm);
    }
}

/// A sound input.
pub trait Microphone: Send {
    /// Its name, for the summary and the UI (`mic:<name>`).
    fn describe(&self) -> String;
    /// Starts delivering 48 kHz mono PCM to `sink` until the returned guard is dropped.
    fn start(self: Box<Self>, sink: MicSink) -> Result<Running>;
}

/// A sound output.
pub trait Speaker: Send {
    /// Its name, for the summary and the UI.
    fn describe(&self) -> String;
    /// Plays one chunk of the call's mixed playout (48 kHz mono, 10 ms). Called from the
    /// call's playout thread at the playout's pace: it must queue, not block.
    fn play(&mut self, pcm: &[i16]);
}

/// A video input.
pub trait Camera: Send {
    /// Its name, for the summary and the UI.
    fn describe(&self) -> String;
    /// Waits for the next frame (the device sets the pace). An error ends the video.
    fn next_frame(&mut self) -> Result<I420Frame>;
}

/// Which video a frame given to a [`VideoSink`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoSide {
    /// What we send (the self-view).
    Local,
    /// What the other side sends.
    Remote,
}

/// Receives every local and remote video frame (e.g. a window keeping the latest of each).
/// Called from media threads: it must not block.
pub type VideoSink = Arc<dyn Fn(VideoSide, &I420Frame) + Send + Sync>;

/// A platform's own media, made by the app outside the call core (Android: the factory from
/// the Java audio device, codec factories and network monitor; the camera's Java-fed
/// source).
pub struct PlatformMedia {
    /// The call's factory. With a platform's audio device ([`mobilertc::AudioDevice::Platform`])
    /// the call pushes no audio of its own: the device captures the microphone and plays to
    /// the speaker, and [`crate::CallConfig::audio`] is not used.
    pub factory: Factory,
    /// A source the platform's capturer feeds (the camera), sent as the local video track
    /// instead of [`Devices::camera`] or the synthetic pattern; `None`: see those.
    pub video_source: Option<Arc<VideoSource>>,
}

/// Native renderers (e.g. Android's SurfaceViewRenderers): the remote one shows the other
/// side's video track, the local one our video source. Replace them during a call with
/// [`crate::CallHandle::set_renderers`].
#[derive(Clone, Default)]
pub struct Renderers {
    /// The self view.
    pub local: Option<Arc<NativeVideoSink>>,
    /// The other side's video.
    pub remote: Option<Arc<NativeVideoSink>>,
}

impl std::fmt::Debug for Renderers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderers")
            .field("local", &self.local.is_some())
            .field("remote", &self.remote.is_some())
            .finish()
    }
}

/// The devices a call uses instead of its synthetic sources; each is optional.
#[derive(Default)]
pub struct Devices {
    /// A platform's factory and camera source (see [`PlatformMedia`]).
    pub platform: Option<PlatformMedia>,
    /// Native renderers for the local and remote video.
    pub renderers: Renderers,
    /// Sends this instead of [`crate::CallConfig::audio`].
    pub microphone: Option<Box<dyn Microphone>>,
    /// Plays the received audio (the recording and analysis still run).
    pub speaker: Option<Box<dyn Speaker>>,
    /// Sends this instead of the synthetic test pattern (and turns video on).
    pub camera: Option<Box<dyn Camera>>,
    /// Gets the frames, for a UI.
    pub video_sink: Option<VideoSink>,
}

impl std::fmt::Debug for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devices")
            .field(
                "microphone",
                &self.microphone.as_ref().map(|m| m.describe()),
            )
            .field("speaker", &self.speaker.as_ref().map(|s| s.describe()))
            .field("camera", &self.camera.as_ref().map(|c| c.describe()))
            .field("video_sink", &self.video_sink.is_some())
            .field("platform", &self.platform.is_some())
            .field("renderers", &self.renderers)
            .finish()
    }
}
