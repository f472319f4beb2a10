//! A platform's media ends through the safe API, on the host: native video sinks (what the
//! Android app attaches its SurfaceViewRenderers as) showing a remote track and the local
//! source, moving between them, detaching, and outliving the call's handles; and the
//! Android entry points answering `Unsupported` off Android (the app then falls back to the
//! shim's own factory and sources).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mobilertc::testing::{pattern_frame, Loopback, TIMEOUT};
use mobilertc::{
    AndroidMedia, AudioDevice, ErrorCode, Factory, FactoryConfig, I420Frame, NativeVideoSink,
    TrackKind, VideoSource,
};

fn factory() -> Factory {
    Factory::new(FactoryConfig::default()).unwrap()
}

/// Waits for a frame of `width` (the encoder may start smaller while it ramps up).
fn frame_of_width(rx: &Receiver<I420Frame>, width: u32) -> I420Frame {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("no {width}-wide frame within {TIMEOUT:?}"));
        let frame = rx.recv_timeout(left).expect("a frame");
        if frame.width == width {
            return frame;
        }
    }
}

/// Nothing arrives for a while (a detached sink). Can only pass wrongly, never fail wrongly.
fn quiet(rx: &Receiver<I420Frame>) -> bool {
    while rx.try_recv().is_ok() {} // what was queued before the detach
    rx.recv_timeout(Duration::from_millis(500)).is_err()
}

#[test]
fn a_native_sink_shows_the_remote_track_then_the_self_view_and_outlives_the_call() {
    let (fa, fb) = (factory(), factory());
    let mut call = Loopback::new(&fa, &fb).unwrap();
    let source = Arc::new(VideoSource::new(&fa).unwrap());
    let _track = call
        .caller
        .pc
        .add_video_track(&source, "cam", "stream")
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let camera = {
        let (stop, source) = (stop.clone(), source.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                source.push_i420(&pattern_frame(320, 240, n)).unwrap();
                n += 1;
                std::thread::sleep(Duration::from_millis(33));
            }
        })
    };
    call.connect(TIMEOUT).unwrap();
    let remote = call.callee.wait_track(TrackKind::Video, TIMEOUT).unwrap();

    // The far end on screen: decoded frames through the native sink.
    let (sink, frames) = NativeVideoSink::channel().unwrap();
    sink.attach_remote(&remote).unwrap();
    let decoded = frame_of_width(&frames, 320);
    assert_eq!(decoded.height, 240);
    // Independent of the track's own callback sink: both get frames.
    let direct = remote.video_frames().unwrap();
    frame_of_width(&direct, 320);
    frame_of_width(&frames, 320);

    // Moved to the self view: the source's frames, at the size pushed, and only those.
    let (local, local_frames) = NativeVideoSink::channel().unwrap();
    local.attach_local(&source).unwrap();
    assert_eq!(frame_of_width(&local_frames, 320).height, 240);
    sink.attach_local(&source).unwrap();
    frame_of_width(&frames, 320);
    sink.detach();
    assert!(quiet(&frames), "frames after detach");
    // The sink keeps what it shows (and its factory) alive after every handle of the call
    // is gone, and frees it when dropped.
    let (late, late_frames) = NativeVideoSink::channel().unwrap();
    late.attach_remote(&remote).unwrap();
    frame_of_width(&late_frames, 320);
    stop.store(true, Ordering::Relaxed);
    camera.join().unwrap();
    drop(remote);
    drop(direct);
    call.shutdown();
    drop((fa, fb, source, _track));
    drop(local);
    drop(late);
    drop(sink);
}

#[test]
fn android_entry_points_are_unsupported_off_android() {
    let media = AndroidMedia {
        jni_env: std::ptr::null_mut(),
        application_context: std::ptr::null_mut(),
        video_encoder_factory: std::ptr::null_mut(),
        video_decoder_factory: std::ptr::null_mut(),
        network_monitor: true,
    };
    // SAFETY: off Android the shim touches none of the pointers.
    let err = unsafe { Factory::new_android(FactoryConfig::default(), &media) }.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unsupported), "{err}");
    assert!(
        err.to_string().contains("not supported on this platform"),
        "{err}"
    );
    let f = factory();
    assert_eq!(f.audio_device(), AudioDevice::AppFed);
    let err = unsafe { VideoSource::new_android(&f, std::ptr::null_mut(), false) }.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unsupported), "{err}");
    let err = unsafe { NativeVideoSink::new_android(std::ptr::null_mut(), std::ptr::null_mut()) }
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unsupported), "{err}");
    // The shim's own source has no Java capturer behind it.
    let source = VideoSource::new(&f).unwrap();
    assert!(unsafe { source.android_capturer_observer(std::ptr::null_mut()) }.is_null());
}
