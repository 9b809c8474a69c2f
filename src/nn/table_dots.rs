//! Dot products of every row of a large table with a few vectors: a decoder step's output
//! projection onto its token embedding (50 265 rows of 1 024 for trocr-base, one vector
//! per line of the batch). The table is read once, front to back, and each of its rows
//! meets every vector while it is in the core's first-level cache.

use rayon::prelude::*;

use super::matmul;

/// Vectors summed side by side against one table row (one AVX-512 register each).
const VECTORS: usize = 8;
/// Table rows per rayon task.
const ROWS_PER_TASK: usize = 256;

/// `out[r, j] = x[r] · table[j]` for `x` `[m, k]` and `table` `[n, k]`, both row-major;
/// the table's rows split over rayon's threads.
///
/// # Panics
/// When a slice's length is not its shape's.
pub(super) fn dots(x: &[f32], table: &[f32], [m, k, n]: [usize; 3]) -> Vec<f32> {
    assert!(
        x.len() == m * k && table.len() == n * k,
        "operands of another shape"
    );
    if m == 0 || k == 0 || n == 0 {
        return vec![0.0; m * n];
    }
    let mut out_t = vec![0.0f32; n * m];
    out_t
        .par_chunks_mut(m * ROWS_PER_TASK)
        .zip(table.par_chunks(k * ROWS_PER_TASK))
        .for_each(|(dst, rows)| {
            for (dst, row) in dst.chunks_exact_mut(m).zip(rows.chunks_exact(k)) {
                row_dots(x, row, dst);
            }
        });
    matmul::transpose(&out_t, n, m)
}

/// `out[r] = x[r] · row` for every row `r` of `x` (rows of `row.len()` values).
fn row_dots(x: &[f32], row: &[f32], out: &mut [f32]) {
    let k = row.len();
    for (vectors, out) in x.chunks(VECTORS * k).zip(out.chunks_mut(VECTORS)) {
        #[cfg(target_arch = "x86_64")]
        if matmul::available() {
            // SAFETY: AVX-512F is present; `vectors` holds `out.len()` (1..=8) rows of `k`.
            // As few registers as there are vectors (a batch of one line: one).
            unsafe {
                match out.len() {
                    1 => kernel::row_dots::<1>(vectors, row, out),
                    2 => kernel::row_dots::<2>(vectors, row, out),
                    3 | 4 => kernel::row_dots::<4>(vectors, row, out),
                    _ => kernel::row_dots::<VECTORS>(vectors, row, out),
                }
            }
            continue;
        }
        for (value, vector) in out.iter_mut().zip(vectors.chunks_exact(k)) {
            *value = dot(vector, row);
        }
    }
}

/// `a · b` in 16 independent lanes, so that the compiler keeps them in vector registers.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let (a_body, a_tail) = a.split_at(a.len() / 16 * 16);
    let (b_body, b_tail) = b.split_at(a_body.len());
    for (a, b) in a_body.chunks_exact(16).zip(b_body.chunks_exact(16)) {
        for lane in 0..16 {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(a, b)| a * b).sum();
    lanes.iter().sum::<f32>() + tail
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use std::arch::x86_64::*;

    const LANES: usize = 16;

    /// `out[r] = vectors[r] · row` for the `out.len()` (1..=`V`) vectors of `row.len()`
    /// values in `vectors`, each sum in a register of its own. Missing vectors repeat the
    /// first (their sums are not written): the loop stays the same `V` registers.
    ///
    /// # Safety
    /// AVX-512F is present; `vectors` holds `out.len()` rows of `row.len()` values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn row_dots<const V: usize>(vectors: &[f32], row: &[f32], out: &mut [f32]) {
        let k = row.len();
        let count = out.len();
        assert!((1..=V).contains(&count) && vectors.len() == count * k);
        let starts: [*const f32; V] = std::array::from_fn(|r| {
            let r = if r < count { r } else { 0 };
            vectors[r * k..].as_ptr()
        });
        let mut sums = [_mm512_setzero_ps(); V];
        for first in (0..k).step_by(LANES) {
            let lanes = (k - first).min(LANES);
            let mask = ((1u32 << lanes) - 1) as __mmask16;
            // SAFETY: lanes `first..first + lanes` lie within `row` and within each of
            // the vectors (all `k` long); masked-off lanes are not read.
            unsafe {
                let values = _mm512_maskz_loadu_ps(mask, row.as_ptr().add(first));
                for (sum, start) in sums.iter_mut().zip(starts) {
                    let vector = _mm512_maskz_loadu_ps(mask, start.add(first));
                    *sum = _mm512_fmadd_ps(values, vector, *sum);
                }
            }
        }
        for (value, sum) in out.iter_mut().zip(sums) {
            *value = _mm512_reduce_add_ps(sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_a_plain_loop() {
        // 37 values: two 16-lane chunks and a masked tail; 600 table rows: several tasks;
        // 1, 2, 3 and 5 vectors (kernels of 1, 2, 4 and 8 registers); 13: eight and five.
        let k = 37;
        let table: Vec<f32> = (0..600 * k)
            .map(|i| ((i * 37) % 23) as f32 - 11.0)
            .collect();
        for m in [1, 2, 3, 5, 8, 13] {
            let x: Vec<f32> = (0..m * k).map(|i| ((i * 13) % 7) as f32 * 0.5).collect();
            let ours = dots(&x, &table, [m, k, 600]);
            for r in 0..m {
                for j in 0..600 {
                    let want: f32 = (0..k).map(|i| x[r * k + i] * table[j * k + i]).sum();
                    assert_eq!(ours[r * 600 + j], want, "{m} vectors: [{r}, {j}]");
                }
            }
        }
        assert!(dots(&[], &table, [0, k, 600]).is_empty());
    }
}
