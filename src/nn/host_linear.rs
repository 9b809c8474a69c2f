//! Linear layers on the CPU backend through our own products: TrOCR's projections and MLPs,
//! the CRNN's LSTM input projections. On CPUs with AVX-512, `nn::matmul`'s kernel (100–139
//! GMAC/s on TrOCR's shapes here, where `matrixmultiply` ran at about 70, docs/BENCH.md);
//! elsewhere `matrixmultiply`, up to 2.7 × faster than Flex's `gemm` here, its rows split
//! over rayon's threads, each a single-threaded product (so few rows, a decoder step, stay on
//! Burn's there). Other devices (autodiff's included: training keeps Burn's) and other
//! element types go through Burn's product as before. Operands are read in place
//! (`nn::flex_values`): copying the weights out (about 1 GB a trocr-base decoder step) had
//! kept decoder steps on Burn's product. A layer's bias, GELU ([`forward_gelu`]) or
//! residual ([`forward_plus`]) is applied by the product's own tasks to the rows they have
//! just summed, not in passes of their own over the output.

use burn::backend::DispatchDevice;
use burn::nn::Linear;
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use super::flex_values::with_f32;
use super::{into_f32_vec, matmul, table_dots, vector_math};

/// `linear.forward(x)`.
pub fn forward<const D: usize>(linear: &Linear, x: Tensor<D>) -> Tensor<D> {
    forward_then(linear, x, false, None)
}

/// PyTorch's exact GELU of `linear.forward(x)`, applied to each run of output rows as the
/// product finishes it (no pass of its own over the output, no copy).
pub fn forward_gelu<const D: usize>(linear: &Linear, x: Tensor<D>) -> Tensor<D> {
    forward_then(linear, x, true, None)
}

/// `residual + linear.forward(x)`, the residual added as the product finishes each run of
/// output rows. `residual` has the output's shape.
pub fn forward_plus<const D: usize>(
    linear: &Linear,
    x: Tensor<D>,
    residual: Tensor<D>,
) -> Tensor<D> {
    forward_then(linear, x, false, Some(residual))
}

/// `linear.forward(x)`, then its GELU where `gelu`, then plus `residual` where given.
fn forward_then<const D: usize>(
    linear: &Linear,
    x: Tensor<D>,
    gelu: bool,
    residual: Option<Tensor<D>>,
) -> Tensor<D> {
    let dims = x.dims();
    let k = dims[D - 1];
    let m = dims[..D - 1].iter().product::<usize>();
    let n = linear.weight.dims()[1];
    let bias = linear.bias.as_ref().map(|b| b.val());
    let mut shape = dims;
    shape[D - 1] = n;
    let rows = match &residual {
        Some(r) if r.dims() == shape => Some(r.clone().reshape([m, n])),
        // A residual of another shape: Burn's own error or broadcast, as before.
        Some(_) => return on_burn(linear, x, gelu, residual),
        None => None,
    };
    let x_rows = x.clone().reshape([m, k]);
    match on_host(x_rows, linear.weight.val(), bias, gelu, rows.as_ref()) {
        Some(out) => out.reshape(shape),
        None => on_burn(linear, x, gelu, residual),
    }
}

/// [`forward_then`] in Burn's operations.
fn on_burn<const D: usize>(
    linear: &Linear,
    x: Tensor<D>,
    gelu: bool,
    residual: Option<Tensor<D>>,
) -> Tensor<D> {
    let mut out = linear.forward(x);
    if gelu {
        out = vector_math::gelu_tensor(out);
    }
    match residual {
        Some(residual) => residual + out,
        None => out,
    }
}

/// `x · weight + bias` for `x` `[m, k]` and `weight` `[k, n]`: a linear layer whose weight
/// is not held in a `Linear` (the CRNN's LSTM input projection).
pub fn affine(x: Tensor<2>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    match on_host(x.clone(), weight.clone(), bias.clone(), false, None) {
        Some(out) => out,
        None => {
            let product = x.matmul(weight);
            match bias {
                Some(b) => product + b.unsqueeze::<2>(),
                None => product,
            }
        }
    }
}

