//! The peer connection factory: WebRTC's threads, codecs, and the app-fed audio device.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use webrtc_sys as sys;

use crate::dispatch::{Dispatch, Dispatcher};
use crate::error::{check, Error, Result};
use crate::ffi::guard;
use crate::media::AudioFrame;

/// How many 10 ms PCM chunks a playout or audio sink receiver buffers before new ones are
/// dropped (5 s). Media callbacks must never block WebRTC's audio thread, so a slow reader
/// loses audio instead of stalling the call or growing memory without bound.
pub const AUDIO_QUEUE_CHUNKS: usize = 500;

/// Audio format of the factory's app-fed audio device (capture and playout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactoryConfig {
    /// Samples per second per channel, e.g. 48000.
    pub sample_rate: u32,
    /// 1 (mono) or 2 (interleaved stereo).
    pub channels: u32,
    /// Send the pushed audio as it is: no echo cancellation, gain control, noise
    /// suppression or high-pass filter. libwebrtc's audio processing (on by default, for
    /// microphones) turns a steady tone down by 10-20 dB within a second; app-made audio
    /// (tones, files) sets this.
    pub raw_audio: bool,
}

impl Default for FactoryConfig {
    fn default() -> Self {
        FactoryConfig {
            sample_rate: 48_000,
            channels: 1,
            raw_audio: false,
        }
    }
}

/// Where a factory's audio comes from and goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioDevice {
    /// The shim's device fed from Rust ([`Factory::push_audio`], [`Factory::playout_frames`]).
    AppFed,
    /// A platform's device (Android: the Java audio device module on the microphone and
    /// speaker); push and playout have no effect.
    Platform,
}

/// Owner of the raw factory. Every child handle (peer, track, source, channel) holds an
/// `Arc` of it, so the factory is destroyed only after the last child, whatever order the
/// application drops things in (the shim requires the factory to outlive its children).
pub(crate) struct FactoryInner {
    raw: NonNull<sys::mrtc_factory>,
    config: FactoryConfig,
    audio_device: AudioDevice,
    /// The installed playout sink's user_data. The shim holds its playout lock while the
    /// callback runs, so once `mrtc_factory_set_playout_callback` (or destroy) returns the
    /// previous sink is unused and can be freed.
    playout: Mutex<Option<Box<PlayoutSink>>>,
    /// Where this factory's application closures run (`None` only inside Drop).
    dispatch: Option<Dispatch>,
    dispatcher: Option<Dispatcher>,
}

// SAFETY: the shim's factory is thread-safe: push_audio and the playout callback slot are
// guarded inside the shim, and PeerConnectionFactory itself is a thread-safe proxy.
unsafe impl Send for FactoryInner {}
unsafe impl Sync for FactoryInner {}

impl FactoryInner {
    pub(crate) fn raw(&self) -> *mut sys::mrtc_factory {
        self.raw.as_ptr()
    }

    /// The factory's dispatcher (see the crate docs' threading rules).
    pub(crate) fn dispatch(&self) -> &Dispatch {
        self.dispatch
            .as_ref()
            .expect("dispatcher present until drop")
    }
}

impl Drop for FactoryInner {
    fn drop(&mut self) {
        // SAFETY: we own the factory, and every child holding an Arc of us is gone.
        unsafe { sys::mrtc_factory_destroy(self.raw.as_ptr()) };
        // No playout callback runs after destroy returns; the sink box goes with `self`.
        // Every child (and so every observer and pending completion holding a Dispatch)
        // is gone, and WebRTC's threads are stopped: once ours goes too, the dispatcher
        // runs what is queued and ends.
        drop(self.dispatch.take());
        if let Some(dispatcher) = self.dispatcher.take() {
            dispatcher.join();
        }
    }
}

/// A peer connection factory (owns WebRTC's signaling, network and worker threads and an
/// audio device module fed from Rust).
///
/// Cheap to clone: clones share the same factory. `Send + Sync`.
#[derive(Clone)]
pub struct Factory {
    pub(crate) inner: Arc<FactoryInner>,
}

impl std::fmt::Debug for Factory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factory")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

pub(crate) struct PlayoutSink {
    tx: SyncSender<AudioFrame>,
}

impl Factory {
    /// Creates a factory whose audio device captures what [`Factory::push_audio`] queues
    /// and plays out to [`Factory::playout_frames`].
    pub fn new(config: FactoryConfig) -> Result<Factory> {
        let raw_config = Factory::raw_config("Factory::new", config)?;
        let mut out = std::ptr::null_mut();
        // SAFETY: valid config pointer and out pointer for the duration of the call.
        let status = unsafe { sys::mrtc_factory_create(&raw_config, &mut out) };
        check("Factory::new", crate::ffi::raw!(status), String::new())?;
        Factory::adopt("Factory::new", out, config, AudioDevice::AppFed)
    }

    /// Validates `config` as [`Factory::new`] does, into the shim's form.
    pub(crate) fn raw_config(
        op: &'static str,
        config: FactoryConfig,
    ) -> Result<sys::mrtc_factory_config> {
        if !(1..=2).contains(&config.channels) || config.sample_rate == 0 {
            return Err(Error::invalid(
                op,
                format!("need 1 or 2 channels and a non-zero rate, got {config:?}"),
            ));
        }
        Ok(sys::mrtc_factory_config {
            audio_sample_rate: config.sample_rate,
            audio_channels: config.channels,
            raw_audio: config.raw_audio.into(),
        })
    }

