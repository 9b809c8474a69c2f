//! Convolutions computed in horizontal bands of output rows, with a cancel check between
//! bands. One full-resolution convolution of a page (CRAFT's first VGG layers, kraken's
//! page-wide layers, the CRNN's on a batch of lines) takes seconds on a CPU, longer than a
//! Cancel may wait; a band is a fraction of that and gives the same values (each output row
//! reads the same inputs). Where one row of a batch is already too much, the images are
//! taken a few at a time.

use std::time::{Duration, Instant};

use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};

use super::conv_gemm;
use super::differentiable_conv::options_of;
use super::flex_values::{on_flex_f32, with_f32};
use crate::Result;
use crate::cancel::CancelToken;

/// Multiply-adds computed between two cancel checks, at most (the time the last band took
/// sizes the next, see [`BandSizes`]). Every band costs a call into the convolution, and
/// small bands cost speed: CRAFT on the sample page took 15.4 s in bands of 3·10⁸, 12.6 s
/// at 10⁹, 10.3 s at 2·10⁹ and 9.9 s unbanded with Burn's convolution; with our kernels at
/// 100–170 GMAC/s, 2·10⁹ was a 15 ms band, and 10¹⁰ took CRAFT's detection of the Dracula
/// page from 5.0 to 4.9 s (medians of four, docs/BENCH.md).
const MACS_PER_BAND: usize = 10_000_000_000;
/// Output values written between two checks: a convolution with few input channels (a
/// network's first) is bound by memory, not by multiply-adds.
const VALUES_PER_BAND: usize = 8_000_000;

/// What runs after a convolution, band by band (an activation: it would be one more
/// uncancellable pass over a page-sized map if it ran on the whole output).
pub type After<'a> = &'a dyn Fn(Tensor<4>) -> Tensor<4>;

/// Nothing after the convolution.
pub fn identity(x: Tensor<4>) -> Tensor<4> {
    x
}

/// [`Conv2d::forward`] in bands, checking `cancel` before each. "Same" padding, which
/// depends on the input's size, runs whole after one check.
pub fn conv2d_module(conv: &Conv2d, x: Tensor<4>, cancel: &CancelToken) -> Result<Tensor<4>> {
    module_in_bands(conv, x, false, &identity, 1, cancel)
}

/// [`conv2d_module`] then a ReLU, applied as each band's rows are written.
pub fn conv2d_module_relu(conv: &Conv2d, x: Tensor<4>, cancel: &CancelToken) -> Result<Tensor<4>> {
    module_in_bands(conv, x, true, &identity, 1, cancel)
}

/// [`conv2d_module_relu`], then `after`, which pools every `pool_rows` output rows into one
/// (a max-pool with that kernel and stride, no padding): each band holds whole multiples
/// of them, so the pooling happens in the bands too and the page-sized map before pooling
/// never exists whole.
pub fn conv2d_module_relu_pooled(
    conv: &Conv2d,
    x: Tensor<4>,
    after: After,
    pool_rows: usize,
    cancel: &CancelToken,
) -> Result<Tensor<4>> {
    module_in_bands(conv, x, true, after, pool_rows, cancel)
}

/// Two stride-1 "same" convolutions, each followed by a ReLU, then `after` (as in
/// [`conv2d_module_relu_pooled`]), all in the same bands: the map between them never exists
/// whole. CRAFT's first two layers make 64 channels at full resolution, 325 MB for a page,
/// and writing and reading it back took more than their multiply-adds (docs/BENCH.md).
/// Other layers run one after the other.
pub fn conv2d_pair_relu_pooled(
    first: &Conv2d,
    second: &Conv2d,
    x: Tensor<4>,
    after: After,
    pool_rows: usize,
    cancel: &CancelToken,
) -> Result<Tensor<4>> {
    let options = options_of(first).zip(options_of(second));
    let shared = options.filter(|(o, p)| keeps_height(first, o) && keeps_height(second, p));
    let Some((options, second_options)) = shared else {
        let y = conv2d_module_relu(first, x, cancel)?;
        return conv2d_module_relu_pooled(second, y, after, pool_rows, cancel);
    };
    let then = Then {
        weight: second.weight.val(),
        bias: second.bias.as_ref().map(|b| b.val()),
        options: second_options,
        packed: Default::default(),
    };
    let bias = first.bias.as_ref().map(|b| b.val());
    let banded = Banded {
        pool_rows: pool_rows.max(1),
        relu: true,
        then: Some(then),
        ..Banded::new(first.weight.val(), bias, options, after, cancel)
    };
    banded.run(x)
}

