//! Audio and video: local tracks fed from Rust, remote tracks with sinks back into Rust.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use webrtc_sys as sys;

use crate::error::{check, Error, Result};
use crate::factory::{forward_pcm, Factory, FactoryInner, AUDIO_QUEUE_CHUNKS};
use crate::ffi::{guard, mstr, owned, raw};
use crate::peer::PeerConnection;

/// How many decoded frames a video sink receiver buffers before new ones are dropped
/// (media callbacks must not block WebRTC's decoder thread).
pub const VIDEO_QUEUE_FRAMES: usize = 30;

/// The largest frame width or height [`VideoSource::push_i420`] accepts (16384): libwebrtc
/// sizes I420 buffers as a C `int` and its codecs stop below this (VP8: 16383). A plane
/// whose stride times its rows exceeds `i32::MAX` is refused too.
pub const MAX_FRAME_SIDE: u32 = sys::MRTC_MAX_FRAME_SIDE;

/// A chunk of interleaved 16-bit PCM (10 ms as WebRTC delivers it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// Interleaved samples, `frames() * channels` of them.
    pub samples: Vec<i16>,
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u32,
}

impl AudioFrame {
    /// Samples per channel.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1) as usize
    }
}

/// What kind of media a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
}

/// A planar I420 (YUV 4:2:0) frame owned by Rust.
#[derive(Clone, PartialEq, Eq)]
pub struct I420Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Luma plane, `stride_y * height` bytes.
    pub y: Vec<u8>,
    /// Cb plane, `stride_u * chroma_height()` bytes.
    pub u: Vec<u8>,
    /// Cr plane, `stride_v * chroma_height()` bytes.
    pub v: Vec<u8>,
    /// Bytes per luma row.
    pub stride_y: u32,
    /// Bytes per Cb row.
    pub stride_u: u32,
    /// Bytes per Cr row.
    pub stride_v: u32,
    /// Capture time in microseconds; 0 lets the source stamp it with "now".
    pub timestamp_us: i64,
}

impl std::fmt::Debug for I420Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I420Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("timestamp_us", &self.timestamp_us)
            .finish_non_exhaustive()
    }
}

impl I420Frame {
    /// A black frame with tightly packed planes.
    pub fn new(width: u32, height: u32) -> I420Frame {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        I420Frame {
            width,
            height,
            // Video-range black: Y = 16, neutral chroma.
            y: vec![16; (width * height) as usize],
            u: vec![128; (cw * ch) as usize],
            v: vec![128; (cw * ch) as usize],
            stride_y: width,
            stride_u: cw,
            stride_v: cw,
            timestamp_us: 0,
        }
    }

    /// Width of the chroma planes.
    pub fn chroma_width(&self) -> u32 {
        self.width.div_ceil(2)
    }

    /// Height of the chroma planes.
    pub fn chroma_height(&self) -> u32 {
        self.height.div_ceil(2)
    }

    fn validate(&self) -> Result<()> {
        let (cw, ch) = (self.chroma_width(), self.chroma_height());
        let plane_ok = |len: usize, stride: u32, w: u32, h: u32| {
            stride >= w && len as u64 >= u64::from(stride) * u64::from(h)
        };
        let int_sized =
            |stride: u32, rows: u32| u64::from(stride) * u64::from(rows) <= i32::MAX as u64;
        if self.width == 0
            || self.height == 0
            || self.width > MAX_FRAME_SIDE
            || self.height > MAX_FRAME_SIDE
            || !int_sized(self.stride_y, self.height)
            || !int_sized(self.stride_u, ch)
            || !int_sized(self.stride_v, ch)
            || !plane_ok(self.y.len(), self.stride_y, self.width, self.height)
            || !plane_ok(self.u.len(), self.stride_u, cw, ch)
            || !plane_ok(self.v.len(), self.stride_v, cw, ch)
        {
            return Err(Error::invalid(
                "VideoSource::push_i420",
                format!(
                    "plane sizes or strides do not fit a {}x{} frame (sides up to \
                     {MAX_FRAME_SIDE}, stride x rows up to {})",
                    self.width,
                    self.height,
                    i32::MAX
                ),
            ));
        }
        Ok(())
    }

