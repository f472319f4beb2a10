//! A V4L2 camera (v4l, memory-mapped buffers) as the call's [`Camera`]: YUYV frames,
//! converted to I420 with the yuv crate.
//!
//! YUYV (4:2:2 packed) is what UVC webcams offer at every size without a decoder; a camera
//! that offers only compressed formats (MJPEG, H.264) is refused with the list it has.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mobilertc::I420Frame;
use mobilertc_call::Camera;
use v4l::buffer::Type;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::{Device, FourCC};

/// Frames a capture may take before the camera counts as stalled.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// The cameras V4L2 knows: path and name.
pub fn list() -> String {
    let mut nodes = v4l::context::enum_devices();
    nodes.sort_by_key(|n| n.index());
    let mut out = String::from("cameras (--camera PATH):\n");
    if nodes.is_empty() {
        out.push_str("  none (no /dev/video*)\n");
    }
    for n in nodes {
        let name = n.name().unwrap_or_else(|| "?".into());
        out.push_str(&format!("  {}  {name}\n", n.path().display()));
    }
    out.push_str("  pattern  (the synthetic test pattern, no device)\n");
    out
}

/// An open V4L2 capture device streaming YUYV.
pub struct V4l2Camera {
    path: PathBuf,
    name: String,
    width: u32,
    height: u32,
    fps: u32,
    stream: Stream<'static>,
    _device: Device,
}

impl V4l2Camera {
    /// Opens `path`, asks for YUYV at `width`x`height` and `fps`, and starts streaming. The
    /// driver may pick the nearest size and rate it has; [`Camera::describe`] says which.
    pub fn open(path: &Path, width: u32, height: u32, fps: u32) -> Result<V4l2Camera> {
        let what = format!("camera {}", path.display());
        let device = Device::with_path(path).with_context(|| {
            format!(
                "{what}: cannot open it (is a camera connected, and may this user read it? \
                 `call --list-devices` lists the cameras; `--camera pattern` sends the test pattern)"
            )
        })?;
        let caps = device
            .query_caps()
            .with_context(|| format!("{what}: not a V4L2 device"))?;
        if !caps
            .capabilities
            .contains(v4l::capability::Flags::VIDEO_CAPTURE)
        {
            bail!("{what} ({}): not a video capture device", caps.card);
        }
        let mut format = device
            .format()
            .with_context(|| format!("{what}: reading its format"))?;
        format.width = width;
        format.height = height;
        format.fourcc = FourCC::new(b"YUYV");
        let format = device
            .set_format(&format)
            .with_context(|| format!("{what}: setting {width}x{height} YUYV"))?;
        if format.fourcc != FourCC::new(b"YUYV") {
            let offered: Vec<String> = device
                .enum_formats()
                .map(|fs| fs.iter().map(|f| f.fourcc.to_string()).collect())
                .unwrap_or_default();
            bail!(
                "{what} ({}): it does not offer YUYV (it offers {}); only uncompressed YUYV is supported",
                caps.card,
                offered.join(", ")
            );
        }
        let params = device
            .set_params(&v4l::video::capture::Parameters::with_fps(fps))
            .with_context(|| format!("{what}: setting {fps} fps"))?;
        let interval = params.interval;
        let fps = interval
            .denominator
            .checked_div(interval.numerator)
            .unwrap_or(fps);
        let mut stream = Stream::with_buffers(&device, Type::VideoCapture, 4)
            .with_context(|| format!("{what}: mapping capture buffers"))?;
        stream.set_timeout(FRAME_TIMEOUT);
        Ok(V4l2Camera {
            path: path.to_owned(),
            name: caps.card,
            width: format.width,
            height: format.height,
            fps,
            stream,
            _device: device,
        })
    }
}

impl Camera for V4l2Camera {
    fn describe(&self) -> String {
        format!(
            "{} ({}) {}x{} {} fps",
            self.path.display(),
            self.name,
            self.width,
            self.height,
            self.fps
        )
    }

