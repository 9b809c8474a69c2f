//! Linear layers on the CPU backend through `matrixmultiply`, whose kernel runs the
//! transformer's products up to 2.7 × faster than Flex's `gemm` here (docs/BENCH.md). The
//! rows are split over rayon's threads, each a single-threaded product. Other devices, other
//! element types and few rows (a decoder step) go through Burn's `Linear` as before.

use burn::backend::DispatchDevice;
use burn::nn::Linear;
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use super::into_f32_vec;

/// Fewer rows than this and the copies cost more than the faster product gains.
const MIN_ROWS: usize = 64;

/// `linear.forward(x)`.
pub fn forward<const D: usize>(linear: &Linear, x: Tensor<D>) -> Tensor<D> {
    let dims = x.dims();
    let k = dims[D - 1];
    let m = dims[..D - 1].iter().product::<usize>();
    let on_flex = matches!(x.device().as_dispatch(), DispatchDevice::Flex(_));
    if !on_flex || x.dtype() != DType::F32 || m < MIN_ROWS || k == 0 {
        return linear.forward(x);
    }
    let weight = linear.weight.val();
    let n = weight.dims()[1];
    let device = x.device();
    let (Ok(input), Ok(weight)) = (into_f32_vec(x.clone()), into_f32_vec(weight)) else {
        return linear.forward(x);
    };
    let bias = linear
        .bias
        .as_ref()
        .and_then(|b| into_f32_vec(b.val()).ok());
    let mut out = vec![0f32; m * n];
    let rows = m.div_ceil(rayon::current_num_threads().max(1) * 2).max(1);
    out.par_chunks_mut(rows * n)
        .zip(input.par_chunks(rows * k))
        .for_each(|(dst, src)| {
            let r = src.len() / k;
            // SAFETY: src is r × k, weight k × n, dst r × n, all row-major slices of
            // exactly those lengths.
            unsafe {
                matrixmultiply::sgemm(
                    r,
                    k,
                    n,
                    1.0,
                    src.as_ptr(),
                    k as isize,
                    1,
                    weight.as_ptr(),
                    n as isize,
                    1,
                    0.0,
                    dst.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
            if let Some(bias) = &bias {
                for row in dst.chunks_mut(n) {
                    row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                }
            }
        });
    let mut shape = dims;
    shape[D - 1] = n;
    Tensor::from_data(TensorData::new(out, shape), &device)
}

#[cfg(test)]
mod tests {
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, Distribution};

    use super::*;

    #[test]
    fn equals_burns_linear_with_and_without_bias() {
        let device = Device::flex();
        for bias in [true, false] {
            let linear = LinearConfig::new(48, 80).with_bias(bias).init(&device);
            // 2 × 70 = 140 rows: over MIN_ROWS, and not a multiple of the row chunks.
            let x = Tensor::<3>::random([2, 70, 48], Distribution::Normal(0.0, 1.0), &device);
            let ours = into_f32_vec(forward(&linear, x.clone())).unwrap();
            let burns = into_f32_vec(linear.forward(x)).unwrap();
            assert_eq!(ours.len(), 2 * 70 * 80);
            let worst = ours
                .iter()
                .zip(&burns)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "bias {bias}: differs by {worst}");
        }
    }
}
