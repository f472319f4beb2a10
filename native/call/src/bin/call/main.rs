//! `call`: the mobilertc calling app for Linux. Joins a room; the first peer waits, the
//! second calls. A console program by default (a tone or WAV, a test pattern, chat on
//! stdin, a summary); with `--gui` a window; with `--mic`/`--speaker`/`--camera` the
//! machine's devices. See docs/calling-app.md.

mod console;
#[cfg(feature = "devices")]
mod devices;
#[cfg(feature = "gui")]
mod gui;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use mobilertc_call::{parse_stun, parse_turn, AudioInput, CallConfig};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Call another peer through a mobilertc signaling server"
)]
struct Args {
    /// Signaling server, e.g. http://127.0.0.1:8080 or https://host:8443. Repeat it for
    /// the instances of one deployment on Redis: the first that answers is used, the next
    /// when it stops answering.
    #[arg(
        long,
        env = "MOBILERTC_SERVER",
        required_unless_present = "list_devices"
    )]
    server: Vec<String>,
    /// A PEM certificate to trust for an https:// server besides the public CAs (e.g. the
    /// file `mobilertc-signaling --tls-self-signed … --tls-cert-out FILE` wrote).
    #[arg(long, value_name = "PEM")]
    server_cert: Option<PathBuf>,
    /// Room to join (1-64 of A-Z a-z 0-9 _ -).
    #[arg(long, required_unless_present = "list_devices")]
    room: Option<String>,
    /// Display name for the others.
    #[arg(long)]
    name: Option<String>,
    /// Send a sine tone at this frequency (Hz); the console default is 440.
    #[arg(long, conflicts_with_all = ["audio_file", "no_audio", "mic"])]
    tone_hz: Option<f64>,
    /// Send this WAV file (looped) instead of a tone.
    #[arg(long)]
    audio_file: Option<PathBuf>,
    /// Send silence.
    #[arg(long, conflicts_with = "mic")]
    no_audio: bool,
    /// Report whether the received audio carries a tone at this frequency (Hz).
    #[arg(long)]
    expect_tone: Option<f64>,
    /// Send synthetic video (320x240, 15 fps); same as `--camera pattern`.
    #[arg(long)]
    video: bool,
    /// Record the received audio to this WAV file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// STUN server (stun:HOST:PORT); repeatable.
    #[arg(long)]
    stun: Vec<String>,
    /// TURN server as URL,USER,PASS (turn:HOST:PORT[?transport=udp|tcp]); repeatable.
    #[arg(long)]
    turn: Vec<String>,
    /// Use relay candidates only (needs --turn).
    #[arg(long)]
    relay_only: bool,
    /// Hang up this many seconds after connecting.
    #[arg(long)]
    duration: Option<f64>,
    /// Send this chat line once the chat channel opens; repeatable.
    #[arg(long)]
    chat: Vec<String>,
    /// Print the final summary as JSON: to stdout, or to PATH.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "-")]
    json: Option<String>,
    /// Fail when not connected this many seconds after negotiation started.
    #[arg(long, default_value_t = 20.0)]
    connect_timeout: f64,
    /// As callee, give up when nobody called within this many seconds.
    #[arg(long)]
    wait: Option<f64>,
    /// Don't read chat lines from stdin.
    #[arg(long)]
    no_stdin: bool,
    /// Open a window: the remote video, a self-view, chat, stats, mute/camera/hang-up.
    #[arg(long)]
    gui: bool,
    /// List microphones, speakers and cameras, then exit.
    #[arg(long)]
    list_devices: bool,
    /// Send this microphone (`default`, a name from --list-devices, or `none`) instead of
    /// a tone. With --gui the default microphone is used unless an audio flag is given.
    #[arg(long, value_name = "NAME", conflicts_with = "audio_file")]
    mic: Option<String>,
    /// Play the received audio on this speaker (`default`, a name from --list-devices, or
    /// `none`). With --gui the default speaker is used.
    #[arg(long, value_name = "NAME")]
    speaker: Option<String>,
    /// Send this camera (a V4L2 device such as /dev/video0, `pattern`, or `none`). With --gui
    /// /dev/video0 is used when it exists.
    #[arg(long, value_name = "PATH")]
    camera: Option<String>,
    /// Camera frame size, WIDTHxHEIGHT (the driver picks the nearest it has).
    #[arg(long, default_value = "640x480", value_name = "WxH")]
    camera_size: String,
    /// Camera frame rate.
    #[arg(long, default_value_t = 30)]
    camera_fps: u32,
    /// Start with the microphone muted.
    #[arg(long)]
    muted: bool,
    /// Start with the camera off.
    #[arg(long)]
    camera_off: bool,
    /// With --gui: close the window when the call ends (implied by --duration).
    #[arg(long, requires = "gui")]
    close_on_end: bool,
    /// With --gui: once the remote video shows, save the window as this PNG.
    #[arg(long, value_name = "PNG", requires = "gui")]
    screenshot: Option<PathBuf>,
}

