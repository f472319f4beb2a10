//! Synthetic outgoing video and a counter for the incoming track.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mobilertc::{I420Frame, RemoteTrack, VideoSource};

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

/// Feeds [`pattern`] frames into a source at [`FPS`] until dropped.
pub struct VideoPusher {
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl VideoPusher {
    /// Starts the frames.
    pub fn start(source: Arc<VideoSource>) -> Result<VideoPusher> {
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(AtomicU64::new(0));
        let (flag, count) = (stop.clone(), frames.clone());
        let thread = std::thread::Builder::new()
            .name("video-push".into())
            .spawn(move || {
                let started = Instant::now();
                let mut n = 0u64;
                while !flag.load(Ordering::Relaxed) {
                    if source.push_i420(&pattern(n)).is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                    let next = started + Duration::from_millis(n * 1000 / FPS);
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
            })
            .context("spawning the video thread")?;
        Ok(VideoPusher {
            stop,
            frames,
            thread: Some(thread),
        })
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
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
    /// Starts counting `track`'s frames (the thread ends when the track goes away).
    pub fn start(track: &RemoteTrack) -> Result<VideoCounter> {
        let frames = track.video_frames().context("receiving remote video")?;
        let state = Arc::new(Mutex::new((0, None, None)));
        let shared = state.clone();
        std::thread::Builder::new()
            .name("video-in".into())
            .spawn(move || {
                for f in frames {
                    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                    *s = (s.0 + 1, Some(f.width), Some(f.height));
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
