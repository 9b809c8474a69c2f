//! `softmax(scale · q·kᵀ)·v` on the CPU backend through `nn::matmul`'s AVX-512 kernel, one
//! rayon task per image and head: TrOCR's encoder ([`attention_by_rows`], on the
//! projections' rows as they come) and the decoder's attention on split heads
//! ([`attention`]; a step's single query through `nn::one_query`), which ran in Burn Flex's
//! fused operator (on `gemm`'s AVX2 kernel) at about a quarter of this machine's rate
//! (docs/BENCH.md). Other devices, element types and CPUs without AVX-512 keep Burn's fused
//! operator ([`fused`]).

use burn::backend::DispatchDevice;
use burn::tensor::module::attention as burn_attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use super::flex_values::with_f32;
use super::shifted_products::ROWS;
use super::{matmul, one_query, softmax};

/// `softmax(scale · q·kᵀ)·v` of `queries` `[B, H, T, D]` over `keys` and `values` `[B, H,
/// S, D]`: on the host where it runs (Flex, `f32`, AVX-512, shapes that agree), else
/// [`fused`]. Keys and values are read where they lie (a decoder's cached ones are held by
/// its cache: taking them by value would copy them). Fewer queries than fill a group of the
/// product kernel's rows (a decoder step's one) go one by one through `nn::one_query`.
pub fn attention(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, scale: f64) -> Tensor<4> {
    if !runs_on(&queries, &keys, &values) {
        return fused(queries, keys, values, scale);
    }
    let [batch, heads, steps, depth] = queries.dims();
    let head = Head {
        steps,
        sources: keys.dims()[2],
        depth,
        scale: scale as f32,
    };
    let out = with_f32(&queries, |q| {
        with_f32(&keys, |k| with_f32(&values, |v| head.attend_each(q, k, v)))
    });
    match out {
        Some(Some(Some(out))) => {
            let dims = [batch, heads, steps, depth];
            Tensor::from_data(TensorData::new(out, dims), &queries.device())
        }
        _ => fused(queries, keys, values, scale),
    }
}

/// Attention of `queries` `[B, T, heads·D]` over `keys` and `values` `[B, S, heads·D]`, laid
/// out as the projections produce them, into `[B, T, heads·D]`, as the output projection
/// takes it. Each head's operands are gathered from the rows on its own task, where
/// splitting the heads as Burn tensors copied all three operands and merging them the
/// output once more. [`fused`] on split heads where [`attention`] would not run.
pub fn attention_by_rows(
    queries: Tensor<3>,
    keys: Tensor<3>,
    values: Tensor<3>,
    heads: usize,
    scale: f64,
) -> Tensor<3> {
    let [batch, steps, width] = queries.dims();
    let sources = keys.dims()[1];
    let split = |x: Tensor<3>| {
        let [b, len, w] = x.dims();
        x.reshape([b, len, heads, w / heads.max(1)]).swap_dims(1, 2)
    };
    let rows_agree = heads > 0
        && batch * steps * width > 0
        && width % heads == 0
        && keys.dims() == [batch, sources, width]
        && values.dims() == keys.dims();
    if rows_agree && sources > 0 && on_our_kernel(&[&queries, &keys, &values]) {
        let shape = RowShape {
            batch,
            heads,
            head: Head {
                steps,
                sources,
                depth: width / heads,
                scale: scale as f32,
            },
        };
        let out = with_f32(&queries, |q| {
            with_f32(&keys, |k| with_f32(&values, |v| shape.attend(q, k, v)))
        });
        if let Some(Some(Some(out))) = out {
            return Tensor::from_data(
                TensorData::new(out, [batch, steps, width]),
                &queries.device(),
            );
        }
    }
    fused(split(queries), split(keys), split(values), scale)
        .swap_dims(1, 2)
        .reshape([batch, steps, width])
}

/// The sizes of attention over rows of all heads side by side.
struct RowShape {
    batch: usize,
    heads: usize,
    head: Head,
}

