//! What a platform brings instead of the crate's own media ends: native video sinks (a
//! renderer on screen) attached to a remote track or a local source, and — on Android —
//! the factory built from upstream's Java audio device, Java codec factories and network
//! monitor, a video source fed by a Java camera capturer, and sinks over Java renderers.
//!
//! The Android entry points exist on every platform (they take JNI pointers as
//! `*mut c_void`, so no JNI crate is needed here); off Android they return
//! [`ErrorCode::Unsupported`](crate::ErrorCode) and callers fall back to [`Factory::new`]
//! and [`VideoSource::new`]. Everything else here runs and is tested on the host.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use webrtc_sys as sys;

use crate::error::{check, Error, Result};
use crate::factory::{AudioDevice, Factory, FactoryConfig, FactoryInner};
use crate::ffi::{guard, raw};
use crate::media::{non_null, I420Frame, RemoteTrack, TrackKind, VideoSource, VIDEO_QUEUE_FRAMES};

/// A native video sink: frames of one remote video track (the far end on screen) or one
/// local source (the self view) at a time. Attaching moves it; while attached it keeps the
/// track or source (and their factory) alive; after [`detach`](Self::detach) or drop
/// returns, no frame reaches it. `Send + Sync`.
///
/// Frames go where the sink's maker says: [`NativeVideoSink::channel`] copies them as I420
/// into a bounded receiver (never blocking WebRTC's threads), a platform's sink hands them
/// to its renderer ([`NativeVideoSink::new_android`]: a Java `org.webrtc.VideoSink`).
pub struct NativeVideoSink {
    raw: NonNull<sys::mrtc_video_sink>,
    /// The channel kind's sender (the callback's user_data), freed after destroy.
    _tx: Option<Box<SyncSender<I420Frame>>>,
    /// The factory of what the sink is attached to.
    attached: Mutex<Option<Arc<FactoryInner>>>,
}

// SAFETY: the shim serialises attach/detach/destroy under the sink's own lock and delivers
// frames under the broadcaster's; the sender is only used from the shim's callback.
unsafe impl Send for NativeVideoSink {}
unsafe impl Sync for NativeVideoSink {}

impl std::fmt::Debug for NativeVideoSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeVideoSink")
            .field("channel", &self._tx.is_some())
            .finish_non_exhaustive()
    }
}

impl NativeVideoSink {
    /// A sink whose frames arrive as I420 on the returned receiver (up to
    /// [`VIDEO_QUEUE_FRAMES`], new frames dropped beyond).
    pub fn channel() -> Result<(NativeVideoSink, Receiver<I420Frame>)> {
        let (tx, rx) = sync_channel(VIDEO_QUEUE_FRAMES);
        let boxed = Box::new(tx);
        let ud: *const SyncSender<I420Frame> = &*boxed;
        let mut out = std::ptr::null_mut();
        // SAFETY: ud stays valid until destroy returned (the box lives in the handle).
        let status = unsafe {
            sys::mrtc_video_sink_create(Some(sink_frame_cb), ud as *mut c_void, &mut out)
        };
        check("NativeVideoSink::channel", raw!(status), String::new())?;
        Ok((
            NativeVideoSink {
                raw: non_null("NativeVideoSink::channel", out)?,
                _tx: Some(boxed),
                attached: Mutex::new(None),
            },
            rx,
        ))
    }

    /// A sink over a Java `org.webrtc.VideoSink` (e.g. a `SurfaceViewRenderer`):
    /// `webrtc::JavaToNativeVideoSink`, which keeps a global reference to it.
    /// [`ErrorCode::Unsupported`](crate::ErrorCode) off Android.
    ///
    /// # Safety
    /// `jni_env` is the calling thread's `JNIEnv*`, `java_sink` a valid `jobject`.
    pub unsafe fn new_android(
        jni_env: *mut c_void,
        java_sink: *mut c_void,
    ) -> Result<NativeVideoSink> {
        let mut out = std::ptr::null_mut();
        let status = sys::mrtc_android_video_sink_create(jni_env, java_sink, &mut out);
        check("NativeVideoSink::new_android", raw!(status), String::new())?;
        Ok(NativeVideoSink {
            raw: non_null("NativeVideoSink::new_android", out)?,
            _tx: None,
            attached: Mutex::new(None),
        })
    }

    /// Shows a remote video track (leaving whatever the sink showed before).
    pub fn attach_remote(&self, track: &RemoteTrack) -> Result<()> {
        if track.kind() != TrackKind::Video {
            return Err(Error::invalid(
                "NativeVideoSink::attach_remote",
                "not a video track",
            ));
        }
        let mut attached = self.attached.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: live sink and track; the shim takes its own reference to the track.
        let status = unsafe { sys::mrtc_video_sink_attach_remote(self.raw.as_ptr(), track.raw()) };
        check(
            "NativeVideoSink::attach_remote",
            raw!(status),
            String::new(),
        )?;
        *attached = Some(track.factory().clone());
        Ok(())
    }

