//! The room a line's polygon may take (kraken's `_calc_roi`): from points every 10 pixels
//! along the baseline, rays along the line's normal, up and down, stop one pixel before the
//! first neighbouring baseline on their side or the page edge.
//!
//! A neighbour is on the upper side when it touches the shape kraken builds from the
//! baseline points followed by the ends of the upward rays, on the lower side when it
//! touches the downward one instead. Both shapes are crossed (bow ties), as kraken builds
//! them, so a short neighbour near either end of a long line can be on neither side and
//! not stop the rays; we keep that so that our polygons agree with kraken's.

use super::line_frame::{LineFrame, Pt};

/// Distance between the points the rays start from, in map pixels.
pub const RAY_STEP: f32 = 10.0;
/// kraken buffers the neighbours and the page edge by one pixel.
const BUFFER: f32 = 1.0;

/// Where the rays from each sample point stopped, above and below the line.
pub struct Envelope {
    pub above: Vec<Pt>,
    pub below: Vec<Pt>,
}

/// Points every `step` pixels along a polyline, its ends included.
pub fn sample_along(line: &[Pt], step: f32) -> Vec<Pt> {
    let mut out = vec![line[0]];
    let mut next = step;
    let mut walked = 0.0f32;
    for s in line.windows(2) {
        let (dx, dy) = (s[1][0] - s[0][0], s[1][1] - s[0][1]);
        let len = (dx * dx + dy * dy).sqrt();
        while len > 0.0 && next < walked + len {
            let t = (next - walked) / len;
            out.push([s[0][0] + dx * t, s[0][1] + dy * t]);
            next += step;
        }
        walked += len;
    }
    out.push(line[line.len() - 1]);
    out
}

/// Distance along `dir` from `o` to segment `a`-`b`, and the sine of the angle they meet
/// at, if the ray meets it.
fn ray_segment(o: Pt, dir: Pt, a: Pt, b: Pt) -> Option<(f32, f32)> {
    let e = [b[0] - a[0], b[1] - a[1]];
    let denom = dir[0] * e[1] - dir[1] * e[0];
    if denom.abs() < 1e-9 {
        return None;
    }
    let w = [a[0] - o[0], a[1] - o[1]];
    let s = (w[0] * e[1] - w[1] * e[0]) / denom;
    let u = (w[0] * dir[1] - w[1] * dir[0]) / denom;
    let len = (e[0] * e[0] + e[1] * e[1]).sqrt();
    (s >= 0.0 && (0.0..=1.0).contains(&u)).then(|| (s, denom.abs() / len))
}

/// Distance along `dir` from `o` to the edge of `[lo, w - lo] x [lo, h - lo]`.
fn ray_box(o: Pt, dir: Pt, size: Pt, lo: f32) -> f32 {
    let along = |p: f32, d: f32, hi: f32| {
        if d > 0.0 {
            (hi - lo - p) / d
        } else if d < 0.0 {
            (lo - p) / d
        } else {
            f32::INFINITY
        }
    };
    along(o[0], dir[0], size[0])
        .min(along(o[1], dir[1], size[1]))
        .max(0.0)
}