impl RowShape {
    /// Every image's and head's attention, one rayon task each, written back into rows.
    fn attend(&self, q: &[f32], k: &[f32], v: &[f32]) -> Vec<f32> {
        let Head {
            steps,
            sources,
            depth,
            ..
        } = self.head;
        let width = self.heads * depth;
        let contexts: Vec<Vec<f32>> = (0..self.batch * self.heads)
            .into_par_iter()
            .map(|task| {
                let (image, column) = (task / self.heads, task % self.heads * depth);
                let (q, k, v) = (
                    &q[image * steps * width..][..steps * width],
                    &k[image * sources * width..][..sources * width],
                    &v[image * sources * width..][..sources * width],
                );
                let queries_by_column = gather_transposed(q, width, column, depth);
                let (k, v) = (
                    gather(k, width, column, depth),
                    gather(v, width, column, depth),
                );
                self.head.attend(&queries_by_column, &k, &v)
            })
            .collect();
        let mut out = vec![0.0f32; self.batch * steps * width];
        out.par_chunks_mut(steps * width)
            .zip(contexts.par_chunks(self.heads))
            .for_each(|(image, contexts)| {
                for (h, context) in contexts.iter().enumerate() {
                    let rows = image
                        .chunks_exact_mut(width)
                        .zip(context.chunks_exact(depth));
                    for (row, values) in rows {
                        row[h * depth..][..depth].copy_from_slice(values);
                    }
                }
            });
        out
    }
}

/// Columns `column..column + depth` of `rows` (`width` apart), `[len, depth]` row-major.
fn gather(rows: &[f32], width: usize, column: usize, depth: usize) -> Vec<f32> {
    // Row by row, one copy each (a `flat_map(..).collect()` went value by value).
    let mut out = Vec::with_capacity(rows.len() / width * depth);
    for row in rows.chunks_exact(width) {
        out.extend_from_slice(&row[column..column + depth]);
    }
    out
}

/// The same columns transposed, `[depth, len]` row-major.
fn gather_transposed(rows: &[f32], width: usize, column: usize, depth: usize) -> Vec<f32> {
    let len = rows.len() / width;
    let mut out = vec![0.0f32; depth * len];
    for (r, row) in rows.chunks_exact(width).enumerate() {
        for (c, &value) in row[column..column + depth].iter().enumerate() {
            out[c * len + r] = value;
        }
    }
    out
}

/// Burn's fused attention with an explicit scale. TrOCR's is Burn's default (1/√head_dim),
/// but an explicit one keeps wgpu on Burn's unfused fallback (the products and softmax the
/// TrOCR module ran before), since its flash kernel is not checked against transformers
/// here. On the CPU, Flex computes the scores a tile of keys at a time.
fn fused(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, scale: f64) -> Tensor<4> {
    let options = AttentionModuleOptions {
        scale: Some(scale),
        softcap: None,
        is_causal: false,
    };
    burn_attention(queries, keys, values, None, None, options)
}

/// Whether [`attention`] runs on our kernel for these operands.
fn runs_on(queries: &Tensor<4>, keys: &Tensor<4>, values: &Tensor<4>) -> bool {
    let [batch, heads, steps, depth] = queries.dims();
    let [kb, kh, sources, kd] = keys.dims();
    let agree = [kb, kh, kd] == [batch, heads, depth] && values.dims() == keys.dims();
    agree && steps * sources * depth > 0 && on_our_kernel(&[queries, keys, values])
}

/// Whether these tensors are `f32`s on Flex and the CPU has our kernel's AVX-512.
fn on_our_kernel<const D: usize>(tensors: &[&Tensor<D>]) -> bool {
    let on_flex = |t: &Tensor<D>| matches!(t.device().as_dispatch(), DispatchDevice::Flex(_));
    let usable = tensors
        .iter()
        .all(|t| on_flex(t) && t.dtype() == DType::F32);
    usable && matmul::available()
}

