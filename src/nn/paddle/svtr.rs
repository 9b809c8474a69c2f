//! The PP-OCRv4 recognizer: PP-LCNetV3 features pooled to one row, the SVTR neck
//! (convolutions around two global-attention blocks) and a linear CTC head.

use burn::module::Module;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Tensor, activation};

use super::layers::{LayerNorm, swish};
use super::lcnet::LcNetV3;
use crate::cancel::CancelToken;
use crate::nn::{conv_gemm, host_linear};

/// A pre-norm transformer block with multi-head self-attention and a swish MLP.
#[derive(Module, Debug)]
pub struct SvtrBlock {
    pub norm1: LayerNorm,
    pub qkv: Linear,
    pub proj: Linear,
    pub norm2: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
    pub heads: usize,
}

impl SvtrBlock {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = x.clone().add(self.attention(self.norm1.forward(x)));
        let hidden = swish(host_linear::forward(
            &self.fc1,
            self.norm2.forward(x.clone()),
        ));
        host_linear::forward_plus(&self.fc2, hidden, x)
    }

    /// Multi-head self-attention with its projections (public for the layer timing).
    pub fn attention(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, c] = x.dims();
        let head_dim = c / self.heads;
        let qkv = host_linear::forward(&self.qkv, x)
            .reshape([b, n, 3, self.heads, head_dim])
            .permute([2, 0, 3, 1, 4]);
        let part = |i: usize| -> Tensor<4> {
            qkv.clone()
                .narrow(0, i, 1)
                .reshape([b, self.heads, n, head_dim])
        };
        let scale = (head_dim as f32).powf(-0.5);
        let scores = part(0).mul_scalar(scale).matmul(part(1).swap_dims(2, 3));
        let mixed = activation::softmax(scores, 3).matmul(part(2));
        host_linear::forward(&self.proj, mixed.swap_dims(1, 2).reshape([b, n, c]))
    }
}

/// SVTR's neck. Every convolution has its batch norm folded in and a swish after it.
#[derive(Module, Debug)]
pub struct SvtrNeck {
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub blocks: Vec<SvtrBlock>,
    pub norm: LayerNorm,
    pub conv3: Conv2d,
    /// Fuses the backbone features with the attention output (concatenated).
    pub conv4: Conv2d,
    pub conv1x1: Conv2d,
}

impl SvtrNeck {
    /// `cancel` is checked before each convolution and attention block.
    pub fn forward(&self, x: Tensor<4>, cancel: &CancelToken) -> crate::Result<Tensor<4>> {
        let shortcut = x.clone();
        cancel.check()?;
        let z = swish(conv_gemm::forward(&self.conv1, x));
        cancel.check()?;
        let z = swish(conv_gemm::forward(&self.conv2, z));
        let [b, c, h, w] = z.dims();
        let mut tokens = z.reshape([b, c, h * w]).swap_dims(1, 2);
        for block in &self.blocks {
            cancel.check()?;
            tokens = block.forward(tokens);
        }
        let z = self
            .norm
            .forward(tokens)
            .reshape([b, h, w, c])
            .permute([0, 3, 1, 2]);
        cancel.check()?;
        let z = swish(conv_gemm::forward(&self.conv3, z));
        cancel.check()?;
        let z = swish(conv_gemm::forward(
            &self.conv4,
            Tensor::cat(vec![shortcut, z], 1),
        ));
        cancel.check()?;
        Ok(swish(conv_gemm::forward(&self.conv1x1, z)))
    }
}

/// The recognizer. Input `[batch, 3, 48, W]` normalised to `[-1, 1]`; output per-timestep
/// class scores `[batch, W/8, classes]` (class 0 is the CTC blank).
#[derive(Module, Debug)]
pub struct SvtrRecognizer {
    pub backbone: LcNetV3,
    /// Average-pooling window after the backbone (PaddleOCR uses 3×2 at inference).
    pub pool: [usize; 2],
    pub neck: SvtrNeck,
    pub head: Linear,
}

impl SvtrRecognizer {
    /// Unnormalised scores `[batch, timesteps, classes]`; `cancel` is checked between
    /// the backbone's blocks and the neck's layers.
    pub fn logits(&self, x: Tensor<4>, cancel: &CancelToken) -> crate::Result<Tensor<3>> {
        let features = self.backbone.forward_last(x, cancel)?;
        let pooled = avg_pool2d(features, AvgPoolOptions::new(self.pool));
        let z = self.neck.forward(pooled, cancel)?;
        let [b, c, h, w] = z.dims();
        let sequence = z.reshape([b, c, h * w]).swap_dims(1, 2);
        Ok(host_linear::forward(&self.head, sequence))
    }

    /// Class probabilities `[batch, timesteps, classes]` (softmax of [`Self::logits`]),
    /// what the ONNX model outputs.
    pub fn forward(&self, x: Tensor<4>, cancel: &CancelToken) -> crate::Result<Tensor<3>> {
        Ok(activation::softmax(self.logits(x, cancel)?, 2))
    }
}
