//! Sato's tubeness ridge filter as scikit-image computes it for kraken
//! (`filters.sato(map, black_ridges=False, mode='constant')`, sigmas 1, 3, 5, 7, 9): per
//! scale, the Hessian from two successive Gaussian-derivative passes of `sigma/sqrt(2)`
//! (zero outside the map), then `sigma^2 * max(-lambda_min, 0)`; the maximum over scales.
//! Bright ridges (the baseline map) answer; flat areas and edges do not.

use super::heatmap::Map;

/// kraken's (scikit-image's default) scales.
pub const SATO_SIGMAS: [f32; 5] = [1.0, 3.0, 5.0, 7.0, 9.0];
/// Kernel half-width in sigmas. scikit-image uses 8 (100 for sigma 1, where the tail beyond
/// 8 sigmas is below f32 precision anyway).
const TRUNCATE: f32 = 8.0;

/// SciPy's 1-D Gaussian kernel (order 0) or its first derivative (order 1), already flipped
/// for use as `out[i] = sum_k kernel[k] * in[i + k - r]`.
fn kernel(sigma: f32, derivative: bool) -> Vec<f32> {
    let radius = (TRUNCATE * sigma + 0.5) as i64;
    let s2 = f64::from(sigma) * f64::from(sigma);
    let phi: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 / s2 * (x * x) as f64).exp())
        .collect();
    let total: f64 = phi.iter().sum();
    (-radius..=radius)
        .zip(&phi)
        .map(|(x, p)| {
            let g = p / total;
            // SciPy correlates with the reversed kernel; for the odd derivative kernel
            // `-x/s2 * g(x)` reversing flips the sign, giving `+x/s2 * g(x)` here.
            (if derivative { x as f64 / s2 * g } else { g }) as f32
        })
        .collect()
}

/// Correlates every row (`along_x`) or column with `k`, zero outside. Rows are split over
/// the machine's threads; the inner loops run over contiguous, padded memory.
fn correlate(src: &Map, k: &[f32], along_x: bool) -> Map {
    let (w, h) = (src.width, src.height);
    let r = k.len() / 2;
    let mut out = Map::new(w, h);
    if w == 0 || h == 0 {
        return out;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rows_per = h.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (chunk_index, chunk) in out.data.chunks_mut(rows_per * w).enumerate() {
            s.spawn(move || {
                let y0 = chunk_index * rows_per;
                let mut padded = vec![0.0f32; w + 2 * r];
                for (dy, row) in chunk.chunks_mut(w).enumerate() {
                    let y = y0 + dy;
                    if along_x {
                        padded[r..r + w].copy_from_slice(&src.data[y * w..(y + 1) * w]);
                        for (x, v) in row.iter_mut().enumerate() {
                            *v = k
                                .iter()
                                .zip(&padded[x..x + k.len()])
                                .map(|(a, b)| a * b)
                                .sum();
                        }
                    } else {
                        for (i, &kv) in k.iter().enumerate() {
                            let sy = y as isize + i as isize - r as isize;
                            if sy < 0 || sy as usize >= h {
                                continue;
                            }
                            let line = &src.data[sy as usize * w..(sy as usize + 1) * w];
                            for (v, &s) in row.iter_mut().zip(line) {
                                *v += kv * s;
                            }
                        }
                    }
                }
            });
        }
    });
    out
}

/// Gaussian-smoothed derivative: order 1 along `x_derivative`'s axis, 0 along the other.
fn gauss_pass(src: &Map, sigma: f32, d_rows: bool, d_cols: bool) -> Map {
    let along_rows = correlate(src, &kernel(sigma, d_rows), false);
    correlate(&along_rows, &kernel(sigma, d_cols), true)
}

/// Sato's filter of a bright-ridge map.
pub fn sato(map: &Map) -> Map {
    let mut best = Map::new(map.width, map.height);
    // Black ridges are what the filter looks for: negate, as scikit-image does.
    let negated = Map {
        data: map.data.iter().map(|v| -v).collect(),
        ..map.clone()
    };
    for sigma in SATO_SIGMAS {
        let s = sigma / std::f32::consts::SQRT_2;
        let grad_r = gauss_pass(&negated, s, true, false);
        let grad_c = gauss_pass(&negated, s, false, true);
        let hrr = gauss_pass(&grad_r, s, true, false);
        let hrc = gauss_pass(&grad_r, s, false, true);
        let hcc = gauss_pass(&grad_c, s, false, true);
        for i in 0..best.data.len() {
            let (a, b, c) = (hrr.data[i], hrc.data[i], hcc.data[i]);
            // Larger eigenvalue of [[a, b], [b, c]].
            let largest = (a + c) / 2.0 + (((a - c) / 2.0).powi(2) + b * b).sqrt();
            let v = sigma * sigma * largest.max(0.0);
            if v > best.data[i] {
                best.data[i] = v;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_are_normalised_and_odd() {
        let g = kernel(2.0, false);
        assert!((g.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let d = kernel(2.0, true);
        let r = d.len() / 2;
        assert_eq!(d[r], 0.0);
        assert!((d[r + 1] + d[r - 1]).abs() < 1e-7);
        // Positive to the right: correlating a ramp gives its slope.
        let slope: f32 = d.iter().enumerate().map(|(i, v)| v * (i as f32)).sum();
        assert!((slope - 1.0).abs() < 1e-3, "{slope}");
    }

    #[test]
    fn a_bright_horizontal_line_is_a_ridge_and_flat_paper_is_not() {
        let mut m = Map::new(40, 30);
        for x in 5..35 {
            m.data[15 * 40 + x] = 1.0;
            m.data[16 * 40 + x] = 1.0;
        }
        let r = sato(&m);
        assert!(r.at(20, 15) > 0.2, "{}", r.at(20, 15));
        assert!(r.at(20, 3) < 0.05, "{}", r.at(20, 3));
    }
}