    /// Copies a frame the shim hands to a sink (tightly packs the planes).
    ///
    /// # Safety
    /// The plane pointers must be valid for their stride × rows.
    pub(crate) unsafe fn from_raw(frame: &sys::mrtc_i420_frame) -> I420Frame {
        let width = frame.width.max(0) as u32;
        let height = frame.height.max(0) as u32;
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let copy = |ptr: *const u8, stride: i32, w: u32, h: u32| {
            let mut out = Vec::with_capacity((w * h) as usize);
            if !ptr.is_null() {
                for row in 0..h as usize {
                    let start = ptr.add(row * stride as usize);
                    out.extend_from_slice(std::slice::from_raw_parts(start, w as usize));
                }
            }
            out
        };
        I420Frame {
            width,
            height,
            y: copy(frame.y, frame.stride_y, width, height),
            u: copy(frame.u, frame.stride_u, cw, ch),
            v: copy(frame.v, frame.stride_v, cw, ch),
            stride_y: width,
            stride_u: cw,
            stride_v: cw,
            timestamp_us: frame.timestamp_us,
        }
    }

    fn as_raw(&self) -> sys::mrtc_i420_frame {
        sys::mrtc_i420_frame {
            width: self.width as i32,
            height: self.height as i32,
            y: self.y.as_ptr(),
            stride_y: self.stride_y as i32,
            u: self.u.as_ptr(),
            stride_u: self.stride_u as i32,
            v: self.v.as_ptr(),
            stride_v: self.stride_v as i32,
            timestamp_us: self.timestamp_us,
        }
    }
}

// ------------------------------------------------------------------ local audio

/// A local audio track sending the factory's capture PCM. Drop removes it from the call.
pub struct AudioTrack {
    raw: NonNull<sys::mrtc_audio_track>,
    _factory: Arc<FactoryInner>,
}

// SAFETY: the shim's audio track calls go through libwebrtc's thread-safe track proxy.
unsafe impl Send for AudioTrack {}
unsafe impl Sync for AudioTrack {}

impl std::fmt::Debug for AudioTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioTrack").finish_non_exhaustive()
    }
}

pub(crate) fn non_null<T>(op: &'static str, ptr: *mut T) -> Result<NonNull<T>> {
    NonNull::new(ptr).ok_or_else(|| Error::Shim {
        op,
        code: crate::ErrorCode::Internal,
        message: "shim returned a null handle".into(),
    })
}

impl AudioTrack {
    pub(crate) fn add(
        peer: &PeerConnection,
        factory: &Arc<FactoryInner>,
        track_id: &str,
        stream_id: &str,
    ) -> Result<AudioTrack> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live peer, strings copied by the shim.
        let status = unsafe {
            sys::mrtc_peer_add_audio_track(peer.raw(), mstr(track_id), mstr(stream_id), &mut out)
        };
        check("add_audio_track", raw!(status), String::new())?;
        Ok(AudioTrack {
            raw: non_null("add_audio_track", out)?,
            _factory: factory.clone(),
        })
    }

    /// Enables or mutes the track (muted: it sends silence).
    pub fn set_enabled(&self, enabled: bool) {
        // SAFETY: live track.
        unsafe { sys::mrtc_audio_track_set_enabled(self.raw.as_ptr(), enabled.into()) };
    }
}

impl Drop for AudioTrack {
    fn drop(&mut self) {
        // SAFETY: we own the track.
        unsafe { sys::mrtc_audio_track_destroy(self.raw.as_ptr()) };
    }
}

// ------------------------------------------------------------------ local video

/// A video source fed with I420 frames from Rust; add it to peers with
/// [`PeerConnection::add_video_track`]. `Send + Sync`: frames may be pushed from any thread
/// (libwebrtc's video broadcaster is locked).
pub struct VideoSource {
    raw: NonNull<sys::mrtc_video_source>,
    _factory: Arc<FactoryInner>,
}

// SAFETY: see the type's docs.
unsafe impl Send for VideoSource {}
unsafe impl Sync for VideoSource {}

impl std::fmt::Debug for VideoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoSource").finish_non_exhaustive()
    }
}

