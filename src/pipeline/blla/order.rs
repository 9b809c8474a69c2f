//! Reading order of baselines, as kraken orders lines outside regions: a partial order on
//! the baselines' bounding boxes (above when they overlap horizontally; left of when no
//! other line separates them), then a depth-first topological sort.

use crate::reading::Point;

/// `[x0, y0, x1, y1]` of a polyline.
fn bounds(line: &[Point]) -> [f32; 4] {
    crate::reading::bbox_of(line)
}

/// Whether `w` separates `u` from `v`: it reaches into their rows and spans the gap between
/// them (kraken's test, with `u` left of `v`).
fn separates(w: &[f32; 4], u: &[f32; 4], v: &[f32; 4]) -> bool {
    if w[3] < u[1].min(v[1]) || w[1] > u[3].max(v[3]) {
        return false;
    }
    w[0] < u[2] && w[2] > v[0]
}

/// The indices of `lines` in reading order (left to right text).
pub fn reading_order(lines: &[Vec<Point>]) -> Vec<usize> {
    let b: Vec<[f32; 4]> = lines.iter().map(|l| bounds(l)).collect();
    let n = b.len();
    // before[j] lists every i that must come before j.
    let mut before = vec![Vec::new(); n];
    for i in 0..n {
        for j in 0..n {
            let (u, v) = (&b[i], &b[j]);
            let x_overlap = u[0] < v[2] && u[2] > v[0];
            let precedes = if x_overlap {
                u[1] < v[1]
            } else {
                u[2] < v[0] && !(0..n).any(|k| k != i && k != j && separates(&b[k], u, v))
            };
            if precedes {
                before[j].push(i);
            }
        }
    }
    // kraken's topsort: visit each line after everything it must follow (cycles are broken
    // by the visited mark, as there).
    let mut visited = vec![false; n];
    let mut out = Vec::with_capacity(n);
    for start in 0..n {
        let mut stack = vec![(start, 0usize)];
        if visited[start] {
            continue;
        }
        visited[start] = true;
        while let Some((k, next)) = stack.pop() {
            if let Some(&p) = before[k].get(next) {
                stack.push((k, next + 1));
                if !visited[p] {
                    visited[p] = true;
                    stack.push((p, 0));
                }
            } else {
                out.push(k);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_read_one_after_the_other() {
        // Two columns of two lines, given shuffled.
        let left_top = vec![[10.0, 10.0], [90.0, 10.0]];
        let left_bottom = vec![[10.0, 40.0], [90.0, 40.0]];
        let right_top = vec![[110.0, 12.0], [190.0, 12.0]];
        let right_bottom = vec![[110.0, 42.0], [190.0, 42.0]];
        let lines = vec![right_bottom, left_bottom, right_top, left_top];
        assert_eq!(reading_order(&lines), vec![3, 1, 2, 0]);
    }

    #[test]
    fn a_heading_across_columns_comes_first() {
        let heading = vec![[10.0, 0.0], [190.0, 0.0]];
        let left = vec![[10.0, 30.0], [90.0, 30.0]];
        let right = vec![[110.0, 30.0], [190.0, 30.0]];
        assert_eq!(reading_order(&[right, left, heading]), vec![2, 1, 0]);
    }
}
