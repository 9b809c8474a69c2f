//! Baselines from the line maps, following kraken's `vectorize_lines`: ridge-filter the
//! baseline map, threshold it, thin it to a skeleton, join the skeleton's endpoints along
//! the skeleton, simplify each path, stretch its ends to the edge of its blob, and orient
//! it with the line-start and line-end maps.

use std::collections::VecDeque;

use super::heatmap::Map;
use super::ridge::sato;
use super::skeleton::{Mask, endpoints, skeletonize};

/// kraken's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineParams {
    /// Threshold on the ridge-filtered baseline map.
    pub threshold: f32,
    /// Shortest baseline kept, in input pixels.
    pub min_length: f32,
    /// Douglas-Peucker tolerance for the paths.
    pub simplify: f32,
    /// Above this many endpoints, skeleton parts with many endpoints (noise) are dropped.
    pub max_endpoints: usize,
    /// Window of the maximum filter over the start/end maps.
    pub marker_window: usize,
    /// How much the start and end maps must disagree to decide a direction.
    pub marker_margin: f32,
}

impl Default for BaselineParams {
    fn default() -> Self {
        Self {
            threshold: 0.17,
            min_length: 5.0,
            simplify: 3.0,
            max_endpoints: 400,
            marker_window: 20,
            marker_margin: 0.2,
        }
    }
}

/// Most endpoints a skeleton part may have when the page has too many.
const MAX_ENDPOINTS_PER_PART: usize = 10;

type Px = (usize, usize);

/// Baselines (points `[x, y]` in map pixels, in reading direction) from the start, end and
/// baseline maps of one baseline class.
pub fn vectorize_lines(
    start: &Map,
    end: &Map,
    line: &Map,
    p: &BaselineParams,
) -> Vec<Vec<[f32; 2]>> {
    let ridges = sato(line);
    let mut blobs = Mask::new(line.width, line.height);
    for (b, &v) in blobs.data.iter_mut().zip(&ridges.data) {
        *b = v > p.threshold;
    }
    let skel = skeletonize(&blobs);
    let ends = filter_endpoints(&skel, endpoints(&skel), p.max_endpoints);
    if ends.len() < 2 {
        return Vec::new();
    }
    let mut lines = Vec::new();
    for path in connect_endpoints(&skel, &ends) {
        let pts: Vec<[f32; 2]> = path.iter().map(|&(x, y)| [x as f32, y as f32]).collect();
        let mut bl = simplify(&pts, p.simplify);
        extend_to_blob(&mut bl, &blobs);
        let bl = orient(bl, start, end, p);
        if length(&bl) >= p.min_length {
            lines.push(bl);
        }
    }
    lines
}

/// Skeleton parts (8-connected) by label, 0 = background.
fn label_parts(skel: &Mask) -> (Vec<u32>, u32) {
    let mut labels = vec![0u32; skel.data.len()];
    let mut next = 0;
    for start in 0..skel.data.len() {
        if !skel.data[start] || labels[start] != 0 {
            continue;
        }
        next += 1;
        labels[start] = next;
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            for j in neighbours(skel, i) {
                if labels[j] == 0 {
                    labels[j] = next;
                    queue.push_back(j);
                }
            }
        }
    }
    (labels, next)
}

fn neighbours(skel: &Mask, i: usize) -> impl Iterator<Item = usize> + '_ {
    let (x, y) = ((i % skel.width) as isize, (i / skel.width) as isize);
    (-1..=1)
        .flat_map(move |dy| (-1..=1).map(move |dx| (x + dx, y + dy)))
        .filter(move |&(nx, ny)| (nx, ny) != (x, y) && skel.get(nx, ny))
        .map(move |(nx, ny)| ny as usize * skel.width + nx as usize)
}

