//! Text regions from a region map (kraken's `vectorize_regions`): the map thresholded at
//! 0.5, the outer border of each connected blob (8-connected), simplified at 10 pixels.
//! kraken lets the region around a line bound its polygon: the region's outline is one more
//! obstacle for the rays of [`super::roi`].

use image::GrayImage;
use imageproc::contours::{BorderType, find_contours};

use super::baselines::simplify;
use super::heatmap::Map;
use super::line_frame::Pt;
use super::roi::inside_ring;

/// Probability above which a pixel belongs to a region.
const THRESHOLD: f32 = 0.5;
/// Douglas-Peucker tolerance for the outlines.
const SIMPLIFY: f32 = 10.0;

/// Closed outlines (first point repeated last) of the regions in `map`, in map pixels.
pub fn vectorize_regions(map: &Map) -> Vec<Vec<Pt>> {
    let (w, h) = (map.width as u32, map.height as u32);
    let mask = GrayImage::from_fn(w, h, |x, y| {
        image::Luma([u8::from(map.at(x as usize, y as usize) > THRESHOLD) * 255])
    });
    find_contours::<i32>(&mask)
        .into_iter()
        .filter(|c| c.border_type == BorderType::Outer && c.parent.is_none())
        .filter(|c| c.points.len() > 2)
        .map(|c| {
            let mut ring: Vec<Pt> = c.points.iter().map(|p| [p.x as f32, p.y as f32]).collect();
            ring.push(ring[0]);
            simplify(&ring, SIMPLIFY)
        })
        .filter(|r| r.len() > 3)
        .collect()
}

/// The point halfway along a polyline.
pub fn midpoint(line: &[Pt]) -> Pt {
    let len = |s: &[Pt]| ((s[1][0] - s[0][0]).powi(2) + (s[1][1] - s[0][1]).powi(2)).sqrt();
    let total: f32 = line.windows(2).map(len).sum();
    let mut left = total / 2.0;
    for s in line.windows(2) {
        let l = len(s);
        if l >= left && l > 0.0 {
            let t = left / l;
            return [
                s[0][0] + (s[1][0] - s[0][0]) * t,
                s[0][1] + (s[1][1] - s[0][1]) * t,
            ];
        }
        left -= l;
    }
    line[line.len() - 1]
}

/// The regions whose outline holds the middle of `line` (kraken's `is_in_region`).
pub fn regions_around<'a>(line: &[Pt], regions: &'a [Vec<Pt>]) -> Vec<&'a [Pt]> {
    let mid = midpoint(line);
    regions
        .iter()
        .filter(|r| inside_ring(mid, r))
        .map(|r| r.as_slice())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_outline_per_blob_holding_its_lines() {
        let mut map = Map::new(100, 60);
        for y in 10..30 {
            for x in 10..90 {
                map.data[y * 100 + x] = 0.9;
            }
        }
        // Blobs whose outline simplifies to fewer than 3 corners are dropped, so this one
        // is larger than the tolerance.
        for y in 36..56 {
            for x in 5..60 {
                map.data[y * 100 + x] = 0.9;
            }
        }
        let regions = vectorize_regions(&map);
        assert_eq!(regions.len(), 2, "{regions:?}");
        let inside = regions_around(&[[20.0, 25.0], [80.0, 25.0]], &regions);
        assert_eq!(inside.len(), 1);
        assert!(
            inside[0]
                .iter()
                .all(|p| (9.0..=90.0).contains(&p[1]) || p[1] <= 30.0)
        );
        assert!(regions_around(&[[20.0, 58.0], [80.0, 58.0]], &regions).is_empty());
    }
}
