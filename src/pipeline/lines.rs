//! From detected regions (words or line segments) to text lines in reading order, and from a
//! line's polygon to an upright crop for the recognizer.
//!
//! Grouping works in the deskewed frame ([`super::frame`]): column gutters are found first
//! ([`super::columns`]), then boxes that overlap vertically and sit close horizontally join one
//! line, never across a gutter; [`super::reading_order`] orders the lines.

use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::{Border, Interpolation, warp_into_with};

use super::columns::{crosses_gutter, find_gutters};
use super::frame::{FrameBox, page_skew};
use super::geometry::{distance, min_area_rect, text_quad};
use super::reading_order::reading_order;
use crate::reading::{Point, Region};

/// Where one text line lies on the page.
#[derive(Clone, Debug, PartialEq)]
pub struct LineGeometry {
    /// Four corners in page pixels, clockwise from the top-left of the text (or, from a
    /// line detector, its own outline).
    pub polygon: Vec<Point>,
    /// The baseline, when the detector finds one.
    pub baseline: Option<Vec<Point>>,
}

impl LineGeometry {
    pub fn whole_image(w: u32, h: u32) -> Self {
        let (w, h) = (w as f32, h as f32);
        Self {
            polygon: vec![[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]],
            baseline: None,
        }
    }
}

/// A strip much wider than tall is read as one line without detection.
pub fn looks_like_single_line(w: u32, h: u32) -> bool {
    h > 0 && w as f32 / h as f32 >= 3.0 && h <= 200
}

/// How regions become lines and lines get ordered; all lengths are in line heights.
#[derive(Clone, Debug, PartialEq)]
pub struct LineParams {
    /// Two boxes join one line when the empty space between them is at most this.
    pub max_gap: f32,
    /// ... and their vertical overlap is at least this share of the smaller height.
    pub min_overlap: f32,
    /// A vertical band at least this wide (in median line heights) can be a column gutter.
    pub column_gap: f32,
    /// ... when at most this share of the text's rows crosses it (running heads do) ...
    pub gutter_crossings: f32,
    /// ... and at least this many boxes stand wholly on each side of it.
    pub min_column_lines: usize,
    /// Lines wider than this share of the text's width span columns (headings, footers).
    pub spanning_width: f32,
}

impl Default for LineParams {
    fn default() -> Self {
        Self {
            max_gap: 1.2,
            min_overlap: 0.5,
            // A typeset gutter is about 1 to 2 em; a detected line is about 1.2 to 1.5 em tall.
            column_gap: 1.0,
            gutter_crossings: 0.05,
            min_column_lines: 2,
            spanning_width: 0.55,
        }
    }
}

/// Groups regions into lines with the default [`LineParams`].
pub fn group_into_lines(regions: &[Region]) -> Vec<LineGeometry> {
    group_into_lines_with(regions, &LineParams::default())
}

/// Groups regions into lines and returns them in reading order.
pub fn group_into_lines_with(regions: &[Region], params: &LineParams) -> Vec<LineGeometry> {
    let usable: Vec<&Region> = regions.iter().filter(|r| r.polygon.len() >= 2).collect();
    if usable.is_empty() {
        return Vec::new();
    }
    let skew = page_skew(&usable);
    let boxes: Vec<FrameBox> = usable
        .iter()
        .enumerate()
        .map(|(i, r)| FrameBox::of(&r.polygon, skew, vec![i]))
        .collect();
    let gutters = find_gutters(&boxes, params);
    let lines = merge_into_lines(boxes, &gutters, params);
    reading_order(&lines, &gutters, params.spanning_width)
        .into_iter()
        .filter_map(|i| line_polygon(&lines[i], &usable))
        .map(|polygon| LineGeometry {
            polygon,
            baseline: None,
        })
        .collect()
}

/// Left to right, each box joins the line whose rightmost box it overlaps best vertically and
/// follows closely enough, without a gutter between them; comparing with the rightmost box
/// (not the whole line) lets lines drift a little where the skew is uneven.
fn merge_into_lines(
    mut boxes: Vec<FrameBox>,
    gutters: &[f32],
    params: &LineParams,
) -> Vec<FrameBox> {
    boxes.sort_by(|a, b| a.x0.total_cmp(&b.x0));
    struct Acc {
        line: FrameBox,
        last: FrameBox,
    }
    let mut lines: Vec<Acc> = Vec::new();
    for b in boxes {
        let mut best: Option<(usize, f32)> = None;
        for (i, acc) in lines.iter().enumerate() {
            let min_h = b.height().min(acc.last.height()).max(1e-3);
            let max_h = b.height().max(acc.last.height());
            let overlap = b.vertical_overlap(&acc.last) / min_h;
            let gap = b.x0 - acc.line.x1;
            if overlap < params.min_overlap
                || gap > params.max_gap * max_h
                || crosses_gutter(acc.line.x1, b.x0, gutters)
            {
                continue;
            }
            if best.is_none_or(|(_, o)| overlap > o) {
                best = Some((i, overlap));
            }
        }
        match best {
            Some((i, _)) => {
                let acc = &mut lines[i];
                acc.line.x0 = acc.line.x0.min(b.x0);
                acc.line.y0 = acc.line.y0.min(b.y0);
                acc.line.x1 = acc.line.x1.max(b.x1);
                acc.line.y1 = acc.line.y1.max(b.y1);
                acc.line.members.extend_from_slice(&b.members);
                if b.x1 >= acc.last.x1 {
                    acc.last = b;
                }
            }
            None => lines.push(Acc {
                line: b.clone(),
                last: b,
            }),
        }
    }
    lines.into_iter().map(|a| a.line).collect()
}