    /// Shows a local source (the self view; leaving whatever the sink showed before).
    pub fn attach_local(&self, source: &VideoSource) -> Result<()> {
        let mut attached = self.attached.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: live sink and source; the shim takes its own reference to the source.
        let status = unsafe { sys::mrtc_video_sink_attach_local(self.raw.as_ptr(), source.raw()) };
        check("NativeVideoSink::attach_local", raw!(status), String::new())?;
        *attached = Some(source.factory().clone());
        Ok(())
    }

    /// Stops showing anything; no frame arrives after this returns.
    pub fn detach(&self) {
        let mut attached = self.attached.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: live sink.
        unsafe { sys::mrtc_video_sink_detach(self.raw.as_ptr()) };
        // The track or source is released: its factory may go now.
        *attached = None;
    }
}

impl Drop for NativeVideoSink {
    fn drop(&mut self) {
        // SAFETY: we own the sink; it releases what it held (whose factory `attached` still
        // keeps alive until after this) and runs no callback after returning.
        unsafe { sys::mrtc_video_sink_destroy(self.raw.as_ptr()) };
    }
}

unsafe extern "C" fn sink_frame_cb(user_data: *mut c_void, frame: *const sys::mrtc_i420_frame) {
    guard(|| {
        // SAFETY: user_data is the sink's sender, alive until destroy returned; the frame
        // is valid during the call.
        let tx = &*user_data.cast::<SyncSender<I420Frame>>();
        match tx.try_send(I420Frame::from_raw(&*frame)) {
            Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
        }
    });
}

/// The Java objects [`Factory::new_android`] builds the factory from.
#[derive(Debug, Clone, Copy)]
pub struct AndroidMedia {
    /// The calling thread's `JNIEnv*`.
    pub jni_env: *mut c_void,
    /// The application's `android.content.Context` (required).
    pub application_context: *mut c_void,
    /// An `org.webrtc.VideoEncoderFactory` (e.g. `DefaultVideoEncoderFactory`: MediaCodec
    /// with the software codecs as fallback), or null for the shim's software codecs.
    pub video_encoder_factory: *mut c_void,
    /// An `org.webrtc.VideoDecoderFactory`, or null.
    pub video_decoder_factory: *mut c_void,
    /// `webrtc::CreateAndroidNetworkMonitorFactory`: network changes reach ICE as they
    /// happen (needs `ACCESS_NETWORK_STATE`).
    pub network_monitor: bool,
}

impl Factory {
    /// A factory from Android's parts (`mrtc_factory_create_android`): audio through
    /// `webrtc::CreateJavaAudioDeviceModule` (microphone and speaker, with the platform's
    /// echo canceler and noise suppressor where the device has them), the Java video codec
    /// factories, the Android network monitor. Its [`audio_device`](Factory::audio_device)
    /// is [`AudioDevice::Platform`]. [`ErrorCode::Unsupported`](crate::ErrorCode) off
    /// Android.
    ///
    /// # Safety
    /// `media.jni_env` is the calling thread's `JNIEnv*`; its objects are valid `jobject`s
    /// (or null where allowed).
    pub unsafe fn new_android(config: FactoryConfig, media: &AndroidMedia) -> Result<Factory> {
        let raw_config = Factory::raw_config("Factory::new_android", config)?;
        let raw_media = sys::mrtc_android_media {
            jni_env: media.jni_env,
            application_context: media.application_context,
            video_encoder_factory: media.video_encoder_factory,
            video_decoder_factory: media.video_decoder_factory,
            network_monitor: media.network_monitor.into(),
        };
        let mut out = std::ptr::null_mut();
        let status = sys::mrtc_factory_create_android(&raw_config, &raw_media, &mut out);
        check("Factory::new_android", raw!(status), String::new())?;
        Factory::adopt("Factory::new_android", out, config, AudioDevice::Platform)
    }
}

impl VideoSource {
    /// A source fed by a Java camera capturer (`webrtc::CreateJavaVideoSource`): add it to
    /// peers and sinks like any source; hand
    /// [`android_capturer_observer`](Self::android_capturer_observer) to the capturer.
    /// [`ErrorCode::Unsupported`](crate::ErrorCode) off Android.
    ///
    /// # Safety
    /// `jni_env` is the calling thread's `JNIEnv*`.
    pub unsafe fn new_android(
        factory: &Factory,
        jni_env: *mut c_void,
        is_screencast: bool,
    ) -> Result<VideoSource> {
        let mut out = std::ptr::null_mut();
        let status = sys::mrtc_android_video_source_create(
            factory.inner.raw(),
            jni_env,
            is_screencast.into(),
            &mut out,
        );
        check("VideoSource::new_android", raw!(status), String::new())?;
        Ok(VideoSource::adopt(
            non_null("VideoSource::new_android", out)?,
            factory,
        ))
    }

    /// The Java `org.webrtc.CapturerObserver` feeding this source, as a new JNI local
    /// reference (return it to Java or delete it); null for a source not made by
    /// [`new_android`](Self::new_android).
    ///
    /// # Safety
    /// `jni_env` is the calling thread's `JNIEnv*`.
    pub unsafe fn android_capturer_observer(&self, jni_env: *mut c_void) -> *mut c_void {
        sys::mrtc_android_video_source_capturer_observer(self.raw(), jni_env)
    }
}
