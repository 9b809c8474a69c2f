//! Elementary functions as polynomials the compiler can vectorise: libm's are one call per
//! value, and a float-to-int cast (as in the textbook `exp`) keeps a loop scalar. Callers
//! put them in loops compiled for AVX-512 where the CPU has it.

use std::f32::consts::LN_2;

use burn::backend::DispatchDevice;
use burn::tensor::{DType, Tensor, TensorData, activation};
use rayon::prelude::*;

use super::flex_values::with_f32;

/// How `a · b + c` is computed in the polynomials below.
pub(super) trait MulAdd {
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// In one fused instruction: for loops in functions compiled for AVX-512, which implies
/// FMA (half the instructions of a product and a sum; one rounding instead of two).
pub(super) struct Fused;

/// A product, then a sum: elsewhere, where a fused one would be a call into libm per value.
pub(super) struct Separate;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// `e^x` for `x ≤ 0`, within 4 units in the last place of libm's (`e^-87` below -87):
/// `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`, `e^r` by its Taylor series to the 7th power
/// (truncation below 2·10⁻⁹), `2^n` put straight into the exponent bits.
#[inline(always)]
pub(super) fn exp_at_most_zero<M: MulAdd>(x: f32) -> f32 {
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
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = M::mul_add(p, r, c);
    }
    // n ≥ -126 after the clamp: a normal power of two.
    let exponent = shifted
        .to_bits()
        .wrapping_sub(ROUNDER.to_bits())
        .wrapping_add(127);
    p * f32::from_bits(exponent << 23)
}

/// `erf(x)`, within 1.5 · 10⁻⁷ (Abramowitz and Stegun 7.1.26, with our `exp`).
#[inline(always)]
pub(super) fn erf<M: MulAdd>(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_7,
        -1.453_152_1,
        1.061_405_4,
    ];
    let magnitude = x.abs();
    let t = 1.0 / (1.0 + P * magnitude);
    let mut poly = A[4];
    for a in [A[3], A[2], A[1], A[0]] {
        poly = M::mul_add(poly, t, a);
    }
    let value = 1.0 - poly * t * exp_at_most_zero::<M>(-magnitude * magnitude);
    value.copysign(x)
}

/// PyTorch's exact GELU, `x · (1 + erf(x / √2)) / 2`.
#[inline(always)]
pub(super) fn gelu<M: MulAdd>(x: f32) -> f32 {
    0.5 * x * (1.0 + erf::<M>(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `to[i] += values[i]`, as far as the shorter goes.
pub(super) fn add(to: &mut [f32], values: &[f32]) {
    to.iter_mut().zip(values).for_each(|(to, v)| *to += v);
}

/// PyTorch's exact GELU of a tensor: on the host where it is on Flex as `f32`s (Flex calls
/// libm's `erff` once per value), else Burn's.
pub fn gelu_tensor<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let on_flex = matches!(x.device().as_dispatch(), DispatchDevice::Flex(_));
    if on_flex
        && x.dtype() == DType::F32
        && let Some(values) = with_f32(&x, gelu_all)
    {
        return Tensor::from_data(TensorData::new(values, x.dims()), &x.device());
    }
    activation::gelu(x)
}

/// [`gelu`] of every value, split over rayon's threads.
fn gelu_all(values: &[f32]) -> Vec<f32> {
    let mut out = values.to_vec();
    out.par_chunks_mut(1 << 14).for_each(gelu_in_place);
    out
}

/// [`gelu`] of every value, in place, on this thread: in AVX-512 registers where the CPU
/// has them.
pub(super) fn gelu_in_place(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::shifted_products::available() {
        // SAFETY: the CPU has AVX-512F (`shifted_products::available`).
        unsafe { gelu_in_place_avx512(values) };
        return;
    }
    values.iter_mut().for_each(|v| *v = gelu::<Separate>(*v));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gelu_in_place_avx512(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = gelu::<Fused>(*v));
}

/// The logistic sigmoid of every value, in place, on this thread: in AVX-512 registers
/// where the CPU has them. Within a few units in the last place of `1 / (1 + e^-v)`.
pub fn sigmoid_in_place(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::shifted_products::available() {
        // SAFETY: the CPU has AVX-512F (`shifted_products::available`).
        unsafe { sigmoid_in_place_avx512(values) };
        return;
    }
    values.iter_mut().for_each(|v| *v = sigmoid::<Separate>(*v));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sigmoid_in_place_avx512(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = sigmoid::<Fused>(*v));
}

/// `1 / (1 + e^-x)` from `e^-|x|` (at most 1, so no overflow either side).
#[inline(always)]
fn sigmoid<M: MulAdd>(x: f32) -> f32 {
    let e = exp_at_most_zero::<M>(-x.abs());
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 { s } else { e * s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_matches_its_definition() {
        let mut values: Vec<f32> = (-2000..=2000).map(|i| i as f32 / 20.0).collect();
        let want: Vec<f64> = values
            .iter()
            .map(|&x| 1.0 / (1.0 + (-x as f64).exp()))
            .collect();
        sigmoid_in_place(&mut values);
        for (got, want) in values.iter().zip(want) {
            assert!(
                (*got as f64 - want).abs() <= 1e-6 * want.max(1e-30),
                "{got} against {want}"
            );
        }
    }

    #[test]
    fn exp_is_within_four_ulps_of_libm() {
        fn check<M: MulAdd>(name: &str) {
            for i in 0..=200_000 {
                let x = -87.0 * i as f32 / 200_000.0;
                let (ours, libm) = (exp_at_most_zero::<M>(x), x.exp());
                let ulps = (ours.to_bits() as i64 - libm.to_bits() as i64).abs();
                assert!(
                    ulps <= 4,
                    "{name} e^{x}: {ours} against {libm} ({ulps} ulps)"
                );
            }
            // Far below: clamped, a small normal number rather than garbage exponent bits.
            assert_eq!(exp_at_most_zero::<M>(-1000.0), exp_at_most_zero::<M>(-87.0));
            assert!(exp_at_most_zero::<M>(-87.0) > 0.0);
        }
        check::<Separate>("separate");
        check::<Fused>("fused");
    }

    #[test]
    fn gelu_equals_burns() {
        use burn::tensor::Device;
        let xs: Vec<f32> = (-60_000..=60_000).map(|i| i as f32 / 10_000.0).collect();
        let tensor =
            Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &Device::flex());
        let burns = crate::nn::into_f32_vec(activation::gelu(tensor.clone())).unwrap();
        let ours = crate::nn::into_f32_vec(gelu_tensor(tensor)).unwrap();
        let separate: Vec<f32> = xs.iter().map(|&x| gelu::<Separate>(x)).collect();
        let fused: Vec<f32> = xs.iter().map(|&x| gelu::<Fused>(x)).collect();
        for (i, x) in xs.iter().enumerate() {
            // erf within 1.5e-7 of the truth: GELU within x/2 times that, plus a few roundings.
            let bound = 4e-7 * x.abs().max(1.0);
            for (name, value) in [
                ("tensor", ours[i]),
                ("separate", separate[i]),
                ("fused", fused[i]),
            ] {
                let b = burns[i];
                assert!(
                    (value - b).abs() <= bound,
                    "{name} gelu({x}): {value} against {b}"
                );
            }
        }
    }
}