    fn next_frame(&mut self) -> Result<I420Frame> {
        let (buf, _meta) = self
            .stream
            .next()
            .context("no frame from the camera (unplugged, or stalled)")?;
        yuyv_to_i420(buf, self.width, self.height)
    }
}

/// Converts a packed YUYV image (`width * 2` bytes a row) to a tightly packed I420 frame.
pub fn yuyv_to_i420(yuyv: &[u8], width: u32, height: u32) -> Result<I420Frame> {
    let stride = width * 2;
    if width == 0 || height == 0 || yuyv.len() < (stride * height) as usize {
        bail!(
            "a {width}x{height} YUYV frame needs {} bytes, got {}",
            stride * height,
            yuyv.len()
        );
    }
    let mut planar =
        yuv::YuvPlanarImageMut::<u8>::alloc(width, height, yuv::YuvChromaSubsampling::Yuv420);
    yuv::yuyv422_to_yuv420(
        &mut planar,
        &yuv::YuvPackedImage {
            yuy: &yuyv[..(stride * height) as usize],
            yuy_stride: stride,
            width,
            height,
        },
    )
    .map_err(|e| anyhow::anyhow!("converting YUYV to I420: {e}"))?;
    let mut frame = I420Frame::new(width, height);
    copy_plane(
        planar.y_plane.borrow(),
        planar.y_stride,
        &mut frame.y,
        frame.stride_y,
        width,
        height,
    );
    let (cw, ch) = (frame.chroma_width(), frame.chroma_height());
    copy_plane(
        planar.u_plane.borrow(),
        planar.u_stride,
        &mut frame.u,
        frame.stride_u,
        cw,
        ch,
    );
    copy_plane(
        planar.v_plane.borrow(),
        planar.v_stride,
        &mut frame.v,
        frame.stride_v,
        cw,
        ch,
    );
    Ok(frame)
}

fn copy_plane(src: &[u8], src_stride: u32, dst: &mut [u8], dst_stride: u32, w: u32, h: u32) {
    for row in 0..h as usize {
        let s = row * src_stride as usize;
        let d = row * dst_stride as usize;
        dst[d..d + w as usize].copy_from_slice(&src[s..s + w as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_camera_is_a_clear_error() {
        let err = V4l2Camera::open(Path::new("/dev/video-mobilertc-missing"), 640, 480, 30)
            .err()
            .expect("opening a missing device fails");
        let text = format!("{err:#}");
        assert!(
            text.contains("/dev/video-mobilertc-missing") && text.contains("cannot open it"),
            "{text}"
        );
        assert!(text.contains("--list-devices"), "{text}");
        assert!(
            text.contains("No such file"),
            "the OS error is kept: {text}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_camera_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = V4l2Camera::open(file.path(), 640, 480, 30)
            .err()
            .expect("a plain file is no camera");
        assert!(format!("{err:#}").contains("not a V4L2 device"), "{err:#}");
    }

    #[test]
    fn yuyv_becomes_i420_with_averaged_chroma() {
        // 4x2: left half Y=50 U=100 V=150 on row 0 and U=110 V=160 on row 1; right half Y=200.
        let mut yuyv = Vec::new();
        for (u, v) in [(100u8, 150u8), (110, 160)] {
            yuyv.extend([50, u, 50, v, 200, u, 200, v]);
        }
        let f = yuyv_to_i420(&yuyv, 4, 2).unwrap();
        assert_eq!(f.y, [50, 50, 200, 200, 50, 50, 200, 200]);
        // 4:2:0 keeps one chroma row for two: the crate averages or takes the first row.
        assert!(f.u.iter().all(|&u| (100..=110).contains(&u)), "{:?}", f.u);
        assert!(f.v.iter().all(|&v| (150..=160).contains(&v)), "{:?}", f.v);
        assert_eq!((f.u.len(), f.v.len()), (2, 2));
        assert!(yuyv_to_i420(&yuyv[..10], 4, 2).is_err());
    }
}
