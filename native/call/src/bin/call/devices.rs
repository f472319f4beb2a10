//! The machine's devices for the call: which ones the flags name, opened before the call so
//! a wrong name is bad input (exit 2), and in the window's mode the defaults when present
//! (`none` turns one off).

mod camera;
mod sound;

use std::path::Path;

use anyhow::{Context, Result};
use mobilertc_call::Devices;

use crate::{Args, Opened};

pub use camera::V4l2Camera;

/// `--list-devices`.
pub fn list() -> String {
    let sound = sound::list().unwrap_or_else(|e| format!("audio: {e:#}\n"));
    format!("{sound}{}", camera::list())
}

/// The first V4L2 node a window uses when no `--camera` is given.
const DEFAULT_CAMERA: &str = "/dev/video0";

/// Opens what the flags name; a named device that fails is an error. With `--gui` and no
/// audio or video flag, the default microphone, speaker and camera are tried and a missing
/// one becomes a note (the call goes on without it).
pub fn open(args: &Args) -> Result<Opened> {
    let mut devices = Devices::default();
    let mut notes = vec![];
    let audio_chosen = args.tone_hz.is_some() || args.audio_file.is_some() || args.no_audio;
    match (args.mic.as_deref(), args.gui && !audio_chosen) {
        (Some("none"), _) => {}
        (Some(name), _) => devices.microphone = Some(Box::new(sound::CpalMic::open(name)?)),
        (None, true) => match sound::CpalMic::open("default") {
            Ok(mic) => devices.microphone = Some(Box::new(mic)),
            Err(e) => notes.push(format!("no microphone, sending silence: {e:#}")),
        },
        (None, false) => {}
    }
    match (args.speaker.as_deref(), args.gui) {
        (Some("none"), _) => {}
        (Some(name), _) => devices.speaker = Some(Box::new(sound::CpalSpeaker::open(name)?)),
        (None, true) => match sound::CpalSpeaker::open("default") {
            Ok(s) => devices.speaker = Some(Box::new(s)),
            Err(e) => notes.push(format!(
                "no speaker, the received audio is not played: {e:#}"
            )),
        },
        (None, false) => {}
    }
    let (width, height) = parse_size(&args.camera_size)?;
    let camera = match (args.camera.as_deref(), args.gui && !args.video) {
        (Some("pattern" | "none"), _) => None, // pattern: the core's (config.video)
        (Some(path), _) => Some(V4l2Camera::open(
            Path::new(path),
            width,
            height,
            args.camera_fps,
        )?),
        (None, true) if Path::new(DEFAULT_CAMERA).exists() => {
            match V4l2Camera::open(Path::new(DEFAULT_CAMERA), width, height, args.camera_fps) {
                Ok(c) => Some(c),
                Err(e) => {
                    notes.push(format!("no camera: {e:#}"));
                    None
                }
            }
        }
        (None, true) => {
            notes.push(format!(
                "no camera ({DEFAULT_CAMERA} does not exist); no video is sent (--video sends a test pattern)"
            ));
            None
        }
        (None, false) => None,
    };
    devices.camera = camera.map(|c| Box::new(c) as Box<dyn mobilertc_call::Camera>);
    Ok(Opened { devices, notes })
}

/// `640x480` → (640, 480).
fn parse_size(s: &str) -> Result<(u32, u32)> {
    let parse = || -> Option<(u32, u32)> {
        let (w, h) = s.split_once(['x', 'X'])?;
        let (w, h) = (w.parse().ok()?, h.parse().ok()?);
        ((16..=7680).contains(&w) && (16..=4320).contains(&h) && w % 2 == 0 && h % 2 == 0)
            .then_some((w, h))
    };
    parse().with_context(|| {
        format!("--camera-size {s:?}: expected WIDTHxHEIGHT with even sizes, e.g. 640x480")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_sizes() {
        assert_eq!(parse_size("640x480").unwrap(), (640, 480));
        assert_eq!(parse_size("1280X720").unwrap(), (1280, 720));
        for bad in ["640", "x480", "641x480", "0x0", "axb", "99999x480"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