/// [`conv2d_pair_relu_pooled`] without the pooling.
pub fn conv2d_pair_relu(
    first: &Conv2d,
    second: &Conv2d,
    x: Tensor<4>,
    cancel: &CancelToken,
) -> Result<Tensor<4>> {
    conv2d_pair_relu_pooled(first, second, x, &identity, 1, cancel)
}

/// Whether `conv` maps rows one to one: stride 1 and as many padding rows as its reach adds.
fn keeps_height(conv: &Conv2d, options: &ConvOptions<2>) -> bool {
    let [_, _, kh, _] = conv.weight.dims();
    let (top, bottom) = options.padding[0];
    options.stride[0] == 1 && top + bottom == options.dilation[0] * (kh.max(1) - 1)
}

/// `conv`, then a ReLU where `relu`, then `after`, in bands of whole `pool_rows`.
fn module_in_bands(
    conv: &Conv2d,
    x: Tensor<4>,
    relu: bool,
    after: After,
    pool_rows: usize,
    cancel: &CancelToken,
) -> Result<Tensor<4>> {
    let Some(options) = options_of(conv) else {
        cancel.check()?;
        let y = conv.forward(x);
        let y = if relu {
            burn::tensor::activation::relu(y)
        } else {
            y
        };
        return Ok(after(y));
    };
    let bias = conv.bias.as_ref().map(|b| b.val());
    let banded = Banded {
        pool_rows: pool_rows.max(1),
        relu,
        ..Banded::new(conv.weight.val(), bias, options, after, cancel)
    };
    banded.run(x)
}

/// `burn::tensor::module::conv2d` in bands of output rows, checking `cancel` before each:
/// `before` maps each band's input rows first (a normalisation's affine, left for the
/// convolution to apply where it reads, so the mapped input is never made whole; the
/// padding stays zero, as if `before` had mapped the whole input), `after` each band's
/// output.
pub fn conv2d_banded(
    x: Tensor<4>,
    before: After,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    after: After,
    cancel: &CancelToken,
) -> Result<Tensor<4>> {
    let banded = Banded {
        before,
        ..Banded::new(weight, bias, options, after, cancel)
    };
    banded.run(x)
}

/// One convolution and what follows it, ready to run in bands.
struct Banded<'a> {
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    before: After<'a>,
    after: After<'a>,
    cancel: &'a CancelToken,
    macs_per_band: usize,
    values_per_band: usize,
    /// Bands start and end on multiples of this many output rows (but the last).
    pool_rows: usize,
    /// The weights packed by the first band, for the others.
    packed: conv_gemm::PackedWeights,
    /// A ReLU on the convolution's output (and on `then`'s), before `after`.
    relu: bool,
    /// A second convolution on each band's output, before `after`.
    then: Option<Then>,
}

/// The second of two convolutions run band by band ([`conv2d_pair_relu_pooled`]); it keeps
/// the height, so a band's rows split between the two layers' paddings.
struct Then {
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    packed: conv_gemm::PackedWeights,
}

impl<'a> Banded<'a> {
    fn new(
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
        options: ConvOptions<2>,
        after: After<'a>,
        cancel: &'a CancelToken,
    ) -> Self {
        Self {
            weight,
            bias,
            options,
            before: &identity,
            after,
            cancel,
            macs_per_band: MACS_PER_BAND,
            values_per_band: VALUES_PER_BAND,
            pool_rows: 1,
            packed: Default::default(),
            relu: false,
            then: None,
        }
    }