/// kraken's guard against noisy skeletons: with too many endpoints, keep only parts with
/// few endpoints, largest parts first, up to the budget.
fn filter_endpoints(skel: &Mask, ends: Vec<Px>, max: usize) -> Vec<Px> {
    if ends.len() <= max {
        return ends;
    }
    let (labels, parts) = label_parts(skel);
    let mut count = vec![0usize; parts as usize + 1];
    let mut size = vec![0usize; parts as usize + 1];
    for &l in &labels {
        size[l as usize] += 1;
    }
    for &(x, y) in &ends {
        count[labels[y * skel.width + x] as usize] += 1;
    }
    let mut valid: Vec<u32> = (1..=parts)
        .filter(|&l| count[l as usize] <= MAX_ENDPOINTS_PER_PART)
        .collect();
    if valid.iter().map(|&l| count[l as usize]).sum::<usize>() > max {
        valid.sort_by_key(|&l| std::cmp::Reverse(size[l as usize]));
        let mut budget = 0;
        let mut kept = Vec::new();
        for l in valid {
            if budget + count[l as usize] > max {
                break;
            }
            budget += count[l as usize];
            kept.push(l);
        }
        valid = kept;
    }
    ends.into_iter()
        .filter(|&(x, y)| valid.contains(&labels[y * skel.width + x]))
        .collect()
}

/// kraken joins endpoints with a minimum-cost search that costs nothing on the skeleton and
/// stops where it leaves it: every endpoint grows a territory along the skeleton, and two
/// endpoints whose territories touch are joined by the path through the meeting point (the
/// first meeting wins, as in kraken, where all costs tie at zero).
fn connect_endpoints(skel: &Mask, ends: &[Px]) -> Vec<Vec<Px>> {
    let w = skel.width;
    let mut owner = vec![usize::MAX; skel.data.len()];
    let mut parent = vec![usize::MAX; skel.data.len()];
    let mut queue = VecDeque::new();
    for (seed, &(x, y)) in ends.iter().enumerate() {
        let i = y * w + x;
        if owner[i] == usize::MAX {
            owner[i] = seed;
            queue.push_back(i);
        }
    }
    let mut met = std::collections::BTreeMap::new();
    while let Some(i) = queue.pop_front() {
        for j in neighbours(skel, i) {
            if owner[j] == usize::MAX {
                owner[j] = owner[i];
                parent[j] = i;
                queue.push_back(j);
            } else if owner[j] != owner[i] {
                let key = (owner[i].min(owner[j]), owner[i].max(owner[j]));
                met.entry(key).or_insert((i, j));
            }
        }
    }
    let trace = |mut i: usize| {
        let mut path = vec![(i % w, i / w)];
        while parent[i] != usize::MAX {
            i = parent[i];
            path.push((i % w, i / w));
        }
        path
    };
    met.into_values()
        .map(|(a, b)| {
            // seed_a ... a, b ... seed_b
            let mut path = trace(a);
            path.reverse();
            path.extend(trace(b));
            path
        })
        .collect()
}

/// Douglas-Peucker simplification (scikit-image's `approximate_polygon`).
pub fn simplify(pts: &[[f32; 2]], tolerance: f32) -> Vec<[f32; 2]> {
    if pts.len() < 3 {
        return pts.to_vec();
    }
    let mut keep = vec![false; pts.len()];
    keep[0] = true;
    keep[pts.len() - 1] = true;
    let mut stack = vec![(0, pts.len() - 1)];
    while let Some((a, b)) = stack.pop() {
        let (pa, pb) = (pts[a], pts[b]);
        let (dx, dy) = (pb[0] - pa[0], pb[1] - pa[1]);
        let norm = (dx * dx + dy * dy).sqrt();
        let mut best = (0.0f32, a);
        for (i, p) in pts.iter().enumerate().take(b).skip(a + 1) {
            let d = if norm == 0.0 {
                ((p[0] - pa[0]).powi(2) + (p[1] - pa[1]).powi(2)).sqrt()
            } else {
                ((p[0] - pa[0]) * dy - (p[1] - pa[1]) * dx).abs() / norm
            };
            if d > best.0 {
                best = (d, i);
            }
        }
        if best.0 > tolerance {
            keep[best.1] = true;
            stack.push((a, best.1));
            stack.push((best.1, b));
        }
    }
    pts.iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(p, _)| *p)
        .collect()
}

