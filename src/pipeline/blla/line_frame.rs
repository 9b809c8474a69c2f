//! A baseline's own frame: `u` along its mean direction, `v` along the normal pointing down
//! the page. kraken levels each line by rotating an image patch into this frame; we map
//! points instead, which gives the same grid without resampling a whole patch.

pub type Pt = [f32; 2];

/// Origin and axes of a line's frame, in map pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineFrame {
    pub origin: Pt,
    /// Unit vector along the line.
    pub along: Pt,
    /// Unit vector across it, pointing down for a left-to-right line.
    pub down: Pt,
}

impl LineFrame {
    /// The frame of a polyline, along kraken's mean direction: segments weighted by the
    /// square of their length (`mean(diff * lengths / lengths.sum())`).
    pub fn of(line: &[Pt]) -> Option<Self> {
        let (mut dx, mut dy) = (0.0f32, 0.0f32);
        for s in line.windows(2) {
            let (ex, ey) = (s[1][0] - s[0][0], s[1][1] - s[0][1]);
            let len = (ex * ex + ey * ey).sqrt();
            dx += ex * len;
            dy += ey * len;
        }
        let n = (dx * dx + dy * dy).sqrt();
        (n > 0.0 && n.is_finite()).then(|| Self {
            origin: line[0],
            along: [dx / n, dy / n],
            down: [-dy / n, dx / n],
        })
    }

    /// `[u, v]` of a map point.
    pub fn to_frame(&self, p: Pt) -> Pt {
        let (x, y) = (p[0] - self.origin[0], p[1] - self.origin[1]);
        [
            x * self.along[0] + y * self.along[1],
            x * self.down[0] + y * self.down[1],
        ]
    }

    /// The map point at `[u, v]`.
    pub fn to_map(&self, q: Pt) -> Pt {
        [
            self.origin[0] + q[0] * self.along[0] + q[1] * self.down[0],
            self.origin[1] + q[0] * self.along[1] + q[1] * self.down[1],
        ]
    }
}

/// A polyline seen as `v` over `u` in a frame (sorted by `u`, constant beyond its ends),
/// for lines that run along the frame as baselines and their neighbours' limits do.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pts: Vec<Pt>,
}

impl Profile {
    pub fn new(frame: &LineFrame, line: &[Pt]) -> Self {
        Self::from_frame_points(line.iter().map(|&p| frame.to_frame(p)).collect())
    }

    /// From points already in frame coordinates.
    pub fn from_frame_points(mut pts: Vec<Pt>) -> Self {
        pts.retain(|p| p[0].is_finite() && p[1].is_finite());
        pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
        Self { pts }
    }

    /// `v` at `u`, linearly interpolated.
    pub fn at(&self, u: f32) -> f32 {
        let Some(first) = self.pts.first() else {
            return 0.0;
        };
        let i = self.pts.partition_point(|p| p[0] < u);
        if i == 0 {
            return first[1];
        }
        if i == self.pts.len() {
            return self.pts[i - 1][1];
        }
        let (a, b) = (self.pts[i - 1], self.pts[i]);
        let span = b[0] - a[0];
        if span <= f32::EPSILON {
            return b[1];
        }
        a[1] + (b[1] - a[1]) * (u - a[0]) / span
    }

    /// The smallest and largest `u`.
    pub fn span(&self) -> Option<(f32, f32)> {
        Some((self.pts.first()?[0], self.pts.last()?[0]))
    }
}

/// A polyline moved `dist` pixels to its left in image coordinates (up for a
/// left-to-right line; negative moves it down), each segment along its own normal and
/// neighbouring segments joined where their offsets meet (shapely's `parallel_offset`,
/// with mitred rather than rounded outer corners).
pub fn offset_polyline(line: &[Pt], dist: f32) -> Vec<Pt> {
    let normals: Vec<Option<Pt>> = line
        .windows(2)
        .map(|s| {
            let (dx, dy) = (s[1][0] - s[0][0], s[1][1] - s[0][1]);
            let n = (dx * dx + dy * dy).sqrt();
            (n > 0.0).then(|| [dy / n, -dx / n])
        })
        .collect();
    let shift = |p: Pt, n: Pt, k: f32| [p[0] + n[0] * k, p[1] + n[1] * k];
    let known: Vec<Pt> = normals.iter().flatten().copied().collect();
    let Some(&first) = known.first() else {
        return line.to_vec();
    };
    let mut out = Vec::with_capacity(line.len());
    let mut prev = first;
    for (i, &p) in line.iter().enumerate() {
        let next = normals.get(i).copied().flatten().unwrap_or(prev);
        let (sx, sy) = (prev[0] + next[0], prev[1] + next[1]);
        let cos_half = ((sx * sx + sy * sy).sqrt() / 2.0).max(0.5);
        let mitre = [sx, sy].map(|c| c / (2.0 * cos_half));
        let mitre_len = (mitre[0] * mitre[0] + mitre[1] * mitre[1]).sqrt().max(1e-6);
        out.push(shift(p, mitre.map(|c| c / mitre_len), dist / cos_half));
        prev = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_line_has_a_level_frame() {
        let f = LineFrame::of(&[[10.0, 20.0], [110.0, 20.0]]).unwrap();
        assert_eq!(f.to_frame([60.0, 25.0]), [50.0, 5.0]);
        assert_eq!(f.to_map([50.0, -8.0]), [60.0, 12.0]);
        assert!(LineFrame::of(&[[1.0, 1.0], [1.0, 1.0]]).is_none());
    }

    #[test]
    fn profiles_interpolate_and_hold_their_ends() {
        let f = LineFrame::of(&[[0.0, 0.0], [100.0, 0.0]]).unwrap();
        let p = Profile::new(&f, &[[0.0, 10.0], [100.0, 30.0]]);
        assert_eq!(p.at(50.0), 20.0);
        assert_eq!(p.at(-5.0), 10.0);
        assert_eq!(p.at(500.0), 30.0);
    }

    #[test]
    fn offsets_move_up_for_positive_distances() {
        let up = offset_polyline(&[[0.0, 50.0], [50.0, 50.0], [100.0, 60.0]], 8.0);
        assert_eq!(up[0], [0.0, 42.0]);
        assert!(up[1][1] < 42.5 && up[1][1] > 41.0, "{up:?}");
        let down = offset_polyline(&[[0.0, 50.0], [100.0, 50.0]], -4.0);
        assert_eq!(down, vec![[0.0, 54.0], [100.0, 54.0]]);
    }
}
