//! Stride-1 convolutions on the CPU as one matrix product per kernel tap.
//!
//! Burn Flex's convolution first makes a channels-last copy of the whole input on one
//! thread, then for every 512 output pixels fills an im2col tile and runs one matrix
//! product; on CRAFT's layers it ran at about a quarter of PyTorch's rate (docs/BENCH.md,
//! `inkread bench conv`). Here the input is padded once and tap `(i, j)` of the kernel is the
//! product `W[:, :, i, j] · X`, where `X` is the padded input read from offset
//! `i·width + j`: computed over whole padded rows, each output row gets `padded width −
//! output width` columns too many, dropped when the rows are copied out. No im2col buffer.
//! On CPUs with AVX-512 the sums over channels and taps run in `nn::shifted_products`, all
//! taps at once in registers; elsewhere one product per tap runs on `gemm`, the crate Flex
//! itself uses, and undilated 3 × 3 layers with 64 input channels or more go on to
//! Winograd's algorithm (`nn::winograd`), which needs fewer multiplications.
//!
//! Only Flex tensors of `f32` with one group and stride 1 take this path. Pointwise (1 × 1)
//! layers go to `nn::pointwise` (one product per image, no taps) where it takes them;
//! everything else (GPU, NdArray, autodiff, strided or grouped layers, thin pointwise ones)
//! goes to Burn's `conv2d` unchanged.

use std::ops::Range;
use std::sync::OnceLock;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData, activation};
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use super::flex_values::{bias_values, on_flex_f32, with_f32};
use super::shifted_products::{self, Operands, ROWS};
use super::unfilled;
use super::winograd;
use super::{direct_conv, pointwise};

/// Values of one block of products (its output channels × its padded rows): about 1 MiB,
/// so the block stays in cache across the kernel's taps.
const BLOCK_VALUES: usize = 256 * 1024;

/// Input channels from which a 3 × 3 layer runs by Winograd's algorithm (`nn::winograd`).
const MIN_WINOGRAD_CHANNELS: usize = 64;

/// How a layer that takes this path is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// What the networks use: `nn::pointwise` for the pointwise layers it takes,
    /// `nn::direct_conv` for strided or grouped layers of few inputs per output channel;
    /// [`Kernel::Shifted`] where the CPU has AVX-512, else [`Kernel::Winograd`] where the
    /// layer fits it, else [`Kernel::Taps`].
    Auto,
    /// One `gemm` product per kernel tap.
    Taps,
    /// Winograd's F(2 × 2, 3 × 3), for undilated 3 × 3 layers (others take `Taps`).
    Winograd,
    /// `nn::shifted_products` (AVX-512; `Taps` on CPUs without it).
    Shifted,
}

/// `burn::tensor::module::conv2d`, computed by tap products where that applies.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    conv2d_by(x, weight, bias, options, Kernel::Auto)
}

/// `conv.forward(x)`, computed by [`conv2d`] (Burn's `forward` for `Same` padding, which
/// Burn works out itself).
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => return conv.forward(x),
    };
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

/// One layer's weights packed for the shifted kernel, kept across calls: `nn::banded` runs
/// a layer band after band, and packing a 512-channel layer's 9 MB of weights again for
/// every band took a tenth of a CRAFT page (docs/BENCH.md). Keep one per layer call only:
/// it holds whatever weights it first saw.
#[derive(Default)]
pub struct PackedWeights(OnceLock<Vec<f32>>);

/// [`conv2d`] with the weights packed once into `packed` (see [`PackedWeights`]), then a
/// ReLU where `relu`, applied as the output rows are written (not in a pass of its own).
pub fn conv2d_reusing(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    packed: &PackedWeights,
    relu: bool,
) -> Tensor<4> {
    conv2d_with(x, weight, bias, options, Kernel::Auto, Some(packed), relu)
}