/// The line's outline on the page: a lone 4-point region keeps its corners, several regions
/// get the min-area rectangle around all their points.
fn line_polygon(line: &FrameBox, regions: &[&Region]) -> Option<Vec<Point>> {
    if let [only] = line.members.as_slice() {
        return text_quad(&regions[*only].polygon).map(|q| q.to_vec());
    }
    let points: Vec<Point> = line
        .members
        .iter()
        .flat_map(|&i| regions[i].polygon.iter().copied())
        .collect();
    min_area_rect(&points).map(|r| r.corners().to_vec())
}

/// Share of the line height added around each crop, so ascenders and descenders survive.
const CROP_PADDING: f32 = 0.1;
/// No crop side grows beyond this, whatever a detector returns.
const MAX_CROP_SIDE: f32 = 16384.0;

/// How a line's crop maps onto the page: the crop's size and, for each crop pixel, the page
/// point it samples.
pub struct CropFrame {
    pub width: u32,
    pub height: u32,
    pad: f32,
    w: f32,
    h: f32,
    quad: [Point; 4],
}

impl CropFrame {
    /// The frame of the polygon's text quadrilateral (its 4 corners, or the min-area
    /// rectangle of a longer outline), as wide and tall as the quad's longer sides, with a
    /// little padding around. `None` for an empty polygon.
    pub fn of(polygon: &[Point]) -> Option<Self> {
        let quad = text_quad(polygon)?;
        let [tl, tr, br, bl] = quad;
        let w = distance(tl, tr).max(distance(bl, br)).max(1.0);
        let h = distance(tl, bl).max(distance(tr, br)).max(1.0);
        let pad = (CROP_PADDING * h).round();
        Some(Self {
            width: (w.round() + 2.0 * pad).clamp(1.0, MAX_CROP_SIDE) as u32,
            height: (h.round() + 2.0 * pad).clamp(1.0, MAX_CROP_SIDE) as u32,
            pad,
            w,
            h,
            quad,
        })
    }

    /// The page point (continuous coordinates, pixel i spans [i, i + 1)) under the centre
    /// of crop pixel `(x, y)`.
    pub fn page_point(&self) -> impl Fn(f32, f32) -> Point + Send + Sync + use<> {
        let to_page = square_to_quad(&self.quad);
        let (pad, w, h) = (self.pad, self.w, self.h);
        move |x, y| to_page((x + 0.5 - pad) / w, (y + 0.5 - pad) / h)
    }
}

/// An upright image of the line (see [`CropFrame`]), mapped by a perspective transform.
/// Pixels beyond the page repeat its edge. Never panics; an empty polygon gives a 1×1 image.
pub fn crop_line(image: &RgbImage, polygon: &[Point]) -> RgbImage {
    let Some(frame) = CropFrame::of(polygon) else {
        return RgbImage::from_pixel(1, 1, Rgb([255, 255, 255]));
    };
    let mut out = RgbImage::new(frame.width, frame.height);
    if image.width() == 0 || image.height() == 0 {
        return out;
    }
    // imageproc samples with pixel centres at integer coordinates.
    let page_point = frame.page_point();
    let mapping = move |u: f32, v: f32| {
        let p = page_point(u, v);
        (p[0] - 0.5, p[1] - 0.5)
    };
    warp_into_with(
        image,
        mapping,
        Interpolation::Bilinear,
        Border::Replicate,
        &mut out,
    );
    out
}

/// The projective map taking the unit square's (0,0), (1,0), (1,1), (0,1) to the quad's
/// corners in order (Heckbert's closed form). Degenerate quads fall back to the affine map.
fn square_to_quad(q: &[Point; 4]) -> impl Fn(f32, f32) -> Point + Send + Sync + use<> {
    let [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = *q;
    let (dx3, dy3) = (x0 - x1 + x2 - x3, y0 - y1 + y2 - y3);
    let (dx1, dx2, dy1, dy2) = (x1 - x2, x3 - x2, y1 - y2, y3 - y2);
    let det = dx1 * dy2 - dx2 * dy1;
    let (g, h) = if (dx3.abs() < 1e-4 && dy3.abs() < 1e-4) || det.abs() < 1e-6 {
        (0.0, 0.0)
    } else {
        ((dx3 * dy2 - dx2 * dy3) / det, (dx1 * dy3 - dx3 * dy1) / det)
    };
    let (a, b, d, e) = (
        x1 - x0 + g * x1,
        x3 - x0 + h * x3,
        y1 - y0 + g * y1,
        y3 - y0 + h * y3,
    );
    move |s, t| {
        let z = (g * s + h * t + 1.0).max(1e-6);
        [(a * s + b * t + x0) / z, (d * s + e * t + y0) / z]
    }
}
