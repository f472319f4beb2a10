//! `--screenshot`: the window's own frame (what OpenGL rendered) as a PNG.

use std::path::Path;

use anyhow::{Context, Result};
use eframe::egui::ColorImage;

/// Writes `image` as an 8-bit RGBA PNG.
pub fn save_png(image: &ColorImage, path: &Path) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(file),
        image.size[0] as u32,
        image.size[1] as u32,
    );
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&rgba))
        .with_context(|| format!("writing {}", path.display()))
}
