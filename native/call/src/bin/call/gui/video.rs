//! Video for the window: the latest local and remote frame (kept by the call's video sink,
//! on media threads), turned into textures on the UI thread when a new one arrived.

use std::sync::{Arc, Mutex, OnceLock};

use eframe::egui;
use mobilertc::I420Frame;
use mobilertc_call::{VideoSide, VideoSink};

/// The newest frame of one side and how many came so far.
#[derive(Default)]
struct Latest {
    frame: Option<I420Frame>,
    count: u64,
}

/// Shared between the call's media threads (writers) and the window (reader).
#[derive(Default)]
pub struct Frames {
    local: Mutex<Latest>,
    remote: Mutex<Latest>,
    /// Set once the window exists: new frames ask it to repaint.
    pub ctx: OnceLock<egui::Context>,
}

impl Frames {
    /// The sink the call feeds.
    pub fn sink(self: &Arc<Self>) -> VideoSink {
        let me = self.clone();
        Arc::new(move |side, frame: &I420Frame| {
            let slot = match side {
                VideoSide::Local => &me.local,
                VideoSide::Remote => &me.remote,
            };
            {
                let mut l = slot.lock().unwrap_or_else(|p| p.into_inner());
                l.frame = Some(frame.clone());
                l.count += 1;
            }
            if let Some(ctx) = me.ctx.get() {
                ctx.request_repaint();
            }
        })
    }

    fn slot(&self, side: VideoSide) -> &Mutex<Latest> {
        match side {
            VideoSide::Local => &self.local,
            VideoSide::Remote => &self.remote,
        }
    }
}

/// One side's texture, refreshed from [`Frames`] when a newer frame is there.
pub struct VideoView {
    side: VideoSide,
    texture: Option<egui::TextureHandle>,
    shown: u64,
    size: [usize; 2],
}

impl VideoView {
    pub fn new(side: VideoSide) -> VideoView {
        VideoView {
            side,
            texture: None,
            shown: 0,
            size: [0, 0],
        }
    }

    /// Frames shown so far (the count of the newest one uploaded).
    pub fn shown(&self) -> u64 {
        self.shown
    }

    /// Uploads the newest frame if it is new; returns the texture and its pixel size.
    pub fn update(
        &mut self,
        ctx: &egui::Context,
        frames: &Frames,
    ) -> Option<(egui::TextureId, [usize; 2])> {
        let newer = {
            let l = frames
                .slot(self.side)
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match &l.frame {
                Some(f) if l.count != self.shown => Some((f.clone(), l.count)),
                _ => None,
            }
        };
        if let Some((frame, count)) = newer {
            if let Some(image) = to_image(&frame) {
                self.size = image.size;
                let name = format!("{:?}", self.side);
                match &mut self.texture {
                    Some(t) => t.set(image, egui::TextureOptions::LINEAR),
                    None => {
                        self.texture =
                            Some(ctx.load_texture(name, image, egui::TextureOptions::LINEAR))
                    }
                }
                self.shown = count;
            }
        }
        self.texture.as_ref().map(|t| (t.id(), self.size))
    }
}

/// I420 (BT.601, video range, as libwebrtc's encoders produce) → an RGBA image.
pub fn to_image(f: &I420Frame) -> Option<egui::ColorImage> {
    let planar = yuv::YuvPlanarImage {
        y_plane: &f.y,
        y_stride: f.stride_y,
        u_plane: &f.u,
        u_stride: f.stride_u,
        v_plane: &f.v,
        v_stride: f.stride_v,
        width: f.width,
        height: f.height,
    };
    let mut rgba = vec![0u8; f.width as usize * f.height as usize * 4];
    yuv::yuv420_to_rgba(
        &planar,
        &mut rgba,
        f.width * 4,
        yuv::YuvRange::Limited,
        yuv::YuvStandardMatrix::Bt601,
    )
    .ok()?;
    Some(egui::ColorImage::from_rgba_unmultiplied(
        [f.width as usize, f.height as usize],
        &rgba,
    ))
}

/// The largest rect of `size`'s aspect ratio centred in `area`.
pub fn fit(area: egui::Rect, size: [usize; 2]) -> egui::Rect {
    let (w, h) = (size[0].max(1) as f32, size[1].max(1) as f32);
    let scale = (area.width() / w).min(area.height() / h);
    egui::Rect::from_center_size(area.center(), egui::vec2(w * scale, h * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i420_colours_become_rgb() {
        // Video-range white (Y 235) and black (Y 16) with neutral chroma.
        let mut f = I420Frame::new(4, 2);
        f.y = vec![235, 235, 16, 16, 235, 235, 16, 16];
        let image = to_image(&f).unwrap();
        let px = |x: usize| image.pixels[x];
        assert!(
            px(0).r() > 245 && px(0).g() > 245 && px(0).b() > 245,
            "{:?}",
            px(0)
        );
        assert!(
            px(3).r() < 10 && px(3).g() < 10 && px(3).b() < 10,
            "{:?}",
            px(3)
        );
    }

    #[test]
    fn fit_keeps_the_aspect_ratio() {
        let area = egui::Rect::from_min_size(egui::pos2(0.0, 0.0), egui::vec2(400.0, 100.0));
        let r = fit(area, [320, 240]);
        assert_eq!(r.height(), 100.0);
        assert!((r.width() - 133.33).abs() < 0.1);
        assert_eq!(r.center(), area.center());
    }
}