    fn run(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let mut geometry = Geometry::of(&x, &self.weight, &self.options);
        if let Some(then) = &self.then {
            geometry = geometry.then(&then.weight, &then.options);
        }
        let images = x.dims()[0];
        let rows = self.rows_per_band(&geometry);
        if rows == 0 && images > 1 {
            return self.a_few_images_at_a_time(x, &geometry);
        }
        let rows = (rows / self.pool_rows).max(1) * self.pool_rows;
        self.cancel.check()?;
        if rows >= geometry.out_height {
            let whole = (geometry.pad_top, geometry.pad_bottom);
            return Ok(self.whole(x, with_rows_padded(&self.options, whole)));
        }
        let mut output = OutputRows::new(geometry.out_height / self.pool_rows);
        in_timed_parts(geometry.out_height, rows, self.pool_rows, |band| {
            self.cancel.check()?;
            let (input, padding) = geometry.band_input(&x, band);
            output.write(self.whole(input, with_rows_padded(&self.options, padding)));
            Ok(())
        })?;
        output.finish()
    }

    /// Output rows within both budgets (0 when one row of the batch is over one).
    fn rows_per_band(&self, g: &Geometry) -> usize {
        let by_macs = self.macs_per_band / g.macs_per_row.max(1);
        let by_values = self.values_per_band / g.values_per_row.max(1);
        by_macs.min(by_values)
    }

    /// One row of the whole batch is already too much: a few images at a time.
    fn a_few_images_at_a_time(&self, x: Tensor<4>, g: &Geometry) -> Result<Tensor<4>> {
        let images = x.dims()[0];
        let one_image = Geometry {
            macs_per_row: g.macs_per_row / images,
            values_per_row: g.values_per_row / images,
            ..*g
        };
        let per_part = self.rows_per_band(&one_image).max(1);
        let mut parts = Vec::with_capacity(images.div_ceil(per_part));
        for first in (0..images).step_by(per_part) {
            parts.push(self.run(x.clone().narrow(0, first, per_part.min(images - first)))?);
        }
        Ok(Tensor::cat(parts, 0))
    }

    /// The layer (or both) on `x`, whose rows `options` pads; `after` on the result.
    fn whole(&self, x: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
        let x = (self.before)(x);
        let Some(then) = &self.then else {
            return (self.after)(self.first(x, options));
        };
        // The zero rows the band needs above (below) its input: the first layer's own
        // padding where the band reaches past the input, and the second layer's where the
        // band reaches past the first layer's output (a padded row of the second layer is
        // zero, not the first layer run on zeros).
        let (top, bottom) = options.padding[0];
        let (own_top, own_bottom) = self.options.padding[0];
        let first = (top.min(own_top), bottom.min(own_bottom));
        let y = self.first(x, with_rows_padded(&options, first));
        let rest = (top - first.0, bottom - first.1);
        (self.after)(conv_gemm::conv2d_reusing(
            y,
            then.weight.clone(),
            then.bias.clone(),
            with_rows_padded(&then.options, rest),
            &then.packed,
            self.relu,
        ))
    }

    fn first(&self, x: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
        let (weight, bias) = (self.weight.clone(), self.bias.clone());
        conv_gemm::conv2d_reusing(x, weight, bias, options, &self.packed, self.relu)
    }
}

/// `options` with `rows` zero rows above and below the input.
fn with_rows_padded(options: &ConvOptions<2>, rows: (usize, usize)) -> ConvOptions<2> {
    ConvOptions::new_with_padding(
        options.stride,
        [rows, options.padding[1]],
        options.dilation,
        options.groups,
    )
}

/// Runs `part` on consecutive ranges covering `0..total`: the first a quarter of `budget`,
/// each later one sized by [`BandSizes`] from the time the one before took, all in whole
/// multiples of `unit` (but the last). `part` checks for Cancel itself.
pub(crate) fn in_timed_parts(
    total: usize,
    budget: usize,
    unit: usize,
    mut part: impl FnMut(std::ops::Range<usize>) -> Result<()>,
) -> Result<()> {
    let mut sizes = BandSizes::new(budget, unit);
    let mut first = 0;
    while first < total {
        let started = Instant::now();
        let last = (first + sizes.next).min(total);
        part(first..last)?;
        sizes.measured(last - first, started.elapsed());
        first = last;
    }
    Ok(())
}

/// How many output rows the next band takes (or, for other work done in parts between
/// checks, how many units the next part takes). The budgets above are estimates: a layer with
/// few input channels computes far fewer multiply-adds a second than the rest (kraken's
/// first 7 × 7 convolution on 3 channels ran at a seventh of the rate of its 3 × 3 layers
/// and took 445 ms a band on a loaded machine). So the first band is a quarter of the
/// budget, and each later one is sized by the time the one before took, never past the
/// budget. Splitting one image's rows differently gives the same values on the CPU (each
/// output row is computed alone), so timing never changes a result there.
struct BandSizes {
    next: usize,
    budget: usize,
    pool_rows: usize,
}