impl VideoSource {
    /// Creates a source on `factory`.
    pub fn new(factory: &Factory) -> Result<VideoSource> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live factory.
        let status = unsafe { sys::mrtc_video_source_create(factory.inner.raw(), &mut out) };
        check("VideoSource::new", raw!(status), String::new())?;
        Ok(VideoSource {
            raw: non_null("VideoSource::new", out)?,
            _factory: factory.inner.clone(),
        })
    }

    pub(crate) fn raw(&self) -> *mut sys::mrtc_video_source {
        self.raw.as_ptr()
    }

    pub(crate) fn factory(&self) -> &Arc<FactoryInner> {
        &self._factory
    }

    /// Owns a source the shim made by another entry point (a platform's).
    pub(crate) fn adopt(raw: NonNull<sys::mrtc_video_source>, factory: &Factory) -> VideoSource {
        VideoSource {
            raw,
            _factory: factory.inner.clone(),
        }
    }

    /// Delivers a frame to every track of this source (the planes are copied). A source a
    /// platform made ([`VideoSource::new_android`]) is fed by its own capturer and refuses
    /// with `InvalidState`.
    ///
    /// `timestamp_us` may come from any capture clock: the source keeps the spacing of
    /// consecutive stamps and re-anchors to its own clock when one goes backwards or runs
    /// more than a second ahead, so a wild stamp cannot stall the stream. Sides beyond
    /// [`MAX_FRAME_SIDE`] are refused with [`ErrorCode::InvalidArgument`](crate::ErrorCode).
    pub fn push_i420(&self, frame: &I420Frame) -> Result<()> {
        frame.validate()?;
        let raw_frame = frame.as_raw();
        // SAFETY: planes validated above, copied by the shim before returning.
        let status = unsafe { sys::mrtc_video_source_push_i420(self.raw(), &raw_frame) };
        check("VideoSource::push_i420", raw!(status), String::new())
    }
}

impl Drop for VideoSource {
    fn drop(&mut self) {
        // SAFETY: we own the source; tracks keep their own reference inside libwebrtc.
        unsafe { sys::mrtc_video_source_destroy(self.raw()) };
    }
}

/// A local video track. Drop removes it from the call.
pub struct VideoTrack {
    raw: NonNull<sys::mrtc_video_track>,
    _factory: Arc<FactoryInner>,
}

// SAFETY: the shim's video track calls go through libwebrtc's thread-safe track proxy.
unsafe impl Send for VideoTrack {}
unsafe impl Sync for VideoTrack {}

impl std::fmt::Debug for VideoTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoTrack").finish_non_exhaustive()
    }
}

impl VideoTrack {
    pub(crate) fn add(
        peer: &PeerConnection,
        factory: &Arc<FactoryInner>,
        source: &VideoSource,
        track_id: &str,
        stream_id: &str,
    ) -> Result<VideoTrack> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live peer and source; strings copied by the shim.
        let status = unsafe {
            sys::mrtc_peer_add_video_track(
                peer.raw(),
                source.raw(),
                mstr(track_id),
                mstr(stream_id),
                &mut out,
            )
        };
        check("add_video_track", raw!(status), String::new())?;
        Ok(VideoTrack {
            raw: non_null("add_video_track", out)?,
            _factory: factory.clone(),
        })
    }

    /// Enables the track or blacks it out.
    pub fn set_enabled(&self, enabled: bool) {
        // SAFETY: live track.
        unsafe { sys::mrtc_video_track_set_enabled(self.raw.as_ptr(), enabled.into()) };
    }
}

impl Drop for VideoTrack {
    fn drop(&mut self) {
        // SAFETY: we own the track.
        unsafe { sys::mrtc_video_track_destroy(self.raw.as_ptr()) };
    }
}

// ------------------------------------------------------------------ remote tracks

/// A track the remote peer sends (from [`PeerEvent::Track`](crate::PeerEvent::Track)).
/// Attach a sink to get its decoded media; Drop detaches and frees it.
pub struct RemoteTrack {
    raw: NonNull<sys::mrtc_remote_track>,
    kind: TrackKind,
    id: String,
    /// The installed sink's user_data. The shim runs no sink callback after the set call
    /// that replaces it (or destroy) returns, so the old box is freed right then.
    sink: Mutex<Option<Box<dyn std::any::Any + Send>>>,
    _factory: Arc<FactoryInner>,
}

// SAFETY: sink changes are serialised by the mutex; the shim's track calls are
// thread-safe (VideoTrack/AudioTrack proxies); sink pointers are freed only after the shim
// stopped using them.
unsafe impl Send for RemoteTrack {}
unsafe impl Sync for RemoteTrack {}

