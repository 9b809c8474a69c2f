//! `softmax(scale · row)` over a row of attention scores on the host, in vector registers.
//!
//! `f32::exp` is one call into libm per score: in TrOCR-small's encoder those calls took
//! 7 % of the time (docs/BENCH.md). Here `exp` is `vector_math`'s polynomial, which the
//! compiler vectorises, sixteen lanes at a time on AVX-512 CPUs.

use super::vector_math::exp_at_most_zero;

/// Lanes the loops keep side by side: one AVX-512 register of `f32`s.
const LANES: usize = 16;

/// `row` ← softmax(scale · row), shifted by its largest score so that no `exp` overflows.
pub(super) fn scaled(row: &mut [f32], scale: f32) {
    #[cfg(target_arch = "x86_64")]
    if super::shifted_products::available() {
        // SAFETY: the CPU has AVX-512F (`shifted_products::available`).
        unsafe { scaled_avx512(row, scale) };
        return;
    }
    scaled_portable(row, scale);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scaled_avx512(row: &mut [f32], scale: f32) {
    scaled_portable(row, scale);
}

/// The loops, written lane-wise so that the compiler vectorises them for whichever
/// instruction set the caller enables.
#[inline(always)]
fn scaled_portable(row: &mut [f32], scale: f32) {
    let largest = lane_fold(row, f32::NEG_INFINITY, f32::max);
    for score in row.iter_mut() {
        *score = exp_at_most_zero((*score - largest) * scale);
    }
    let inverse = 1.0 / lane_fold(row, 0.0, |a, b| a + b);
    row.iter_mut().for_each(|p| *p *= inverse);
}

/// `row` folded by `f` in [`LANES`] running values, then those folded together: the
/// compiler may not reorder a float fold itself, so it would not vectorise a plain one.
#[inline(always)]
fn lane_fold(row: &[f32], start: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [start; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder().iter().fold(start, |a, &b| f(a, b));
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane = f(*lane, value);
        }
    }
    lanes.into_iter().fold(tail, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_the_plain_softmax() {
        // 37 scores: two full lanes of 16 and a tail.
        let row: Vec<f32> = (0..37)
            .map(|i| ((i * 7919) % 101) as f32 / 7.0 - 5.0)
            .collect();
        let scale = 0.125;
        let largest = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let plain: Vec<f32> = row.iter().map(|s| ((s - largest) * scale).exp()).collect();
        let total: f32 = plain.iter().sum();
        let mut ours = row.clone();
        scaled(&mut ours, scale);
        for (a, b) in ours.iter().zip(&plain) {
            assert!((a - b / total).abs() < 1e-6, "{a} against {}", b / total);
        }
        let mut portable = row;
        scaled_portable(&mut portable, scale);
        assert_eq!(portable, ours);
    }
}
