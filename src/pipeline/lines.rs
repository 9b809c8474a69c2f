//! From detected regions (words or line segments) to text lines in reading order, and from a
//! line's polygon to an upright crop for the recognizer.
//!
//! Grouping works in a deskewed frame: the page's skew is the median angle of the elongated
//! regions, every region is turned back by it, and then boxes that overlap vertically and sit
//! close horizontally join one line. Reading order cuts the page into columns where the
//! x-projection of the (narrow) lines leaves a wide empty band; full-width lines such as
//! headings separate blocks, each block is read column by column, lines top to bottom.

use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::{Border, Interpolation, warp_into_with};

use super::geometry::{distance, min_area_rect, text_quad};
use crate::reading::{Point, Region};

/// Where one text line lies on the page.
#[derive(Clone, Debug, PartialEq)]
pub struct LineGeometry {
    /// Four corners in page pixels, clockwise from the top-left of the text.
    pub polygon: Vec<Point>,
}

impl LineGeometry {
    pub fn whole_image(w: u32, h: u32) -> Self {
        let (w, h) = (w as f32, h as f32);
        Self {
            polygon: vec![[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]],
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
    /// An empty vertical band at least this wide (in median line heights) separates columns.
    pub column_gap: f32,
    /// Lines wider than this share of the text's width span columns (headings, footers).
    pub spanning_width: f32,
}

impl Default for LineParams {
    fn default() -> Self {
        Self {
            max_gap: 1.2,
            min_overlap: 0.5,
            column_gap: 1.5,
            spanning_width: 0.55,
        }
    }
}

/// Groups regions into lines with the default [`LineParams`].
pub fn group_into_lines(regions: &[Region]) -> Vec<LineGeometry> {
    group_into_lines_with(regions, &LineParams::default())
}

/// Axis-aligned box in the deskewed frame, with the regions it holds.
#[derive(Clone, Debug)]
struct FrameBox {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
    members: Vec<usize>,
}

impl FrameBox {
    fn height(&self) -> f32 {
        self.y1 - self.y0
    }
    fn width(&self) -> f32 {
        self.x1 - self.x0
    }
    fn center_y(&self) -> f32 {
        (self.y0 + self.y1) / 2.0
    }
    fn vertical_overlap(&self, other: &FrameBox) -> f32 {
        self.y1.min(other.y1) - self.y0.max(other.y0)
    }
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
        .map(|(i, r)| frame_box(&r.polygon, skew, vec![i]))
        .collect();
    let lines = merge_into_lines(boxes, params);
    reading_order(&lines, params)
        .into_iter()
        .filter_map(|i| line_polygon(&lines[i], &usable))
        .map(|polygon| LineGeometry { polygon })
        .collect()
}

/// Median angle of the regions that are clearly wider than tall (others have no direction).
fn page_skew(regions: &[&Region]) -> f32 {
    let mut angles: Vec<f32> = regions
        .iter()
        .filter_map(|r| min_area_rect(&r.polygon))
        .filter(|r| r.width >= 1.5 * r.height)
        .map(|r| r.angle)
        .collect();
    if angles.is_empty() {
        return 0.0;
    }
    angles.sort_by(f32::total_cmp);
    angles[angles.len() / 2]
}

fn rotate(p: Point, angle: f32) -> Point {
    let (s, c) = angle.sin_cos();
    [p[0] * c - p[1] * s, p[0] * s + p[1] * c]
}

fn frame_box(polygon: &[Point], skew: f32, members: Vec<usize>) -> FrameBox {
    let turned: Vec<Point> = polygon.iter().map(|&p| rotate(p, -skew)).collect();
    let [x0, y0, x1, y1] = crate::reading::bbox_of(&turned);
    FrameBox {
        x0,
        y0,
        x1,
        y1,
        members,
    }
}

/// Left to right, each box joins the line whose rightmost box it overlaps best vertically and
/// follows closely enough; comparing with the rightmost box (not the whole line) lets lines
/// drift a little where the skew is uneven.
fn merge_into_lines(mut boxes: Vec<FrameBox>, params: &LineParams) -> Vec<FrameBox> {
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
            if overlap < params.min_overlap || gap > params.max_gap * max_h {
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

fn median_height(lines: &[&FrameBox]) -> f32 {
    let mut h: Vec<f32> = lines.iter().map(|l| l.height()).collect();
    h.sort_by(f32::total_cmp);
    h.get(h.len() / 2).copied().unwrap_or(0.0)
}

/// Indices of `lines` in reading order.
fn reading_order(lines: &[FrameBox], params: &LineParams) -> Vec<usize> {
    let all: Vec<usize> = (0..lines.len()).collect();
    let refs: Vec<&FrameBox> = lines.iter().collect();
    let left = lines.iter().map(|l| l.x0).fold(f32::MAX, f32::min);
    let right = lines.iter().map(|l| l.x1).fold(f32::MIN, f32::max);
    let narrow: Vec<&FrameBox> = lines
        .iter()
        .filter(|l| l.width() < params.spanning_width * (right - left))
        .collect();
    let gaps = column_gaps(&narrow, params.column_gap * median_height(&refs));
    if gaps.is_empty() {
        return rows_top_down(lines, all);
    }
    let crosses_gap = |l: &FrameBox| gaps.iter().any(|&g| l.x0 < g && l.x1 > g);
    let is_separator =
        |l: &FrameBox| l.width() >= params.spanning_width * (right - left) || crosses_gap(l);
    let mut by_y = all;
    by_y.sort_by(|&a, &b| lines[a].center_y().total_cmp(&lines[b].center_y()));
    let mut order = Vec::with_capacity(lines.len());
    let mut block: Vec<usize> = Vec::new();
    for i in by_y {
        if is_separator(&lines[i]) {
            order.extend(read_block(lines, std::mem::take(&mut block), &gaps));
            order.push(i);
        } else {
            block.push(i);
        }
    }
    order.extend(read_block(lines, block, &gaps));
    order
}

/// Middles of the empty x-bands at least `min_width` wide between the lines' extents.
fn column_gaps(lines: &[&FrameBox], min_width: f32) -> Vec<f32> {
    let mut spans: Vec<(f32, f32)> = lines.iter().map(|l| (l.x0, l.x1)).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut gaps = Vec::new();
    let mut reach = match spans.first() {
        Some(s) => s.1,
        None => return gaps,
    };
    for &(x0, x1) in &spans[1..] {
        if x0 - reach >= min_width.max(1.0) {
            gaps.push((x0 + reach) / 2.0);
        }
        reach = reach.max(x1);
    }
    gaps
}

/// A block between spanning lines: column by column when its columns sit side by side,
/// otherwise simply top to bottom.
fn read_block(lines: &[FrameBox], block: Vec<usize>, gaps: &[f32]) -> Vec<usize> {
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); gaps.len() + 1];
    for &i in &block {
        let cx = (lines[i].x0 + lines[i].x1) / 2.0;
        columns[gaps.iter().filter(|&&g| g < cx).count()].push(i);
    }
    columns.retain(|c| !c.is_empty());
    let extent = |c: &Vec<usize>| {
        let y0 = c.iter().map(|&i| lines[i].y0).fold(f32::MAX, f32::min);
        let y1 = c.iter().map(|&i| lines[i].y1).fold(f32::MIN, f32::max);
        (y0, y1)
    };
    let side_by_side = columns.windows(2).any(|pair| {
        let ((a0, a1), (b0, b1)) = (extent(&pair[0]), extent(&pair[1]));
        a1.min(b1) > a0.max(b0)
    });
    if !side_by_side {
        return rows_top_down(lines, block);
    }
    columns
        .into_iter()
        .flat_map(|c| rows_top_down(lines, c))
        .collect()
}

/// Top to bottom; lines that share a row (overlap vertically by half) go left to right.
fn rows_top_down(lines: &[FrameBox], mut ids: Vec<usize>) -> Vec<usize> {
    ids.sort_by(|&a, &b| lines[a].center_y().total_cmp(&lines[b].center_y()));
    let mut order = Vec::with_capacity(ids.len());
    let mut row: Vec<usize> = Vec::new();
    for i in ids {
        let joins = row.first().is_some_and(|&first| {
            let min_h = lines[first].height().min(lines[i].height()).max(1e-3);
            lines[first].vertical_overlap(&lines[i]) >= 0.5 * min_h
        });
        if !joins {
            row.sort_by(|&a, &b| lines[a].x0.total_cmp(&lines[b].x0));
            order.append(&mut row);
        }
        row.push(i);
    }
    row.sort_by(|&a, &b| lines[a].x0.total_cmp(&lines[b].x0));
    order.append(&mut row);
    order
}

/// Share of the line height added around each crop, so ascenders and descenders survive.
const CROP_PADDING: f32 = 0.1;
/// No crop side grows beyond this, whatever a detector returns.
const MAX_CROP_SIDE: f32 = 16384.0;

/// An upright image of the line: the polygon's text quadrilateral (its 4 corners, or the
/// min-area rectangle of a longer outline) is mapped by a perspective transform onto a
/// rectangle as wide and tall as the quad's longer sides, with a little padding around.
/// Pixels beyond the page repeat its edge. Never panics; an empty polygon gives a 1×1 image.
pub fn crop_line(image: &RgbImage, polygon: &[Point]) -> RgbImage {
    let Some(quad) = text_quad(polygon) else {
        return RgbImage::from_pixel(1, 1, Rgb([255, 255, 255]));
    };
    let [tl, tr, br, bl] = quad;
    let w = distance(tl, tr).max(distance(bl, br)).max(1.0);
    let h = distance(tl, bl).max(distance(tr, br)).max(1.0);
    let pad = (CROP_PADDING * h).round();
    let out_w = (w.round() + 2.0 * pad).clamp(1.0, MAX_CROP_SIDE) as u32;
    let out_h = (h.round() + 2.0 * pad).clamp(1.0, MAX_CROP_SIDE) as u32;
    let to_page = square_to_quad(&quad);
    let mut out = RgbImage::new(out_w, out_h);
    if image.width() == 0 || image.height() == 0 {
        return out;
    }
    // imageproc samples with pixel centres at integer coordinates; the quad is in continuous
    // page coordinates, where pixel i spans [i, i + 1).
    let mapping = move |u: f32, v: f32| {
        let (s, t) = ((u + 0.5 - pad) / w, (v + 0.5 - pad) / h);
        let p = to_page(s, t);
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
