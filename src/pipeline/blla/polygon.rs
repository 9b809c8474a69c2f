//! A boundary polygon around each baseline, after kraken's `calculate_polygonal_environment`:
//! the room above and below the baseline is limited by the neighbouring baselines and the
//! page ([`super::roi`]); in it a seam is carved on each side in the line's own frame
//! ([`super::seam`]), the upper one from a line 8 pixels above the baseline. Each seam is
//! simplified, moved 4 pixels outwards, joined to the baseline's ends, and the polygon is
//! cut back to the room.
//!
//! As in kraken, the outline of the region around a line is one more obstacle for the rays.
//!
//! Kept apart from kraken on purpose: outer corners of the moved seams are mitred
//! rather than rounded, and the cut to the room clamps densified points in the line's
//! frame instead of a general polygon intersection.

use super::baselines::simplify;
use super::heatmap::Map;
use super::line_frame::{LineFrame, Profile, Pt, offset_polyline};
use super::regions::regions_around;
use super::roi::{Envelope, envelope, segments_meet};
use super::seam::{Band, carve};

/// kraken's constants.
#[derive(Clone, Debug, PartialEq)]
pub struct PolygonParams {
    /// The upper seam starts from the baseline moved this far up (kraken's offset line).
    pub offset: f32,
    /// Divides the mean energy to give the cost of one pixel of distance from the line.
    pub bias: f32,
    /// Each seam is moved out by this much at the end (kraken's `offset // 2`).
    pub margin: f32,
    /// Douglas-Peucker tolerance for the seams.
    pub simplify: f32,
}

impl Default for PolygonParams {
    fn default() -> Self {
        Self {
            offset: 8.0,
            bias: 150.0,
            margin: 4.0,
            simplify: 5.0,
        }
    }
}

/// Points closer than this are joined when the polygon is densified for the cut.
const CUT_STEP: f32 = 1.0;

/// One polygon per baseline (`None` where none can be made, as kraken drops such lines),
/// in map pixels. `regions` are closed region outlines.
pub fn line_polygons(
    baselines: &[Vec<Pt>],
    regions: &[Vec<Pt>],
    energy: &Map,
    p: &PolygonParams,
) -> Vec<Option<Vec<Pt>>> {
    (0..baselines.len())
        .map(|i| polygon_for(i, baselines, regions, energy, p))
        .collect()
}

/// The x extent of some point sets together.
fn x_extent(sets: &[&[Pt]]) -> f32 {
    let xs = sets.iter().flat_map(|s| s.iter().map(|p| p[0]));
    let (lo, hi) = xs.fold((f32::MAX, f32::MIN), |(a, b), x| (a.min(x), b.max(x)));
    (hi - lo).max(0.0)
}

/// Whether a closed ring has no two non-neighbouring edges that meet.
fn is_simple(ring: &[Pt]) -> bool {
    let n = ring.len();
    if n < 3 {
        return false;
    }
    let edge = |i: usize| (ring[i], ring[(i + 1) % n]);
    (0..n).all(|i| {
        ((i + 2)..n).filter(|&j| !(i == 0 && j == n - 1)).all(|j| {
            let ((a, b), (c, d)) = (edge(i), edge(j));
            !segments_meet(a, b, c, d)
        })
    })
}