/// `x [m, k] · rowsᵀ` for `rows` `[n, k]`: a projection onto a table of `n` vectors (a
/// decoder's output layer tied to its token embedding). On Flex with few rows of `x` (a
/// decoder step), one pass over the table, each of its rows dotted with every row of `x`
/// while it is in cache: the table (200 MB for trocr-base) is read once, where Burn's
/// product repacks it per call. Elsewhere, Burn's product.
pub fn times_transposed(x: Tensor<2>, rows: Tensor<2>) -> Tensor<2> {
    let [m, k] = x.dims();
    let [n, width] = rows.dims();
    let on_flex = matches!(x.device().as_dispatch(), DispatchDevice::Flex(_));
    let few_rows = (1..=MAX_DOT_ROWS).contains(&m);
    if on_flex && x.dtype() == DType::F32 && few_rows && width == k && k > 0 {
        let device = x.device();
        let out = with_f32(&x, |x| {
            with_f32(&rows, |table| table_dots::dots(x, table, [m, k, n]))
        });
        if let Some(Some(out)) = out {
            return Tensor::from_data(TensorData::new(out, [m, n]), &device);
        }
    }
    x.matmul(rows.transpose())
}

/// Rows of `x` up to which [`times_transposed`] takes each table row's dot products itself:
/// they then all stay in the core's first-level cache beside the row.
const MAX_DOT_ROWS: usize = 16;

/// Without AVX-512, fewer rows than this go to Burn's product: `matrixmultiply`'s split by
/// rows would read the weight once per thread.
const MIN_ROWS_WITHOUT_AVX512: usize = 64;

/// The product on our kernels, then its GELU where `gelu`, then plus `residual` (`[m, n]`)
/// where given; `None` where Burn's should run (another device or element type, few rows
/// without AVX-512, values that cannot be read back).
fn on_host(
    x: Tensor<2>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    gelu: bool,
    residual: Option<&Tensor<2>>,
) -> Option<Tensor<2>> {
    let [m, k] = x.dims();
    let n = weight.dims()[1];
    let on_flex = matches!(x.device().as_dispatch(), DispatchDevice::Flex(_));
    if !on_flex || x.dtype() != DType::F32 || m == 0 || k == 0 || weight.dims()[0] != k {
        return None;
    }
    if m < MIN_ROWS_WITHOUT_AVX512 && !matmul::available() {
        return None;
    }
    let device = x.device();
    let bias = match bias {
        Some(b) => Some(into_f32_vec(b).ok()?),
        None => None,
    };
    // A bias of another length: Burn's own error, not a silently shorter sum.
    if bias.as_ref().is_some_and(|b| b.len() != n) {
        return None;
    }
    let finish = Finish {
        bias: bias.as_deref(),
        gelu,
        residual: None,
        n,
    };
    let out = with_f32(&x, |input| {
        with_f32(&weight, |weight| match residual {
            Some(residual) => with_f32(residual, |residual| {
                let finish = Finish {
                    residual: Some(residual),
                    ..finish
                };
                product(input, weight, &finish, [m, k, n])
            }),
            None => Some(product(input, weight, &finish, [m, k, n])),
        })
        .flatten()
    })
    .flatten()?;
    Some(Tensor::from_data(TensorData::new(out, [m, n]), &device))
}

/// What is done to a run of output rows once their products are summed.
struct Finish<'a> {
    bias: Option<&'a [f32]>,
    gelu: bool,
    /// `[m, n]`, added last.
    residual: Option<&'a [f32]>,
    /// The rows' width.
    n: usize,
}

impl Finish<'_> {
    /// Rows `first_row..` of the output, `rows` holding whole rows.
    fn apply(&self, first_row: usize, rows: &mut [f32]) {
        if let Some(bias) = self.bias {
            for row in rows.chunks_exact_mut(self.n) {
                vector_math::add(row, bias);
            }
        }
        if self.gelu {
            vector_math::gelu_in_place(rows);
        }
        if let Some(residual) = self.residual {
            vector_math::add(rows, &residual[first_row * self.n..][..rows.len()]);
        }
    }
}

/// Row-major `[m, k] · [k, n]`, finished by `finish`: on `nn::matmul`'s AVX-512 kernel
/// where the CPU has one, else on `matrixmultiply`'s.
fn product(input: &[f32], weight: &[f32], finish: &Finish, shape: [usize; 3]) -> Vec<f32> {
    let apply = |first_row: usize, rows: &mut [f32]| finish.apply(first_row, rows);
    if matmul::available() {
        matmul::product(input, weight, shape, apply)
    } else {
        matrixmultiply_product(input, weight, shape, apply)
    }
}