/// [`conv2d`] by a chosen kernel: for tests and `inkread bench conv`.
pub fn conv2d_by(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    kernel: Kernel,
) -> Tensor<4> {
    conv2d_with(x, weight, bias, options, kernel, None, false)
}

fn conv2d_with(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    kernel: Kernel,
    packed: Option<&PackedWeights>,
    relu: bool,
) -> Tensor<4> {
    let activation = |values: &mut [f32]| {
        if relu {
            relu_in_place(values);
        }
    };
    let on_burn = |x, weight, bias, options| {
        let y = burn_conv2d(x, weight, bias, options);
        if relu { activation::relu(y) } else { y }
    };
    let x = match kernel {
        Kernel::Auto => {
            match pointwise::conv2d_then(x, &weight, bias.as_ref(), &options, activation) {
                Ok(output) => return output,
                Err(x) => x,
            }
        }
        _ => x,
    };
    let Some(layer) = Layer::of(&x, &weight, &options) else {
        // Strided or grouped: `nn::direct_conv` where it takes the layer (slower than the
        // shifted kernel on the layers this path takes, 18 against 33 GMAC/s on 3 → 64).
        if kernel != Kernel::Auto {
            return on_burn(x, weight, bias, options);
        }
        return direct_conv::conv2d_then(x, &weight, bias.as_ref(), &options, activation)
            .unwrap_or_else(|x| on_burn(x, weight, bias, options));
    };
    // A bias of another length than the output channels: Burn's own error, not ours.
    let Some(bias_values) = bias_values(bias.as_ref(), layer.c_out) else {
        return on_burn(x, weight, bias, options);
    };
    // Both read where they lie (`nn::flex_values`): the weights are shared with the layer,
    // and a copy of a CRAFT layer's input is tens of megabytes of fresh pages.
    let output = with_f32(&weight, |weights| {
        with_f32(&x, |input| {
            layer.run(input, weights, &bias_values, kernel, packed, relu)
        })
    });
    match output {
        Some(Some(output)) => {
            let shape = [layer.images, layer.c_out, layer.out_h, layer.out_w];
            Tensor::from_data(TensorData::new(output, shape), &x.device())
        }
        _ => on_burn(x, weight, bias, options),
    }
}

/// The convolution of values already on the host: `input` `[images, c_in, h, w]`, `weights`
/// `[c_out, c_in, kh, kw]`, row-major; `None` where the layer does not take this path or the
/// lengths do not match the sizes.
pub(crate) fn conv2d_values(
    input: &[f32],
    x_dims: [usize; 4],
    weights: &[f32],
    w_dims: [usize; 4],
    bias: &[f32],
    options: &ConvOptions<2>,
) -> Option<Vec<f32>> {
    let layer = Layer::of_dims(x_dims, w_dims, options)?;
    let fits = input.len() == x_dims.iter().product::<usize>()
        && weights.len() == w_dims.iter().product::<usize>()
        && bias.len() == layer.c_out;
    fits.then(|| layer.run(input, weights, bias, Kernel::Auto, None, false))
}

/// The gradient of the loss with respect to a convolution's weights (`[c_out, c_in, kh,
/// kw]`), given its input and the gradient of its output; `None` as for [`conv2d_values`].
pub(crate) fn weight_gradient_values(
    input: &[f32],
    x_dims: [usize; 4],
    output_grad: &[f32],
    w_dims: [usize; 4],
    options: &ConvOptions<2>,
) -> Option<Vec<f32>> {
    let layer = Layer::of_dims(x_dims, w_dims, options)?;
    let outputs = layer.images * layer.c_out * layer.out_h * layer.out_w;
    let fits = input.len() == x_dims.iter().product::<usize>() && output_grad.len() == outputs;
    fits.then(|| layer.weight_gradient(input, output_grad))
}

