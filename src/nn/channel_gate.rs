//! A squeeze-and-excitation gate applied to its map in one pass: each channel scaled by its
//! own factor, plus the map itself where the layer is residual (DBNet's neck).
//!
//! As tensor operations that is a broadcast product into a new map and, residual, a sum into
//! another: two passes over maps of up to 68 MB a page. Tensors that are not Flex's `f32`
//! take the tensor operations.

use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::flex_values::{on_flex_f32, with_all_f32};
use super::unfilled;

/// `x · gate`, or `x + x · gate` where `residual`, with `gate` `[n, c, 1, 1]` for `x`
/// `[n, c, h, w]`.
pub fn apply(x: Tensor<4>, gate: Tensor<4>, residual: bool) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let fits = gate.dims() == [n, c, 1, 1] && on_flex_f32(&x) && on_flex_f32(&gate) && h * w > 0;
    let shift = if residual { 1.0 } else { 0.0 };
    let gated = fits.then(|| {
        with_all_f32(&[x.clone(), gate.clone()], |maps| {
            let (values, factors) = (maps[0], maps[1]);
            let mut out = unfilled::buffer(values.len());
            out.par_chunks_mut(h * w)
                .zip(values.par_chunks(h * w))
                .zip(factors.par_iter())
                .for_each(|((to, from), &factor)| {
                    let factor = factor + shift;
                    for (t, &v) in to.iter_mut().zip(from) {
                        t.write(v * factor);
                    }
                });
            // SAFETY: every plane written just above.
            unsafe { unfilled::into_values(out) }
        })
    });
    match gated.flatten() {
        Some(values) => Tensor::from_data(TensorData::new(values, [n, c, h, w]), &x.device()),
        None => {
            let scaled = x.clone().mul(gate);
            if residual { x.add(scaled) } else { scaled }
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};

    use super::*;

    #[test]
    fn matches_the_tensor_operations() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 3, 4, 5], Distribution::Default, &device);
        let gate = Tensor::<4>::random([2, 3, 1, 1], Distribution::Default, &device);
        for residual in [false, true] {
            let scaled = x.clone().mul(gate.clone());
            let want = if residual {
                x.clone().add(scaled)
            } else {
                scaled
            };
            let want = super::super::into_f32_vec(want).unwrap();
            let got = super::super::into_f32_vec(apply(x.clone(), gate.clone(), residual));
            for (g, w) in got.unwrap().iter().zip(&want) {
                assert!((g - w).abs() < 1e-6, "{g} against {w}");
            }
        }
    }
}
