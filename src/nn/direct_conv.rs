//! Convolutions with few input channels per output channel, one output plane at a time:
//! PP-LCNetV3's depthwise 3 × 3 and 5 × 5 layers (one input channel each) and its strided
//! first layer (three), with the layer's bias and activation applied to each plane while it
//! is in cache.
//!
//! Flex runs a grouped convolution as one small matrix product per group, a single row for
//! a depthwise layer: PP-OCRv4's recognizer spent about a fifth of its time there at 3–4
//! GMAC/s, and the detector's first layer (stride 2) took a quarter of a page's detection
//! (`nn::paddle::timing`). Here each output row is a sum of input rows, shifted by a tap and
//! scaled by its weight, a loop the compiler vectorises (with AVX-512 where the CPU has it);
//! padding is the part of a shifted row that falls outside the input, skipped rather than
//! copied. A row strided across is summed at every column and then thinned out: twice the
//! multiply-adds of that layer, all of them vectorised.
//!
//! Only Flex tensors of `f32` without dilation, with at most [`MAX_INPUTS`] input channels
//! per output channel, take this path; the caller gets its input back otherwise.

#![allow(
    clippy::result_large_err,
    reason = "`Err` gives the input tensor back to the caller: no larger than `Ok`'s output"
)]

use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::differentiable_conv::options_of;
use super::flex_values::{bias_values, on_flex_f32, with_f32};
use super::unfilled;

/// Input channels per output channel up to which a layer takes this path: beyond, each
/// input row meets too few taps to pay for its pass, and matrix products do better.
const MAX_INPUTS: usize = 4;

/// The sizes of one layer.
#[derive(Clone, Copy, Debug)]
struct Layer {
    c_in: usize,
    c_out: usize,
    /// Input channels each output channel reads.
    per_group: usize,
    /// Output channels per group.
    outputs_per_group: usize,
    in_h: usize,
    in_w: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    /// Top and left padding.
    pad: [usize; 2],
    out_h: usize,
    out_w: usize,
}

impl Layer {
    /// `None` where the convolution reads too many inputs per output, is dilated or
    /// leaves no output.
    fn of(x_dims: [usize; 4], w_dims: [usize; 4], options: &ConvOptions<2>) -> Option<Self> {
        let [_, c_in, in_h, in_w] = x_dims;
        let [c_out, per_group, kh, kw] = w_dims;
        let [(top, bottom), (left, right)] = options.padding;
        let groups = options.groups;
        let grouped = groups > 0
            && per_group * groups == c_in
            && c_out.is_multiple_of(groups)
            && (1..=MAX_INPUTS).contains(&per_group);
        if !grouped || options.dilation != [1, 1] || c_out == 0 || kh * kw == 0 {
            return None;
        }
        let padded = [in_h + top + bottom, in_w + left + right];
        if padded[0] < kh || padded[1] < kw {
            return None;
        }
        let [sy, sx] = options.stride;
        Some(Self {
            c_in,
            c_out,
            per_group,
            outputs_per_group: c_out / groups,
            in_h,
            in_w,
            kernel: [kh, kw],
            stride: [sy, sx],
            pad: [top, left],
            out_h: (padded[0] - kh) / sy + 1,
            out_w: (padded[1] - kw) / sx + 1,
        })
    }

    /// Output plane `out` of channel `channel` from the image's input planes (`image`,
    /// `c_in` planes), `taps` the channel's `per_group · kh · kw` weights; `row` holds one
    /// output row at every column (for strided layers).
    fn plane(
        &self,
        image: &[f32],
        channel: usize,
        taps: &[f32],
        bias: f32,
        row: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        let [kh, kw] = self.kernel;
        let plane = self.in_h * self.in_w;
        let first_input = channel / self.outputs_per_group * self.per_group;
        let inputs = &image[first_input * plane..(first_input + self.per_group) * plane];
        // A strided row's sums at every column up to its last output's.
        row.resize((self.out_w - 1) * self.stride[1] + 1, 0.0);
        for (oy, out_row) in out.chunks_exact_mut(self.out_w).enumerate() {
            let sums: &mut [f32] = if self.stride[1] == 1 { out_row } else { row };
            sums.fill(bias);
            for (input, weights) in inputs.chunks_exact(plane).zip(taps.chunks_exact(kh * kw)) {
                for (i, tap_row) in weights.chunks_exact(kw).enumerate() {
                    let Some(y) = (oy * self.stride[0] + i).checked_sub(self.pad[0]) else {
                        continue;
                    };
                    if y < self.in_h {
                        let line = &input[y * self.in_w..(y + 1) * self.in_w];
                        add_shifted(line, tap_row, self.pad[1], sums);
                    }
                }
            }
            if self.stride[1] != 1 {
                let every = row.iter().step_by(self.stride[1]);
                for (to, &value) in out_row.iter_mut().zip(every) {
                    *to = value;
                }
            }
        }
    }
}

