//! A boundary polygon around each baseline, after kraken's `calculate_polygonal_environment`:
//! the room above and below the baseline is limited by the neighbouring baselines and the
//! page (rays along the baseline's normal), and within it a seam of least image energy is
//! carved on each side, pulled towards the baseline by a distance bias and straightened to
//! within one standard deviation of its mean distance.
//!
//! Differences from kraken, kept on purpose for speed and simplicity: the seams are found in
//! the baseline's own frame (one sample per pixel of baseline length, offsets along its mean
//! normal) instead of a rotated and rescaled image patch, and region outlines do not bound
//! the polygons (kraken's blla model names no bounding regions).

use super::baselines::simplify;
use super::heatmap::Map;

/// kraken's constants.
#[derive(Clone, Debug, PartialEq)]
pub struct PolygonParams {
    /// The upper seam starts this far above the baseline (kraken's offset line).
    pub offset: f32,
    /// Divides the mean energy to give the cost of one pixel of distance from the baseline.
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

type Pt = [f32; 2];

/// One polygon per baseline (`None` where none can be made), in map pixels.
pub fn line_polygons(
    baselines: &[Vec<Pt>],
    energy: &Map,
    p: &PolygonParams,
) -> Vec<Option<Vec<Pt>>> {
    (0..baselines.len())
        .map(|i| polygon_for(i, baselines, energy, p))
        .collect()
}

/// The length-weighted mean direction of a polyline, unit length.
fn mean_direction(bl: &[Pt]) -> Option<Pt> {
    let (mut dx, mut dy) = (0.0, 0.0);
    for s in bl.windows(2) {
        dx += s[1][0] - s[0][0];
        dy += s[1][1] - s[0][1];
    }
    let n = (dx * dx + dy * dy).sqrt();
    (n > 0.0).then(|| [dx / n, dy / n])
}

/// Points every pixel along a polyline, ends included.
fn resample(bl: &[Pt]) -> Vec<Pt> {
    let mut out = vec![bl[0]];
    for s in bl.windows(2) {
        let (dx, dy) = (s[1][0] - s[0][0], s[1][1] - s[0][1]);
        let len = (dx * dx + dy * dy).sqrt();
        let steps = len.ceil() as usize;
        for k in 1..=steps {
            let t = k as f32 / steps as f32;
            out.push([s[0][0] + dx * t, s[0][1] + dy * t]);
        }
    }
    out
}

/// Distance along `dir` from `o` to segment `a`-`b`, if the ray meets it.
fn ray_segment(o: Pt, dir: Pt, a: Pt, b: Pt) -> Option<f32> {
    let e = [b[0] - a[0], b[1] - a[1]];
    let denom = dir[0] * e[1] - dir[1] * e[0];
    if denom.abs() < 1e-9 {
        return None;
    }
    let w = [a[0] - o[0], a[1] - o[1]];
    let s = (w[0] * e[1] - w[1] * e[0]) / denom;
    let u = (w[0] * dir[1] - w[1] * dir[0]) / denom;
    (s > 0.0 && (0.0..=1.0).contains(&u)).then_some(s)
}

/// Distance along `dir` from `o` (inside) to the edge of `[0, w] x [0, h]`.
fn ray_box(o: Pt, dir: Pt, w: f32, h: f32) -> f32 {
    let along = |p: f32, d: f32, hi: f32| {
        if d > 0.0 {
            (hi - p) / d
        } else if d < 0.0 {
            -p / d
        } else {
            f32::INFINITY
        }
    };
    along(o[0], dir[0], w).min(along(o[1], dir[1], h)).max(0.0)
}

/// How far one may go from `o` along `dir` before meeting another baseline (less the one
/// pixel kraken's buffer keeps) or the page edge.
fn room(o: Pt, dir: Pt, others: &[&Vec<Pt>], w: f32, h: f32) -> f32 {
    let mut limit = ray_box(o, dir, w, h);
    for other in others {
        for s in other.windows(2) {
            if let Some(d) = ray_segment(o, dir, s[0], s[1]) {
                limit = limit.min(d - 1.0);
            }
        }
    }
    limit.max(0.0)
}

/// The energy at a point, zero-cost outside the map is never needed: points are clamped.
fn energy_at(e: &Map, p: Pt) -> f32 {
    let x = (p[0].round().max(0.0) as usize).min(e.width.saturating_sub(1));
    let y = (p[1].round().max(0.0) as usize).min(e.height.saturating_sub(1));
    e.at(x, y)
}

/// The seam's distance from the baseline at each sample: offsets `lo..=room[k]` along
/// `dir`, moving at most one pixel between neighbouring samples, minimising energy plus a
/// bias per pixel away from `lo`; then clipped to mean ± one standard deviation.
fn carve(samples: &[Pt], dir: Pt, lo: f32, rooms: &[f32], e: &Map, p: &PolygonParams) -> Vec<f32> {
    let n = samples.len();
    let max_t = rooms.iter().fold(lo, |a, &b| a.max(b)).ceil() as usize;
    let lo_t = lo as usize;
    let width = max_t + 1;
    let cost_at = |k: usize, t: usize| {
        let pt = [
            samples[k][0] + dir[0] * t as f32,
            samples[k][1] + dir[1] * t as f32,
        ];
        energy_at(e, pt)
    };
    // Mean energy over the reachable cells sets the bias's scale, as kraken's patch mean does.
    let (mut sum, mut count) = (0.0f64, 0usize);
    for (k, room) in rooms.iter().enumerate() {
        for t in lo_t..=(room.max(lo) as usize) {
            sum += f64::from(cost_at(k, t));
            count += 1;
        }
    }
    let bias = if count > 0 {
        (sum / count as f64) as f32 / p.bias
    } else {
        0.0
    };
    let allowed = |k: usize, t: usize| t >= lo_t && (t as f32) <= rooms[k].max(lo);
    let mut acc = vec![f32::INFINITY; n * width];
    let mut back = vec![0usize; n * width];
    for k in 0..n {
        for t in 0..width {
            if !allowed(k, t) {
                continue;
            }
            let own = cost_at(k, t) + bias * (t - lo_t) as f32;
            if k == 0 {
                acc[t] = own;
                continue;
            }
            let mut best = (f32::INFINITY, t);
            for pt in t.saturating_sub(1)..=(t + 1).min(width - 1) {
                let v = acc[(k - 1) * width + pt];
                if v < best.0 {
                    best = (v, pt);
                }
            }
            if best.0.is_finite() {
                acc[k * width + t] = best.0 + own;
                back[k * width + t] = best.1;
            }
        }
    }
    let last = &acc[(n - 1) * width..];
    let Some((mut t, _)) = last
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
    else {
        return rooms.iter().map(|&r| r.min(lo)).collect();
    };
    let mut seam = vec![0.0f32; n];
    for k in (0..n).rev() {
        seam[k] = t as f32;
        t = back[k * width + t];
    }
    let mean = seam.iter().sum::<f32>() / n as f32;
    let std = (seam.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n as f32).sqrt();
    seam.iter()
        .map(|v| v.clamp(mean - std, mean + std))
        .collect()
}

fn polygon_for(idx: usize, baselines: &[Vec<Pt>], e: &Map, p: &PolygonParams) -> Option<Vec<Pt>> {
    let bl = &baselines[idx];
    if bl.len() < 2 {
        return None;
    }
    let dir = mean_direction(bl)?;
    let up = [dir[1], -dir[0]];
    let down = [-dir[1], dir[0]];
    let others: Vec<&Vec<Pt>> = baselines
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != idx)
        .map(|(_, b)| b)
        .collect();
    let (w, h) = (e.width as f32, e.height as f32);
    let samples = resample(bl);
    let up_room: Vec<f32> = samples
        .iter()
        .map(|&s| room(s, up, &others, w, h))
        .collect();
    let down_room: Vec<f32> = samples
        .iter()
        .map(|&s| room(s, down, &others, w, h))
        .collect();
    let upper = carve(&samples, up, p.offset, &up_room, e, p);
    let lower = carve(&samples, down, 0.0, &down_room, e, p);
    let place = |k: usize, d: Pt, t: f32, limit: f32| {
        let t = (t + p.margin).min(limit.max(0.0));
        [samples[k][0] + d[0] * t, samples[k][1] + d[1] * t]
    };
    let top: Vec<Pt> = (0..samples.len())
        .map(|k| place(k, up, upper[k], up_room[k]))
        .collect();
    let bottom: Vec<Pt> = (0..samples.len())
        .map(|k| place(k, down, lower[k], down_room[k]))
        .collect();
    let mut poly = vec![bl[0]];
    poly.extend(simplify(&top, p.simplify));
    poly.push(bl[bl.len() - 1]);
    poly.extend(simplify(&bottom, p.simplify).into_iter().rev());
    Some(poly)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygons_stay_between_neighbouring_baselines() {
        let e = Map::new(200, 200);
        let lines = vec![
            vec![[20.0, 50.0], [180.0, 50.0]],
            vec![[20.0, 90.0], [180.0, 90.0]],
            vec![[20.0, 130.0], [180.0, 130.0]],
        ];
        let polys = line_polygons(&lines, &e, &PolygonParams::default());
        let mid = polys[1].as_ref().unwrap();
        let top = mid.iter().map(|p| p[1]).fold(f32::MAX, f32::min);
        let bottom = mid.iter().map(|p| p[1]).fold(f32::MIN, f32::max);
        assert!((50.0..90.0).contains(&top), "{mid:?}");
        assert!((90.0..130.0).contains(&bottom), "{mid:?}");
        // With no image energy the upper seam hugs its start: offset plus margin.
        assert!((top - (90.0 - 12.0)).abs() <= 1.0, "{top}");
    }

    #[test]
    fn a_ray_meets_a_segment_ahead_only() {
        assert_eq!(
            ray_segment([0.0, 0.0], [0.0, -1.0], [-5.0, -10.0], [5.0, -10.0]),
            Some(10.0)
        );
        assert_eq!(
            ray_segment([0.0, 0.0], [0.0, 1.0], [-5.0, -10.0], [5.0, -10.0]),
            None
        );
        assert_eq!(ray_box([10.0, 10.0], [0.0, -1.0], 100.0, 100.0), 10.0);
    }
}
