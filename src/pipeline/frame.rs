//! The deskewed frame that line grouping and reading order work in: the page's skew is the
//! median angle of its elongated regions, and every region becomes an axis-aligned box once
//! turned back by it.

use super::geometry::min_area_rect;
use crate::reading::{Point, Region, bbox_of};

/// Axis-aligned box in the deskewed frame, with the regions it holds.
#[derive(Clone, Debug)]
pub(super) struct FrameBox {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    pub members: Vec<usize>,
}

impl FrameBox {
    /// The box of `polygon` turned by `-skew`.
    pub fn of(polygon: &[Point], skew: f32, members: Vec<usize>) -> Self {
        let turned: Vec<Point> = polygon.iter().map(|&p| rotate(p, -skew)).collect();
        let [x0, y0, x1, y1] = bbox_of(&turned);
        Self {
            x0,
            y0,
            x1,
            y1,
            members,
        }
    }
    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }
    pub fn center_x(&self) -> f32 {
        (self.x0 + self.x1) / 2.0
    }
    pub fn center_y(&self) -> f32 {
        (self.y0 + self.y1) / 2.0
    }
    pub fn vertical_overlap(&self, other: &FrameBox) -> f32 {
        self.y1.min(other.y1) - self.y0.max(other.y0)
    }
}

/// Median angle of the regions that are clearly wider than tall (others have no direction).
pub(super) fn page_skew(regions: &[&Region]) -> f32 {
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

pub(super) fn median_height(boxes: &[&FrameBox]) -> f32 {
    let mut h: Vec<f32> = boxes.iter().map(|b| b.height()).collect();
    h.sort_by(f32::total_cmp);
    h.get(h.len() / 2).copied().unwrap_or(0.0)
}

/// Left and right ends of all the boxes together.
pub(super) fn horizontal_extent(boxes: &[FrameBox]) -> (f32, f32) {
    let left = boxes.iter().map(|b| b.x0).fold(f32::MAX, f32::min);
    let right = boxes.iter().map(|b| b.x1).fold(f32::MIN, f32::max);
    (left, right)
}
