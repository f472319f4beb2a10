//! What the call sends (a tone or a WAV file, pushed in real time) and what it does with
//! what it receives (a WAV recording, level and tone analysis).

use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mobilertc::Factory;
use serde::Serialize;

/// The sample rate of the call's audio device (WebRTC's native rate; Opus runs at it).
pub const SAMPLE_RATE: u32 = 48_000;

/// Peak of the sent tone, of 32768 (-6.2 dBFS).
pub const TONE_AMPLITUDE: f64 = 16_000.0;
/// RMS of the sent tone as a share of full scale, 0.345 (-9.2 dBFS): the `level` a
/// receiver's summary reports for it.
pub const TONE_RMS: f64 = TONE_AMPLITUDE / std::f64::consts::SQRT_2 / 32_768.0;

/// What the local audio track sends.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioInput {
    /// A sine at this frequency (Hz) of amplitude [`TONE_AMPLITUDE`]: -6.2 dBFS peak,
    /// -9.2 dBFS RMS ([`TONE_RMS`]), sent without gain control.
    Tone(f64),
    /// A WAV file (PCM 8/16/24/32-bit integer or 32-bit float, any rate, mono or stereo),
    /// converted to 48 kHz mono and looped.
    Wav(PathBuf),
    /// Silence.
    None,
}

/// Reads a WAV file as 48 kHz mono samples.
pub fn load_wav(path: &Path) -> Result<Vec<i16>> {
    let mut reader = hound::WavReader::open(path)
        .with_context(|| format!("opening {} as a WAV file", path.display()))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate < 8_000 || spec.sample_rate > 192_000 {
        bail!(
            "{}: unsupported WAV format ({} channels at {} Hz); use 1 or 2 channels at 8-192 kHz",
            path.display(),
            spec.channels,
            spec.sample_rate
        );
    }
    let samples: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = f64::from(1u32 << (spec.bits_per_sample.clamp(1, 32) - 1));
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| f64::from(v) / scale))
                .collect::<Result<_, _>>()
        }
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.map(f64::from))
            .collect::<Result<_, _>>(),
    }
    .with_context(|| format!("reading samples of {}", path.display()))?;
    let channels = spec.channels as usize;
    let mono: Vec<f64> = samples
        .chunks(channels)
        .map(|c| c.iter().sum::<f64>() / channels as f64)
        .collect();
    if mono.is_empty() {
        bail!("{}: the WAV file has no samples", path.display());
    }
    Ok(resample(&mono, spec.sample_rate, SAMPLE_RATE)
        .into_iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16)
        .collect())
}

