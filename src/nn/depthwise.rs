//! Depthwise convolutions (one filter per channel, PP-LCNetV3's 3 × 3 and 5 × 5 layers) on
//! the CPU, one channel plane at a time, with the layer's bias and activation applied to
//! each plane while it is in cache.
//!
//! Flex runs a grouped convolution as one small matrix product per group: for a depthwise
//! layer each product has a single row, and PP-OCRv4's recognizer spent about a fifth of
//! its time there at 3–4 GMAC/s (`nn::paddle::timing`). A plane is padded once into a
//! scratch buffer; each output row is then the sum over the taps of a shifted input row
//! times one weight, a loop the compiler vectorises (with AVX-512 where the CPU has it).
//!
//! Only Flex tensors of `f32` with as many groups as input and output channels and no
//! dilation take this path; the caller gets its input back otherwise.

use burn::backend::DispatchDevice;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use super::flex_values::with_f32;
use super::into_f32_vec;

/// The sizes of one depthwise layer.
#[derive(Clone, Copy, Debug)]
struct Layer {
    channels: usize,
    in_h: usize,
    in_w: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    /// Top and left padding.
    pad: [usize; 2],
    /// The input's size with its padding.
    padded: [usize; 2],
    out_h: usize,
    out_w: usize,
}

impl Layer {
    /// `None` where the convolution is not depthwise, is dilated or leaves no output.
    fn of(conv: &Conv2d, x_dims: [usize; 4]) -> Option<Self> {
        let [_, channels, in_h, in_w] = x_dims;
        let [c_out, per_group, kh, kw] = conv.weight.dims();
        let [top, left, bottom, right] = match conv.padding {
            PaddingConfig2d::Valid => [0; 4],
            PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
            PaddingConfig2d::Same => return None,
        };
        let depthwise = conv.groups == channels && c_out == channels && per_group == 1;
        if !depthwise || conv.dilation != [1, 1] || channels == 0 {
            return None;
        }
        let padded = [in_h + top + bottom, in_w + left + right];
        if padded[0] < kh || padded[1] < kw || kh * kw == 0 {
            return None;
        }
        let [sy, sx] = conv.stride;
        Some(Self {
            channels,
            in_h,
            in_w,
            kernel: [kh, kw],
            stride: [sy, sx],
            pad: [top, left],
            padded,
            out_h: (padded[0] - kh) / sy + 1,
            out_w: (padded[1] - kw) / sx + 1,
        })
    }

    /// One channel's output plane from its input plane, `taps` its `kh · kw` weights.
    /// `scratch` holds the padded plane and one full-width row.
    fn plane(
        &self,
        input: &[f32],
        taps: &[f32],
        bias: f32,
        scratch: &mut Scratch,
        out: &mut [f32],
    ) {
        let [ph, pw] = self.padded;
        let [kh, kw] = self.kernel;
        let full_w = pw - kw + 1;
        scratch.padded.clear();
        scratch.padded.resize(ph * pw, 0.0);
        for (y, row) in input.chunks_exact(self.in_w).enumerate() {
            let start = (y + self.pad[0]) * pw + self.pad[1];
            scratch.padded[start..start + self.in_w].copy_from_slice(row);
        }
        scratch.row.resize(full_w, 0.0);
        for (oy, out_row) in out.chunks_exact_mut(self.out_w).enumerate() {
            let first = oy * self.stride[0] * pw;
            let window = &scratch.padded[first..first + kh * pw];
            if self.stride[1] == 1 {
                sum_taps(window, pw, taps, kw, bias, out_row);
                continue;
            }
            sum_taps(window, pw, taps, kw, bias, &mut scratch.row);
            let every = scratch.row.iter().step_by(self.stride[1]);
            for (to, &value) in out_row.iter_mut().zip(every) {
                *to = value;
            }
        }
    }
}

/// A task's buffers, reused from plane to plane.
#[derive(Default)]
struct Scratch {
    padded: Vec<f32>,
    row: Vec<f32>,
}

