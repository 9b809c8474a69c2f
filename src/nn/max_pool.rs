//! Max-pooling of Flex's `f32` maps in one pass, without the indices.
//!
//! Flex's `max_pool2d` computes the pooling with indices (an `i64` per output value, an
//! integer division per value read) and drops them: CRAFT's three in-band 2×2 poolings took
//! 0.32 s of a page and the one on its 1/2-resolution map 0.13 s (docs/BENCH.md). Here each
//! output row is the maximum of its window's rows, taken column by column, then over the
//! window's columns. Other tensors (the GPU, autodiff) take Burn's operator.

use burn::tensor::module::max_pool2d as burn_max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::flex_values::{on_flex_f32, with_f32};
use super::unfilled;

/// A max-pooling window: `[rows, columns]` each, dilation 1, outputs rounded down (PyTorch's
/// `MaxPool2d` without `ceil_mode`); padding counts as minus infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl Window {
    /// A `kernel` window moved by `stride`, without padding.
    pub fn new(kernel: [usize; 2], stride: [usize; 2]) -> Self {
        Self {
            kernel,
            stride,
            padding: [0, 0],
        }
    }

    pub fn with_padding(self, padding: [usize; 2]) -> Self {
        Self { padding, ..self }
    }

    /// Output positions along a side of `size` values, `None` where the window does not
    /// fit or could cover padding only (PyTorch refuses padding over half the kernel).
    fn outputs(&self, dim: usize, size: usize) -> Option<usize> {
        let (k, s, p) = (self.kernel[dim], self.stride[dim], self.padding[dim]);
        let fits = k > 0 && s > 0 && 2 * p <= k && size + 2 * p >= k;
        fits.then(|| (size + 2 * p - k) / s + 1)
    }

    /// The input positions the window at output `index` covers, clipped to `0..size`.
    fn covers(&self, dim: usize, index: usize, size: usize) -> std::ops::Range<usize> {
        let start = (index * self.stride[dim]).saturating_sub(self.padding[dim]);
        let end = (index * self.stride[dim] + self.kernel[dim]).saturating_sub(self.padding[dim]);
        start.min(size)..end.min(size)
    }
}

/// `x` (`[batch, channels, height, width]`) max-pooled by `window`.
pub fn max_pool2d(x: Tensor<4>, window: Window) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let sizes = window.outputs(0, h).zip(window.outputs(1, w));
    let pooled = match sizes {
        Some((out_h, out_w)) if on_flex_f32(&x) => with_f32(&x, |values| {
            pool_planes(values, [h, w], [out_h, out_w], window)
        }),
        _ => None,
    };
    match (pooled, sizes) {
        (Some(values), Some((out_h, out_w))) => {
            Tensor::from_data(TensorData::new(values, [n, c, out_h, out_w]), &x.device())
        }
        _ => burn_max_pool2d(
            x,
            MaxPoolOptions::new(window.kernel)
                .with_stride(window.stride)
                .with_padding(window.padding),
        ),
    }
}

/// Every plane of `values` (planes of `size`) pooled into planes of `out`.
fn pool_planes(values: &[f32], size: [usize; 2], out: [usize; 2], window: Window) -> Vec<f32> {
    let [h, w] = size;
    let [out_h, out_w] = out;
    let planes = values.len() / (h * w);
    let mut pooled = unfilled::buffer(planes * out_h * out_w);
    pooled.par_chunks_mut(out_w).enumerate().for_each_init(
        || vec![f32::NEG_INFINITY; w],
        |column_max, (r, row)| {
            let (plane, y) = (r / out_h, r % out_h);
            let rows = window.covers(0, y, h);
            let plane = &values[plane * h * w..(plane + 1) * h * w];
            column_max.fill(f32::NEG_INFINITY);
            for from in plane.chunks_exact(w).take(rows.end).skip(rows.start) {
                for (m, &v) in column_max.iter_mut().zip(from) {
                    *m = m.max(v);
                }
            }
            for (x, to) in row.iter_mut().enumerate() {
                let columns = &column_max[window.covers(1, x, w)];
                to.write(columns.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)));
            }
        },
    );
    // SAFETY: every output row (`out_w` values) is written in the loop above.
    unsafe { unfilled::into_values(pooled) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// Burn's max-pooling and this one agree exactly, for the windows the networks use
    /// (2 × 2 and 2 × 1 by their size, 3 × 3 by 1 with padding) and odd sizes.
    #[test]
    fn pools_as_burn_does() {
        let device = Device::flex();
        let windows = [
            Window::new([2, 2], [2, 2]),
            Window::new([2, 1], [2, 1]),
            Window::new([3, 3], [1, 1]).with_padding([1, 1]),
            Window::new([3, 2], [2, 1]).with_padding([1, 0]),
        ];
        for window in windows {
            for [h, w] in [[7, 9], [8, 8], [3, 5]] {
                // Negative values too, so that padding taken as 0 would show.
                let x =
                    Tensor::<4>::random([2, 3, h, w], Distribution::Uniform(-2.0, -1.0), &device);
                let ours = max_pool2d(x.clone(), window);
                let options = MaxPoolOptions::new(window.kernel)
                    .with_stride(window.stride)
                    .with_padding(window.padding);
                let burns = burn_max_pool2d(x, options);
                assert_eq!(ours.dims(), burns.dims(), "{window:?} on {h}x{w}");
                let ours = ours.into_data().try_into_vec::<f32>().unwrap();
                let burns = burns.into_data().try_into_vec::<f32>().unwrap();
                assert_eq!(ours, burns, "{window:?} on {h}x{w}");
            }
        }
    }

    /// A window that does not fit the map goes to Burn, which decides what it means.
    #[test]
    fn windows_larger_than_the_map_are_left_to_burn() {
        let window = Window::new([4, 4], [4, 4]);
        assert_eq!(window.outputs(0, 3), None);
        assert_eq!(window.outputs(0, 4), Some(1));
        assert_eq!(
            Window::new([2, 2], [2, 2])
                .with_padding([2, 0])
                .outputs(0, 9),
            None
        );
    }
}