/// Linear-interpolation resampling: good enough for speech and test tones.
fn resample(input: &[f64], from: u32, to: u32) -> Vec<f64> {
    if from == to {
        return input.to_vec();
    }
    let n = (input.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..n)
        .map(|i| {
            let pos = i as f64 * step;
            let k = pos as usize;
            let frac = pos - k as f64;
            let a = input[k.min(input.len() - 1)];
            let b = input[(k + 1).min(input.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

/// Fills a chunk with the samples starting at the given sample index.
type Source = dyn FnMut(u64, &mut [i16]) + Send;

/// Pushes the configured input into the factory's capture queue in real time (10 ms chunks,
/// ~60 ms ahead of the device) until dropped.
pub struct AudioPusher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AudioPusher {
    /// Starts pushing `input` (mono 48 kHz factory) into `factory`.
    pub fn start(factory: &Factory, input: &AudioInput) -> Result<AudioPusher> {
        let source: Box<Source> = match input {
            AudioInput::Tone(hz) => {
                let hz = *hz;
                Box::new(move |start, out| {
                    for (i, s) in out.iter_mut().enumerate() {
                        let t = (start + i as u64) as f64 / f64::from(SAMPLE_RATE);
                        *s = (TONE_AMPLITUDE * (2.0 * PI * hz * t).sin()) as i16;
                    }
                })
            }
            AudioInput::Wav(path) => {
                let pcm = load_wav(path)?;
                Box::new(move |start, out| {
                    for (i, s) in out.iter_mut().enumerate() {
                        *s = pcm[((start + i as u64) % pcm.len() as u64) as usize];
                    }
                })
            }
            AudioInput::None => Box::new(|_, out| out.fill(0)),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let factory = factory.clone();
        let mut source = source;
        let thread = std::thread::Builder::new()
            .name("audio-push".into())
            .spawn(move || {
                let chunk = (SAMPLE_RATE / 100) as usize;
                let mut buf = vec![0i16; chunk];
                let started = Instant::now();
                let mut pushed: u64 = 0;
                while !flag.load(Ordering::Relaxed) {
                    let due = (started.elapsed().as_secs_f64() + 0.06) * f64::from(SAMPLE_RATE);
                    while (pushed as f64) < due {
                        source(pushed, &mut buf);
                        let _ = factory.push_audio(&buf);
                        pushed += chunk as u64;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
            .context("spawning the audio thread")?;
        Ok(AudioPusher {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for AudioPusher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub use mobilertc::analysis::tone_ratio;

/// A tone counts as detected when this share of the energy sits at its frequency.
pub const TONE_THRESHOLD: f64 = 0.5;

/// What the received audio contained.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReceivedAudio {
    /// Seconds of non-silent audio played out.
    pub audible_seconds: f64,
    /// RMS level of the analysed window, 0..=1 of full scale.
    pub level: f64,
    /// Strongest frequency between 100 and 4000 Hz (10 Hz steps) in the analysed window.
    pub dominant_hz: Option<f64>,
    /// Its share of the window's energy (Goertzel), 0..=1.
    pub dominant_ratio: f64,
    /// The frequency that was expected (`--expect-tone`), its share, and whether it passed
    /// [`TONE_THRESHOLD`].
    pub expected_hz: Option<f64>,
    /// Share of energy at `expected_hz`.
    pub expected_ratio: Option<f64>,
    /// `expected_ratio >= TONE_THRESHOLD`.
    pub tone_detected: Option<bool>,
}

/// Collects played-out audio: a WAV recording (optional), a window of the latest audible
/// audio for analysis, and when audio first became audible.
pub struct Receiver {
    writer: Option<hound::WavWriter<std::io::BufWriter<std::fs::File>>>,
    window: std::collections::VecDeque<f64>,
    audible_samples: u64,
    /// When the first audible chunk arrived.
    pub first_audible: Option<Instant>,
}

/// Samples kept for the analysis (1 s).
const WINDOW: usize = SAMPLE_RATE as usize;
/// A chunk is audible above this RMS (about -50 dBFS): comfort noise and silence are not.
const AUDIBLE_RMS: f64 = 0.003;

impl Receiver {
    /// Records into `record` (48 kHz mono 16-bit WAV) when given.
    pub fn new(record: Option<&Path>) -> Result<Receiver> {
        let writer = match record {
            Some(path) => Some(
                hound::WavWriter::create(
                    path,
                    hound::WavSpec {
                        channels: 1,
                        sample_rate: SAMPLE_RATE,
                        bits_per_sample: 16,
                        sample_format: hound::SampleFormat::Int,
                    },
                )
                .with_context(|| format!("creating the recording {}", path.display()))?,
            ),
            None => None,
        };
        Ok(Receiver {
            writer,
            window: Default::default(),
            audible_samples: 0,
            first_audible: None,
        })
    }

    /// Takes one played-out chunk (first channel used).
    pub fn push(&mut self, frame: &mobilertc::AudioFrame) -> Result<()> {
        let ch = frame.channels.max(1) as usize;
        let mono: Vec<i16> = frame.samples.iter().step_by(ch).copied().collect();
        if let Some(w) = &mut self.writer {
            for &s in &mono {
                w.write_sample(s).context("writing the recording")?;
            }
        }
        let rms = (mono.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
            / mono.len().max(1) as f64)
            .sqrt()
            / 32768.0;
        if rms > AUDIBLE_RMS {
            self.first_audible.get_or_insert_with(Instant::now);
            self.audible_samples += mono.len() as u64;
            // The analysis window holds audible audio only: the tail of a call after the
            // other side hung up must not dilute it.
            self.window.extend(mono.iter().map(|&s| f64::from(s)));
            while self.window.len() > WINDOW {
                self.window.pop_front();
            }
        }
        Ok(())
    }

    /// Analyses the window; `expect` is the frequency to look for.
    pub fn analyse(&self, expect: Option<f64>) -> ReceivedAudio {
        let samples: Vec<f64> = self.window.iter().copied().collect();
        let level = if samples.is_empty() {
            0.0
        } else {
            (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt() / 32768.0
        };
        // A coarse scan on a quarter of the window keeps this cheap enough for the status line.
        let scan = &samples[samples.len().saturating_sub(WINDOW / 4)..];
        let dominant = (10..=400)
            .map(|k| f64::from(k) * 10.0)
            .map(|hz| (hz, tone_ratio(scan, SAMPLE_RATE, hz)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|(_, r)| *r > 0.0);
        let expected_ratio = expect.map(|hz| tone_ratio(&samples, SAMPLE_RATE, hz));
        ReceivedAudio {
            audible_seconds: self.audible_samples as f64 / f64::from(SAMPLE_RATE),
            level,
            dominant_hz: dominant.map(|(hz, _)| hz),
            dominant_ratio: dominant.map_or(0.0, |(_, r)| r),
            expected_hz: expect,
            expected_ratio,
            tone_detected: expected_ratio.map(|r| r >= TONE_THRESHOLD),
        }
    }

    /// Flushes the recording.
    pub fn finish(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            w.finalize().context("finishing the recording")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 16_000.0 * (2.0 * PI * hz * i as f64 / f64::from(SAMPLE_RATE)).sin())
            .collect()
    }

    #[test]
    fn goertzel_finds_the_tone_and_only_it() {
        let s = sine(440.0, 48_000);
        assert!(tone_ratio(&s, SAMPLE_RATE, 440.0) > 0.9);
        assert!(tone_ratio(&s, SAMPLE_RATE, 660.0) < 0.05);
        assert_eq!(tone_ratio(&[0.0; 100], SAMPLE_RATE, 440.0), 0.0);
    }

    #[test]
    fn receiver_reports_dominant_and_expected_tone() {
        let mut r = Receiver::new(None).unwrap();
        for chunk in sine(660.0, 48_000).chunks(480) {
            let frame = mobilertc::AudioFrame {
                samples: chunk.iter().map(|&s| s as i16).collect(),
                sample_rate: SAMPLE_RATE,
                channels: 1,
            };
            r.push(&frame).unwrap();
        }
        let a = r.analyse(Some(660.0));
        assert_eq!(a.dominant_hz, Some(660.0));
        assert_eq!(a.tone_detected, Some(true));
        assert!((a.audible_seconds - 1.0).abs() < 0.02, "{a:?}");
        assert_eq!(r.analyse(Some(440.0)).tone_detected, Some(false));
    }

    #[test]
    fn wav_files_are_converted_and_bad_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..16_000 {
            let v = (8_000.0 * (2.0 * PI * 500.0 * f64::from(i) / 16_000.0).sin()) as i16;
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        let pcm = load_wav(&path).unwrap();
        assert_eq!(pcm.len(), 48_000);
        let f: Vec<f64> = pcm.iter().map(|&s| f64::from(s)).collect();
        assert!(tone_ratio(&f, SAMPLE_RATE, 500.0) > 0.9);

        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, b"not a wav").unwrap();
        let err = format!("{:#}", load_wav(&junk).unwrap_err());
        assert!(err.contains("junk.wav"), "{err}");
    }
}
