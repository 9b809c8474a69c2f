//! Plane geometry for text regions: areas, rotated rectangles, polygon offsetting
//! (DBNet's "unclip") and polygon IoU. Points are `[x, y]` in pixels, y pointing down.

use crate::reading::Point;

/// Shoelace area of a simple polygon (always non-negative).
pub fn polygon_area(polygon: &[Point]) -> f32 {
    signed_area(polygon).abs()
}

/// Positive when the polygon turns clockwise on screen (y down).
fn signed_area(polygon: &[Point]) -> f32 {
    let n = polygon.len();
    if n < 3 {
        return 0.0;
    }
    let twice: f64 = (0..n)
        .map(|i| {
            let (a, b) = (polygon[i], polygon[(i + 1) % n]);
            a[0] as f64 * b[1] as f64 - b[0] as f64 * a[1] as f64
        })
        .sum();
    (twice / 2.0) as f32
}

/// Length of the closed outline.
pub fn polygon_perimeter(polygon: &[Point]) -> f32 {
    let n = polygon.len();
    if n < 2 {
        return 0.0;
    }
    (0..n)
        .map(|i| distance(polygon[i], polygon[(i + 1) % n]))
        .sum()
}

pub fn distance(a: Point, b: Point) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Convex hull, counter-clockwise on screen, by Andrew's monotone chain. (imageproc's Graham
/// scan drops extreme points among many near-collinear float points, which shifted unclipped
/// boxes by up to a pixel, so the hull is computed here.)
pub fn convex_hull(points: &[Point]) -> Vec<Point> {
    let mut pts: Vec<Point> = points
        .iter()
        .copied()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .collect();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: Point, a: Point, b: Point| {
        (a[0] - o[0]) as f64 * (b[1] - o[1]) as f64 - (a[1] - o[1]) as f64 * (b[0] - o[0]) as f64
    };
    let mut hull: Vec<Point> = Vec::with_capacity(pts.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let ordered: Box<dyn Iterator<Item = &Point>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in ordered {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop(); // the last point starts the other chain
    }
    hull
}

/// A rectangle turned by `angle` radians (clockwise on screen) about its centre.
/// `width` runs along the angle's direction; [`min_area_rect`] keeps `angle` within
/// ±45°, so `width` is the side nearer the horizontal: the text direction for
/// horizontal-ish text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RotatedRect {
    pub center: Point,
    pub width: f32,
    pub height: f32,
    pub angle: f32,
}

impl RotatedRect {
    /// Corners clockwise from the top-left: top-left, top-right, bottom-right, bottom-left.
    pub fn corners(&self) -> [Point; 4] {
        let (s, c) = self.angle.sin_cos();
        let (hw, hh) = (self.width / 2.0, self.height / 2.0);
        let at = |u: f32, v: f32| {
            [
                self.center[0] + u * c - v * s,
                self.center[1] + u * s + v * c,
            ]
        };
        [at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)]
    }

    pub fn min_side(&self) -> f32 {
        self.width.min(self.height)
    }

    pub fn area(&self) -> f32 {
        self.width * self.height
    }
}

/// The smallest-area rectangle around the points (rotating calipers over the convex hull).
/// imageproc's `min_area_rect` rounds corners to whole pixels and hides the angle, and
/// deskewing needs both, so the calipers run here in floating point. `None` without points.
pub fn min_area_rect(points: &[Point]) -> Option<RotatedRect> {
    let hull = convex_hull(points);
    match hull.len() {
        0 => None,
        1 => Some(RotatedRect {
            center: hull[0],
            width: 0.0,
            height: 0.0,
            angle: 0.0,
        }),
        _ => Some(normalize_rect(rotating_calipers(&hull))),
    }
}