    /// Wraps a factory the shim just made (by whichever entry point) with its dispatcher.
    pub(crate) fn adopt(
        op: &'static str,
        out: *mut sys::mrtc_factory,
        config: FactoryConfig,
        audio_device: AudioDevice,
    ) -> Result<Factory> {
        let raw = NonNull::new(out).ok_or_else(|| Error::Shim {
            op,
            code: crate::ErrorCode::Internal,
            message: "shim returned a null factory".into(),
        })?;
        let (dispatcher, dispatch) = match Dispatcher::spawn() {
            Ok(spawned) => spawned,
            Err(e) => {
                // SAFETY: just created, no child yet.
                unsafe { sys::mrtc_factory_destroy(raw.as_ptr()) };
                return Err(Error::Shim {
                    op,
                    code: crate::ErrorCode::Internal,
                    message: format!("could not start the dispatcher thread: {e}"),
                });
            }
        };
        Ok(Factory {
            inner: Arc::new(FactoryInner {
                raw,
                config,
                audio_device,
                playout: Mutex::new(None),
                dispatch: Some(dispatch),
                dispatcher: Some(dispatcher),
            }),
        })
    }

    /// The audio format this factory was created with.
    pub fn config(&self) -> FactoryConfig {
        self.inner.config
    }

    /// Whether this factory's audio is fed from Rust or by a platform's device.
    pub fn audio_device(&self) -> AudioDevice {
        self.inner.audio_device
    }

    /// Queues capture PCM (interleaved, `config().channels` channels) for every local audio
    /// track of this factory's peers. The device consumes it in real time, 10 ms at a time,
    /// and sends silence when the queue runs dry; the shim drops the oldest audio beyond
    /// about 2 s, so push at roughly real-time pace.
    /// On a factory with a platform's device ([`AudioDevice::Platform`]) this is an
    /// `InvalidState` error: nothing would hear the audio.
    pub fn push_audio(&self, pcm: &[i16]) -> Result<()> {
        if self.inner.audio_device == AudioDevice::Platform {
            return Err(Error::Shim {
                op: "Factory::push_audio",
                code: crate::ErrorCode::InvalidState,
                message: "this factory's audio device is the platform's (the microphone)".into(),
            });
        }
        let channels = self.inner.config.channels as usize;
        if pcm.len() % channels != 0 {
            return Err(Error::invalid(
                "Factory::push_audio",
                format!(
                    "{} samples is not a multiple of {channels} channels",
                    pcm.len()
                ),
            ));
        }
        // SAFETY: pcm is valid for len samples; the shim copies it before returning.
        let status = unsafe {
            sys::mrtc_factory_push_audio(self.inner.raw(), pcm.as_ptr(), pcm.len() / channels)
        };
        check(
            "Factory::push_audio",
            crate::ffi::raw!(status),
            String::new(),
        )
    }

    /// Receives the mixed playout of every remote audio track of this factory's peers, as
    /// 10 ms chunks. Replaces any previous playout receiver. The receiver holds up to
    /// [`AUDIO_QUEUE_CHUNKS`] chunks; beyond that new audio is dropped.
    pub fn playout_frames(&self) -> Receiver<AudioFrame> {
        let (tx, rx) = sync_channel(AUDIO_QUEUE_CHUNKS);
        let sink = Box::new(PlayoutSink { tx });
        let user_data: *const PlayoutSink = &*sink;
        let mut slot = self.inner.playout.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: the box stays in `slot` until a later set call or destroy has returned.
        unsafe {
            sys::mrtc_factory_set_playout_callback(
                self.inner.raw(),
                Some(playout_cb),
                user_data as *mut c_void,
            )
        };
        // The previous sink (if any) is unused from here on.
        *slot = Some(sink);
        rx
    }

    /// Stops delivering playout audio (the device keeps playing out, into nothing).
    pub fn stop_playout(&self) {
        let mut slot = self.inner.playout.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: plain call on a live factory; NULL callback means "stop".
        unsafe {
            sys::mrtc_factory_set_playout_callback(self.inner.raw(), None, std::ptr::null_mut())
        };
        *slot = None;
    }
}

/// Copies a PCM callback's buffer into an [`AudioFrame`] and offers it to `tx` without
/// blocking (media threads must not wait on a slow reader).
///
/// # Safety
/// `pcm` must point to `frames * channels` samples.
pub(crate) unsafe fn forward_pcm(
    tx: &SyncSender<AudioFrame>,
    pcm: *const i16,
    frames: usize,
    sample_rate: u32,
    channels: u32,
) {
    let samples = if pcm.is_null() {
        Vec::new()
    } else {
        std::slice::from_raw_parts(pcm, frames * channels as usize).to_vec()
    };
    match tx.try_send(AudioFrame {
        samples,
        sample_rate,
        channels,
    }) {
        Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
    }
}

unsafe extern "C" fn playout_cb(
    user_data: *mut c_void,
    pcm: *const i16,
    frames: usize,
    sample_rate: u32,
    channels: u32,
) {
    guard(|| {
        // SAFETY: user_data is the installed PlayoutSink (freed only once uninstalled).
        let sink = &*user_data.cast::<PlayoutSink>();
        forward_pcm(&sink.tx, pcm, frames, sample_rate, channels);
    });
}
