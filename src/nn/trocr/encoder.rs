//! The image encoder: ViT (one class token; trocr-base/large) or DeiT (class and
//! distillation tokens; trocr-small). Pre-norm transformer layers, a final layer norm.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, Linear, PaddingConfig2d};
use burn::tensor::Tensor;

use crate::nn::host_linear;

use super::activation::{Activation, after_linear};
use super::attention::{Attention, AttentionNames, AttentionShape};
use super::config::{EncoderConfig, EncoderKind};
use super::params::{INIT_STD, Init, ParamSource, layer_norm, linear};
use super::per_image::{images_per_run, map_image_runs};
use crate::cancel::CancelToken;

#[derive(Module, Debug)]
pub struct EncoderLayer {
    pub layernorm_before: LayerNorm,
    pub attention: Attention,
    pub layernorm_after: LayerNorm,
    pub intermediate: Linear,
    pub output: Linear,
    #[module(skip)]
    pub activation: Activation,
}

impl EncoderLayer {
    fn build<S: ParamSource>(
        source: &mut S,
        config: &EncoderConfig,
        index: usize,
    ) -> Result<Self, S::Error> {
        let p = format!("encoder.encoder.layer.{index}");
        let (h, eps) = (config.hidden_size, config.layer_norm_eps);
        let names = AttentionNames {
            query: &format!("{p}.attention.attention.query"),
            key: &format!("{p}.attention.attention.key"),
            value: &format!("{p}.attention.attention.value"),
            output: &format!("{p}.attention.output.dense"),
        };
        let shape = AttentionShape {
            width: h,
            kv_width: h,
            num_heads: config.num_attention_heads,
            qkv_bias: config.qkv_bias,
        };
        Ok(EncoderLayer {
            layernorm_before: layer_norm(source, &format!("{p}.layernorm_before"), h, eps)?,
            attention: Attention::build(source, &names, shape)?,
            layernorm_after: layer_norm(source, &format!("{p}.layernorm_after"), h, eps)?,
            intermediate: linear(
                source,
                &format!("{p}.intermediate.dense"),
                h,
                config.intermediate_size,
                true,
            )?,
            output: linear(
                source,
                &format!("{p}.output.dense"),
                config.intermediate_size,
                h,
                true,
            )?,
            activation: config.hidden_act,
        })
    }

    /// A few images at a time, attention and MLP apart, `cancel` checked before each part.
    fn forward(&self, x: Tensor<3>, cancel: &CancelToken) -> crate::Result<Tensor<3>> {
        let images = self.images_per_run(&x);
        let x = map_image_runs(x, images, cancel, |x| {
            let normed = self.layernorm_before.forward(x.clone());
            self.attention.forward_self(normed, x)
        })?;
        map_image_runs(x, images, cancel, |x| {
            let normed = self.layernorm_after.forward(x.clone());
            let inner = after_linear(self.activation, &self.intermediate, normed);
            host_linear::forward_plus(&self.output, inner, x)
        })
    }

    /// Images whose attention or MLP runs in one part: [`images_per_run`], within
    /// [`MACS_PER_RUN`], at least one.
    fn images_per_run(&self, x: &Tensor<3>) -> usize {
        let [_, tokens, hidden] = x.dims();
        let [_, intermediate] = self.intermediate.weight.dims();
        let mlp = 2 * tokens * hidden * intermediate;
        images_per_run(tokens).min(MACS_PER_RUN / mlp.max(1)).max(1)
    }
}

/// Multiply-adds of a part's MLP, at most: about 0.1 s on this 2-core machine, well within
/// what a Cancel may wait (trocr-large's images go two at a time).
const MACS_PER_RUN: usize = 10_000_000_000;

#[derive(Module, Debug)]
pub struct VisionEncoder {
    pub patch_embedding: Conv2d,
    pub cls_token: Param<Tensor<3>>,
    /// DeiT only.
    pub distillation_token: Option<Param<Tensor<3>>>,
    pub position_embeddings: Param<Tensor<3>>,
    pub layers: Vec<EncoderLayer>,
    pub layernorm: LayerNorm,
    /// Carried because checkpoints hold it and transformers counts it; reading text never
    /// uses it. `None` when a checkpoint comes without one.
    pub pooler: Option<Linear>,
    /// `[height, width]` the position table was made for.
    #[module(skip)]
    pub image_size: [usize; 2],
}

impl VisionEncoder {
    pub fn build<S: ParamSource>(source: &mut S, config: &EncoderConfig) -> Result<Self, S::Error> {
        let h = config.hidden_size;
        let distillation_token = match config.model_type {
            EncoderKind::Vit => None,
            EncoderKind::Deit => Some(Param::from_tensor(source.tensor(
                "encoder.embeddings.distillation_token",
                [1, 1, h],
                Init::Normal { std: INIT_STD },
            )?)),
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| EncoderLayer::build(source, config, i))
            .collect::<Result<Vec<_>, _>>()?;
        let pooler = if source.has_prefix("encoder.pooler.") {
            Some(linear(
                source,
                "encoder.pooler.dense",
                h,
                config.pooler_width(),
                true,
            )?)
        } else {
            None
        };
        Ok(VisionEncoder {
            patch_embedding: patch_embedding(source, config)?,
            cls_token: Param::from_tensor(source.tensor(
                "encoder.embeddings.cls_token",
                [1, 1, h],
                Init::Normal { std: INIT_STD },
            )?),
            distillation_token,
            position_embeddings: Param::from_tensor(source.tensor(
                "encoder.embeddings.position_embeddings",
                [1, config.sequence_length(), h],
                Init::Normal { std: INIT_STD },
            )?),
            layers,
            layernorm: layer_norm(source, "encoder.layernorm", h, config.layer_norm_eps)?,
            pooler,
            image_size: config.image_size,
        })
    }

    /// `[B, C, H, W]` pixels to `[B, tokens, hidden]` states after the final layer norm;
    /// `cancel` is checked inside each transformer layer (see [`EncoderLayer::forward`]).
    pub fn forward(
        &self,
        pixel_values: Tensor<4>,
        cancel: &CancelToken,
    ) -> crate::Result<Tensor<3>> {
        let patches = self.patch_embedding.forward(pixel_values);
        let [batch, width, grid_h, grid_w] = patches.dims();
        let patches = patches
            .reshape([batch, width, grid_h * grid_w])
            .swap_dims(1, 2);
        let mut tokens = vec![self.cls_token.val().expand([batch, 1, width])];
        if let Some(distillation) = &self.distillation_token {
            tokens.push(distillation.val().expand([batch, 1, width]));
        }
        tokens.push(patches);
        let x = Tensor::cat(tokens, 1);
        let dims = x.dims();
        let mut x = x + self.position_embeddings.val().expand(dims);
        for layer in &self.layers {
            x = layer.forward(x, cancel)?;
        }
        Ok(self.layernorm.forward(x))
    }
}

/// Non-overlapping patches: a convolution whose kernel and stride are the patch size.
fn patch_embedding<S: ParamSource>(
    source: &mut S,
    config: &EncoderConfig,
) -> Result<Conv2d, S::Error> {
    let (h, c, p) = (config.hidden_size, config.num_channels, config.patch_size);
    let prefix = "encoder.embeddings.patch_embeddings.projection";
    let weight = source.tensor(
        &format!("{prefix}.weight"),
        [h, c, p, p],
        Init::Normal { std: INIT_STD },
    )?;
    let bias = source.tensor(&format!("{prefix}.bias"), [h], Init::Zeros)?;
    Ok(Conv2d {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(bias)),
        stride: [p, p],
        kernel_size: [p, p],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Valid,
    })
}
