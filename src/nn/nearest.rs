//! Nearest-neighbour upsampling by whole factors, fused with what DBNet's neck does with
//! it: adding the level above to the level below, and concatenating the upsampled levels.
//!
//! As tensor operations each is a strided copy of a page-sized map and then another pass
//! over it (an add, a concatenation's copy): on the CPU a quarter of a page's detection
//! went to those passes over maps of 68 MB (`nn::paddle::timing`). Here each output row is
//! written once, from the rows it reads. Tensors that are not Flex's `f32` take the tensor
//! operations.

use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::flex_values::{on_flex_f32, with_all_f32};
use super::unfilled;

/// Nearest-neighbour upsampling: each pixel becomes a `factor × factor` block.
pub fn upsample(x: Tensor<4>, factor: usize) -> Tensor<4> {
    if factor == 1 {
        return x;
    }
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .expand([b, c, h, factor, w, factor])
        .reshape([b, c, h * factor, w * factor])
}

/// `below + upsample(above, factor)`; `above` must be `below`'s size divided by `factor`.
pub fn add_upsampled(below: Tensor<4>, above: Tensor<4>, factor: usize) -> Tensor<4> {
    let [n, c, h, w] = below.dims();
    let fits = factor > 0
        && above.dims() == [n, c, h / factor, w / factor]
        && h % factor == 0
        && w % factor == 0
        && on_flex_f32(&below)
        && on_flex_f32(&above);
    let sum = fits.then(|| {
        with_all_f32(&[below.clone(), above.clone()], |maps| {
            let (b, a) = (maps[0], maps[1]);
            let mut out = unfilled::buffer(b.len());
            out.par_chunks_mut(w).enumerate().for_each(|(r, row)| {
                let (plane, y) = (r / h, r % h);
                let from = &a[(plane * (h / factor) + y / factor) * (w / factor)..];
                let blocks = row
                    .chunks_exact_mut(factor)
                    .zip(b[r * w..].chunks_exact(factor));
                for ((to, below), &value) in blocks.zip(from) {
                    for (t, &v) in to.iter_mut().zip(below) {
                        t.write(v + value);
                    }
                }
            });
            // SAFETY: every row's blocks (width `w`, a multiple of `factor`) written above.
            unsafe { unfilled::into_values(out) }
        })
    });
    match sum.flatten() {
        Some(values) => Tensor::from_data(TensorData::new(values, [n, c, h, w]), &below.device()),
        None => below.add(upsample(above, factor)),
    }
}

/// `Tensor::cat` along the channels of each map upsampled by its factor (1: as it is); all
/// must come to the same size. Flex's own concatenation took half a second of a CRAFT page.
pub fn cat_upsampled(maps: Vec<(Tensor<4>, usize)>) -> Tensor<4> {
    let Some(layout) = CatLayout::of(&maps) else {
        let upsampled = maps.into_iter().map(|(x, f)| upsample(x, f)).collect();
        return Tensor::cat(upsampled, 1);
    };
    let tensors: Vec<Tensor<4>> = maps.iter().map(|(x, _)| x.clone()).collect();
    match with_all_f32(&tensors, |sources| layout.fill(sources)) {
        Some(values) => {
            Tensor::from_data(TensorData::new(values, layout.out), &tensors[0].device())
        }
        None => {
            let upsampled = maps.into_iter().map(|(x, f)| upsample(x, f)).collect();
            Tensor::cat(upsampled, 1)
        }
    }
}

/// Where each channel of a concatenation of upsampled maps comes from.
struct CatLayout {
    /// Channels and factor of each map.
    maps: Vec<(usize, usize)>,
    out: [usize; 4],
}

impl CatLayout {
    /// `None` where the maps do not come to one size or are not Flex's `f32`.
    fn of(maps: &[(Tensor<4>, usize)]) -> Option<Self> {
        let (first, f0) = maps.first()?;
        let [n, _, h0, w0] = first.dims();
        let (h, w) = (h0 * f0, w0 * f0);
        let mut layout = CatLayout {
            maps: Vec::with_capacity(maps.len()),
            out: [n, 0, h, w],
        };
        for (x, factor) in maps {
            let [xn, xc, xh, xw] = x.dims();
            if xn != n || xh * factor != h || xw * factor != w || *factor == 0 || !on_flex_f32(x) {
                return None;
            }
            layout.maps.push((xc, *factor));
            layout.out[1] += xc;
        }
        Some(layout)
    }

    /// The concatenation, each output row written once from its source row.
    fn fill(&self, sources: &[&[f32]]) -> Vec<f32> {
        let [n, c, h, w] = self.out;
        let mut out = unfilled::buffer(n * c * h * w);
        out.par_chunks_mut(w).enumerate().for_each(|(r, row)| {
            let (plane, y) = (r / h, r % h);
            let (image, channel) = (plane / c, plane % c);
            let (map, channel) = self.source(channel);
            let (channels, factor) = self.maps[map];
            let (sh, sw) = (h / factor, w / factor);
            let first = ((image * channels + channel) * sh + y / factor) * sw;
            let from = &sources[map][first..first + sw];
            if factor == 1 {
                for (to, &value) in row.iter_mut().zip(from) {
                    to.write(value);
                }
                return;
            }
            for (block, &value) in row.chunks_exact_mut(factor).zip(from) {
                block.iter_mut().for_each(|v| {
                    v.write(value);
                });
            }
        });
        // SAFETY: every row's blocks (width `sw · factor = w`) written just above.
        unsafe { unfilled::into_values(out) }
    }

    /// The map holding output channel `channel`, and its channel there.
    fn source(&self, mut channel: usize) -> (usize, usize) {
        for (map, &(channels, _)) in self.maps.iter().enumerate() {
            if channel < channels {
                return (map, channel);
            }
            channel -= channels;
        }
        unreachable!("channel past the concatenation's")
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};

    use super::*;

    fn values(t: Tensor<4>) -> Vec<f32> {
        super::super::into_f32_vec(t).unwrap()
    }

    #[test]
    fn upsample_repeats_each_pixel() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]),
            &device,
        );
        assert_eq!(
            values(upsample(x, 2)),
            vec![
                1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.
            ]
        );
    }

    #[test]
    fn fused_forms_match_the_tensor_operations() {
        let device = Device::flex();
        let random = |shape| Tensor::<4>::random(shape, Distribution::Default, &device);
        let (below, above) = (random([2, 3, 8, 12]), random([2, 3, 4, 6]));
        let want = values(below.clone().add(upsample(above.clone(), 2)));
        assert_eq!(values(add_upsampled(below, above, 2)), want);
        let maps = vec![
            (random([2, 2, 2, 3]), 4),
            (random([2, 3, 4, 6]), 2),
            (random([2, 1, 8, 12]), 1),
        ];
        let tensors: Vec<_> = maps.iter().map(|(x, f)| upsample(x.clone(), *f)).collect();
        let want = values(Tensor::cat(tensors, 1));
        assert_eq!(values(cat_upsampled(maps)), want);
    }

    #[test]
    fn maps_that_do_not_fit_keep_the_tensor_operations_errors_or_results() {
        let device = Device::flex();
        let random = |shape| Tensor::<4>::random(shape, Distribution::Default, &device);
        // Odd sizes: the fused form does not apply; the tensor form still runs.
        let maps = vec![(random([1, 2, 3, 3]), 2), (random([1, 1, 6, 6]), 1)];
        assert_eq!(cat_upsampled(maps).dims(), [1, 3, 6, 6]);
    }
}
