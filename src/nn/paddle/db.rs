//! DBNet as PP-OCRv4 ships it: PP-LCNetV3 features, an RSE-FPN neck and the
//! differentiable-binarization head, of which inference needs only the probability map.

use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::{Tensor, activation};

use crate::cancel::CancelToken;
use crate::nn::{conv_gemm, nearest, tiled_upsampling, vector_math};

use super::layers::SqueezeExcite;
use super::lcnet::LcNetV3;

/// A convolution followed by a residual squeeze-and-excitation.
#[derive(Module, Debug)]
pub struct RseLayer {
    pub conv: Conv2d,
    pub se: SqueezeExcite,
}

impl RseLayer {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.se.forward(conv_gemm::forward(&self.conv, x))
    }
}

/// The probability head: a 3×3 convolution and two ×2 transposed convolutions
/// (batch norms folded), then a sigmoid; on the CPU the transposed ones by
/// `nn::tiled_upsampling`, their activations in the same pass.
#[derive(Module, Debug)]
pub struct DbHead {
    pub conv: Conv2d,
    pub up1: ConvTranspose2d,
    pub up2: ConvTranspose2d,
}

impl DbHead {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.upsample(activation::relu(conv_gemm::forward(&self.conv, x)))
    }

    /// The two transposed convolutions and their activations.
    pub fn upsample(&self, x: Tensor<4>) -> Tensor<4> {
        let x = match tiled_upsampling::forward_then(&self.up1, x, relu_in_place) {
            Ok(y) => y,
            Err(x) => activation::relu(self.up1.forward(x)),
        };
        match tiled_upsampling::forward_then(&self.up2, x, vector_math::sigmoid_in_place) {
            Ok(y) => y,
            Err(x) => activation::sigmoid(self.up2.forward(x)),
        }
    }
}

fn relu_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// The detector. Input `[batch, 3, H, W]` with H and W multiples of 32, normalised to
/// `(x/255 - 0.5) / 0.5`; output the text probability `[batch, 1, H, W]`.
#[derive(Module, Debug)]
pub struct DbNet {
    pub backbone: LcNetV3,
    /// 1×1 convolutions from each backbone stage to the neck (PaddleOCR's `layer_list`).
    pub lateral: Vec<Conv2d>,
    /// Per stage, shallowest first: reduce to the neck width.
    pub inputs: Vec<RseLayer>,
    /// Per stage, shallowest first: reduce to a quarter before fusing.
    pub outputs: Vec<RseLayer>,
    pub head: DbHead,
}

impl DbNet {
    /// The text-probability map; `cancel` is checked between backbone blocks and neck layers.
    pub fn forward(&self, x: Tensor<4>, cancel: &CancelToken) -> crate::Result<Tensor<4>> {
        let features = self.backbone.forward(x, cancel)?;
        cancel.check()?;
        let mut levels = Vec::with_capacity(features.len());
        for ((f, lateral), input) in features.into_iter().zip(&self.lateral).zip(&self.inputs) {
            cancel.check()?;
            levels.push(input.forward(conv_gemm::forward(lateral, f)));
        }
        // Top-down: each level adds the upsampled level above it.
        for i in (0..levels.len().saturating_sub(1)).rev() {
            levels[i] = nearest::add_upsampled(levels[i].clone(), levels[i + 1].clone(), 2);
        }
        // Deepest first in the concatenation, each brought to the shallowest resolution.
        let mut fused = Vec::with_capacity(levels.len());
        for (i, (level, out)) in levels.into_iter().zip(&self.outputs).enumerate() {
            cancel.check()?;
            fused.push((out.forward(level), 1 << i));
        }
        fused.reverse();
        cancel.check()?;
        Ok(self.head.forward(nearest::cat_upsampled(fused)))
    }
}
