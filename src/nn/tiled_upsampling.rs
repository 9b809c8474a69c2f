//! Transposed convolutions whose stride equals their kernel (DBNet's 2 × 2, stride-2
//! upsampling in its head) on the CPU: every input pixel writes its own `kh × kw` block of
//! the output, no block overlapping another, so the layer is one pointwise product per
//! kernel tap (`nn::matmul`), its rows then laid out tap by tap into the blocks, with the
//! bias and an activation applied row by row.
//!
//! Flex's transposed convolution ran the first of DBNet's two at about 0.5 GMAC/s: a fifth
//! of the detector's time on a page (`nn::paddle::timing`).
//!
//! Only Flex tensors of `f32`, one group, no padding or dilation, on CPUs with AVX-512 take
//! this path; the caller gets its input back otherwise.

#![allow(
    clippy::result_large_err,
    reason = "`Err` gives the input tensor back to the caller: no larger than `Ok`'s output"
)]

use burn::nn::conv::ConvTranspose2d;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::flex_values::{bias_values, on_flex_f32, with_f32};
use super::matmul;
use super::shifted_products::ROWS;
use super::unfilled;

/// `conv.forward(x)` then `activation` over every output row (one row of one channel of one
/// image), or `Err(x)` where the layer does not take this path.
pub fn forward_then(
    conv: &ConvTranspose2d,
    x: Tensor<4>,
    activation: impl Fn(&mut [f32]) + Sync,
) -> Result<Tensor<4>, Tensor<4>> {
    let weight = conv.weight.val();
    let [images, c_in, h, w] = x.dims();
    let [w_in, c_out, kh, kw] = weight.dims();
    let takes = matmul::available()
        && on_flex_f32(&x)
        && on_flex_f32(&weight)
        && conv.groups == 1
        && w_in == c_in
        && conv.stride == [kh, kw]
        && conv.padding == [0, 0]
        && conv.padding_out == [0, 0]
        && conv.dilation == [1, 1]
        && images * c_in * h * w > 0;
    let bias = conv.bias.as_ref().map(|b| b.val());
    let Some(bias) = bias_values(bias.as_ref(), c_out).filter(|_| takes) else {
        return Err(x);
    };
    let Some(by_tap) = with_f32(&weight, |values| taps_first(values, c_in, c_out, kh * kw)) else {
        return Err(x);
    };
    // The product's rows padded with zero weights to whole groups of the kernel.
    let rows = (kh * kw * c_out).next_multiple_of(ROWS);
    let products = with_f32(&x, |values| {
        matmul::batched_product(&by_tap, values, images, [rows, c_in, h * w], |_, _, _| {})
    });
    let Some(products) = products else {
        return Err(x);
    };
    let (out_h, out_w) = (h * kh, w * kw);
    let mut out = unfilled::buffer(images * c_out * out_h * out_w);
    out.par_chunks_mut(out_w)
        .enumerate()
        .for_each(|(index, line)| {
            let (plane, row) = (index / out_h, index % out_h);
            let (image, channel) = (plane / c_out, plane % c_out);
            let (y, i) = (row / kh, row % kh);
            for j in 0..kw {
                let tap_row = (i * kw + j) * c_out + channel;
                let from = &products[(image * rows + tap_row) * h * w + y * w..][..w];
                for (x, &value) in from.iter().enumerate() {
                    line[x * kw + j].write(value + bias[channel]);
                }
            }
            // SAFETY: the taps' columns `x · kw + j` cover the whole line.
            activation(unsafe { unfilled::as_values(line) });
        });
    // SAFETY: every line written just above.
    let out = unsafe { unfilled::into_values(out) };
    Ok(Tensor::from_data(
        TensorData::new(out, [images, c_out, out_h, out_w]),
        &x.device(),
    ))
}

/// Weights `[c_in, c_out, taps]` as `[taps · c_out, c_in]`, then rows of zeros up to a
/// multiple of [`ROWS`]: row `t · c_out + o` holds what tap `t` of output channel `o` takes
/// from each input channel.
fn taps_first(weights: &[f32], c_in: usize, c_out: usize, taps: usize) -> Vec<f32> {
    let rows = (taps * c_out).next_multiple_of(ROWS);
    let mut by_tap = vec![0.0f32; rows * c_in];
    for (i, per_input) in weights.chunks_exact(c_out * taps).enumerate() {
        for (o, per_output) in per_input.chunks_exact(taps).enumerate() {
            for (t, &value) in per_output.iter().enumerate() {
                by_tap[(t * c_out + o) * c_in + i] = value;
            }
        }
    }
    by_tap
}

#[cfg(test)]
mod tests {
    use burn::module::Param;

    use crate::nn::into_f32_vec;
    use burn::tensor::{Device, Distribution};

    use super::*;

    fn upsampling(c_in: usize, c_out: usize, kernel: [usize; 2]) -> ConvTranspose2d {
        let device = Device::flex();
        let shape = [c_in, c_out, kernel[0], kernel[1]];
        ConvTranspose2d {
            weight: Param::from_tensor(Tensor::random(shape, Distribution::Default, &device)),
            bias: Some(Param::from_tensor(Tensor::random(
                [c_out],
                Distribution::Default,
                &device,
            ))),
            stride: kernel,
            kernel_size: kernel,
            dilation: [1, 1],
            groups: 1,
            padding: [0, 0],
            padding_out: [0, 0],
            channels: [c_in, c_out],
        }
    }

    #[test]
    fn matches_burn_with_the_activation() {
        if !matmul::available() {
            crate::test_skip::skip("nn::tiled_upsampling needs AVX-512F; this CPU has none");
            return;
        }
        let device = Device::flex();
        for (c_in, c_out, kernel) in [
            (6, 4, [2, 2]),
            (5, 8, [2, 3]),
            (24, 1, [2, 2]),
            (3, 3, [1, 1]),
        ] {
            let conv = upsampling(c_in, c_out, kernel);
            let x = Tensor::<4>::random([2, c_in, 5, 7], Distribution::Default, &device);
            let want = into_f32_vec(conv.forward(x.clone()).clamp_min(0.0)).unwrap();
            let got = forward_then(&conv, x, |v| v.iter_mut().for_each(|x| *x = x.max(0.0)));
            let got = into_f32_vec(got.expect("the layer takes the path")).unwrap();
            assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() < 1e-4,
                    "{kernel:?} value {i}: {g} against {w}"
                );
            }
        }
    }

    #[test]
    fn overlapping_or_padded_layers_are_given_back() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 4, 3, 3], Distribution::Default, &device);
        let mut overlapping = upsampling(4, 4, [3, 3]);
        overlapping.stride = [2, 2];
        assert!(forward_then(&overlapping, x.clone(), |_| {}).is_err());
        let mut padded = upsampling(4, 4, [2, 2]);
        padded.padding = [1, 1];
        assert!(forward_then(&padded, x, |_| {}).is_err());
    }
}
