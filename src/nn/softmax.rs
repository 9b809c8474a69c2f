//! `softmax(scale · row)` over a row of attention scores on the host, in vector registers.
//!
//! `f32::exp` is one call into libm per score: in TrOCR-small's encoder those calls took
//! 7 % of the time (docs/BENCH.md). Here `exp` is a polynomial the compiler vectorises,
//! sixteen lanes at a time on AVX-512 CPUs.

use std::f32::consts::LN_2;

/// Lanes the loops keep side by side: one AVX-512 register of `f32`s.
const LANES: usize = 16;

/// `row` ← softmax(scale · row), shifted by its largest score so that no `exp` overflows.
pub(super) fn scaled(row: &mut [f32], scale: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, checked just above.
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

/// `e^x` for `x ≤ 0`, within 4 units in the last place of libm's (`e^-87` below -87): `x = n·ln 2 + r`
/// with `|r| ≤ ln 2 / 2`, `e^r` by its Taylor series to the 7th power (truncation below
/// 2·10⁻⁹), `2^n` put straight into the exponent bits.
#[inline(always)]
fn exp_at_most_zero(x: f32) -> f32 {
    // ln 2 in two parts, the first with few enough bits that n · LN_2_HIGH is exact.
    const LN_2_HIGH: f32 = 0.693_359_4;
    const LN_2_LOW: f32 = LN_2 - LN_2_HIGH;
    // Adding 1.5 · 2²³ rounds `x · log2 e` to the integer n in the low mantissa bits,
    // where both n as a float and 2ⁿ's exponent bits come out without a conversion
    // instruction (float-to-int casts keep the compiler from vectorising).
    const ROUNDER: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    let r = (x - n * LN_2_HIGH) - n * LN_2_LOW;
    let mut p = 1.0 / 5040.0;
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = p * r + c;
    }
    // n ≥ -126 after the clamp: a normal power of two.
    let exponent = shifted
        .to_bits()
        .wrapping_sub(ROUNDER.to_bits())
        .wrapping_add(127);
    p * f32::from_bits(exponent << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_four_ulps_of_libm() {
        for i in 0..=200_000 {
            let x = -87.0 * i as f32 / 200_000.0;
            let (ours, libm) = (exp_at_most_zero(x), x.exp());
            let ulps = (ours.to_bits() as i64 - libm.to_bits() as i64).abs();
            assert!(ulps <= 4, "e^{x}: {ours} against {libm} ({ulps} ulps)");
        }
        // Far below: clamped, a small normal number rather than garbage exponent bits.
        assert_eq!(exp_at_most_zero(-1000.0), exp_at_most_zero(-87.0));
        assert!(exp_at_most_zero(-87.0) > 0.0);
    }

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
