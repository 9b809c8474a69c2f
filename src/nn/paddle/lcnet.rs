//! PP-LCNetV3, the backbone of both PP-OCRv4 networks, in its re-parameterised
//! (inference) form: each block is a depthwise and a pointwise convolution, each followed
//! by a learnable affine and (mostly) a hard swish with its own affine.

#![allow(
    clippy::result_large_err,
    reason = "`Err` gives the input tensor back to the caller: no larger than `Ok`'s output"
)]

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

use crate::cancel::CancelToken;
use crate::nn::{conv_gemm, direct_conv, pointwise};

use super::layers::{Affine, SqueezeExcite, hard_swish};

/// One re-parameterised convolution: `conv → affine → [hard swish → affine]`, the first
/// affine folded into the convolution's weights when the model is loaded.
#[derive(Module, Debug)]
pub struct RepLayer {
    pub conv: Conv2d,
    /// The affine after the hard swish; `None` where the layer has no activation
    /// (PaddleOCR skips it after a depthwise convolution of stride 2).
    pub act: Option<Affine>,
}

impl RepLayer {
    /// On the CPU, pointwise and depthwise layers run on our own kernels with the
    /// activation applied by their tasks (`nn::pointwise`, `nn::direct_conv`).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let own = match &self.act {
            Some(after) => own_kernels(&self.conv, x, |values| after.after_hard_swish(values)),
            None => own_kernels(&self.conv, x, |_| {}),
        };
        match (own, &self.act) {
            (Ok(y), _) => y,
            (Err(x), Some(after)) => after.forward(hard_swish(conv_gemm::forward(&self.conv, x))),
            (Err(x), None) => conv_gemm::forward(&self.conv, x),
        }
    }
}

/// `conv` then `activation` by `nn::pointwise` or `nn::direct_conv`, `Err(x)` where neither
/// takes the layer.
fn own_kernels(
    conv: &Conv2d,
    x: Tensor<4>,
    activation: impl Fn(&mut [f32]) + Sync,
) -> Result<Tensor<4>, Tensor<4>> {
    pointwise::forward_then(conv, x, &activation)
        .or_else(|x| direct_conv::forward_then(conv, x, &activation))
}

/// A depthwise-separable block with an optional squeeze-and-excitation between the two.
#[derive(Module, Debug)]
pub struct LcBlock {
    pub depthwise: RepLayer,
    pub se: Option<SqueezeExcite>,
    pub pointwise: RepLayer,
}

impl LcBlock {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut y = self.depthwise.forward(x);
        if let Some(se) = &self.se {
            y = se.forward(y);
        }
        self.pointwise.forward(y)
    }
}

/// The backbone: a strided stem (batch norm folded in, no activation) and the blocks.
#[derive(Module, Debug)]
pub struct LcNetV3 {
    pub stem: Conv2d,
    pub blocks: Vec<LcBlock>,
    /// Indices of the blocks whose outputs are returned (the ends of the stages).
    #[module(skip)]
    pub taps: Vec<usize>,
}

impl LcNetV3 {
    /// The first layer (three input channels, stride 2): by `nn::direct_conv` on the CPU.
    pub fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        direct_conv::forward_then(&self.stem, x, |_| {}).unwrap_or_else(|x| self.stem.forward(x))
    }

    /// The feature maps after each tapped block, shallowest first; `cancel` is checked
    /// before each block.
    pub fn forward(&self, x: Tensor<4>, cancel: &CancelToken) -> crate::Result<Vec<Tensor<4>>> {
        let mut x = self.stem(x);
        let mut features = Vec::with_capacity(self.taps.len());
        for (i, block) in self.blocks.iter().enumerate() {
            cancel.check()?;
            x = block.forward(x);
            if self.taps.contains(&i) {
                features.push(x.clone());
            }
        }
        Ok(features)
    }

    /// The output of the last block; `cancel` is checked before each block.
    pub fn forward_last(&self, x: Tensor<4>, cancel: &CancelToken) -> crate::Result<Tensor<4>> {
        let mut x = self.stem(x);
        for block in &self.blocks {
            cancel.check()?;
            x = block.forward(x);
        }
        Ok(x)
    }
}
