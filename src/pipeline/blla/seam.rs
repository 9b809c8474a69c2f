//! kraken's seam on one side of a line (`_calc_seam`): in the line's frame, squeezed along
//! the line to at most 600 columns, a path of least energy crosses the allowed band from
//! the line's start to its end, moving at most one row per column; the energy is the image
//! gradient plus a pull towards the line. The seam is then straightened to within one
//! standard deviation of its mean row and brought back to map pixels.

use super::heatmap::Map;
use super::line_frame::{LineFrame, Profile, Pt};

/// kraken's value for cells outside the band or the image.
const MASKED: f32 = 99_999.0;
/// kraken dilates the band by two pixels against aliasing.
const DILATION: f32 = 2.0;
/// The widest a squeezed line may be, in columns.
const MAX_COLUMNS: f32 = 600.0;

/// Where a seam may run, in the line's frame.
pub struct Band<'a> {
    pub frame: &'a LineFrame,
    /// The line the seam is pulled towards.
    pub anchor: &'a Profile,
    /// Upper and lower edge of the band (`v` grows down the page).
    pub top: &'a Profile,
    pub bottom: &'a Profile,
    /// The stretch of the line, `u` from start to end.
    pub span: (f32, f32),
    /// Width in map pixels of the band's bounding box, which sets the squeeze.
    pub width: f32,
}

impl Band<'_> {
    fn inside(&self, u: f32, v: f32) -> bool {
        v >= self.top.at(u) - DILATION && v <= self.bottom.at(u) + DILATION
    }
}

/// The grid the seam is carved on: `cols` columns `u = col / squeeze`, rows `v` from `v0`.
struct Grid {
    c0: i32,
    cols: usize,
    v0: i32,
    rows: usize,
    squeeze: f32,
}

impl Grid {
    fn new(band: &Band) -> Option<Self> {
        let squeeze = (MAX_COLUMNS / band.width.max(1.0)).min(1.0);
        let c0 = (band.span.0 * squeeze).round() as i32;
        let c1 = (band.span.1 * squeeze).round() as i32;
        if c1 < c0 {
            return None;
        }
        let us = (c0..=c1).map(|c| c as f32 / squeeze);
        let (mut lo, mut hi) = (f32::MAX, f32::MIN);
        for u in us {
            lo = lo.min(band.top.at(u) - DILATION);
            hi = hi.max(band.bottom.at(u) + DILATION);
        }
        if !(lo.is_finite() && hi.is_finite()) || hi < lo {
            return None;
        }
        let v0 = lo.floor() as i32 - 1;
        Some(Self {
            c0,
            cols: (c1 - c0 + 1) as usize,
            v0,
            rows: (hi.ceil() as i32 + 1 - v0 + 1) as usize,
            squeeze,
        })
    }

    fn u(&self, col: usize) -> f32 {
        (self.c0 + col as i32) as f32 / self.squeeze
    }

    fn v(&self, row: usize) -> f32 {
        (self.v0 + row as i32) as f32
    }
}

/// The energy at a map point (nearest pixel), `None` outside the map.
fn energy_at(e: &Map, p: Pt) -> Option<f32> {
    let (x, y) = (p[0].round(), p[1].round());
    (x >= 0.0 && y >= 0.0 && (x as usize) < e.width && (y as usize) < e.height)
        .then(|| e.at(x as usize, y as usize))
}

/// Image energy per cell, `MASKED` outside the band or the map, and the mean energy inside.
fn cell_energy(band: &Band, g: &Grid, e: &Map) -> (Vec<f32>, f32) {
    let mut cells = vec![MASKED; g.cols * g.rows];
    let (mut sum, mut count) = (0.0f64, 0usize);
    for col in 0..g.cols {
        let u = g.u(col);
        for row in 0..g.rows {
            let v = g.v(row);
            if !band.inside(u, v) {
                continue;
            }
            if let Some(val) = energy_at(e, band.frame.to_map([u, v])) {
                cells[col * g.rows + row] = val;
                sum += f64::from(val);
                count += 1;
            }
        }
    }
    let mean = if count > 0 { sum / count as f64 } else { 0.0 };
    (cells, mean as f32)
}