/// The time a band aims at: well under the 250 ms a Cancel may wait, with room for load.
const BAND_TARGET: Duration = Duration::from_millis(100);

impl BandSizes {
    /// `budget` rows at most a band, bands in whole multiples of `pool_rows`.
    fn new(budget: usize, pool_rows: usize) -> Self {
        let mut sizes = Self {
            next: budget,
            budget,
            pool_rows,
        };
        sizes.next = sizes.whole_windows(budget / 4);
        sizes
    }

    /// Size the next band from the time the last one took.
    fn measured(&mut self, rows: usize, took: Duration) {
        let per_row = took.as_secs_f64() / rows.max(1) as f64;
        if per_row > 0.0 {
            let fits = (BAND_TARGET.as_secs_f64() / per_row) as usize;
            self.next = self.whole_windows(fits.min(self.budget));
        } else {
            self.next = self.budget;
        }
    }

    /// `rows` rounded down to whole pooling windows, at least one window.
    fn whole_windows(&self, rows: usize) -> usize {
        (rows / self.pool_rows).max(1) * self.pool_rows
    }
}

/// The bands' outputs, each written into its rows of one output as soon as it is made.
/// Concatenating them at the end would copy a page-sized map in one uncancellable call
/// (180–300 ms for kraken's first layer on a loaded machine); a zeroed vector costs
/// nothing until written (its pages are mapped lazily). Where the bands are Flex's `f32`s
/// each band's rows of a channel are copied in as one run; elsewhere Burn's `slice_assign`
/// writes them, which on Flex took 0.83 s of a CRAFT page for its first layer alone (64
/// channels at full resolution) where the convolution took 0.13 s.
struct OutputRows {
    rows: usize,
    written: usize,
    assembled: Assembled,
}

enum Assembled {
    Nothing,
    /// `[n, c, rows, w]` row-major.
    Host {
        values: Vec<f32>,
        dims: [usize; 4],
        device: burn::tensor::Device,
    },
    /// Boxed: a tensor is several times the size of the other variants.
    Tensor(Box<Tensor<4>>),
}

impl OutputRows {
    fn new(rows: usize) -> Self {
        Self {
            rows,
            written: 0,
            assembled: Assembled::Nothing,
        }
    }

    fn write(&mut self, band: Tensor<4>) {
        let [n, c, h, w] = band.dims();
        if h == 0 {
            // The rows left over after the last whole pooling window.
            return;
        }
        let (first, rows) = (self.written, self.rows);
        self.written += h;
        let assembled = std::mem::replace(&mut self.assembled, Assembled::Nothing);
        self.assembled = match assembled {
            Assembled::Nothing if on_flex_f32(&band) => {
                let values = vec![0.0f32; n * c * rows * w];
                Self::copied(values, [n, c, rows, w], band, first)
            }
            Assembled::Host { values, dims, .. } => Self::copied(values, dims, band, first),
            Assembled::Nothing => {
                let zeros = TensorData::new(vec![0f32; n * c * rows * w], [n, c, rows, w]);
                let tensor = Tensor::from_data(zeros.convert_dtype(band.dtype()), &band.device());
                Self::assigned(tensor, band, first)
            }
            Assembled::Tensor(tensor) => Self::assigned(*tensor, band, first),
        };
    }

    /// `band`'s rows copied into `values` from row `first` of each channel.
    fn copied(mut values: Vec<f32>, dims: [usize; 4], band: Tensor<4>, first: usize) -> Assembled {
        let [_, _, rows, w] = dims;
        let [_, _, h, _] = band.dims();
        let device = band.device();
        let copied = with_f32(&band, |from| {
            let planes = values
                .chunks_exact_mut(rows * w)
                .zip(from.chunks_exact(h * w));
            for (to, from) in planes {
                to[first * w..(first + h) * w].copy_from_slice(from);
            }
        });
        match copied {
            Some(()) => Assembled::Host {
                values,
                dims,
                device,
            },
            // Not readable as `f32` after all: Burn's way from here.
            None => {
                let tensor = Tensor::from_data(TensorData::new(values, dims), &device);
                Self::assigned(tensor, band, first)
            }
        }
    }