fn relu_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// The sizes of one convolution that takes the tap-product path.
#[derive(Clone, Copy, Debug)]
struct Layer {
    images: usize,
    c_in: usize,
    in_h: usize,
    in_w: usize,
    c_out: usize,
    kernel: [usize; 2],
    dilation: [usize; 2],
    pad_top: usize,
    pad_left: usize,
    /// The input's size with its padding.
    padded: [usize; 2],
    out_h: usize,
    out_w: usize,
}

impl Layer {
    /// `None` where Burn's own convolution should run.
    fn of(x: &Tensor<4>, weight: &Tensor<4>, options: &ConvOptions<2>) -> Option<Self> {
        if !on_flex_f32(x) || !on_flex_f32(weight) {
            return None;
        }
        Self::of_dims(x.dims(), weight.dims(), options)
    }

    /// The layer of an `x_dims` input and `w_dims` weights, `None` where it does not take
    /// this path (strided, grouped, pointwise or empty). Flex runs pointwise layers as one
    /// `gemm` product, as fast as the shifted kernel or faster: with one tap no row of the
    /// input is reused across taps (`inkread bench conv --kernel 1`, docs/BENCH.md).
    fn of_dims(x_dims: [usize; 4], w_dims: [usize; 4], options: &ConvOptions<2>) -> Option<Self> {
        let [images, c_in, in_h, in_w] = x_dims;
        let [c_out, c_in_per_group, kh, kw] = w_dims;
        let plain = options.groups == 1 && options.stride == [1, 1] && c_in_per_group == c_in;
        if !plain || kh * kw <= 1 {
            return None;
        }
        let [(top, bottom), (left, right)] = options.padding;
        let padded = [in_h + top + bottom, in_w + left + right];
        let reach = |d: usize, k: usize| options.dilation[d] * (k - 1) + 1;
        let (reach_h, reach_w) = (reach(0, kh), reach(1, kw));
        let empty = padded[0] < reach_h || padded[1] < reach_w || images * c_in * c_out == 0;
        if empty {
            return None;
        }
        Some(Self {
            images,
            c_in,
            in_h,
            in_w,
            c_out,
            kernel: [kh, kw],
            dilation: options.dilation,
            pad_top: top,
            pad_left: left,
            padded,
            out_h: padded[0] - reach_h + 1,
            out_w: padded[1] - reach_w + 1,
        })
    }

    /// The kernel a request resolves to on this CPU and layer.
    fn resolve(&self, kernel: Kernel) -> Kernel {
        let wide = shifted_products::available();
        let winograd = self.winograd_shape().is_some();
        match kernel {
            Kernel::Auto if wide => Kernel::Shifted,
            Kernel::Auto if winograd && self.c_in >= MIN_WINOGRAD_CHANNELS => Kernel::Winograd,
            Kernel::Shifted if wide => Kernel::Shifted,
            Kernel::Winograd if winograd => Kernel::Winograd,
            _ => Kernel::Taps,
        }
    }

    /// 3 × 3 undilated layers can go to Winograd's algorithm (with a handful of channels
    /// its transforms cost more than the products they save: `Kernel::Auto` sends it those
    /// with [`MIN_WINOGRAD_CHANNELS`] or more).
    fn winograd_shape(&self) -> Option<winograd::Shape> {
        let fits = self.kernel == [3, 3] && self.dilation == [1, 1];
        fits.then_some(winograd::Shape {
            images: self.images,
            c_in: self.c_in,
            in_h: self.in_h,
            in_w: self.in_w,
            c_out: self.c_out,
            pad_top: self.pad_top,
            pad_left: self.pad_left,
            out_h: self.out_h,
            out_w: self.out_w,
        })
    }

    fn plane(&self) -> usize {
        self.padded[0] * self.padded[1]
    }

    /// Zeros after the last padded plane: the last tap of the last product row reads this
    /// far past it (into columns that are dropped).
    fn slack(&self) -> usize {
        self.dilation[1] * (self.kernel[1] - 1)
    }