/// Whether segments `a`-`b` and `c`-`d` cross or touch.
pub fn segments_meet(a: Pt, b: Pt, c: Pt, d: Pt) -> bool {
    let orient =
        |p: Pt, q: Pt, r: Pt| (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    let within = |p: Pt, q: Pt, r: Pt| {
        r[0] >= p[0].min(q[0])
            && r[0] <= p[0].max(q[0])
            && r[1] >= p[1].min(q[1])
            && r[1] <= p[1].max(q[1])
    };
    if d1 * d2 < 0.0 && d3 * d4 < 0.0 {
        return true;
    }
    (d1 == 0.0 && within(c, d, a))
        || (d2 == 0.0 && within(c, d, b))
        || (d3 == 0.0 && within(a, b, c))
        || (d4 == 0.0 && within(a, b, d))
}

/// Even-odd point in ring (the ring need not be simple).
pub fn inside_ring(p: Pt, ring: &[Pt]) -> bool {
    let mut inside = false;
    let mut j = ring.len() - 1;
    for i in 0..ring.len() {
        let (a, b) = (ring[i], ring[j]);
        if (a[1] > p[1]) != (b[1] > p[1])
            && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
        {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Whether a polyline touches the area of a ring.
fn touches(line: &[Pt], ring: &[Pt]) -> bool {
    if line.iter().any(|&p| inside_ring(p, ring)) {
        return true;
    }
    let edges = ring.iter().zip(ring.iter().cycle().skip(1));
    edges
        .flat_map(|(&a, &b)| line.windows(2).map(move |s| (a, b, s[0], s[1])))
        .any(|(a, b, c, d)| segments_meet(a, b, c, d))
}

/// The closest stop along `dir` from `o`: a neighbour less the buffer, or the page edge.
fn stop(o: Pt, dir: Pt, side: &[&[Pt]], size: Pt) -> f32 {
    let mut limit = ray_box(o, dir, size, BUFFER);
    for line in side {
        for s in line.windows(2) {
            if let Some((d, sin)) = ray_segment(o, dir, s[0], s[1]) {
                limit = limit.min(d - BUFFER / sin.max(0.1));
            }
        }
    }
    limit.max(0.0)
}

/// The envelope of `line` among `others` on a `size` (width, height) map.
pub fn envelope(line: &[Pt], frame: &LineFrame, others: &[&[Pt]], size: Pt) -> Envelope {
    let starts = sample_along(line, RAY_STEP);
    let up = frame.down.map(|c| -c);
    let down = frame.down;
    let edge_hit = |o: Pt, d: Pt| {
        let t = ray_box(o, d, size, 0.0);
        [o[0] + d[0] * t, o[1] + d[1] * t].map(f32::trunc)
    };
    let bow_tie = |d: Pt| -> Vec<Pt> {
        let ends = starts.iter().map(|&o| edge_hit(o, d));
        starts.iter().copied().chain(ends).collect()
    };
    let (upper, lower) = (bow_tie(up), bow_tie(down));
    let (mut above, mut below): (Vec<&[Pt]>, Vec<&[Pt]>) = (Vec::new(), Vec::new());
    for &other in others {
        if touches(other, &upper) {
            above.push(other);
        } else if touches(other, &lower) {
            below.push(other);
        }
    }
    let reach = |o: Pt, d: Pt, side: &[&[Pt]]| {
        let t = stop(o, d, side, size);
        [o[0] + d[0] * t, o[1] + d[1] * t].map(|c| c.trunc().max(0.0))
    };
    Envelope {
        above: starts.iter().map(|&o| reach(o, up, &above)).collect(),
        below: starts.iter().map(|&o| reach(o, down, &below)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_every_step_and_both_ends() {
        let pts = sample_along(&[[0.0, 0.0], [25.0, 0.0]], 10.0);
        assert_eq!(pts, vec![[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [25.0, 0.0]]);
    }

    #[test]
    fn rays_stop_before_neighbours_and_the_edge() {
        let line = [[20.0, 50.0], [180.0, 50.0]];
        let above = [[10.0, 30.0], [190.0, 30.0]];
        let frame = LineFrame::of(&line).unwrap();
        let env = envelope(&line, &frame, &[&above], [200.0, 100.0]);
        assert!(env.above.iter().all(|p| p[1] == 31.0), "{:?}", env.above);
        assert!(env.below.iter().all(|p| p[1] == 99.0), "{:?}", env.below);
    }

    #[test]
    fn a_ray_meets_a_segment_ahead_only() {
        let hit = ray_segment([0.0, 0.0], [0.0, -1.0], [-5.0, -10.0], [5.0, -10.0]);
        assert_eq!(hit, Some((10.0, 1.0)));
        assert!(ray_segment([0.0, 0.0], [0.0, 1.0], [-5.0, -10.0], [5.0, -10.0]).is_none());
        assert_eq!(ray_box([10.0, 10.0], [0.0, -1.0], [100.0, 100.0], 1.0), 9.0);
    }
}
