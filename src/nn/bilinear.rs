//! Bilinear resizing (PyTorch's `interpolate(mode="bilinear", align_corners=False)`) added
//! onto a map of the target size, with a ReLU, in one pass.
//!
//! CRAFT's decoder upsamples each level, concatenates it with the skip connection and mixes
//! the channels with a 1 × 1 layer. Both the resizing and the 1 × 1 layer are linear and
//! act on different axes, so the 1 × 1 layer's share for the upsampled channels can run
//! before the resizing, at a quarter of the pixels, and the two shares meet here: the
//! concatenated map is never made (it took 0.48 s of a page with the resizing, docs/BENCH.md).
//! Tensors that are not Flex's `f32` take Burn's operators.

use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::flex_values::{on_flex_f32, with_f32};
use super::into_f32_vec;

/// `relu(base + resize(low))`, `low` resized bilinearly to `base`'s height and width;
/// batch and channels must agree. Fails only where Burn cannot hand `base`'s values over.
pub fn add_resized_relu(base: Tensor<4>, low: Tensor<4>) -> crate::Result<Tensor<4>> {
    let [n, c, h, w] = base.dims();
    let [low_n, low_c, low_h, low_w] = low.dims();
    let fits = [n, c] == [low_n, low_c]
        && low_h > 0
        && low_w > 0
        && on_flex_f32(&base)
        && on_flex_f32(&low);
    if !fits {
        return Ok(relu(base.add(resize(low, [h, w]))));
    }
    let device = base.device();
    // By value: Flex hands over a buffer no one else holds, so the sum is written in place.
    let mut values = into_f32_vec(base)?;
    let rows = Taps::along(low_h, h);
    let columns = Taps::along(low_w, w);
    let added = with_f32(&low, |low| {
        values.par_chunks_mut(w).enumerate().for_each_init(
            || vec![0.0f32; low_w],
            |blend, (r, row)| {
                let (plane, y) = (r / h, r % h);
                let plane = &low[plane * low_h * low_w..(plane + 1) * low_h * low_w];
                let (above, below, weight) = rows.at(y);
                let above = &plane[above * low_w..(above + 1) * low_w];
                let below = &plane[below * low_w..(below + 1) * low_w];
                for ((b, &a), &u) in blend.iter_mut().zip(above).zip(below) {
                    *b = a + weight * (u - a);
                }
                for (x, v) in row.iter_mut().enumerate() {
                    let (left, right, weight) = columns.at(x);
                    let (l, r) = (blend[left], blend[right]);
                    *v = (*v + l + weight * (r - l)).max(0.0);
                }
            },
        );
    });
    let base = Tensor::from_data(TensorData::new(values, [n, c, h, w]), &device);
    Ok(match added {
        Some(()) => base,
        None => relu(base.add(resize(low, [h, w]))),
    })
}

/// PyTorch's bilinear resizing without aligned corners.
pub fn resize(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let options = InterpolateOptions::new(InterpolateMode::Bilinear)
        .with_align_corners(false)
        .with_output_size(size);
    interpolate(x, options)
}

/// For each output position along one side, the two input positions it reads and the
/// second one's weight.
struct Taps(Vec<(usize, usize, f32)>);

impl Taps {
    /// PyTorch's source index: `(out + 0.5) · in / out − 0.5`, clamped at 0.
    fn along(input: usize, output: usize) -> Self {
        let scale = input as f32 / output as f32;
        let taps = (0..output)
            .map(|o| {
                let source = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
                let first = (source as usize).min(input - 1);
                let second = (first + 1).min(input - 1);
                (first, second, source - first as f32)
            })
            .collect();
        Self(taps)
    }

    fn at(&self, index: usize) -> (usize, usize, f32) {
        self.0[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// The fused pass and Burn's resize, add and ReLU agree: doubling (CRAFT's decoder),
    /// the same size, and sizes that are not multiples.
    #[test]
    fn adds_what_burns_resize_gives() {
        let device = Device::flex();
        for ([low_h, low_w], [h, w]) in [([4, 5], [8, 10]), ([6, 6], [6, 6]), ([3, 7], [8, 9])] {
            let base = Tensor::<4>::random([2, 3, h, w], Distribution::Default, &device);
            let low = Tensor::<4>::random([2, 3, low_h, low_w], Distribution::Default, &device);
            let low = low.sub_scalar(0.5);
            let expected = relu(
                base.clone()
                    .sub_scalar(0.5)
                    .add(resize(low.clone(), [h, w])),
            );
            let ours = add_resized_relu(base.sub_scalar(0.5), low).unwrap();
            assert_eq!(ours.dims(), expected.dims());
            let diff = (ours - expected).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-5, "{low_h}x{low_w} -> {h}x{w}: {diff}");
        }
    }
}