    /// The layer's output, through a ReLU where `relu`; `reuse` keeps the packed weights
    /// for the next call.
    fn run(
        &self,
        input: &[f32],
        weights: &[f32],
        bias: &[f32],
        kernel: Kernel,
        reuse: Option<&PackedWeights>,
        relu: bool,
    ) -> Vec<f32> {
        let kernel = self.resolve(kernel);
        if let (Kernel::Winograd, Some(shape)) = (kernel, self.winograd_shape()) {
            let mut output = winograd::conv3x3(&shape, input, weights, bias);
            if relu {
                relu_in_place(&mut output);
            }
            return output;
        }
        let padded = self.pad(input);
        let depth = self.c_in * self.kernel[0] * self.kernel[1];
        let pack = || shifted_products::pack(weights, self.c_out, depth);
        let fresh;
        let packed: Option<&[f32]> = match (kernel, reuse) {
            (Kernel::Shifted, Some(kept)) => Some(kept.0.get_or_init(pack)),
            (Kernel::Shifted, None) => {
                fresh = pack();
                Some(&fresh)
            }
            _ => None,
        };
        let mut output = vec![0.0f32; self.images * self.c_out * self.out_h * self.out_w];
        let out = SharedOut(output.as_mut_ptr());
        self.blocks().par_iter().for_each(|block| {
            let products = match packed {
                Some(packed) => self.shifted(&padded, packed, block),
                None => self.products(&padded, weights, block),
            };
            // SAFETY: blocks write disjoint parts of `output`, which outlives them.
            unsafe { self.write_rows(&products, bias, relu, block, &out) };
        });
        output
    }

    /// The output split into blocks that fit in cache, at least two for every thread:
    /// bands of rows, and where there are too few of those (a band of a page, a short
    /// line), ranges of output channels too.
    fn blocks(&self) -> Vec<Block> {
        let rows = (BLOCK_VALUES / (self.c_out * self.padded[1])).clamp(1, self.out_h);
        let bands = self.images * self.out_h.div_ceil(rows);
        let wanted = 2 * rayon::current_num_threads();
        let channel_parts = wanted.div_ceil(bands).clamp(1, self.c_out.div_ceil(16));
        // Whole groups of the shifted kernel's rows, so that a part starts at one.
        let per_part = self.c_out.div_ceil(channel_parts).next_multiple_of(ROWS);
        let mut blocks = Vec::with_capacity(bands * channel_parts);
        for image in 0..self.images {
            for first in (0..self.out_h).step_by(rows) {
                for channels in (0..self.c_out).step_by(per_part) {
                    blocks.push(Block {
                        image,
                        rows: first..(first + rows).min(self.out_h),
                        channels: channels..(channels + per_part).min(self.c_out),
                    });
                }
            }
        }
        blocks
    }

    /// The input with its zero padding around every plane, and the slack after the last.
    fn pad(&self, input: &[f32]) -> Vec<f32> {
        let planes = self.images * self.c_in;
        let mut padded = vec![0.0f32; planes * self.plane() + self.slack()];
        let [_, wp] = self.padded;
        padded[..planes * self.plane()]
            .par_chunks_mut(self.plane())
            .zip(input.par_chunks(self.in_h * self.in_w))
            .for_each(|(to, from)| {
                for (r, row) in from.chunks(self.in_w).enumerate() {
                    let start = (r + self.pad_top) * wp + self.pad_left;
                    to[start..start + self.in_w].copy_from_slice(row);
                }
            });
        padded
    }