fn secs(what: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v).with_context(|| format!("--{what} {v}: not a number of seconds"))
}

fn config(args: &Args) -> Result<CallConfig> {
    let (Some(server), Some(room)) = (args.server.first(), &args.room) else {
        anyhow::bail!("--server and --room are required");
    };
    let mut c = CallConfig::new(server, room);
    c.more_servers = args.server[1..].to_vec();
    c.server_cert = args.server_cert.clone();
    c.name = args.name.clone();
    c.audio = if args.no_audio {
        AudioInput::None
    } else if let Some(path) = &args.audio_file {
        AudioInput::Wav(path.clone())
    } else {
        let hz = args.tone_hz.unwrap_or(440.0);
        if !(20.0..=20_000.0).contains(&hz) {
            anyhow::bail!("--tone-hz {hz}: use 20-20000 Hz");
        }
        AudioInput::Tone(hz)
    };
    c.expect_tone = args.expect_tone;
    c.video = args.video || args.camera.as_deref() == Some("pattern");
    c.record = args.record.clone();
    for s in &args.stun {
        c.ice_servers.push(parse_stun(s)?);
    }
    for t in &args.turn {
        c.ice_servers.push(parse_turn(t)?);
    }
    c.relay_only = args.relay_only;
    if c.relay_only && args.turn.is_empty() {
        anyhow::bail!("--relay-only needs a --turn server (only relay candidates are allowed)");
    }
    c.chat = args.chat.clone();
    c.duration = args.duration.map(|d| secs("duration", d)).transpose()?;
    c.connect_timeout = secs("connect-timeout", args.connect_timeout)?;
    c.wait_timeout = args.wait.map(|w| secs("wait", w)).transpose()?;
    Ok(c)
}

fn main() {
    let args = Args::parse();
    std::process::exit(match run(args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    });
}

/// Ok(success) for a call that ran; Err for bad input before any call.
fn run(args: Args) -> Result<bool> {
    if args.list_devices {
        return list_devices().map(|()| true);
    }
    let mut config = config(&args)?;
    let devices = open_devices(&args)?;
    let audio_chosen = args.tone_hz.is_some() || args.audio_file.is_some() || args.no_audio;
    if (args.gui || args.mic.is_some()) && !audio_chosen && devices.devices.microphone.is_none() {
        config.audio = AudioInput::None;
    }
    if args.gui {
        #[cfg(feature = "gui")]
        return gui::run(&args, config, devices);
        #[cfg(not(feature = "gui"))]
        anyhow::bail!("--gui: this `call` was built without its `gui` feature");
    }
    console::run(&args, config, devices)
}

#[cfg(feature = "devices")]
fn list_devices() -> Result<()> {
    print!("{}", devices::list());
    Ok(())
}

#[cfg(not(feature = "devices"))]
fn list_devices() -> Result<()> {
    anyhow::bail!("--list-devices: this `call` was built without its `devices` feature")
}

/// The devices the flags ask for, and what could not be opened (the call goes on without).
pub struct Opened {
    pub devices: mobilertc_call::Devices,
    /// Why a device the user did not name explicitly is missing (shown, not fatal).
    pub notes: Vec<String>,
}

#[cfg(feature = "devices")]
fn open_devices(args: &Args) -> Result<Opened> {
    devices::open(args)
}

#[cfg(not(feature = "devices"))]
fn open_devices(args: &Args) -> Result<Opened> {
    let device =
        |d: &Option<String>, fake: &[&str]| d.as_deref().is_some_and(|d| !fake.contains(&d));
    if device(&args.mic, &["none"])
        || device(&args.speaker, &["none"])
        || device(&args.camera, &["none", "pattern"])
    {
        anyhow::bail!(
            "--mic/--speaker/--camera: this `call` was built without its `devices` feature"
        );
    }
    Ok(Opened {
        devices: Default::default(),
        notes: vec![],
    })
}