/// Rows of the cheapest left-to-right path, one per column, moving at most one row a step.
fn cheapest_path(cost: &[f32], cols: usize, rows: usize) -> Vec<usize> {
    let mut acc = cost[..rows].to_vec();
    let mut back = vec![0usize; cols * rows];
    for col in 1..cols {
        let mut next = vec![0.0f32; rows];
        for (row, slot) in next.iter_mut().enumerate() {
            let from = row.saturating_sub(1)..=(row + 1).min(rows - 1);
            let best = from
                .min_by(|&a, &b| acc[a].total_cmp(&acc[b]))
                .unwrap_or(row);
            back[col * rows + row] = best;
            *slot = acc[best] + cost[col * rows + row];
        }
        acc = next;
    }
    let mut row = (0..rows)
        .min_by(|&a, &b| acc[a].total_cmp(&acc[b]))
        .unwrap_or(0);
    let mut path = vec![0usize; cols];
    for col in (0..cols).rev() {
        path[col] = row;
        row = back[col * rows + row];
    }
    path
}

/// Rows clipped to their mean ± one standard deviation, whole rows as kraken keeps them.
fn straighten(path: &[usize]) -> Vec<f32> {
    let n = path.len().max(1) as f32;
    let mean = path.iter().map(|&r| r as f32).sum::<f32>() / n;
    let var = path.iter().map(|&r| (r as f32 - mean).powi(2)).sum::<f32>() / n;
    let std = var.sqrt();
    path.iter()
        .map(|&r| (r as f32).clamp(mean - std, mean + std).floor())
        .collect()
}

/// The seam through `band` in map pixels (whole pixels), without the points kraken drops
/// for lying outside the band or the map.
pub fn carve(band: &Band, e: &Map, bias: f32) -> Vec<Pt> {
    let Some(g) = Grid::new(band) else {
        return Vec::new();
    };
    let (mut cost, mean) = cell_energy(band, &g, e);
    let pull = mean / bias;
    for col in 0..g.cols {
        let u = g.u(col);
        let anchor = band.anchor.at(u);
        for row in 0..g.rows {
            cost[col * g.rows + row] += pull * (g.v(row) - anchor).abs().round();
        }
    }
    let rows = straighten(&cheapest_path(&cost, g.cols, g.rows));
    rows.iter()
        .enumerate()
        .filter_map(|(col, &row)| {
            let (u, v) = (g.u(col), g.v0 as f32 + row);
            let p = band.frame.to_map([u, v]).map(f32::trunc);
            let on_map = p[0] >= 0.0
                && p[1] >= 0.0
                && (p[0] as usize) < e.width
                && (p[1] as usize) < e.height;
            (on_map && band.inside(u, v)).then_some(p)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seam_follows_the_cheap_gap_between_lines() {
        // Text (expensive) everywhere above the line except a gap at rows 28..=31.
        let mut e = Map::new(100, 60);
        for y in 0..60 {
            for x in 0..100 {
                e.data[y * 100 + x] = if (28..32).contains(&y) { 0.0 } else { 1.0 };
            }
        }
        let line = [[0.0, 50.0], [99.0, 50.0]];
        let frame = LineFrame::of(&line).unwrap();
        let anchor = Profile::new(&frame, &[[0.0, 42.0], [99.0, 42.0]]);
        let top = Profile::new(&frame, &[[0.0, 1.0], [99.0, 1.0]]);
        let band = Band {
            frame: &frame,
            anchor: &anchor,
            top: &top,
            bottom: &anchor,
            span: (0.0, 99.0),
            width: 100.0,
        };
        let seam = carve(&band, &e, 150.0);
        assert_eq!(seam.len(), 100);
        assert!(
            seam.iter().all(|p| (28.0..32.0).contains(&p[1])),
            "{seam:?}"
        );
    }

    #[test]
    fn long_lines_are_squeezed_to_600_columns() {
        let frame = LineFrame::of(&[[0.0, 10.0], [1199.0, 10.0]]).unwrap();
        let flat = Profile::new(&frame, &[[0.0, 10.0], [1199.0, 10.0]]);
        let band = Band {
            frame: &frame,
            anchor: &flat,
            top: &flat,
            bottom: &flat,
            span: (0.0, 1199.0),
            width: 1200.0,
        };
        assert_eq!(Grid::new(&band).unwrap().cols, 601);
    }
}
