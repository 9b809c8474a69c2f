//! From detected regions to ordered, cropped text lines.
//! (First cut: one line per region, top-to-bottom; the pages work replaces this.)

use image::RgbImage;

use crate::reading::{Point, Region, bbox_of};

/// Where one text line lies on the page.
#[derive(Clone, Debug, PartialEq)]
pub struct LineGeometry {
    pub polygon: Vec<Point>,
}

impl LineGeometry {
    pub fn whole_image(w: u32, h: u32) -> Self {
        let (w, h) = (w as f32, h as f32);
        Self { polygon: vec![[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]] }
    }
}

/// A strip much wider than tall is read as one line without detection.
pub fn looks_like_single_line(w: u32, h: u32) -> bool {
    h > 0 && w as f32 / h as f32 >= 3.0 && h <= 200
}

pub fn group_into_lines(regions: &[Region]) -> Vec<LineGeometry> {
    let mut lines: Vec<LineGeometry> = regions
        .iter()
        .map(|r| LineGeometry { polygon: r.polygon.clone() })
        .collect();
    lines.sort_by(|a, b| bbox_of(&a.polygon)[1].total_cmp(&bbox_of(&b.polygon)[1]));
    lines
}

/// Axis-aligned crop of the polygon's bounds, clamped to the image.
pub fn crop_line(image: &RgbImage, polygon: &[Point]) -> RgbImage {
    let [x0, y0, x1, y1] = bbox_of(polygon);
    let (w, h) = image.dimensions();
    let x0 = x0.max(0.0).min(w.saturating_sub(1) as f32) as u32;
    let y0 = y0.max(0.0).min(h.saturating_sub(1) as f32) as u32;
    let x1 = (x1.ceil().max(0.0) as u32).clamp(x0 + 1, w.max(x0 + 1));
    let y1 = (y1.ceil().max(0.0) as u32).clamp(y0 + 1, h.max(y0 + 1));
    image::imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image()
}
