//! The TrOCR decoder: token and learned position embeddings (positions offset by 2), an
//! optional embedding layer norm, post-norm layers with self- and cross-attention, and the
//! output projection (its own weight, or the token embedding when tied).

use burn::module::Module;
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::tensor::{Int, Tensor, TensorData};

use super::activation::{Activation, after_linear};
use super::attention::{Attention, AttentionNames, AttentionShape};
use super::config::TrocrConfig;
use super::kv_cache::{CrossKeysValues, SelfAttentionCache};
use super::params::{ParamSource, embedding, layer_norm};
use super::per_image::{image_runs, images_per_run};
use crate::cancel::CancelToken;
use crate::nn::host_linear;

/// transformers' `TrOCRLearnedPositionalEmbedding` shifts positions by this many rows.
pub const POSITION_OFFSET: usize = 2;
/// PyTorch `nn.LayerNorm` default, used by every decoder norm.
const DECODER_NORM_EPS: f64 = 1e-5;
const PREFIX: &str = "decoder.model.decoder";

#[derive(Module, Debug)]
pub struct DecoderLayer {
    pub self_attn: Attention,
    pub self_attn_layer_norm: LayerNorm,
    pub encoder_attn: Attention,
    pub encoder_attn_layer_norm: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
    pub final_layer_norm: LayerNorm,
    #[module(skip)]
    pub activation: Activation,
}

impl DecoderLayer {
    fn build<S: ParamSource>(
        source: &mut S,
        config: &TrocrConfig,
        index: usize,
    ) -> Result<Self, S::Error> {
        let d = &config.decoder;
        let p = format!("{PREFIX}.layers.{index}");
        let attention = |source: &mut S, kind: &str, kv_width: usize| {
            let names = AttentionNames {
                query: &format!("{p}.{kind}.q_proj"),
                key: &format!("{p}.{kind}.k_proj"),
                value: &format!("{p}.{kind}.v_proj"),
                output: &format!("{p}.{kind}.out_proj"),
            };
            let shape = AttentionShape {
                width: d.d_model,
                kv_width,
                num_heads: d.decoder_attention_heads,
                qkv_bias: true,
            };
            Attention::build(source, &names, shape)
        };
        let norm = |source: &mut S, name: &str| {
            layer_norm(source, &format!("{p}.{name}"), d.d_model, DECODER_NORM_EPS)
        };
        Ok(DecoderLayer {
            self_attn: attention(source, "self_attn", d.d_model)?,
            self_attn_layer_norm: norm(source, "self_attn_layer_norm")?,
            encoder_attn: attention(source, "encoder_attn", config.cross_attention_width())?,
            encoder_attn_layer_norm: norm(source, "encoder_attn_layer_norm")?,
            fc1: super::params::linear(
                source,
                &format!("{p}.fc1"),
                d.d_model,
                d.decoder_ffn_dim,
                true,
            )?,
            fc2: super::params::linear(
                source,
                &format!("{p}.fc2"),
                d.decoder_ffn_dim,
                d.d_model,
                true,
            )?,
            final_layer_norm: norm(source, "final_layer_norm")?,
            activation: d.activation_function,
        })
    }

    fn forward(
        &self,
        x: Tensor<3>,
        index: usize,
        cross: &CrossKeysValues,
        cache: &mut SelfAttentionCache,
    ) -> Tensor<3> {
        let past = cache.len();
        let (new_keys, new_values) = self.self_attn.keys_values(x.clone());
        let (keys, values) = cache.append(index, new_keys, new_values);
        let attended = self.self_attn.attend(x.clone(), keys, values, Some(past));
        let x = self.self_attn_layer_norm.forward(x + attended);

        let (cross_keys, cross_values) = cross.layers[index].clone();
        let attended = self
            .encoder_attn
            .attend(x.clone(), cross_keys, cross_values, None);
        let x = self.encoder_attn_layer_norm.forward(x + attended);

        let inner = after_linear(self.activation, &self.fc1, x.clone());
        self.final_layer_norm
            .forward(host_linear::forward_plus(&self.fc2, inner, x))
    }
}

