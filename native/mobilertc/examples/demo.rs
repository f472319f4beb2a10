//! `cargo xtask demo`: a real call on whatever libwebrtc the SDK points at (on a Debian or
//! Ubuntu machine, the distro's). Two peers in one process, each with its own factory, as
//! two apps would be: offer/answer with trickle ICE, a chat over a data channel, a 440 Hz
//! tone as the caller's microphone, a moving test pattern as its camera, and what the
//! stats say about the connection. The networked calling app comes with the next issues.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mobilertc::testing::{
    collect_pcm, pattern_frame, rms, tone_ratio, wait_dc_event, wait_open, Loopback, TonePusher,
    TIMEOUT,
};
use mobilertc::{DataChannelEvent, Factory, FactoryConfig, Message, Stats, TrackKind, VideoSource};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() {
    if let Err(e) = run() {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

fn step(what: &str, started: Instant) {
    println!("[{:>7.1} ms] {what}", started.elapsed().as_secs_f64() * 1e3);
}

fn run() -> Result<()> {
    let config = FactoryConfig::default();
    let (alice, bob) = (Factory::new(config)?, Factory::new(config)?);
    let mut call = Loopback::new(&alice, &bob)?;

    // What alice offers: a chat channel, a microphone and a camera.
    let (chat, chat_events) = call.caller.pc.create_data_channel("chat", None)?;
    let mic = call.caller.pc.add_audio_track("mic", "alice")?;
    let _tone = TonePusher::start(&alice, 440.0);
    let camera = VideoSource::new(&alice)?;
    let _cam_track = call.caller.pc.add_video_track(&camera, "cam", "alice")?;
    let stop = Arc::new(AtomicBool::new(false));
    let camera_thread = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let _ = camera.push_i420(&pattern_frame(320, 240, n));
                n += 1;
                std::thread::sleep(Duration::from_millis(33));
            }
        })
    };

    let started = Instant::now();
    call.connect(TIMEOUT)?;
    step("connected: offer/answer applied, ICE and DTLS up", started);
    wait_open(&chat, &chat_events, TIMEOUT)?;
    step("alice's chat channel is open", started);
    let (bob_chat, bob_events) = call.callee.wait_data_channel(TIMEOUT)?;
    wait_open(&bob_chat, &bob_events, TIMEOUT)?;

    chat.send_text("hi bob, can you hear the tone?")?;
    let is_message = |ev: &DataChannelEvent| matches!(ev, DataChannelEvent::Message(_));
    if let Some(DataChannelEvent::Message(Message::Text(t))) =
        wait_dc_event(&bob_events, TIMEOUT, is_message)
    {
        println!("           bob got:   {t:?}");
    }
    bob_chat.send_text("loud and clear, and I see your pattern")?;
    if let Some(DataChannelEvent::Message(Message::Text(t))) =
        wait_dc_event(&chat_events, TIMEOUT, is_message)
    {
        println!("           alice got: {t:?}");
    }

    let voice = call.callee.wait_track(TrackKind::Audio, TIMEOUT)?;
    let pcm = voice.audio_frames()?;
    let _ = collect_pcm(&pcm, Duration::from_millis(500), TIMEOUT)?; // jitter buffer settles
    let (samples, rate) = collect_pcm(&pcm, Duration::from_secs(1), TIMEOUT)?;
    step(
        &format!(
            "bob hears alice's mic: 440 Hz carries {:.0}% of the signal (rms {:.3}, {rate} Hz)",
            tone_ratio(&samples, rate, 440.0) * 100.0,
            rms(&samples)
        ),
        started,
    );
    mic.set_enabled(false);
    let _ = collect_pcm(&pcm, Duration::from_secs(1), TIMEOUT)?;
    let (samples, _) = collect_pcm(&pcm, Duration::from_millis(500), TIMEOUT)?;
    step(
        &format!("alice mutes: bob's rms drops to {:.4}", rms(&samples)),
        started,
    );

    let video = call.callee.wait_track(TrackKind::Video, TIMEOUT)?;
    let frames = video.video_frames()?;
    let deadline = Instant::now() + TIMEOUT;
    let mut decoded = 0;
    let frame = loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or("no full-size video frame")?;
        let frame = frames.recv_timeout(left)?;
        decoded += 1;
        if frame.width == 320 {
            break frame;
        }
    };
    step(
        &format!(
            "bob sees alice's camera: {}x{} decoded (frame {decoded})",
            frame.width, frame.height
        ),
        started,
    );

    let stats = Stats::from_json(&call.caller.pc.stats_json()?)?;
    if let Some(pair) = &stats.selected_pair {
        let kind = |c: &mobilertc::Candidate| {
            c.candidate_type
                .map_or("unknown".to_owned(), |t| format!("{t:?}").to_lowercase())
        };
        println!(
            "           connection: {} ↔ {} over {} (RTT {} ms, {} bytes sent)",
            kind(&pair.local),
            kind(&pair.remote),
            pair.local.protocol,
            pair.current_round_trip_time
                .map_or("n/a".to_owned(), |s| format!("{:.1}", s * 1e3)),
            pair.bytes_sent
        );
    }

    stop.store(true, Ordering::Relaxed);
    camera_thread.join().map_err(|_| "camera thread panicked")?;
    drop((voice, video, bob_chat, chat));
    call.shutdown();
    step("hung up", started);
    Ok(())
}
