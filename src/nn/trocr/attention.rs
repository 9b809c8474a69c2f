//! Multi-head attention as both ViT and TrOCR compute it: separate query, key and value
//! projections, softmax(q·kᵀ/√d)·v per head, an output projection.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Tensor, TensorData};

use crate::nn::{host_attention, host_linear};

use super::params::{ParamSource, linear};

/// Hugging Face names of the four projections inside one attention block.
pub struct AttentionNames<'a> {
    pub query: &'a str,
    pub key: &'a str,
    pub value: &'a str,
    pub output: &'a str,
}

/// Sizes of one attention block.
#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    /// Width of the queries and of the output.
    pub width: usize,
    /// Width of the states keys and values are computed from.
    pub kv_width: usize,
    pub num_heads: usize,
    pub qkv_bias: bool,
}

#[derive(Module, Debug)]
pub struct Attention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub output: Linear,
    pub num_heads: usize,
}

/// Score given to masked positions; finite so a row never becomes NaN.
const MASKED_SCORE: f32 = -1.0e9;

impl Attention {
    pub fn build<S: ParamSource>(
        source: &mut S,
        names: &AttentionNames<'_>,
        shape: AttentionShape,
    ) -> Result<Self, S::Error> {
        let AttentionShape {
            width,
            kv_width,
            num_heads,
            qkv_bias,
        } = shape;
        Ok(Attention {
            query: linear(source, names.query, width, width, qkv_bias)?,
            key: linear(source, names.key, kv_width, width, qkv_bias)?,
            value: linear(source, names.value, kv_width, width, qkv_bias)?,
            output: linear(source, names.output, width, width, true)?,
            num_heads,
        })
    }

    /// Keys and values of `states` `[B, S, C]`, each `[B, heads, S, head_dim]`.
    pub fn keys_values(&self, states: Tensor<3>) -> (Tensor<4>, Tensor<4>) {
        let keys = self.split_heads(host_linear::forward(&self.key, states.clone()));
        let values = self.split_heads(host_linear::forward(&self.value, states));
        (keys, values)
    }

    /// Attends from `hidden` `[B, T, C]` to the given keys and values; `causal_past` is
    /// `Some(p)` when query `i` sits at position `p + i` and must not see later keys.
    pub fn attend(
        &self,
        hidden: Tensor<3>,
        keys: Tensor<4>,
        values: Tensor<4>,
        causal_past: Option<usize>,
    ) -> Tensor<3> {
        let [batch, steps, width] = hidden.dims();
        let head_dim = width / self.num_heads;
        // TrOCR scales the queries before the product; Burn's attention scales the scores,
        // which differs only by rounding.
        let scale = (head_dim as f64).powf(-0.5);
        let queries = self.split_heads(host_linear::forward(&self.query, hidden));
        let context = match causal_past.filter(|_| steps > 1) {
            Some(past) => masked_context(queries * scale, keys, values, past),
            // On the host on AVX-512 CPUs (a step's one query in a pass over the cached keys
            // and values), Burn's fused operation elsewhere.
            None => host_attention::attention(queries, keys, values, scale),
        };
        let merged = context.swap_dims(1, 2).reshape([batch, steps, width]);
        host_linear::forward(&self.output, merged)
    }

    /// `residual` plus self-attention over `hidden` alone (the encoder's case), without
    /// causal mask: the heads stay side by side in the projections' rows
    /// (`host_attention::attention_by_rows`), the residual is added as the output
    /// projection finishes its rows.
    pub fn forward_self(&self, hidden: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        let width = hidden.dims()[2];
        let scale = ((width / self.num_heads) as f64).powf(-0.5);
        let project = |linear: &Linear| host_linear::forward(linear, hidden.clone());
        let (queries, keys, values) = (
            project(&self.query),
            project(&self.key),
            project(&self.value),
        );
        let context =
            host_attention::attention_by_rows(queries, keys, values, self.num_heads, scale);
        host_linear::forward_plus(&self.output, context, residual)
    }

    fn split_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [batch, len, width] = x.dims();
        x.reshape([batch, len, self.num_heads, width / self.num_heads])
            .swap_dims(1, 2)
    }
}

/// softmax(q·kᵀ)·v with query `i` (at position `past + i`) kept from later keys: the
/// decoder's first pass over several tokens, with the mask shifted by the past.
fn masked_context(
    queries: Tensor<4>,
    keys: Tensor<4>,
    values: Tensor<4>,
    past: usize,
) -> Tensor<4> {
    let scores = queries.matmul(keys.swap_dims(2, 3));
    let [_, _, steps, key_len] = scores.dims();
    let mask = causal_mask(steps, key_len, past, &scores.device());
    let dims = scores.dims();
    let scores = scores.mask_fill(mask.unsqueeze::<4>().expand(dims), MASKED_SCORE);
    softmax(scores, 3).matmul(values)
}

/// `true` where query `i` (at position `past + i`) would see key `j` from its future.
fn causal_mask(
    steps: usize,
    key_len: usize,
    past: usize,
    device: &burn::tensor::Device,
) -> Tensor<2, Bool> {
    let cells: Vec<bool> = (0..steps)
        .flat_map(|i| (0..key_len).map(move |j| j > past + i))
        .collect();
    Tensor::from_data(TensorData::new(cells, [steps, key_len]), device)
}