/// The ring with every edge split into steps of at most `step` pixels.
fn densify(ring: &[Pt], step: f32) -> Vec<Pt> {
    let mut out = Vec::new();
    for (i, &a) in ring.iter().enumerate() {
        let b = ring[(i + 1) % ring.len()];
        let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        let steps = (len / step).ceil().max(1.0) as usize;
        out.extend((0..steps).map(|k| {
            let t = k as f32 / steps as f32;
            [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
        }));
    }
    out
}

/// The polygon cut back to the room: within the baseline's stretch, between the envelopes.
fn cut_to_room(ring: &[Pt], frame: &LineFrame, env: &Envelope, span: (f32, f32)) -> Vec<Pt> {
    let top = Profile::new(frame, &env.above);
    let bottom = Profile::new(frame, &env.below);
    let cut: Vec<Pt> = densify(ring, CUT_STEP)
        .into_iter()
        .map(|p| {
            let [u, v] = frame.to_frame(p);
            let u = u.clamp(span.0, span.1);
            let v = v.clamp(top.at(u), bottom.at(u).max(top.at(u)));
            frame.to_map([u, v]).map(f32::trunc)
        })
        .collect();
    let mut open = cut.clone();
    open.push(cut[0]);
    let mut kept = simplify(&open, 0.5);
    kept.pop();
    kept
}

fn polygon_for(
    idx: usize,
    baselines: &[Vec<Pt>],
    regions: &[Vec<Pt>],
    e: &Map,
    p: &PolygonParams,
) -> Option<Vec<Pt>> {
    let bl = &baselines[idx];
    if bl.len() < 2 {
        return None;
    }
    let frame = LineFrame::of(bl)?;
    let mut others: Vec<&[Pt]> = baselines
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != idx)
        .map(|(_, b)| b.as_slice())
        .collect();
    others.extend(regions_around(bl, regions));
    let env = envelope(bl, &frame, &others, [e.width as f32, e.height as f32]);
    let whole = |pts: Vec<Pt>| -> Vec<Pt> { pts.into_iter().map(|q| q.map(f32::trunc)).collect() };
    let base_px = whole(bl.clone());
    let raised_px = whole(offset_polyline(bl, p.offset));
    let (base, raised) = (
        Profile::new(&frame, &base_px),
        Profile::new(&frame, &raised_px),
    );
    let (top, bottom) = (
        Profile::new(&frame, &env.above),
        Profile::new(&frame, &env.below),
    );
    let span = {
        let (a, b) = (
            frame.to_frame(bl[0])[0],
            frame.to_frame(bl[bl.len() - 1])[0],
        );
        (a.min(b), a.max(b))
    };
    let upper = Band {
        frame: &frame,
        anchor: &raised,
        top: &top,
        bottom: &raised,
        span,
        width: x_extent(&[&raised_px, &env.above]),
    };
    let lower = Band {
        frame: &frame,
        anchor: &base,
        top: &base,
        bottom: &bottom,
        span,
        width: x_extent(&[&base_px, &env.below]),
    };
    let up_seam = carve(&upper, e, p.bias);
    let down_seam = carve(&lower, e, p.bias);
    if up_seam.len() < 2 || down_seam.len() < 2 {
        return None;
    }
    let up_seam = whole(offset_polyline(&simplify(&up_seam, p.simplify), p.margin));
    let down_seam = whole(offset_polyline(
        &simplify(&down_seam, p.simplify),
        -p.margin,
    ));
    let (start, end) = (bl[0], bl[bl.len() - 1]);
    let ring = |a: Pt, b: Pt, bottom_back: bool| -> Vec<Pt> {
        let mut r = vec![a];
        r.extend(&up_seam);
        r.push(b);
        if bottom_back {
            r.extend(down_seam.iter().rev());
        } else {
            r.extend(&down_seam);
        }
        r.dedup();
        r
    };
    // kraken tries the ends the other way round before giving up on a line.
    let poly = [ring(start, end, true), ring(end, start, false)]
        .into_iter()
        .find(|r| is_simple(r))?;
    Some(cut_to_room(&poly, &frame, &env, span))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygons_stay_between_neighbouring_baselines() {
        let mut e = Map::new(200, 200);
        e.data.fill(1.0);
        let lines = vec![
            vec![[20.0, 50.0], [180.0, 50.0]],
            vec![[20.0, 90.0], [180.0, 90.0]],
            vec![[20.0, 130.0], [180.0, 130.0]],
        ];
        let polys = line_polygons(&lines, &[], &e, &PolygonParams::default());
        let mid = polys[1].as_ref().unwrap();
        let top = mid.iter().map(|p| p[1]).fold(f32::MAX, f32::min);
        let bottom = mid.iter().map(|p| p[1]).fold(f32::MIN, f32::max);
        assert!((50.0..90.0).contains(&top), "{mid:?}");
        assert!((90.0..130.0).contains(&bottom), "{mid:?}");
        // On even energy the upper seam hugs its start: offset plus margin.
        assert!((top - (90.0 - 12.0)).abs() <= 1.0, "{top}");
    }

    #[test]
    fn crossed_rings_are_not_simple() {
        let square = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        let bow_tie = [[0.0, 0.0], [10.0, 10.0], [10.0, 0.0], [0.0, 10.0]];
        assert!(is_simple(&square));
        assert!(!is_simple(&bow_tie));
    }
}