    /// `band` written into `tensor` from row `first` by Burn.
    fn assigned(tensor: Tensor<4>, band: Tensor<4>, first: usize) -> Assembled {
        let [n, c, h, w] = band.dims();
        let rows = [0..n, 0..c, first..first + h, 0..w];
        Assembled::Tensor(Box::new(tensor.slice_assign(rows, band)))
    }

    fn finish(self) -> Result<Tensor<4>> {
        match self.assembled {
            Assembled::Host {
                values,
                dims,
                device,
            } => Ok(Tensor::from_data(TensorData::new(values, dims), &device)),
            Assembled::Tensor(tensor) => Ok(*tensor),
            Assembled::Nothing => Err(crate::Error::Model(
                "a banded convolution made no rows".into(),
            )),
        }
    }
}

/// The sizes that decide how a convolution splits into bands.
#[derive(Clone, Copy)]
struct Geometry {
    in_height: usize,
    out_height: usize,
    /// Multiply-adds for one output row (all images, channels and columns).
    macs_per_row: usize,
    /// Values in one output row (all images, channels and columns).
    values_per_row: usize,
    stride: usize,
    /// Images, channels and columns of the output.
    out_dims: [usize; 3],
    /// Zero rows above and below the input.
    pad_top: usize,
    pad_bottom: usize,
    /// Input rows one output row reads: `dilation * (kernel - 1) + 1`.
    reach: usize,
}

impl Geometry {
    fn of(x: &Tensor<4>, weight: &Tensor<4>, options: &ConvOptions<2>) -> Self {
        Self::of_dims(x.dims(), weight.dims(), options)
    }

