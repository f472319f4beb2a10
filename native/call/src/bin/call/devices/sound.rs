//! Microphone and speaker through cpal (ALSA; PulseAudio and PipeWire through ALSA's `pulse`
//! and `pipewire` plugins, which the `default` device usually is).
//!
//! The call's audio is 48 kHz mono 16-bit. A device is opened at 48 kHz with the fewest
//! channels it offers, as 16-bit or float samples; capture is downmixed, playout copied to
//! every channel. ALSA's `default`/`pulse` devices convert anything; a raw `hw:` device
//! without 48 kHz is refused with a hint.
//!
//! cpal streams must stay on the thread that made them, so each device runs its stream on
//! its own thread until dropped.

use std::collections::VecDeque;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{anyhow, Context, Result};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{SampleFormat, SampleRate, StreamConfig, SupportedStreamConfigRange};
use mobilertc_call::{MicSink, Microphone, Running, Speaker};

const RATE: u32 = mobilertc_call::audio::SAMPLE_RATE;
/// The speaker's device buffer: 85 ms in four periods (cpal 0.16 splits it so) of 21 ms.
/// Without it ALSA's pulse plugin may pick seconds; much less underruns on a busy machine.
const SPEAKER_BUFFER_FRAMES: u32 = 4096;
/// Playout queued beyond a device period before the speaker starts: 40 ms.
const PRIME: usize = RATE as usize / 25;
/// Playout queued beyond this is dropped oldest first: latency must not grow.
const MAX_QUEUED_MS: usize = 200;