/// The sizes of one head's attention.
struct Head {
    steps: usize,
    sources: usize,
    depth: usize,
    scale: f32,
}

impl Head {
    /// Every image's and head's attention, one rayon task each: `q` `[B·H, T, D]`, `k` and
    /// `v` `[B·H, S, D]`, all row-major.
    fn attend_each(&self, q: &[f32], k: &[f32], v: &[f32]) -> Vec<f32> {
        let Head {
            steps,
            sources,
            depth,
            scale,
        } = *self;
        let mut out = vec![0.0f32; q.len()];
        let heads = out
            .par_chunks_mut(steps * depth)
            .zip(q.par_chunks(steps * depth))
            .zip(
                k.par_chunks(sources * depth)
                    .zip(v.par_chunks(sources * depth)),
            );
        heads.for_each(|((out, q), (k, v))| {
            if steps < ROWS {
                for (out, query) in out.chunks_exact_mut(depth).zip(q.chunks_exact(depth)) {
                    one_query::attend(query, k, v, scale, out);
                }
            } else {
                let queries_by_column = matmul::transpose(q, steps, depth);
                out.copy_from_slice(&self.attend(&queries_by_column, k, v));
            }
        });
        out
    }

    /// One head: `queries_by_column` `[D, T]` (the queries transposed), `keys` and `v` `[S,
    /// D]`, all row-major; `[T, D]` out. The scores come transposed (`keys · queriesᵀ`, one
    /// query per column), so that the softmax can write the probabilities straight into the
    /// layout the product with `v` reads (`softmax::columns_packed`); each query's row of
    /// that product is then divided by its sum.
    fn attend(&self, queries_by_column: &[f32], keys: &[f32], v: &[f32]) -> Vec<f32> {
        let Head {
            steps,
            sources,
            depth,
            scale,
        } = *self;
        let scores =
            matmul::product_on_this_thread(keys, queries_by_column, [sources, depth, steps]);
        let (probabilities, inverse_sums) = softmax::columns_packed(&scores, sources, steps, scale);
        drop(scores);
        let mut context =
            matmul::packed_product_on_this_thread(probabilities, v, [steps, sources, depth]);
        for (row, inverse) in context.chunks_exact_mut(depth).zip(inverse_sums) {
            row.iter_mut().for_each(|value| *value *= inverse);
        }
        context
    }
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
        // More steps than sources and the reverse; a head width not a multiple of 16; one
        // query and three (each through `one_query`), as in decoder steps.
        let shapes = [
            ([2, 3, 70, 24], 50),
            ([1, 2, 9, 64], 130),
            ([3, 2, 1, 64], 200),
            ([1, 2, 3, 32], 17),
        ];
        for ([b, h, t, d], s) in shapes {
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

    #[test]
    fn attention_by_rows_equals_burns_on_split_heads() {
        if !matmul::available() {
            crate::test_skip::skip("host attention needs AVX-512F; Burn's runs instead");
            return;
        }
        let device = Device::flex();
        let normal = Distribution::Normal(0.0, 1.0);
        // Two images of 3 heads of width 24, 70 queries over 50 keys and the reverse.
        for (t, s) in [(70, 50), (9, 130)] {
            let q = Tensor::<3>::random([2, t, 72], normal, &device);
            let k = Tensor::<3>::random([2, s, 72], normal, &device);
            let v = Tensor::<3>::random([2, s, 72], normal, &device);
            let split = |x: Tensor<3>| {
                let [b, len, _] = x.dims();
                x.reshape([b, len, 3, 24]).swap_dims(1, 2)
            };
            let burns = fused(split(q.clone()), split(k.clone()), split(v.clone()), 0.2)
                .swap_dims(1, 2)
                .reshape([2, t, 72]);
            let ours = attention_by_rows(q, k, v, 3, 0.2);
            assert_eq!(ours.dims(), [2, t, 72]);
            let diff = (ours - burns).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-4, "{t} queries over {s}: differs by {diff}");
        }
    }
}