/// `sums[x] += Σⱼ taps[j] · line[x + j − left]`, where that index is inside `line`.
fn add_shifted(line: &[f32], taps: &[f32], left: usize, sums: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::shifted_products::available() {
        // SAFETY: AVX-512F is present.
        unsafe { add_shifted_avx512(line, taps, left, sums) };
        return;
    }
    add_shifted_portable(line, taps, left, sums);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_shifted_avx512(line: &[f32], taps: &[f32], left: usize, sums: &mut [f32]) {
    add_shifted_portable(line, taps, left, sums);
}

/// Inlined into its callers, so that under `add_shifted_avx512` the loop is vectorised
/// with AVX-512.
#[inline(always)]
fn add_shifted_portable(line: &[f32], taps: &[f32], left: usize, sums: &mut [f32]) {
    for (j, &weight) in taps.iter().enumerate() {
        // Output column x reads input column x + j − left.
        let first = left.saturating_sub(j);
        let last = (line.len() + left).saturating_sub(j).min(sums.len());
        if first >= last {
            continue;
        }
        let from = &line[first + j - left..last + j - left];
        for (sum, &value) in sums[first..last].iter_mut().zip(from) {
            *sum += weight * value;
        }
    }
}

/// `conv.forward(x)` then `activation` over every output plane (one channel of one image),
/// or `Err(x)` where the layer does not take this path.
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
    let on_host = on_flex_f32(&x) && on_flex_f32(weight);
    let layer = Layer::of(x.dims(), weight.dims(), options).filter(|_| on_host);
    let Some((layer, bias)) = layer.and_then(|l| Some((l, bias_values(bias, l.c_out)?))) else {
        return Err(x);
    };
    let images = x.dims()[0];
    let per_channel = layer.per_group * layer.kernel[0] * layer.kernel[1];
    let (in_image, out_plane) = (
        layer.c_in * layer.in_h * layer.in_w,
        layer.out_h * layer.out_w,
    );
    let output = with_f32(weight, |taps| {
        with_f32(&x, |input| {
            let mut out = unfilled::buffer(images * layer.c_out * out_plane);
            out.par_chunks_mut(out_plane.max(1))
                .enumerate()
                .for_each_init(Vec::new, |row, (p, plane)| {
                    let (image, c) = (p / layer.c_out, p % layer.c_out);
                    let image = &input[image * in_image..(image + 1) * in_image];
                    let taps = &taps[c * per_channel..(c + 1) * per_channel];
                    let plane = unfilled::filled(plane, 0.0);
                    layer.plane(image, c, taps, bias[c], row, plane);
                    activation(plane);
                });
            // SAFETY: every plane filled just above.
            unsafe { unfilled::into_values(out) }
        })
    });
    match output.flatten() {
        Some(values) => Ok(Tensor::from_data(
            TensorData::new(values, [images, layer.c_out, layer.out_h, layer.out_w]),
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

    /// A convolution of `[c_in, c_out, groups]`, a square kernel, `stride` and `pads`
    /// (top, left, bottom, right), with random weights and bias.
    fn conv(channels: [usize; 3], kernel: usize, stride: [usize; 2], pads: [usize; 4]) -> Conv2d {
        let [c_in, c_out, groups] = channels;
        let device = Device::flex();
        let shape = [c_out, c_in / groups, kernel, kernel];
        Conv2d {
            weight: Param::from_tensor(Tensor::random(shape, Distribution::Default, &device)),
            bias: Some(Param::from_tensor(Tensor::random(
                [c_out],
                Distribution::Default,
                &device,
            ))),
            stride,
            kernel_size: [kernel, kernel],
            dilation: [1, 1],
            groups,
            padding: PaddingConfig2d::Explicit(pads[0], pads[1], pads[2], pads[3]),
        }
    }

    #[test]
    fn matches_burn_for_every_stride_and_padding_the_networks_use() {
        let device = Device::flex();
        let depthwise = [5, 5, 5];
        let cases = [
            (depthwise, 3, [1, 1], [1, 1, 1, 1]),
            (depthwise, 5, [1, 1], [2, 2, 2, 2]),
            (depthwise, 3, [2, 1], [1, 1, 1, 1]),
            (depthwise, 3, [1, 2], [1, 1, 1, 1]),
            (depthwise, 5, [2, 2], [2, 2, 2, 2]),
            (depthwise, 3, [1, 1], [0, 2, 1, 0]),
            // PP-LCNetV3's first layer; two inputs per output in two groups.
            ([3, 16, 1], 3, [2, 2], [1, 1, 1, 1]),
            ([4, 6, 2], 3, [1, 2], [1, 0, 0, 1]),
        ];
        for (channels, kernel, stride, pads) in cases {
            let conv = conv(channels, kernel, stride, pads);
            let x = Tensor::<4>::random([2, channels[0], 9, 13], Distribution::Default, &device);
            let want = into_f32_vec(conv.forward(x.clone()).clamp_min(0.0)).unwrap();
            let got = forward_then(&conv, x, |v| v.iter_mut().for_each(|x| *x = x.max(0.0)));
            let case = format!("{channels:?} {kernel} {stride:?} {pads:?}");
            let got = into_f32_vec(got.expect(&case)).unwrap();
            assert_eq!(got.len(), want.len(), "{case}");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() < 1e-4, "{case} value {i}: {g} against {w}");
            }
        }
    }

    #[test]
    fn other_convolutions_are_given_back() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 8, 6, 6], Distribution::Default, &device);
        let mut dilated = conv([8, 8, 8], 3, [1, 1], [2, 2, 2, 2]);
        dilated.dilation = [2, 2];
        assert!(forward_then(&dilated, x.clone(), |_| {}).is_err());
        let many_inputs = conv([8, 8, 1], 3, [1, 1], [1, 1, 1, 1]);
        assert!(forward_then(&many_inputs, x, |_| {}).is_err());
        let too_small = conv([4, 4, 4], 5, [1, 1], [0, 0, 0, 0]);
        let tiny = Tensor::<4>::random([1, 4, 3, 3], Distribution::Default, &device);
        assert!(forward_then(&too_small, tiny, |_| {}).is_err());
    }
}