/// Input and output device names, defaults first marked.
pub fn list() -> Result<String> {
    let host = cpal::default_host();
    let mut out = format!("audio host: {}\n", host.id().name());
    let default_in = host.default_input_device().and_then(|d| d.name().ok());
    let default_out = host.default_output_device().and_then(|d| d.name().ok());
    out.push_str("microphones (--mic NAME):\n");
    for d in host.input_devices().context("listing audio inputs")? {
        let name = d.name().unwrap_or_else(|_| "?".into());
        let mark = if Some(&name) == default_in.as_ref() {
            " (default)"
        } else {
            ""
        };
        out.push_str(&format!("  {name}{mark}\n"));
    }
    out.push_str("speakers (--speaker NAME):\n");
    for d in host.output_devices().context("listing audio outputs")? {
        let name = d.name().unwrap_or_else(|_| "?".into());
        let mark = if Some(&name) == default_out.as_ref() {
            " (default)"
        } else {
            ""
        };
        out.push_str(&format!("  {name}{mark}\n"));
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Dir {
    In,
    Out,
}

impl Dir {
    fn noun(self) -> &'static str {
        match self {
            Dir::In => "microphone",
            Dir::Out => "speaker",
        }
    }
}

/// The device called `name` (`default`: the host's default one).
fn find(dir: Dir, name: &str) -> Result<cpal::Device> {
    let host = cpal::default_host();
    let hint = "(see `call --list-devices`)";
    if name == "default" {
        let d = match dir {
            Dir::In => host.default_input_device(),
            Dir::Out => host.default_output_device(),
        };
        return d.ok_or_else(|| anyhow!("no default {} {hint}", dir.noun()));
    }
    let mut devices = match dir {
        Dir::In => host.input_devices(),
        Dir::Out => host.output_devices(),
    }
    .with_context(|| format!("listing {}s", dir.noun()))?;
    devices
        .find(|d| d.name().is_ok_and(|n| n == name))
        .ok_or_else(|| anyhow!("no {} called {name:?} {hint}", dir.noun()))
}

/// 48 kHz, the fewest channels, 16-bit or float samples.
fn pick_config(
    dir: Dir,
    device: &cpal::Device,
    name: &str,
) -> Result<(StreamConfig, SampleFormat)> {
    let ranges: Vec<SupportedStreamConfigRange> = match dir {
        Dir::In => device.supported_input_configs().map(|c| c.collect()),
        Dir::Out => device.supported_output_configs().map(|c| c.collect()),
    }
    .with_context(|| format!("{} {name:?}: reading its formats", dir.noun()))?;
    let best = ranges
        .iter()
        .filter(|r| r.min_sample_rate().0 <= RATE && RATE <= r.max_sample_rate().0)
        .filter(|r| matches!(r.sample_format(), SampleFormat::I16 | SampleFormat::F32))
        .min_by_key(|r| (r.channels(), r.sample_format() != SampleFormat::I16))
        .ok_or_else(|| {
            anyhow!(
                "{} {name:?} offers no 48 kHz 16-bit or float format (it has {}); \
                 use ALSA's `default` or `pulse` device, which convert",
                dir.noun(),
                ranges
                    .iter()
                    .map(|r| format!(
                        "{}ch {:?} {}-{} Hz",
                        r.channels(),
                        r.sample_format(),
                        r.min_sample_rate().0,
                        r.max_sample_rate().0
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let supported = (*best).with_sample_rate(SampleRate(RATE));
    let mut config = supported.config();
    // The speaker's latency is ours to choose; a microphone keeps the device's default
    // (small capture periods overrun on a busy machine: lost samples, a distorted voice).
    if let (Dir::Out, cpal::SupportedBufferSize::Range { min, max }) =
        (dir, supported.buffer_size())
    {
        config.buffer_size = cpal::BufferSize::Fixed(SPEAKER_BUFFER_FRAMES.clamp(*min, *max));
    }
    Ok((config, supported.sample_format()))
}

/// A stream living on its own thread until this is dropped.
struct StreamThread {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StreamThread {
    /// Runs `open` on a new thread and keeps the stream it returns playing.
    fn spawn(
        what: String,
        open: impl FnOnce() -> Result<cpal::Stream> + Send + 'static,
    ) -> Result<StreamThread> {
        let (ready_tx, ready_rx) = channel::<Result<()>>();
        let (stop, stopped): (Sender<()>, Receiver<()>) = channel();
        let thread = std::thread::Builder::new()
            .name(what.clone())
            .spawn(move || {
                let stream = match open().and_then(|s| {
                    s.play().context("starting the stream")?;
                    Ok(s)
                }) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                // Until the owner drops its sender.
                let _ = stopped.recv();
                drop(stream);
            })
            .with_context(|| format!("spawning the {what} thread"))?;
        let ready = ready_rx
            .recv()
            .map_err(|_| anyhow!("the {what} thread ended early"))
            .and_then(|r| r);
        let mut me = StreamThread {
            stop: Some(stop),
            thread: Some(thread),
        };
        match ready {
            Ok(()) => Ok(me),
            Err(e) => {
                me.stop.take();
                Err(e)
            }
        }
    }
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn on_stream_error(what: &'static str) -> impl FnMut(cpal::StreamError) + Send + 'static {
    move |e| eprintln!("note: {what}: {e}")
}

/// A cpal input device feeding the call's capture queue.
pub struct CpalMic {
    name: String,
    sink: Arc<Mutex<Option<MicSink>>>,
    _stream: StreamThread,
}

impl CpalMic {
    /// Opens and starts the input called `name` (`default`); its samples are dropped until
    /// the call starts it.
    pub fn open(name: &str) -> Result<CpalMic> {
        let device = find(Dir::In, name)?;
        let (config, format) = pick_config(Dir::In, &device, name)?;
        let sink: Arc<Mutex<Option<MicSink>>> = Arc::new(Mutex::new(None));
        let channels = usize::from(config.channels);
        let shared = sink.clone();
        let label = name.to_owned();
        let stream = StreamThread::spawn("mic".into(), move || {
            let mut mono: Vec<i16> = Vec::new();
            let mut deliver = move |samples: &mut dyn Iterator<Item = i16>| {
                mono.clear();
                mono.extend(samples);
                if let Some(sink) = shared.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    sink.push(&mono);
                }
            };
            let err = on_stream_error("microphone");
            let stream = match format {
                SampleFormat::I16 => device.build_input_stream(
                    &config,
                    move |data: &[i16], _: &_| {
                        deliver(
                            &mut data
                                .chunks(channels)
                                .map(|c| downmix(c.iter().map(|&s| f32::from(s) / 32768.0))),
                        )
                    },
                    err,
                    None,
                ),
                _ => device.build_input_stream(
                    &config,
                    move |data: &[f32], _: &_| {
                        deliver(&mut data.chunks(channels).map(|c| downmix(c.iter().copied())))
                    },
                    err,
                    None,
                ),
            };
            stream.with_context(|| format!("opening microphone {label:?}"))
        })?;
        Ok(CpalMic {
            name: name.to_owned(),
            sink,
            _stream: stream,
        })
    }
}

/// The mean of one frame's channels, as a 16-bit sample.
fn downmix(frame: impl Iterator<Item = f32>) -> i16 {
    let (sum, n) = frame.fold((0.0f32, 0u32), |(s, n), v| (s + v, n + 1));
    (sum / n.max(1) as f32 * 32767.0).clamp(-32768.0, 32767.0) as i16
}

impl Microphone for CpalMic {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn start(self: Box<Self>, sink: MicSink) -> Result<Running> {
        *self.sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(sink);
        Ok(self)
    }
}

impl Drop for CpalMic {
    fn drop(&mut self) {
        // Stop feeding the call's factory before the stream thread is joined.
        self.sink.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// A cpal output device playing the call's playout.
pub struct CpalSpeaker {
    name: String,
    queue: Arc<Mutex<VecDeque<i16>>>,
    _stream: StreamThread,
}

impl CpalSpeaker {
    /// Opens and starts the output called `name` (`default`); it plays silence until the
    /// call's audio arrives.
    pub fn open(name: &str) -> Result<CpalSpeaker> {
        let device = find(Dir::Out, name)?;
        let (config, format) = pick_config(Dir::Out, &device, name)?;
        let queue: Arc<Mutex<VecDeque<i16>>> = Arc::new(Mutex::new(VecDeque::new()));
        let channels = usize::from(config.channels);
        let shared = queue.clone();
        let label = name.to_owned();
        let stream = StreamThread::spawn("speaker".into(), move || {
            // Playout arrives 10 ms at a time, the device takes a period at a time: it
            // starts (and after running dry restarts) only with a head start queued.
            let mut playing = false;
            let mut next = move |n: usize, out: &mut dyn FnMut(usize, i16)| {
                let mut q = shared.lock().unwrap_or_else(|p| p.into_inner());
                playing = playing || q.len() >= n + PRIME;
                for i in 0..n {
                    let s = if playing { q.pop_front() } else { None };
                    playing = playing && s.is_some();
                    out(i, s.unwrap_or(0));
                }
            };
            let err = on_stream_error("speaker");
            let stream = match format {
                SampleFormat::I16 => device.build_output_stream(
                    &config,
                    move |data: &mut [i16], _: &_| {
                        next(data.len() / channels, &mut |i, s| {
                            data[i * channels..(i + 1) * channels].fill(s)
                        })
                    },
                    err,
                    None,
                ),
                _ => device.build_output_stream(
                    &config,
                    move |data: &mut [f32], _: &_| {
                        next(data.len() / channels, &mut |i, s| {
                            data[i * channels..(i + 1) * channels].fill(f32::from(s) / 32768.0)
                        })
                    },
                    err,
                    None,
                ),
            };
            stream.with_context(|| format!("opening speaker {label:?}"))
        })?;
        Ok(CpalSpeaker {
            name: name.to_owned(),
            queue,
            _stream: stream,
        })
    }
}

impl Speaker for CpalSpeaker {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn play(&mut self, pcm: &[i16]) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.extend(pcm);
        let max = RATE as usize * MAX_QUEUED_MS / 1000;
        if q.len() > max {
            let excess = q.len() - max;
            q.drain(..excess);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels_to_16_bit() {
        assert_eq!(downmix([0.5f32, 0.5].into_iter()), 16383);
        assert_eq!(downmix([1.0f32, -1.0].into_iter()), 0);
        assert_eq!(downmix([2.0f32].into_iter()), 32767);
        assert_eq!(downmix(std::iter::empty()), 0);
    }
}