/// `sums[x] = bias + Σ taps[i·kw + j] · window[i·width + x + j]`.
fn sum_taps(window: &[f32], width: usize, taps: &[f32], kw: usize, bias: f32, sums: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::shifted_products::available() {
        // SAFETY: AVX-512F is present.
        unsafe { sum_taps_avx512(window, width, taps, kw, bias, sums) };
        return;
    }
    sum_taps_portable(window, width, taps, kw, bias, sums);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_taps_avx512(
    window: &[f32],
    width: usize,
    taps: &[f32],
    kw: usize,
    bias: f32,
    sums: &mut [f32],
) {
    sum_taps_portable(window, width, taps, kw, bias, sums);
}

/// Inlined into its callers, so that under `sum_taps_avx512` the loops are vectorised
/// with AVX-512.
#[inline(always)]
fn sum_taps_portable(
    window: &[f32],
    width: usize,
    taps: &[f32],
    kw: usize,
    bias: f32,
    sums: &mut [f32],
) {
    let n = sums.len();
    sums.fill(bias);
    for (row, weights) in window.chunks_exact(width).zip(taps.chunks_exact(kw)) {
        for (j, &weight) in weights.iter().enumerate() {
            for (sum, &value) in sums.iter_mut().zip(&row[j..j + n]) {
                *sum += weight * value;
            }
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
    let weight = conv.weight.val();
    let on_flex = matches!(x.device().as_dispatch(), DispatchDevice::Flex(_));
    let f32s = x.dtype() == DType::F32 && weight.dtype() == DType::F32;
    let layer = Layer::of(conv, x.dims()).filter(|_| on_flex && f32s);
    let bias = match &conv.bias {
        Some(b) => into_f32_vec(b.val()).ok(),
        None => layer.map(|l| vec![0.0; l.channels]),
    };
    let (Some(layer), Some(bias)) = (layer, bias) else {
        return Err(x);
    };
    if bias.len() != layer.channels {
        return Err(x);
    }
    let images = x.dims()[0];
    let [kh, kw] = layer.kernel;
    let (in_plane, out_plane) = (layer.in_h * layer.in_w, layer.out_h * layer.out_w);
    let output = with_f32(&weight, |taps| {
        with_f32(&x, |input| {
            let mut out = vec![0.0f32; images * layer.channels * out_plane];
            out.par_chunks_mut(out_plane.max(1))
                .enumerate()
                .for_each_init(Scratch::default, |scratch, (p, plane)| {
                    let c = p % layer.channels;
                    let from = &input[p * in_plane..(p + 1) * in_plane];
                    let taps = &taps[c * kh * kw..(c + 1) * kh * kw];
                    layer.plane(from, taps, bias[c], scratch, plane);
                    activation(plane);
                });
            out
        })
    });
    match output.flatten() {
        Some(values) => Ok(Tensor::from_data(
            TensorData::new(values, [images, layer.channels, layer.out_h, layer.out_w]),
            &x.device(),
        )),
        None => Err(x),
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::tensor::{Device, Distribution};

    use super::*;

    fn depthwise(channels: usize, kernel: usize, stride: [usize; 2], pads: [usize; 4]) -> Conv2d {
        let device = Device::flex();
        let shape = [channels, 1, kernel, kernel];
        Conv2d {
            weight: Param::from_tensor(Tensor::random(shape, Distribution::Default, &device)),
            bias: Some(Param::from_tensor(Tensor::random(
                [channels],
                Distribution::Default,
                &device,
            ))),
            stride,
            kernel_size: [kernel, kernel],
            dilation: [1, 1],
            groups: channels,
            padding: PaddingConfig2d::Explicit(pads[0], pads[1], pads[2], pads[3]),
        }
    }

    #[test]
    fn matches_burn_for_every_stride_and_padding_the_networks_use() {
        let device = Device::flex();
        let cases = [
            (3, [1, 1], [1, 1, 1, 1]),
            (5, [1, 1], [2, 2, 2, 2]),
            (3, [2, 1], [1, 1, 1, 1]),
            (3, [1, 2], [1, 1, 1, 1]),
            (5, [2, 2], [2, 2, 2, 2]),
            (3, [1, 1], [0, 2, 1, 0]),
        ];
        for (kernel, stride, pads) in cases {
            let conv = depthwise(5, kernel, stride, pads);
            let x = Tensor::<4>::random([2, 5, 9, 13], Distribution::Default, &device);
            let want = into_f32_vec(conv.forward(x.clone()).clamp_min(0.0)).unwrap();
            let got = forward_then(&conv, x, |v| v.iter_mut().for_each(|x| *x = x.max(0.0)));
            let got = into_f32_vec(got.expect("a depthwise layer takes the path")).unwrap();
            assert_eq!(got.len(), want.len(), "{kernel} {stride:?} {pads:?}");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() < 1e-4,
                    "{kernel} {stride:?} {pads:?} value {i}: {g} against {w}"
                );
            }
        }
    }

    #[test]
    fn other_convolutions_are_given_back() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 4, 6, 6], Distribution::Default, &device);
        let mut dilated = depthwise(4, 3, [1, 1], [2, 2, 2, 2]);
        dilated.dilation = [2, 2];
        assert!(forward_then(&dilated, x.clone(), |_| {}).is_err());
        let mut grouped = depthwise(4, 3, [1, 1], [1, 1, 1, 1]);
        grouped.groups = 2;
        grouped.weight =
            Param::from_tensor(Tensor::random([4, 2, 3, 3], Distribution::Default, &device));
        assert!(forward_then(&grouped, x.clone(), |_| {}).is_err());
        let too_small = depthwise(4, 5, [1, 1], [0, 0, 0, 0]);
        let tiny = Tensor::<4>::random([1, 4, 3, 3], Distribution::Default, &device);
        assert!(forward_then(&too_small, tiny, |_| {}).is_err());
    }
}
