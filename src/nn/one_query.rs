//! One query's attention over one head's keys and values, read where they lie: a decoder
//! step. There the keys and values are cached (cross-attention's are 454 MB for a batch of
//! 8 lines in trocr-base) and each key meets a single query, so the work is one pass over
//! them, bound by memory: no packing, no product kernel, no transposed copy of the keys.

use super::vector_math::{Fused, MulAdd, Separate, exp_at_most_zero};

/// `out = softmax(scale · keys · query) · values` for `query` and `out` of `depth` values
/// and `keys`, `values` `[sources, depth]` row-major (`depth = query.len()`). With no keys
/// at all, `out` is zeros.
///
/// # Panics
/// When the lengths disagree.
pub(super) fn attend(query: &[f32], keys: &[f32], values: &[f32], scale: f32, out: &mut [f32]) {
    let depth = query.len();
    assert!(
        depth > 0
            && out.len() == depth
            && keys.len() == values.len()
            && keys.len().is_multiple_of(depth),
        "operands of another shape"
    );
    let mut weights = vec![0.0f32; keys.len() / depth];
    #[cfg(target_arch = "x86_64")]
    if super::shifted_products::available() && depth <= kernel::MAX_DEPTH {
        // SAFETY: AVX-512F is present; `depth` ≤ MAX_DEPTH; `weights` holds one value per
        // key, `keys` and `values` whole rows of `depth`, `out` `depth` values (asserted).
        unsafe {
            kernel::scores(query, keys, scale, &mut weights);
            softmax_numerators_avx512(&mut weights);
            kernel::weighted_sum(&weights, values, out);
        }
        divide_by_sum(&weights, out);
        return;
    }
    for (weight, key) in weights.iter_mut().zip(keys.chunks_exact(depth)) {
        *weight = query.iter().zip(key).map(|(q, k)| q * k).sum::<f32>() * scale;
    }
    softmax_numerators::<Separate>(&mut weights);
    out.fill(0.0);
    for (&weight, value) in weights.iter().zip(values.chunks_exact(depth)) {
        out.iter_mut()
            .zip(value)
            .for_each(|(to, v)| *to += weight * v);
    }
    divide_by_sum(&weights, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn softmax_numerators_avx512(scores: &mut [f32]) {
    softmax_numerators::<Fused>(scores);
}

/// Each score `s` as `exp(s − the largest)`.
#[inline(always)]
fn softmax_numerators<M: MulAdd>(scores: &mut [f32]) {
    let mut largest = f32::NEG_INFINITY;
    for &score in scores.iter() {
        largest = largest.max(score);
    }
    // A plain loop: a closure would be compiled apart from `softmax_numerators_avx512`, for
    // the baseline CPU, where `Fused`'s multiply-add is a call into libm.
    for score in scores.iter_mut() {
        *score = exp_at_most_zero::<M>(*score - largest);
    }
}

/// `out / Σ weights`, left as it is when the sum is zero (no keys).
fn divide_by_sum(weights: &[f32], out: &mut [f32]) {
    let sum: f32 = weights.iter().sum();
    if sum > 0.0 {
        let inverse = 1.0 / sum;
        out.iter_mut().for_each(|to| *to *= inverse);
    }
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use std::arch::x86_64::*;

    const LANES: usize = 16;
    /// Registers a query, a key or a row of values fills at most.
    const CHUNKS: usize = 4;
    /// Widest head these kernels take (TrOCR's are 32 and 64 wide).
    pub(super) const MAX_DEPTH: usize = CHUNKS * LANES;

    /// The lanes of chunk `j` within `depth` values (none past the last).
    fn masks(depth: usize) -> [__mmask16; CHUNKS] {
        std::array::from_fn(|j| {
            let lanes = depth.saturating_sub(j * LANES).min(LANES);
            ((1u32 << lanes) - 1) as __mmask16
        })
    }

    /// `scores[s] = scale · query · keys[s]`, the query held in registers.
    ///
    /// # Safety
    /// AVX-512F is present; `query.len()` ≤ [`MAX_DEPTH`]; `keys` holds `scores.len()`
    /// rows of `query.len()` values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn scores(query: &[f32], keys: &[f32], scale: f32, scores: &mut [f32]) {
        let depth = query.len();
        let masks = masks(depth);
        // SAFETY (all loads): lanes past `depth` are masked off and not read.
        let q: [__m512; CHUNKS] = std::array::from_fn(|j| unsafe {
            _mm512_maskz_loadu_ps(masks[j], query.as_ptr().wrapping_add(j * LANES))
        });
        for (score, key) in scores.iter_mut().zip(keys.chunks_exact(depth)) {
            let mut sum = _mm512_setzero_ps();
            for j in 0..CHUNKS {
                let k = unsafe {
                    _mm512_maskz_loadu_ps(masks[j], key.as_ptr().wrapping_add(j * LANES))
                };
                sum = _mm512_fmadd_ps(q[j], k, sum);
            }
            *score = _mm512_reduce_add_ps(sum) * scale;
        }
    }

    /// `out = Σₛ weights[s] · values[s]`, the sums held in registers.
    ///
    /// # Safety
    /// AVX-512F is present; `out.len()` ≤ [`MAX_DEPTH`]; `values` holds `weights.len()`
    /// rows of `out.len()` values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn weighted_sum(weights: &[f32], values: &[f32], out: &mut [f32]) {
        let depth = out.len();
        let masks = masks(depth);
        let mut sums = [_mm512_setzero_ps(); CHUNKS];
        for (&weight, row) in weights.iter().zip(values.chunks_exact(depth)) {
            let weight = _mm512_set1_ps(weight);
            for j in 0..CHUNKS {
                // SAFETY: lanes past `depth` are masked off and not read.
                let v = unsafe {
                    _mm512_maskz_loadu_ps(masks[j], row.as_ptr().wrapping_add(j * LANES))
                };
                sums[j] = _mm512_fmadd_ps(weight, v, sums[j]);
            }
        }
        for j in 0..CHUNKS {
            // SAFETY: lanes past `depth` are masked off and not written.
            unsafe {
                _mm512_mask_storeu_ps(out.as_mut_ptr().wrapping_add(j * LANES), masks[j], sums[j])
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook softmax and weighted sum in `f64`.
    fn reference(query: &[f32], keys: &[f32], values: &[f32], scale: f32) -> Vec<f64> {
        let depth = query.len();
        let scores: Vec<f64> = keys
            .chunks_exact(depth)
            .map(|k| {
                k.iter()
                    .zip(query)
                    .map(|(&a, &b)| f64::from(a * b))
                    .sum::<f64>()
            })
            .map(|s| s * f64::from(scale))
            .collect();
        let largest = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = scores.iter().map(|s| (s - largest).exp()).collect();
        let total: f64 = weights.iter().sum();
        (0..depth)
            .map(|d| {
                let rows = weights.iter().zip(values.chunks_exact(depth));
                rows.map(|(w, v)| w * f64::from(v[d])).sum::<f64>() / total
            })
            .collect()
    }

    fn values(count: usize, seed: usize) -> Vec<f32> {
        (0..count)
            .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5) - 1.0)
            .collect()
    }

    #[test]
    fn equals_the_textbook_softmax() {
        // Head widths of 64 and 32 (trocr-base, -small), one with a tail; one key and many;
        // one wider than the kernels take (the portable loops).
        for (depth, sources) in [(64, 578), (32, 17), (37, 1), (24, 100), (80, 30)] {
            let query = values(depth, 1);
            let keys = values(sources * depth, 2);
            let v = values(sources * depth, 3);
            let mut out = vec![f32::NAN; depth];
            attend(&query, &keys, &v, 0.5, &mut out);
            let want = reference(&query, &keys, &v, 0.5);
            for (d, (&ours, &want)) in out.iter().zip(&want).enumerate() {
                let diff = (f64::from(ours) - want).abs();
                assert!(
                    diff < 1e-5,
                    "depth {depth}, {sources} keys, [{d}]: off by {diff}"
                );
            }
        }
    }

    #[test]
    fn no_keys_give_zeros() {
        let mut out = vec![f32::NAN; 4];
        attend(&[1.0; 4], &[], &[], 1.0, &mut out);
        assert_eq!(out, [0.0; 4]);
    }
}