/// Row-major `[m, k] · [k, n]`, the rows split over rayon's threads, each run of rows
/// finished by `finish(first_row, rows)`.
fn matrixmultiply_product(
    input: &[f32],
    weight: &[f32],
    [m, k, n]: [usize; 3],
    finish: impl Fn(usize, &mut [f32]) + Sync,
) -> Vec<f32> {
    let mut out = vec![0f32; m * n];
    let rows = m.div_ceil(rayon::current_num_threads().max(1) * 2).max(1);
    out.par_chunks_mut(rows * n)
        .zip(input.par_chunks(rows * k))
        .enumerate()
        .for_each(|(chunk, (dst, src))| {
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
            finish(chunk * rows, dst);
        });
    out
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
            // 2 × 70 = 140 rows: over MIN_ROWS_WITHOUT_AVX512, not a multiple of the chunks.
            let x = Tensor::<3>::random([2, 70, 48], Distribution::Normal(0.0, 1.0), &device);
            let ours = into_f32_vec(forward(&linear, x.clone())).unwrap();
            let burns = into_f32_vec(linear.forward(x)).unwrap();
            assert_eq!(ours.len(), 2 * 70 * 80);
            let worst = largest_difference(&ours, &burns);
            assert!(worst < 1e-4, "bias {bias}: differs by {worst}");
        }
    }

    #[test]
    fn gelu_and_residual_equal_burns_after_the_linear() {
        let device = Device::flex();
        let normal = Distribution::Normal(0.0, 1.0);
        let linear = LinearConfig::new(48, 80).init(&device);
        // 3 × 70 rows, split by rows; 5 rows, split by columns.
        for rows in [70, 5] {
            let x = Tensor::<3>::random([3, rows, 48], normal, &device);
            let residual = Tensor::<3>::random([3, rows, 80], normal, &device);
            let burns = linear.forward(x.clone());
            let gelu = into_f32_vec(forward_gelu(&linear, x.clone())).unwrap();
            let want = into_f32_vec(burn::tensor::activation::gelu(burns.clone())).unwrap();
            assert!(largest_difference(&gelu, &want) < 1e-4, "{rows} rows, GELU");
            let plus = into_f32_vec(forward_plus(&linear, x, residual.clone())).unwrap();
            let want = into_f32_vec(burns + residual).unwrap();
            assert_eq!(plus.len(), 3 * rows * 80);
            assert!(
                largest_difference(&plus, &want) < 1e-4,
                "{rows} rows, residual"
            );
        }
    }

    #[test]
    fn affine_equals_burns_product_plus_bias() {
        let device = Device::flex();
        let normal = Distribution::Normal(0.0, 1.0);
        let x = Tensor::<2>::random([130, 24], normal, &device);
        let weight = Tensor::<2>::random([24, 36], normal, &device);
        let bias = Tensor::<1>::random([36], normal, &device);
        let ours = into_f32_vec(affine(x.clone(), weight.clone(), Some(bias.clone()))).unwrap();
        let burns = into_f32_vec(x.matmul(weight) + bias.unsqueeze::<2>()).unwrap();
        assert_eq!(ours.len(), 130 * 36);
        let worst = largest_difference(&ours, &burns);
        assert!(worst < 1e-4, "differs by {worst}");
    }

    #[test]
    fn times_transposed_equals_burns_product() {
        let device = Device::flex();
        let normal = Distribution::Normal(0.0, 1.0);
        // 37 columns: a body of 16-lane chunks and a tail; 600 table rows: several chunks.
        for m in [0, 1, 5, MAX_DOT_ROWS, MAX_DOT_ROWS + 3] {
            let x = Tensor::<2>::random([m, 37], normal, &device);
            let table = Tensor::<2>::random([600, 37], normal, &device);
            let ours = into_f32_vec(times_transposed(x.clone(), table.clone())).unwrap();
            let burns = into_f32_vec(x.matmul(table.transpose())).unwrap();
            assert_eq!(ours.len(), m * 600);
            let worst = largest_difference(&ours, &burns);
            assert!(worst < 1e-4, "{m} rows: differs by {worst}");
        }
    }

    fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }
}
