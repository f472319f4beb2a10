//! Outgoing video (a camera, or the synthetic test pattern as a stand-in camera) and a
//! counter for the incoming track.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mobilertc::{I420Frame, RemoteTrack, VideoSource};

use crate::devices::{Camera, VideoSide, VideoSink};

/// Frame size and rate of the synthetic video.
pub const WIDTH: u32 = 320;
/// Frame height.
pub const HEIGHT: u32 = 240;
/// Frames per second.
pub const FPS: u64 = 15;

/// A moving test pattern: a gradient with a bright bar that moves and chroma that drifts,
/// so every frame differs (encoders skip static content).
pub fn pattern(n: u64) -> I420Frame {
    let mut frame = I420Frame::new(WIDTH, HEIGHT);
    let bar = (n * 4 % u64::from(WIDTH)) as u32;
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            frame.y[(y * frame.stride_y + x) as usize] = if x.abs_diff(bar) < 8 {
                235
            } else {
                16 + ((x + y + n as u32) % 200) as u8
            };
        }
    }
    for y in 0..frame.chroma_height() {
        for x in 0..frame.chroma_width() {
            frame.u[(y * frame.stride_u + x) as usize] = (64 + (x + n as u32) % 128) as u8;
            frame.v[(y * frame.stride_v + x) as usize] = (64 + (y + n as u32) % 128) as u8;
        }
    }
    frame
}

/// The synthetic test pattern as a camera: [`pattern`] frames at [`FPS`]. What `--video`
/// sends, and the stand-in device of the camera path's tests.
pub struct PatternCamera {
    started: Option<Instant>,
    n: u64,
}

impl PatternCamera {
    /// A pattern starting at frame 0.
    pub fn new() -> PatternCamera {
        PatternCamera {
            started: None,
            n: 0,
        }
    }
}

impl Default for PatternCamera {
    fn default() -> Self {
        PatternCamera::new()
    }
}

impl Camera for PatternCamera {
    fn describe(&self) -> String {
        format!("pattern {WIDTH}x{HEIGHT} {FPS} fps")
    }

    fn next_frame(&mut self) -> Result<I420Frame> {
        let started = *self.started.get_or_insert_with(Instant::now);
        let due = started + Duration::from_millis(self.n * 1000 / FPS);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let frame = pattern(self.n);
        self.n += 1;
        Ok(frame)
    }
}

/// Feeds a camera's frames into a source until dropped; while disabled (camera off) it
/// stops taking frames from the camera.
pub struct VideoPusher {
    stop: Arc<AtomicBool>,
    enabled: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl VideoPusher {
    /// Starts the frames; `sink` also gets each one (the self-view). A camera error ends
    /// the video and is passed to `on_error`.
    pub fn start(
        source: Arc<VideoSource>,
        mut camera: Box<dyn Camera>,
        sink: Option<VideoSink>,
        on_error: impl FnOnce(anyhow::Error) + Send + 'static,
    ) -> Result<VideoPusher> {
        let stop = Arc::new(AtomicBool::new(false));
        let enabled = Arc::new(AtomicBool::new(true));
        let frames = Arc::new(AtomicU64::new(0));
        let (flag, on, count) = (stop.clone(), enabled.clone(), frames.clone());
        let thread = std::thread::Builder::new()
            .name("video-push".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    if !on.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    let frame = match camera.next_frame() {
                        Ok(f) => f,
                        Err(e) => {
                            on_error(e.context(format!("camera {}", camera.describe())));
                            return;
                        }
                    };
                    if source.push_i420(&frame).is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(sink) = &sink {
                        sink(VideoSide::Local, &frame);
                    }
                }
            })
            .context("spawning the video thread")?;
        Ok(VideoPusher {
            stop,
            enabled,
            frames,
            thread: Some(thread),
        })
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Camera on (frames flow) or off (none are taken from the camera).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }
}

impl Drop for VideoPusher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Frames so far, last width, last height.
type Seen = (u64, Option<u32>, Option<u32>);

/// Counts the frames a remote video track delivers (and the latest size).
pub struct VideoCounter {
    state: Arc<Mutex<Seen>>,
}

impl VideoCounter {
    /// Starts counting `track`'s frames (the thread ends when the track goes away); `sink`
    /// also gets each one.
    pub fn start(track: &RemoteTrack, sink: Option<VideoSink>) -> Result<VideoCounter> {
        let frames = track.video_frames().context("receiving remote video")?;
        let state = Arc::new(Mutex::new((0, None, None)));
        let shared = state.clone();
        std::thread::Builder::new()
            .name("video-in".into())
            .spawn(move || {
                for f in frames {
                    {
                        let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                        *s = (s.0 + 1, Some(f.width), Some(f.height));
                    }
                    if let Some(sink) = &sink {
                        sink(VideoSide::Remote, &f);
                    }
                }
            })
            .context("spawning the video counter")?;
        Ok(VideoCounter { state })
    }

    /// Frames so far, last width, last height.
    pub fn snapshot(&self) -> (u64, Option<u32>, Option<u32>) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