    fn of_dims(input: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Self {
        let [n, _, h, w] = input;
        let [c_out, c_in_per_group, kh, kw] = weight;
        let reach = |dim: usize, k: usize| options.dilation[dim] * (k.max(1) - 1) + 1;
        let out = |size: usize, dim: usize, k: usize| {
            let (before, after) = options.padding[dim];
            (size + before + after).saturating_sub(reach(dim, k)) / options.stride[dim] + 1
        };
        let out_width = out(w, 1, kw);
        Self {
            in_height: h,
            out_height: out(h, 0, kh),
            out_dims: [n, c_out, out_width],
            macs_per_row: n * out_width * c_out * c_in_per_group * kh * kw,
            values_per_row: n * out_width * c_out,
            stride: options.stride[0],
            pad_top: options.padding[0].0,
            pad_bottom: options.padding[0].1,
            reach: reach(0, kh),
        }
    }

    /// The two layers as one, when a second layer that keeps the height follows: a band's
    /// output rows read more input rows, and a band costs both layers' work.
    fn then(self, weight: &Tensor<4>, options: &ConvOptions<2>) -> Self {
        let [n, c, w] = self.out_dims;
        let second = Self::of_dims([n, c, self.out_height, w], weight.dims(), options);
        Self {
            out_dims: second.out_dims,
            macs_per_row: self.macs_per_row + second.macs_per_row,
            values_per_row: self.values_per_row.max(second.values_per_row),
            pad_top: self.pad_top + second.pad_top,
            pad_bottom: self.pad_bottom + second.pad_bottom,
            reach: self.reach + second.reach - 1,
            ..self
        }
    }

    /// The input rows that output rows `rows` read, and the zero rows to add above and
    /// below them where they reach past the top or the bottom.
    fn band_input(
        &self,
        x: &Tensor<4>,
        rows: std::ops::Range<usize>,
    ) -> (Tensor<4>, (usize, usize)) {
        // In padded coordinates the band reads [start, end); shift by the top padding.
        let start = (rows.start * self.stride) as isize - self.pad_top as isize;
        let end = ((rows.end - 1) * self.stride + self.reach) as isize - self.pad_top as isize;
        let from = start.clamp(0, self.in_height as isize) as usize;
        let to = end.clamp(0, self.in_height as isize) as usize;
        if to <= from {
            // The band reads padding only (a padding wider than the kernel's reach).
            let [n, c, _, w] = x.dims();
            let zeros = Tensor::zeros([n, c, (end - start) as usize, w], &x.device());
            return (zeros, (0, 0));
        }
        let top = (from as isize - start) as usize;
        let bottom = (end - to as isize) as usize;
        (x.clone().narrow(2, from, to - from), (top, bottom))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv2d;
    use burn::tensor::{Device, Distribution};

    /// Banded and whole convolutions agree for strides, dilations, paddings and groups,
    /// with bands forced down to a row or two.
    #[test]
    fn bands_give_the_whole_convolution() {
        let device = Device::flex();
        let cases = [
            // (in channels, out, kernel, stride, padding, dilation, groups, height)
            (3, 8, 3, 1, 1, 1, 1, 37),
            (4, 6, 3, 2, 1, 1, 2, 40),
            (8, 8, 3, 1, 6, 6, 1, 29),
            (5, 7, 1, 1, 0, 1, 1, 16),
            (6, 6, 5, 2, 2, 1, 6, 33),
            (2, 3, 2, 1, 0, 1, 1, 9),
        ];
        for (c_in, c_out, k, stride, pad, dil, groups, h) in cases {
            let x = Tensor::<4>::random([4, c_in, h, 23], Distribution::Default, &device);
            let w =
                Tensor::<4>::random([c_out, c_in / groups, k, k], Distribution::Default, &device);
            let b = Tensor::<1>::random([c_out], Distribution::Default, &device);
            let symmetric = ConvOptions::new([stride, stride], [pad, pad], [dil, dil], groups);
            // Asymmetric padding too (what ONNX exports carry).
            let asymmetric = ConvOptions::new_with_padding(
                [stride, stride],
                [(pad, pad + 1), (pad + 1, pad)],
                [dil, dil],
                groups,
            );
            for options in [symmetric, asymmetric] {
                let whole = conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
                let row = Geometry::of(&x, &w, &options).macs_per_row;
                // Half a row of the batch: two images at a time, then rows.
                for rows in [0.5, 1.0, 2.0, 5.0] {
                    let never = CancelToken::new();
                    let conv = Banded {
                        weight: w.clone(),
                        bias: Some(b.clone()),
                        options: options.clone(),
                        before: &identity,
                        after: &identity,
                        cancel: &never,
                        macs_per_band: (rows * row as f64) as usize,
                        values_per_band: usize::MAX,
                        pool_rows: 1,
                        packed: Default::default(),
                        relu: false,
                        then: None,
                    };
                    let banded = conv.run(x.clone()).unwrap();
                    assert_eq!(banded.dims(), whole.dims());
                    let diff = (banded - whole.clone()).abs().max().into_scalar::<f32>();
                    let case = format!("k{k} s{stride} {:?} d{dil} rows {rows}", options.padding);
                    // Sums of up to 72 products near 20: float rounding differs with the blocking.
                    assert!(diff < 1e-4, "{case}: {diff}");
                }
            }
        }
    }

    /// A 2×2 max-pool inside the bands gives the pool of the whole convolution, with
    /// bands of one to five rows asked for (rounded to whole pooling windows).
    #[test]
    fn pooling_in_the_bands_gives_the_pooled_whole() {
        use burn::tensor::module::max_pool2d;
        use burn::tensor::ops::MaxPoolOptions;
        let device = Device::flex();
        let pool = |y: Tensor<4>| max_pool2d(y, MaxPoolOptions::new([2, 2]).with_stride([2, 2]));
        // With and without the ReLU applied as the rows are written.
        for (height, relu) in [(16, false), (17, true), (30, false), (30, true)] {
            let x = Tensor::<4>::random([2, 3, height, 12], Distribution::Default, &device);
            let w = Tensor::<4>::random([5, 3, 3, 3], Distribution::Default, &device);
            let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
            let conv_whole = conv2d(x.clone(), w.clone(), None, options.clone());
            let whole = pool(if relu {
                burn::tensor::activation::relu(conv_whole)
            } else {
                conv_whole
            });
            let row = Geometry::of(&x, &w, &options).macs_per_row;
            let never = CancelToken::new();
            for rows in 1..=5 {
                let conv = Banded {
                    pool_rows: 2,
                    macs_per_band: rows * row,
                    values_per_band: usize::MAX,
                    relu,
                    ..Banded::new(w.clone(), None, options.clone(), &pool, &never)
                };
                let banded = conv.run(x.clone()).unwrap();
                assert_eq!(banded.dims(), whole.dims(), "height {height} rows {rows}");
                let diff = (banded - whole.clone()).abs().max().into_scalar::<f32>();
                assert!(diff < 1e-4, "height {height} rows {rows}: {diff}");
            }
        }
    }

    /// Two layers in the same bands give the second layer on the first's whole output,
    /// with ReLUs and a 2×2 max-pool, for bands of one pooling window and up and for
    /// layers whose paddings differ (a 5 × 5 then a 3 × 3 with dilation 2).
    #[test]
    fn a_pair_in_bands_gives_the_layers_one_after_the_other() {
        use burn::nn::PaddingConfig2d;
        use burn::nn::conv::Conv2dConfig;
        use burn::tensor::activation::relu;
        use burn::tensor::module::max_pool2d;
        use burn::tensor::ops::MaxPoolOptions;
        let device = Device::flex();
        let pool = |y: Tensor<4>| max_pool2d(y, MaxPoolOptions::new([2, 2]).with_stride([2, 2]));
        let layer = |c: [usize; 2], k: usize, pad: usize, dilation: usize| {
            Conv2dConfig::new(c, [k, k])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_dilation([dilation, dilation])
                .init(&device)
        };
        let layers = [
            (layer([3, 5], 3, 1, 1), layer([5, 4], 3, 1, 1)),
            (layer([3, 5], 5, 2, 1), layer([5, 4], 3, 2, 2)),
        ];
        for (first, second) in &layers {
            for height in [9, 16, 17] {
                let x = Tensor::<4>::random([2, 3, height, 11], Distribution::Default, &device);
                let whole = pool(relu(second.forward(relu(first.forward(x.clone())))));
                let g = Geometry::of(&x, &first.weight.val(), &options_of(first).unwrap());
                let row = g.then(&second.weight.val(), &options_of(second).unwrap());
                let never = CancelToken::new();
                for rows in [1, 2, 3, 5, 40] {
                    let then = Then {
                        weight: second.weight.val(),
                        bias: second.bias.as_ref().map(|b| b.val()),
                        options: options_of(second).unwrap(),
                        packed: Default::default(),
                    };
                    let bias = first.bias.as_ref().map(|b| b.val());
                    let options = options_of(first).unwrap();
                    let conv = Banded {
                        pool_rows: 2,
                        macs_per_band: rows * row.macs_per_row,
                        values_per_band: usize::MAX,
                        relu: true,
                        then: Some(then),
                        ..Banded::new(first.weight.val(), bias, options, &pool, &never)
                    };
                    let banded = conv.run(x.clone()).unwrap();
                    assert_eq!(banded.dims(), whole.dims(), "height {height} rows {rows}");
                    let diff = (banded - whole.clone()).abs().max().into_scalar::<f32>();
                    assert!(diff < 1e-4, "height {height} rows {rows}: {diff}");
                }
            }
        }
    }

    /// A slow band makes the next one smaller, a fast one bigger but never past the
    /// budget; bands stay whole pooling windows.
    #[test]
    fn bands_are_sized_by_the_time_the_last_one_took() {
        let mut sizes = BandSizes::new(400, 2);
        assert_eq!(sizes.next, 100);
        // 100 rows in 400 ms: 4 ms a row, so 25 rows fit the target, rounded down to 24.
        sizes.measured(100, Duration::from_millis(400));
        assert_eq!(sizes.next, 24);
        sizes.measured(24, Duration::from_millis(1));
        assert_eq!(sizes.next, 400);
        // One row far over the target: still one pooling window.
        sizes.measured(2, Duration::from_secs(5));
        assert_eq!(sizes.next, 2);
    }

    #[test]
    fn a_cancelled_token_stops_before_the_first_band() {
        let device = Device::flex();
        let x = Tensor::<4>::zeros([1, 1, 8, 8], &device);
        let w = Tensor::<4>::zeros([1, 1, 3, 3], &device);
        let cancel = CancelToken::new();
        cancel.cancel();
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let result = conv2d_banded(x, &identity, w, None, options, &identity, &cancel);
        assert!(matches!(result, Err(crate::Error::Cancelled)));
    }
}