impl std::fmt::Debug for RemoteTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTrack")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl RemoteTrack {
    pub(crate) fn adopt(
        raw: NonNull<sys::mrtc_remote_track>,
        kind: u32,
        factory: &Arc<FactoryInner>,
    ) -> RemoteTrack {
        // SAFETY: we own the track; the id stays valid until destroy, copied now.
        let id = unsafe { owned(sys::mrtc_remote_track_id(raw.as_ptr())) };
        RemoteTrack {
            raw,
            kind: if kind == 1 {
                TrackKind::Video
            } else {
                TrackKind::Audio
            },
            id,
            sink: Mutex::new(None),
            _factory: factory.clone(),
        }
    }

    pub(crate) fn raw(&self) -> *mut sys::mrtc_remote_track {
        self.raw.as_ptr()
    }

    pub(crate) fn factory(&self) -> &Arc<FactoryInner> {
        &self._factory
    }

    /// Audio or video.
    pub fn kind(&self) -> TrackKind {
        self.kind
    }

    /// The track id the sender chose.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Receives this audio track's decoded PCM in 10 ms chunks (while the factory's device
    /// plays out). Replaces any previous sink; holds up to [`AUDIO_QUEUE_CHUNKS`] chunks.
    pub fn audio_frames(&self) -> Result<Receiver<AudioFrame>> {
        if self.kind != TrackKind::Audio {
            return Err(Error::invalid(
                "RemoteTrack::audio_frames",
                "not an audio track",
            ));
        }
        let (tx, rx) = sync_channel(AUDIO_QUEUE_CHUNKS);
        let boxed = Box::new(tx);
        let ud: *const SyncSender<AudioFrame> = &*boxed;
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: ud points into `boxed`, kept in `sink` until replaced after a later set
        // call (or destroy) returned.
        let status = unsafe {
            sys::mrtc_remote_track_set_audio_sink(
                self.raw.as_ptr(),
                Some(audio_sink_cb),
                ud as *mut c_void,
            )
        };
        check("RemoteTrack::audio_frames", raw!(status), String::new())?;
        *sink = Some(boxed);
        Ok(rx)
    }

    /// Receives this video track's decoded frames. Replaces any previous sink; holds up to
    /// [`VIDEO_QUEUE_FRAMES`] frames, dropping new ones beyond.
    pub fn video_frames(&self) -> Result<Receiver<I420Frame>> {
        if self.kind != TrackKind::Video {
            return Err(Error::invalid(
                "RemoteTrack::video_frames",
                "not a video track",
            ));
        }
        let (tx, rx) = sync_channel(VIDEO_QUEUE_FRAMES);
        let boxed = Box::new(tx);
        let ud: *const SyncSender<I420Frame> = &*boxed;
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: as in audio_frames.
        let status = unsafe {
            sys::mrtc_remote_track_set_video_sink(
                self.raw.as_ptr(),
                Some(video_sink_cb),
                ud as *mut c_void,
            )
        };
        check("RemoteTrack::video_frames", raw!(status), String::new())?;
        *sink = Some(boxed);
        Ok(rx)
    }

    /// Detaches the sink (its receiver disconnects).
    pub fn clear_sink(&self) {
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: live track; NULL removes the sink, none runs after the call returns.
        unsafe {
            match self.kind {
                TrackKind::Audio => sys::mrtc_remote_track_set_audio_sink(
                    self.raw.as_ptr(),
                    None,
                    std::ptr::null_mut(),
                ),
                TrackKind::Video => sys::mrtc_remote_track_set_video_sink(
                    self.raw.as_ptr(),
                    None,
                    std::ptr::null_mut(),
                ),
            }
        };
        *sink = None;
    }
}

impl Drop for RemoteTrack {
    fn drop(&mut self) {
        // SAFETY: we own the track; no sink callback runs after destroy returns, so the
        // sink box (dropped with self) is no longer referenced.
        unsafe { sys::mrtc_remote_track_destroy(self.raw.as_ptr()) };
    }
}

unsafe extern "C" fn audio_sink_cb(
    user_data: *mut c_void,
    pcm: *const i16,
    frames: usize,
    sample_rate: u32,
    channels: u32,
) {
    guard(|| {
        // SAFETY: user_data is the installed sink's sender (alive while installed).
        let tx = &*user_data.cast::<SyncSender<AudioFrame>>();
        forward_pcm(tx, pcm, frames, sample_rate, channels);
    });
}

unsafe extern "C" fn video_sink_cb(user_data: *mut c_void, frame: *const sys::mrtc_i420_frame) {
    guard(|| {
        // SAFETY: as in audio_sink_cb; the frame is valid during the call.
        let tx = &*user_data.cast::<SyncSender<I420Frame>>();
        let frame = I420Frame::from_raw(&*frame);
        match tx.try_send(frame) {
            Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
        }
    });
}
