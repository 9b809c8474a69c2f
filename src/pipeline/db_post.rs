//! DBNet post-processing: a text-probability map becomes rotated boxes on the page, the way
//! PaddleOCR's and RapidOCR's `DBPostProcess` do it (binarize, find contours, fit a min-area
//! box, score it on the map, unclip it, fit again, scale back to page pixels).

use image::{GrayImage, Luma};
use imageproc::contours::{BorderType, find_contours};

use super::geometry::{min_area_rect, row_spans, unclip};
use super::score_map::ScoreMap;
use crate::reading::{Point, Region};

/// How a candidate box is scored against the probability map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BoxScore {
    /// Mean probability inside the fitted rotated box (PaddleOCR's "fast").
    #[default]
    Fast,
    /// Mean probability inside the contour itself (PaddleOCR's "slow"): tighter for curved text.
    Slow,
}

/// The knobs of DBNet's post-processing; the defaults are RapidOCR 1.4.4's for PP-OCRv4
/// (PaddleOCR's own differ only in leaving `use_dilation` off).
#[derive(Clone, Debug, PartialEq)]
pub struct DbParams {
    /// A map pixel is text when its probability exceeds this.
    pub thresh: f32,
    /// A box is kept when its mean probability reaches this.
    pub box_thresh: f32,
    /// How far boxes grow back out: `area * unclip_ratio / perimeter` map pixels.
    pub unclip_ratio: f32,
    /// At most this many contours are considered (largest maps only).
    pub max_candidates: usize,
    /// Boxes whose short side is below this many map pixels are dropped.
    pub min_size: f32,
    /// Dilate the binary map by one pixel (2×2) first: joins broken strokes.
    pub use_dilation: bool,
    pub score_mode: BoxScore,
}

impl Default for DbParams {
    fn default() -> Self {
        Self {
            thresh: 0.3,
            box_thresh: 0.5,
            unclip_ratio: 1.6,
            max_candidates: 1000,
            min_size: 3.0,
            use_dilation: true,
            score_mode: BoxScore::Fast,
        }
    }
}

/// Text regions from a DBNet probability map, as 4-point polygons (clockwise from top-left)
/// in page pixels, clamped to the page the map covers.
pub fn regions_from_probability(map: &ScoreMap, params: &DbParams) -> Vec<Region> {
    if map.width == 0 || map.height == 0 || map.data.len() != map.width * map.height {
        return Vec::new();
    }
    let bitmap = binarize(map, params);
    let page_w = map.width as f32 * map.scale[0];
    let page_h = map.height as f32 * map.scale[1];
    find_contours::<i32>(&bitmap)
        .into_iter()
        .filter(|c| c.border_type == BorderType::Outer)
        .take(params.max_candidates)
        .filter_map(|contour| {
            let points: Vec<Point> = contour
                .points
                .iter()
                .map(|p| [p.x as f32, p.y as f32])
                .collect();
            let region = box_from_contour(map, &points, params)?;
            Some(Region {
                polygon: to_page(&region.0, map.scale, page_w, page_h),
                score: region.1,
            })
        })
        .collect()
}

fn binarize(map: &ScoreMap, params: &DbParams) -> GrayImage {
    let mut bitmap = GrayImage::from_fn(map.width as u32, map.height as u32, |x, y| {
        Luma([if map.get(x as usize, y as usize) > params.thresh {
            255
        } else {
            0
        }])
    });
    if params.use_dilation {
        // A 2×2 kernel grows right and down by one pixel; an L∞ radius-1 dilation would grow
        // both ways, so shift-and-or by hand instead.
        let src = bitmap.clone();
        for (x, y, px) in bitmap.enumerate_pixels_mut() {
            let on = |dx: u32, dy: u32| x >= dx && y >= dy && src.get_pixel(x - dx, y - dy)[0] > 0;
            if on(0, 0) || on(1, 0) || on(0, 1) || on(1, 1) {
                px[0] = 255;
            }
        }
    }
    bitmap
}

/// One contour → (box corners in map pixels, score), or `None` when it is too small or faint.
fn box_from_contour(
    map: &ScoreMap,
    contour: &[Point],
    params: &DbParams,
) -> Option<(Vec<Point>, f32)> {
    let rect = min_area_rect(contour)?;
    if rect.min_side() < params.min_size {
        return None;
    }
    let score = match params.score_mode {
        BoxScore::Fast => mean_inside(map, &rect.corners()),
        BoxScore::Slow => mean_inside(map, contour),
    };
    if score < params.box_thresh {
        return None;
    }
    let grown = min_area_rect(&unclip(&rect.corners(), params.unclip_ratio))?;
    if grown.min_side() < params.min_size + 2.0 {
        return None;
    }
    Some((grown.corners().to_vec(), score))
}

/// Mean map value over the pixels whose centres lie inside the polygon (map pixel `(x, y)`
/// sits at the point `(x, y)`, as contour coordinates do). Boundary pixels count as inside.
pub fn mean_inside(map: &ScoreMap, polygon: &[Point]) -> f32 {
    let [x0, y0, x1, y1] = crate::reading::bbox_of(polygon);
    let clamp_y = |v: f32| v.clamp(0.0, (map.height - 1) as f32) as usize;
    let (mut sum, mut count) = (0.0f64, 0usize);
    for y in clamp_y(y0.floor())..=clamp_y(y1.ceil()) {
        // Nudge the scan line a hair so a horizontal edge lying exactly on it still counts.
        let yf = (y as f32).clamp(y0 + 1e-3, y1 - 1e-3);
        for (a, b) in row_spans(polygon, yf) {
            let from = (a - 1e-3).ceil().max(0.0).max(x0.floor()) as usize;
            let to = (b + 1e-3)
                .floor()
                .min((map.width - 1) as f32)
                .min(x1.ceil());
            if to < 0.0 {
                continue;
            }
            for x in from..=(to as usize) {
                sum += map.get(x, y) as f64;
                count += 1;
            }
        }
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64) as f32
    }
}

fn to_page(corners: &[Point], scale: [f32; 2], page_w: f32, page_h: f32) -> Vec<Point> {
    corners
        .iter()
        .map(|p| {
            [
                (p[0] * scale[0]).clamp(0.0, page_w),
                (p[1] * scale[1]).clamp(0.0, page_h),
            ]
        })
        .collect()
}