/// Stretches both ends along their last segment to the edge of the blob they lie in (the
/// skeleton stops short of the blob's ends by about half its thickness).
fn extend_to_blob(bl: &mut [[f32; 2]], blobs: &Mask) {
    let n = bl.len();
    if n < 2 {
        return;
    }
    let stretch = |from: [f32; 2], towards: [f32; 2]| -> [f32; 2] {
        let (dx, dy) = (from[0] - towards[0], from[1] - towards[1]);
        let norm = (dx * dx + dy * dy).sqrt();
        if norm == 0.0 {
            return from;
        }
        let (ux, uy) = (dx / norm, dy / norm);
        let mut last = from;
        for t in 1.. {
            let p = [from[0] + ux * t as f32, from[1] + uy * t as f32];
            if !blobs.get(p[0].round() as isize, p[1].round() as isize) {
                break;
            }
            last = [p[0].trunc(), p[1].trunc()];
        }
        last
    };
    bl[0] = stretch(bl[0], bl[1]);
    bl[n - 1] = stretch(bl[n - 1], bl[n - 2]);
}

/// The maximum of `map` in kraken's `maximum_filter(size)` window around `(x, y)`.
fn window_max(map: &Map, x: usize, y: usize, size: usize) -> f32 {
    let lo = |c: usize| c.saturating_sub(size / 2);
    let hi = |c: usize, n: usize| (c + size - size / 2).min(n);
    let mut m = f32::MIN;
    for yy in lo(y)..hi(y, map.height) {
        for xx in lo(x)..hi(x, map.width) {
            m = m.max(map.at(xx, yy));
        }
    }
    m
}

/// Start first: by the start/end maps where they are clear, else left to right (kraken's
/// default for horizontal text).
fn orient(mut bl: Vec<[f32; 2]>, start: &Map, end: &Map, p: &BaselineParams) -> Vec<[f32; 2]> {
    let Some((&first, &last)) = bl.first().zip(bl.last()) else {
        return bl;
    };
    let marker = |pt: [f32; 2]| {
        let (x, y) = (pt[0].max(0.0) as usize, pt[1].max(0.0) as usize);
        window_max(start, x, y, p.marker_window) - window_max(end, x, y, p.marker_window)
    };
    let (a, b) = (marker(first), marker(last));
    let clearly_forward = a > p.marker_margin && b < -p.marker_margin;
    let clearly_backward = a < -p.marker_margin && b > p.marker_margin;
    if clearly_backward || (!clearly_forward && first[0] > last[0]) {
        bl.reverse();
    }
    bl
}

fn length(bl: &[[f32; 2]]) -> f32 {
    bl.windows(2)
        .map(|s| ((s[1][0] - s[0][0]).powi(2) + (s[1][1] - s[0][1]).powi(2)).sqrt())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_maps(w: usize, h: usize) -> (Map, Map, Map) {
        let mut line = Map::new(w, h);
        let mut start = Map::new(w, h);
        let mut end = Map::new(w, h);
        for x in 10..90 {
            for y in 28..32 {
                line.data[y * w + x] = 0.9;
            }
        }
        for y in 24..36 {
            for x in 8..14 {
                start.data[y * w + x] = 0.9;
            }
            for x in 86..92 {
                end.data[y * w + x] = 0.9;
            }
        }
        (start, end, line)
    }

    #[test]
    fn one_straight_line_gives_one_left_to_right_baseline() {
        let (start, end, line) = line_maps(100, 60);
        let lines = vectorize_lines(&start, &end, &line, &BaselineParams::default());
        assert_eq!(lines.len(), 1, "{lines:?}");
        let bl = &lines[0];
        assert!(bl.len() <= 3, "simplified: {bl:?}");
        let (a, b) = (bl[0], bl[bl.len() - 1]);
        assert!(a[0] < 20.0 && b[0] > 80.0, "{bl:?}");
        assert!(
            (a[1] - 29.5).abs() < 3.0 && (b[1] - 29.5).abs() < 3.0,
            "{bl:?}"
        );
    }

    #[test]
    fn markers_reverse_a_right_to_left_line() {
        let (start, end, line) = line_maps(100, 60);
        // Swap the markers: the line now starts on the right.
        let lines = vectorize_lines(&end, &start, &line, &BaselineParams::default());
        assert_eq!(lines.len(), 1);
        assert!(lines[0][0][0] > lines[0][lines[0].len() - 1][0]);
    }

    #[test]
    fn douglas_peucker_drops_points_within_tolerance() {
        let pts = [[0.0, 0.0], [5.0, 1.0], [10.0, 0.0], [15.0, 8.0]];
        assert_eq!(
            simplify(&pts, 3.0),
            vec![[0.0, 0.0], [10.0, 0.0], [15.0, 8.0]]
        );
    }
}
