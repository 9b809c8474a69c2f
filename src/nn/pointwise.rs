//! Pointwise (1 × 1) convolutions on the CPU as one matrix product per image on
//! `nn::matmul`'s AVX-512 kernel, the bias and an activation applied by the product's own
//! tasks to the rows they have just summed.
//!
//! PP-OCRv4's recognizer spent more than half its time in 1 × 1 layers (`nn::paddle::timing`),
//! where Flex's `gemm` (an AVX2 kernel) ran at about 44 GMAC/s on 240 channels and every
//! activation after it was another pass over a fresh buffer. Thin layers (16 → 32 channels
//! on a large map) are bound by memory: as bare products they lost to Flex here
//! (docs/BENCH.md, seventeenth session), but with the activation applied in the same pass
//! they take a fifth of the time Flex and the activation's passes took.
//!
//! Only Flex tensors of `f32` with one group, no padding and stride 1, on CPUs with
//! AVX-512, take this path; the caller gets its input back otherwise.

#![allow(
    clippy::result_large_err,
    reason = "`Err` gives the input tensor back to the caller: no larger than `Ok`'s output"
)]

use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};

use super::differentiable_conv::options_of;
use super::flex_values::{bias_values, on_flex_f32, with_f32};
use super::matmul;
use super::shifted_products::ROWS;

/// Input channels from which a layer takes this path (PP-LCNetV3's thinnest take it; below,
/// untried: a network's first layers have three).
const MIN_CHANNELS: usize = 16;

/// `conv.forward(x)` then `activation` over every output row (one output channel of one
/// image), or `Err(x)` where the layer does not take this path.
pub fn forward_then(
    conv: &Conv2d,
    x: Tensor<4>,
    activation: impl Fn(&mut [f32]) + Sync,
) -> Result<Tensor<4>, Tensor<4>> {
    let Some(options) = options_of(conv) else {
        return Err(x);
    };
    let bias = conv.bias.as_ref().map(|b| b.val());
    conv2d_then(x, &conv.weight.val(), bias.as_ref(), &options, activation)
}

/// `burn::tensor::module::conv2d` then `activation` as in [`forward_then`].
pub fn conv2d_then(
    x: Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
    options: &ConvOptions<2>,
    activation: impl Fn(&mut [f32]) + Sync,
) -> Result<Tensor<4>, Tensor<4>> {
    let [images, c_in, h, w] = x.dims();
    let [c_out, c_in_per_group, kh, kw] = weight.dims();
    let takes = matmul::available()
        && on_flex_f32(&x)
        && on_flex_f32(weight)
        && [kh, kw, options.groups] == [1, 1, 1]
        && options.stride == [1, 1]
        && options.padding == [(0, 0), (0, 0)]
        && c_in_per_group == c_in
        && c_in >= MIN_CHANNELS
        && c_out % ROWS == 0;
    let Some(bias) = bias_values(bias, c_out).filter(|_| takes) else {
        return Err(x);
    };
    let n = h * w;
    let finish = |_image: usize, first: usize, rows: &mut [f32]| {
        for (row, values) in rows.chunks_exact_mut(n).enumerate() {
            let shift = bias[first + row];
            values.iter_mut().for_each(|v| *v += shift);
            activation(values);
        }
    };
    let output = with_f32(weight, |a| {
        with_f32(&x, |b| {
            matmul::batched_product(a, b, images, [c_out, c_in, n], finish)
        })
    });
    match output.flatten() {
        Some(values) => Ok(Tensor::from_data(
            TensorData::new(values, [images, c_out, h, w]),
            &x.device(),
        )),
        None => Err(x),
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;

    use crate::nn::into_f32_vec;
    use burn::nn::PaddingConfig2d;
    use burn::tensor::{Device, Distribution};

    use super::*;

    fn pointwise(c_in: usize, c_out: usize, device: &Device) -> Conv2d {
        let weight = Tensor::<4>::random([c_out, c_in, 1, 1], Distribution::Default, device);
        let bias = Tensor::<1>::random([c_out], Distribution::Default, device);
        Conv2d {
            weight: Param::from_tensor(weight),
            bias: Some(Param::from_tensor(bias)),
            stride: [1, 1],
            kernel_size: [1, 1],
            dilation: [1, 1],
            groups: 1,
            padding: PaddingConfig2d::Valid,
        }
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        into_f32_vec(t).unwrap()
    }

    #[test]
    fn matches_burn_with_the_activation_on_every_channel() {
        if !matmul::available() {
            crate::test_skip::skip("nn::pointwise needs AVX-512F; this CPU has none");
            return;
        }
        let device = Device::flex();
        let conv = pointwise(96, 40, &device);
        let x = Tensor::<4>::random([3, 96, 5, 7], Distribution::Default, &device);
        let want = values(conv.forward(x.clone()).clamp_min(0.0));
        let got = forward_then(&conv, x, |v| v.iter_mut().for_each(|x| *x = x.max(0.0)));
        let got = values(got.expect("a 96 → 40 layer takes the path"));
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-4, "value {i}: {g} against {w}");
        }
    }

    #[test]
    fn thin_grouped_or_odd_layers_are_given_back() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 8, 4, 4], Distribution::Default, &device);
        assert!(forward_then(&pointwise(8, 32, &device), x, |_| {}).is_err());
        let x = Tensor::<4>::random([1, 64, 4, 4], Distribution::Default, &device);
        assert!(forward_then(&pointwise(64, 12, &device), x.clone(), |_| {}).is_err());
        let mut padded = pointwise(64, 16, &device);
        padded.padding = PaddingConfig2d::Explicit(1, 1, 1, 1);
        assert!(forward_then(&padded, x, |_| {}).is_err());
    }
}