/// Tries every hull edge direction as a side of the rectangle and keeps the smallest.
fn rotating_calipers(hull: &[Point]) -> RotatedRect {
    let n = hull.len();
    let mut best = RotatedRect {
        center: hull[0],
        width: 0.0,
        height: 0.0,
        angle: 0.0,
    };
    let mut best_area = f32::INFINITY;
    for i in 0..n {
        let (a, b) = (hull[i], hull[(i + 1) % n]);
        let len = distance(a, b);
        if len < 1e-6 {
            continue;
        }
        let (ux, uy) = ((b[0] - a[0]) / len, (b[1] - a[1]) / len);
        let (mut u0, mut u1, mut v0, mut v1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in hull {
            let u = p[0] * ux + p[1] * uy;
            let v = -p[0] * uy + p[1] * ux;
            u0 = u0.min(u);
            u1 = u1.max(u);
            v0 = v0.min(v);
            v1 = v1.max(v);
        }
        let area = (u1 - u0) * (v1 - v0);
        if area < best_area {
            best_area = area;
            let (uc, vc) = ((u0 + u1) / 2.0, (v0 + v1) / 2.0);
            best = RotatedRect {
                center: [uc * ux - vc * uy, uc * uy + vc * ux],
                width: u1 - u0,
                height: v1 - v0,
                angle: uy.atan2(ux),
            };
        }
    }
    best
}

/// Brings the angle into (-45°, 45°], swapping width and height where it turns by 90°.
fn normalize_rect(mut r: RotatedRect) -> RotatedRect {
    use std::f32::consts::{FRAC_PI_2, FRAC_PI_4, PI};
    r.angle = r.angle.rem_euclid(PI); // a rectangle looks the same turned by 180°
    if r.angle > PI - FRAC_PI_4 {
        r.angle -= PI;
    } else if r.angle > FRAC_PI_4 {
        r.angle -= FRAC_PI_2;
        std::mem::swap(&mut r.width, &mut r.height);
    }
    r
}

/// The four corners of a text polygon, top-left first, clockwise, text running left to right:
/// a 4-point polygon keeps its own corners (re-ordered), any other shape gets its min-area rect.
pub fn text_quad(polygon: &[Point]) -> Option<[Point; 4]> {
    let rect = min_area_rect(polygon)?;
    if polygon.len() != 4 {
        return Some(rect.corners());
    }
    // Label each corner by the side of the rect's centre lines it falls on.
    let (s, c) = rect.angle.sin_cos();
    let mut quad = rect.corners();
    let mut taken = [false; 4];
    for p in polygon {
        let (dx, dy) = (p[0] - rect.center[0], p[1] - rect.center[1]);
        let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
        let slot = match (u >= 0.0, v >= 0.0) {
            (false, false) => 0,
            (true, false) => 1,
            (true, true) => 2,
            (false, true) => 3,
        };
        if taken[slot] {
            return Some(rect.corners()); // not a proper quadrilateral: fall back to the rect
        }
        taken[slot] = true;
        quad[slot] = *p;
    }
    Some(quad)
}

/// Offsets a polygon outward by `distance` with round joins, as pyclipper does for DBNet's
/// unclip. The result is the convex hull of the grown shape (exact for convex input, which
/// is what the box post-processing passes in).
pub fn offset_polygon(polygon: &[Point], distance: f32) -> Vec<Point> {
    let hull = convex_hull(polygon);
    if hull.is_empty() || distance <= 0.0 {
        return hull;
    }
    const ARC_STEPS: usize = 8;
    let mut grown = Vec::with_capacity(hull.len() * (ARC_STEPS + 1));
    for p in &hull {
        // Sampling a full circle at each hull vertex; the hull of all of them is the
        // Minkowski sum with a disc (up to the polygonal approximation of the arc).
        for k in 0..(4 * ARC_STEPS) {
            let t = k as f32 * std::f32::consts::TAU / (4 * ARC_STEPS) as f32;
            grown.push([p[0] + distance * t.cos(), p[1] + distance * t.sin()]);
        }
    }
    convex_hull(&grown)
}

/// DBNet's unclip: grow a box by `area * ratio / perimeter`, the distance by which the
/// network's training targets had been shrunk.
pub fn unclip(polygon: &[Point], ratio: f32) -> Vec<Point> {
    let perimeter = polygon_perimeter(polygon);
    if perimeter <= 0.0 {
        return polygon.to_vec();
    }
    offset_polygon(polygon, polygon_area(polygon) * ratio / perimeter)
}

/// Inclusive x spans where the polygon covers the horizontal line at `y` (even-odd rule).
pub fn row_spans(polygon: &[Point], y: f32) -> Vec<(f32, f32)> {
    let n = polygon.len();
    let mut xs: Vec<f32> = Vec::new();
    for i in 0..n {
        let (a, b) = (polygon[i], polygon[(i + 1) % n]);
        // Half-open in y so a vertex on the scan line is counted once.
        if (a[1] <= y && y < b[1]) || (b[1] <= y && y < a[1]) {
            let t = (y - a[1]) / (b[1] - a[1]);
            xs.push(a[0] + t * (b[0] - a[0]));
        }
    }
    xs.sort_by(f32::total_cmp);
    xs.chunks_exact(2).map(|c| (c[0], c[1])).collect()
}

fn spans_length(spans: &[(f32, f32)]) -> f32 {
    spans.iter().map(|(a, b)| b - a).sum()
}

fn spans_overlap(a: &[(f32, f32)], b: &[(f32, f32)]) -> f32 {
    let mut total = 0.0;
    for &(a0, a1) in a {
        for &(b0, b1) in b {
            total += (a1.min(b1) - a0.max(b0)).max(0.0);
        }
    }
    total
}

/// Intersection over union of two simple polygons (convex or not). Computed by scan lines:
/// exact along x, sampled along y with at least one row per pixel of the shared height
/// (and at most 2048 rows), which is far finer than the 0.5 threshold evaluation needs.
pub fn polygon_iou(a: &[Point], b: &[Point]) -> f32 {
    let (ba, bb) = (crate::reading::bbox_of(a), crate::reading::bbox_of(b));
    let (area_a, area_b) = (polygon_area(a), polygon_area(b));
    let (y0, y1) = (ba[1].max(bb[1]), ba[3].min(bb[3]));
    let x_overlap = ba[2].min(bb[2]) > ba[0].max(bb[0]);
    if a.len() < 3 || b.len() < 3 || y1 <= y0 || !x_overlap {
        return 0.0;
    }
    let rows = ((y1 - y0).ceil() as usize).clamp(64, 2048);
    let dy = (y1 - y0) / rows as f32;
    let inter: f32 = (0..rows)
        .map(|i| {
            let y = y0 + (i as f32 + 0.5) * dy;
            spans_overlap(&row_spans(a, y), &row_spans(b, y)) * dy
        })
        .sum();
    let union = area_a + area_b - inter;
    if union <= 0.0 {
        0.0
    } else {
        (inter / union).clamp(0.0, 1.0)
    }
}

/// Area covered by a polygon measured with the same scan lines as [`polygon_iou`]
/// (used by tests to check the scan-line code against the shoelace formula).
pub fn scanned_area(polygon: &[Point]) -> f32 {
    let [_, y0, _, y1] = crate::reading::bbox_of(polygon);
    if y1 <= y0 {
        return 0.0;
    }
    let rows = ((y1 - y0).ceil() as usize).clamp(64, 2048);
    let dy = (y1 - y0) / rows as f32;
    (0..rows)
        .map(|i| spans_length(&row_spans(polygon, y0 + (i as f32 + 0.5) * dy)) * dy)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_area_rect_of_a_turned_rectangle_recovers_size_and_angle() {
        let r = RotatedRect {
            center: [50.0, 40.0],
            width: 60.0,
            height: 10.0,
            angle: 0.3,
        };
        let found = min_area_rect(&r.corners()).expect("rect");
        assert!((found.width - 60.0).abs() < 1e-3, "{found:?}");
        assert!((found.height - 10.0).abs() < 1e-3);
        assert!((found.angle - 0.3).abs() < 1e-4);
        assert!(distance(found.center, r.center) < 1e-3);
    }

    #[test]
    fn text_quad_orders_corners_from_top_left() {
        let quad = text_quad(&[[10.0, 20.0], [0.0, 20.0], [0.0, 0.0], [10.0, 0.0]]).unwrap();
        assert_eq!(quad, [[0.0, 0.0], [10.0, 0.0], [10.0, 20.0], [0.0, 20.0]]);
    }

    #[test]
    fn unclip_grows_a_square_by_the_db_distance() {
        let sq = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        // distance = 100 * 2 / 40 = 5
        let grown = min_area_rect(&unclip(&sq, 2.0)).unwrap();
        assert!((grown.width - 20.0).abs() < 0.1, "{grown:?}");
        assert!((grown.height - 20.0).abs() < 0.1);
    }
}
