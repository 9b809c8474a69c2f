//! `softmax(scale · q·kᵀ)·v` on the CPU backend through `nn::matmul`'s AVX-512 kernel, one
//! rayon task per image and head: TrOCR's encoder, whose attention ran in Burn Flex's fused
//! operator (on `gemm`'s AVX2 kernel) at about a quarter of this machine's rate
//! (docs/BENCH.md). Other devices, element types and CPUs without AVX-512 keep Burn's
//! fused operator ([`fused`]).

use burn::backend::DispatchDevice;
use burn::tensor::module::attention as burn_attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use super::matmul;

/// `softmax(scale · q·kᵀ)·v` of `queries` `[B, H, T, D]` over `keys` and `values` `[B, H,
/// S, D]`: on our kernel where it runs (Flex, `f32`, AVX-512, shapes that agree), else
/// [`fused`].
pub fn attention(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, scale: f64) -> Tensor<4> {
    if !runs_on(&queries, &keys, &values) {
        return fused(queries, keys, values, scale);
    }
    let [batch, heads, steps, depth] = queries.dims();
    let sources = keys.dims()[2];
    let device = queries.device();
    // By value: Flex hands over the buffers of tensors no one else holds, without a copy.
    let (q, k, v) = (queries.into_data(), keys.into_data(), values.into_data());
    let (Ok(qs), Ok(ks), Ok(vs)) = (
        q.as_slice::<f32>(),
        k.as_slice::<f32>(),
        v.as_slice::<f32>(),
    ) else {
        let rebuilt = |data| Tensor::<4>::from_data(data, &device);
        return fused(rebuilt(q), rebuilt(k), rebuilt(v), scale);
    };
    let head = Head {
        steps,
        sources,
        depth,
        scale: scale as f32,
    };
    let mut out = vec![0.0f32; qs.len()];
    out.par_chunks_mut(steps * depth)
        .zip(qs.par_chunks(steps * depth))
        .zip(
            ks.par_chunks(sources * depth)
                .zip(vs.par_chunks(sources * depth)),
        )
        .for_each(|((out, q), (k, v))| out.copy_from_slice(&head.attend(q, k, v)));
    let dims = [batch, heads, steps, depth];
    Tensor::from_data(TensorData::new(out, dims), &device)
}

/// Burn's fused attention with an explicit scale. TrOCR's is Burn's default (1/√head_dim),
/// but an explicit one keeps wgpu on Burn's unfused fallback (the products and softmax the
/// TrOCR module ran before), since its flash kernel is not checked against transformers
/// here. On the CPU, Flex computes the scores a tile of keys at a time.
pub fn fused(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, scale: f64) -> Tensor<4> {
    let options = AttentionModuleOptions {
        scale: Some(scale),
        softcap: None,
        is_causal: false,
    };
    burn_attention(queries, keys, values, None, None, options)
}

/// Whether [`attention`] runs on our kernel for these operands.
fn runs_on(queries: &Tensor<4>, keys: &Tensor<4>, values: &Tensor<4>) -> bool {
    let [batch, heads, _, depth] = queries.dims();
    let [kb, kh, sources, kd] = keys.dims();
    let on_flex = matches!(queries.device().as_dispatch(), DispatchDevice::Flex(_));
    let agree = [kb, kh, kd] == [batch, heads, depth] && values.dims() == keys.dims();
    let f32s = [queries, keys, values]
        .iter()
        .all(|t| t.dtype() == DType::F32);
    on_flex && agree && f32s && sources > 0 && matmul::available()
}

/// The sizes of one head's attention.
struct Head {
    steps: usize,
    sources: usize,
    depth: usize,
    scale: f32,
}

impl Head {
    /// One head: `q` `[T, D]`, `k` and `v` `[S, D]`, all row-major; `[T, D]` out.
    fn attend(&self, q: &[f32], k: &[f32], v: &[f32]) -> Vec<f32> {
        let Head {
            steps,
            sources,
            depth,
            ..
        } = *self;
        let keys_by_column = transpose(k, sources, depth);
        let mut scores =
            matmul::product_on_this_thread(q, &keys_by_column, [steps, depth, sources]);
        scores
            .chunks_exact_mut(sources)
            .for_each(|row| self.softmax(row));
        matmul::product_on_this_thread(&scores, v, [steps, sources, depth])
    }

    /// `row` ← softmax(scale · row), shifted by its largest score so that no `exp` overflows.
    fn softmax(&self, row: &mut [f32]) {
        let largest = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0f32;
        for score in row.iter_mut() {
            *score = ((*score - largest) * self.scale).exp();
            total += *score;
        }
        let inverse = 1.0 / total;
        row.iter_mut().for_each(|p| *p *= inverse);
    }
}

/// `x` `[rows, columns]` as `[columns, rows]`, row-major both.
fn transpose(x: &[f32], rows: usize, columns: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; x.len()];
    for (r, line) in x.chunks_exact(columns).enumerate() {
        for (c, &value) in line.iter().enumerate() {
            t[c * rows + r] = value;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};

    use super::*;

    #[test]
    fn equals_burns_attention() {
        if !matmul::available() {
            crate::test_skip::skip("host attention needs AVX-512F; Burn's runs instead");
            return;
        }
        let device = Device::flex();
        let normal = Distribution::Normal(0.0, 1.0);
        // More steps than sources and the reverse; a head width not a multiple of 16.
        for ([b, h, t, d], s) in [([2, 3, 70, 24], 50), ([1, 2, 9, 64], 130)] {
            let q = Tensor::<4>::random([b, h, t, d], normal, &device);
            let k = Tensor::<4>::random([b, h, s, d], normal, &device);
            let v = Tensor::<4>::random([b, h, s, d], normal, &device);
            let scale = (d as f64).powf(-0.5);
            assert!(runs_on(&q, &k, &v), "[{b}, {h}, {t}, {d}] not taken");
            let burns = fused(q.clone(), k.clone(), v.clone(), scale);
            let ours = attention(q, k, v, scale);
            assert_eq!(ours.dims(), burns.dims());
            let diff = (ours - burns).abs().max().into_scalar::<f32>();
            assert!(
                diff < 1e-4,
                "[{b}, {h}, {t}, {d}] over {s}: differs by {diff}"
            );
        }
    }
}