#[derive(Module, Debug)]
pub struct TrocrDecoder {
    pub embed_tokens: Embedding,
    pub embed_positions: Embedding,
    /// √d_model when `scale_embedding`, else 1.
    pub embed_scale: f64,
    pub layernorm_embedding: Option<LayerNorm>,
    pub layers: Vec<DecoderLayer>,
    /// `None` when tied to `embed_tokens`.
    pub output_projection: Option<Linear>,
}

impl TrocrDecoder {
    pub fn build<S: ParamSource>(source: &mut S, config: &TrocrConfig) -> Result<Self, S::Error> {
        let d = &config.decoder;
        let embed_tokens = embedding(
            source,
            &format!("{PREFIX}.embed_tokens"),
            d.vocab_size,
            d.d_model,
        )?;
        let embed_positions = embedding(
            source,
            &format!("{PREFIX}.embed_positions"),
            d.max_position_embeddings + POSITION_OFFSET,
            d.d_model,
        )?;
        let layernorm_embedding = if d.layernorm_embedding {
            Some(layer_norm(
                source,
                &format!("{PREFIX}.layernorm_embedding"),
                d.d_model,
                DECODER_NORM_EPS,
            )?)
        } else {
            None
        };
        let layers = (0..d.decoder_layers)
            .map(|i| DecoderLayer::build(source, config, i))
            .collect::<Result<Vec<_>, _>>()?;
        let output_projection = if d.tie_word_embeddings {
            None
        } else {
            Some(super::params::linear(
                source,
                "decoder.output_projection",
                d.d_model,
                d.vocab_size,
                false,
            )?)
        };
        Ok(TrocrDecoder {
            embed_tokens,
            embed_positions,
            embed_scale: if d.scale_embedding {
                (d.d_model as f64).sqrt()
            } else {
                1.0
            },
            layernorm_embedding,
            layers,
            output_projection,
        })
    }

    /// Cross-attention keys and values of every layer, from encoder states already in the
    /// decoder's cross-attention width.
    /// Layer by layer and a few images at a time, `cancel` checked before each.
    pub fn cross_keys_values(
        &self,
        encoder_states: Tensor<3>,
        cancel: &CancelToken,
    ) -> crate::Result<CrossKeysValues> {
        let mut layers = Vec::with_capacity(self.layers.len());
        let images = images_per_run(encoder_states.dims()[1]);
        for layer in &self.layers {
            let per_run = image_runs(&encoder_states, images, cancel, |states| {
                layer.encoder_attn.keys_values(states)
            })?;
            let (keys, values): (Vec<_>, Vec<_>) = per_run.into_iter().unzip();
            layers.push((Tensor::cat(keys, 0), Tensor::cat(values, 0)));
        }
        Ok(CrossKeysValues { layers })
    }

    /// Logits `[N, T, vocab]` for `input_ids` `[N, T]` that follow the positions already in
    /// `cache`; the cache grows by `T`. `cancel` is checked before each layer (a cancelled
    /// step leaves the cache half-updated: the generation it belongs to stops anyway).
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        cross: &CrossKeysValues,
        cache: &mut SelfAttentionCache,
        cancel: &CancelToken,
    ) -> crate::Result<Tensor<3>> {
        let [rows, steps] = input_ids.dims();
        let device = input_ids.device();
        let first = cache.len() + POSITION_OFFSET;
        let positions: Vec<i64> = (first..first + steps).map(|p| p as i64).collect();
        let positions = Tensor::<1, Int>::from_data(TensorData::new(positions, [steps]), &device)
            .unsqueeze::<2>()
            .expand([rows, steps]);
        let mut x = self.embed_tokens.forward(input_ids) * self.embed_scale
            + self.embed_positions.forward(positions);
        if let Some(norm) = &self.layernorm_embedding {
            x = norm.forward(x);
        }
        for (index, layer) in self.layers.iter().enumerate() {
            cancel.check()?;
            x = layer.forward(x, index, cross, cache);
        }
        cache.advance(steps);
        cancel.check()?;
        Ok(self.project(x, rows, steps))
    }

    fn project(&self, x: Tensor<3>, rows: usize, steps: usize) -> Tensor<3> {
        match &self.output_projection {
            Some(linear) => host_linear::forward(linear, x),
            None => {
                let weight = self.embed_tokens.weight.val();
                let [vocab, width] = weight.dims();
                host_linear::times_transposed(x.reshape([rows * steps, width]), weight)
                    .reshape([rows, steps, vocab])
            }
        }
    }
}