    /// One block of outputs over the padded width, channel by channel: the sum over the
    /// kernel's taps of one matrix product each.
    fn products(&self, padded: &[f32], weights: &[f32], block: &Block) -> Vec<f32> {
        let [kh, kw] = self.kernel;
        let wp = self.padded[1];
        let columns = block.rows.len() * wp;
        let channels = block.channels.len();
        let mut products = vec![0.0f32; channels * columns];
        let image_start = block.image * self.c_in * self.plane();
        let weights_start = block.channels.start * self.c_in * kh * kw;
        for (tap, (i, j)) in (0..kh)
            .flat_map(|i| (0..kw).map(move |j| (i, j)))
            .enumerate()
        {
            let shift = (block.rows.start + i * self.dilation[0]) * wp + j * self.dilation[1];
            let last_read = image_start + (self.c_in - 1) * self.plane() + shift + columns;
            assert!(
                last_read <= padded.len(),
                "tap product reads past the input"
            );
            // SAFETY: dst is channels × columns in `products`; lhs walks the weights
            // [c_out, c_in, kh, kw] of the block's channels at tap (i, j); rhs reads c_in
            // rows of `columns` values a plane apart from the shift, within `padded`
            // (checked just above).
            unsafe {
                gemm(
                    channels,
                    columns,
                    self.c_in,
                    products.as_mut_ptr(),
                    1,
                    columns as isize,
                    tap > 0,
                    weights.as_ptr().add(weights_start + i * kw + j),
                    (kh * kw) as isize,
                    (self.c_in * kh * kw) as isize,
                    padded.as_ptr().add(image_start + shift),
                    1,
                    self.plane() as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
        }
        products
    }

    /// One block of outputs over the padded width, channel by channel, by
    /// `nn::shifted_products`: every row of the block's groups of [`ROWS`] channels, the
    /// rows past the block's last channel unused.
    fn shifted(&self, padded: &[f32], packed: &[f32], block: &Block) -> Vec<f32> {
        let [kh, kw] = self.kernel;
        let [dh, dw] = self.dilation;
        let (wp, plane) = (self.padded[1], self.plane());
        let start = block.image * self.c_in * plane + block.rows.start * wp;
        let offsets: Vec<usize> = (0..self.c_in)
            .flat_map(|c| (0..kh).flat_map(move |i| (0..kw).map(move |j| (c, i, j))))
            .map(|(c, i, j)| start + c * plane + i * dh * wp + j * dw)
            .collect();
        let groups = block.channels.start / ROWS..block.channels.end.div_ceil(ROWS);
        let columns = block.rows.len() * wp;
        let mut products = unfilled::buffer(groups.len() * ROWS * columns);
        let operands = Operands {
            packed,
            offsets: &offsets,
            x: padded,
        };
        shifted_products::products(&operands, groups, columns, &mut products, columns);
        // SAFETY: every row of the groups, every position of the columns, written just above.
        unsafe { unfilled::into_values(products) }
    }

    /// `dW[:, :, i, j] = Σ over images of G · Xᵀ`: the output gradient `G` laid over the
    /// padded width (zeros in the extra columns, so they add nothing) times the padded input
    /// read from tap `(i, j)`'s offset, the same reads as [`Self::products`] summed over
    /// output positions instead of input channels. One tap per task.
    fn weight_gradient(&self, input: &[f32], output_grad: &[f32]) -> Vec<f32> {
        let padded = self.pad(input);
        let spread = self.spread_rows(output_grad);
        let [kh, kw] = self.kernel;
        let taps: Vec<[usize; 2]> = (0..kh).flat_map(|i| (0..kw).map(move |j| [i, j])).collect();
        let per_tap: Vec<Vec<f32>> = taps
            .par_iter()
            .map(|&tap| self.tap_gradient(&padded, &spread, tap))
            .collect();
        let mut gradient = vec![0.0f32; self.c_out * self.c_in * kh * kw];
        for (tap, values) in per_tap.iter().enumerate() {
            for (pair, &v) in values.iter().enumerate() {
                gradient[pair * kh * kw + tap] = v;
            }
        }
        gradient
    }

    /// The output gradient `[images, c_out, out_h, out_w]` as rows of the padded width.
    fn spread_rows(&self, output_grad: &[f32]) -> Vec<f32> {
        let wp = self.padded[1];
        let mut spread = vec![0.0f32; self.images * self.c_out * self.out_h * wp];
        spread
            .par_chunks_mut(self.out_h * wp)
            .zip(output_grad.par_chunks(self.out_h * self.out_w))
            .for_each(|(to, from)| {
                for (to_row, from_row) in to.chunks_mut(wp).zip(from.chunks(self.out_w)) {
                    to_row[..self.out_w].copy_from_slice(from_row);
                }
            });
        spread
    }

    /// One tap's weight gradient, `[c_out, c_in]`, summed over the images.
    fn tap_gradient(&self, padded: &[f32], spread: &[f32], [i, j]: [usize; 2]) -> Vec<f32> {
        let wp = self.padded[1];
        let columns = self.out_h * wp;
        let shift = i * self.dilation[0] * wp + j * self.dilation[1];
        let mut gradient = vec![0.0f32; self.c_out * self.c_in];
        for image in 0..self.images {
            let input_start = image * self.c_in * self.plane() + shift;
            let grad_start = image * self.c_out * columns;
            let last_read = input_start + (self.c_in - 1) * self.plane() + columns;
            assert!(
                last_read <= padded.len(),
                "tap gradient reads past the input"
            );
            assert!(grad_start + self.c_out * columns <= spread.len());
            // SAFETY: dst is the c_out × c_in `gradient`; lhs walks c_out rows of `columns`
            // values of this image's spread gradient; rhs reads c_in rows of `columns` values
            // a plane apart from the shift, within `padded` (both checked just above).
            unsafe {
                gemm(
                    self.c_out,
                    self.c_in,
                    columns,
                    gradient.as_mut_ptr(),
                    1,
                    self.c_in as isize,
                    image > 0,
                    spread.as_ptr().add(grad_start),
                    1,
                    columns as isize,
                    padded.as_ptr().add(input_start),
                    self.plane() as isize,
                    1,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
        }
        gradient
    }

    /// Copies a block's rows, without their extra columns and with the bias added, to the
    /// output.
    ///
    /// # Safety
    /// `out` points to the whole output, and no other block writes these rows.
    unsafe fn write_rows(
        &self,
        products: &[f32],
        bias: &[f32],
        relu: bool,
        block: &Block,
        out: &SharedOut,
    ) {
        let wp = self.padded[1];
        let out_plane = self.out_h * self.out_w;
        let channel_rows = products.chunks(block.rows.len() * wp);
        for (channel, rows) in block.channels.clone().zip(channel_rows) {
            let plane = (block.image * self.c_out + channel) * out_plane;
            for (r, row) in block.rows.clone().zip(rows.chunks(wp)) {
                let start = plane + r * self.out_w;
                // SAFETY: in bounds of the output; these rows are this block's alone.
                let to = unsafe { std::slice::from_raw_parts_mut(out.0.add(start), self.out_w) };
                for (o, &v) in to.iter_mut().zip(&row[..self.out_w]) {
                    *o = v + bias[channel];
                }
                if relu {
                    relu_in_place(to);
                }
            }
        }
    }
}

/// Output rows of one image and a range of its channels, computed together.
struct Block {
    image: usize,
    rows: Range<usize>,
    channels: Range<usize>,
}

/// The output buffer, written by parallel blocks at disjoint rows.
struct SharedOut(*mut f32);

// SAFETY: blocks write disjoint ranges only (see `Layer::write_rows`).
unsafe impl Sync for SharedOut {}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// Same values as Burn's convolution for the shapes the networks use, by every kernel:
    /// paddings on every side (and asymmetric), dilations, wide and tall kernels, several
    /// images, outputs of one row and blocks of many, channel counts that are not whole
    /// groups of the shifted kernel's rows.
    #[test]
    fn every_kernel_gives_burns_convolution() {
        let device = Device::flex();
        // (input, weight, padding, dilation)
        type Case = ([usize; 4], [usize; 4], [(usize, usize); 2], [usize; 2]);
        let cases: &[Case] = &[
            ([1, 3, 9, 11], [8, 3, 3, 3], [(1, 1), (1, 1)], [1, 1]),
            ([2, 5, 7, 6], [4, 5, 3, 3], [(0, 0), (0, 0)], [1, 1]),
            ([1, 4, 12, 10], [6, 4, 3, 3], [(6, 6), (6, 6)], [6, 6]),
            ([3, 2, 5, 9], [3, 2, 2, 3], [(0, 1), (2, 0)], [1, 2]),
            ([1, 16, 3, 40], [32, 16, 3, 1], [(1, 1), (0, 0)], [1, 1]),
            ([2, 8, 1, 5], [8, 8, 1, 3], [(0, 0), (1, 1)], [1, 1]),
            ([1, 64, 20, 200], [64, 64, 3, 3], [(1, 1), (1, 1)], [1, 1]),
            // Winograd's: odd and even sizes, one-sided and no padding, blocks of many tiles.
            ([2, 64, 7, 9], [5, 64, 3, 3], [(1, 1), (1, 1)], [1, 1]),
            ([1, 65, 6, 5], [4, 65, 3, 3], [(0, 2), (1, 0)], [1, 1]),
            ([1, 64, 3, 3], [7, 64, 3, 3], [(0, 0), (0, 0)], [1, 1]),
            ([1, 96, 41, 77], [48, 96, 3, 3], [(1, 1), (1, 1)], [1, 1]),
            ([2, 3, 30, 70], [13, 3, 3, 3], [(1, 1), (1, 1)], [1, 1]),
        ];
        let kernels = [
            Kernel::Auto,
            Kernel::Taps,
            Kernel::Winograd,
            Kernel::Shifted,
        ];
        for &(x_shape, w_shape, padding, dilation) in cases {
            let x = Tensor::<4>::random(x_shape, Distribution::Default, &device);
            let w = Tensor::<4>::random(w_shape, Distribution::Default, &device);
            let b = Tensor::<1>::random([w_shape[0]], Distribution::Default, &device);
            let options = ConvOptions::new_with_padding([1, 1], padding, dilation, 1);
            assert!(
                Layer::of(&x, &w, &options).is_some(),
                "{x_shape:?} not taken"
            );
            let burns = burn_conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
            let scale = burns.clone().abs().max().into_scalar::<f32>().max(1.0);
            for kernel in kernels {
                let (x, w, b) = (x.clone(), w.clone(), Some(b.clone()));
                let ours = conv2d_by(x, w, b, options.clone(), kernel);
                assert_eq!(ours.dims(), burns.dims(), "{x_shape:?} {w_shape:?}");
                let diff = (ours - burns.clone()).abs().max().into_scalar::<f32>();
                // Sums of up to 864 products: float rounding differs with the order.
                assert!(
                    diff <= 1e-5 * scale,
                    "{kernel:?} {x_shape:?} {w_shape:?}: {diff} of {scale}"
                );
            }
        }
        if !shifted_products::available() {
            crate::test_skip::skip("no AVX-512F: Kernel::Shifted ran as Kernel::Taps");
        }
    }

    #[test]
    fn strided_grouped_and_pointwise_layers_stay_with_burn() {
        let device = Device::flex();
        let x = Tensor::<4>::zeros([1, 4, 8, 8], &device);
        let w3 = Tensor::<4>::zeros([4, 4, 3, 3], &device);
        let w1 = Tensor::<4>::zeros([4, 4, 1, 1], &device);
        let wg = Tensor::<4>::zeros([4, 2, 3, 3], &device);
        let strided = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
        let plain = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let grouped = ConvOptions::new([1, 1], [1, 1], [1, 1], 2);
        assert!(Layer::of(&x, &w3, &strided).is_none());
        assert!(Layer::of(&x, &w1, &plain).is_none());
        assert!(Layer::of(&x, &wg, &grouped).is_none());
        assert!(Layer::of(&x, &w3, &plain).is_some());
    }
}
