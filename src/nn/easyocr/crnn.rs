//! EasyOCR's "generation 2" recognizer (`english_g2.pth`): a small VGG feature extractor,
//! two bidirectional LSTMs and a linear CTC head. Index 0 of the output is the CTC blank.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor, TensorData};

use super::TensorSource;
use super::fresh::FreshWeights;
use super::layers::{ConvSpec, load_conv, relu};
use super::lstm::{BidirectionalLstm, load_linear};
use crate::Result;
use crate::cancel::CancelToken;
use crate::nn::banded::{conv2d_module_relu, conv2d_module_relu_pooled};
use crate::nn::differentiable_conv;
use crate::nn::max_pool;

/// Input height the network was trained for.
pub const CRNN_INPUT_HEIGHT: usize = 64;
/// Feature channels and LSTM width of generation 2 models.
const WIDTH: usize = 256;

/// The CRNN with weights loaded; see [`Crnn::forward`].
#[derive(Module, Debug)]
pub struct Crnn {
    convs: Vec<Conv2d>,
    sequence: Vec<BidirectionalLstm>,
    prediction: Linear,
}

impl Crnn {
    /// Reads the weights by EasyOCR's names; `classes` is the charset size plus one (blank).
    pub fn load(src: &mut dyn TensorSource, classes: usize, device: &Device) -> Result<Self> {
        let fe = "FeatureExtraction.ConvNet";
        let name = |i: usize| format!("{fe}.{i}");
        let (n0, n3, n6, n8) = (name(0), name(3), name(6), name(8));
        let (n11, n12, n14, n15, n18) = (name(11), name(12), name(14), name(15), name(18));
        let specs = [
            ConvSpec::new(&n0, [1, 32], 3, 1),
            ConvSpec::new(&n3, [32, 64], 3, 1),
            ConvSpec::new(&n6, [64, 128], 3, 1),
            ConvSpec::new(&n8, [128, 128], 3, 1),
            ConvSpec::new(&n11, [128, WIDTH], 3, 1)
                .without_bias()
                .batch_norm(&n12),
            ConvSpec::new(&n14, [WIDTH, WIDTH], 3, 1)
                .without_bias()
                .batch_norm(&n15),
            ConvSpec::new(&n18, [WIDTH, WIDTH], 2, 0),
        ];
        let convs = specs
            .into_iter()
            .map(|spec| load_conv(src, spec, device))
            .collect::<Result<Vec<_>>>()?;
        let sequence = (0..2)
            .map(|i| {
                let layer = format!("SequenceModeling.{i}");
                BidirectionalLstm::load(src, &layer, [WIDTH, WIDTH, WIDTH], device)
            })
            .collect::<Result<Vec<_>>>()?;
        let prediction = load_linear(src, "Prediction", [WIDTH, classes], device)?;
        Ok(Self {
            convs,
            sequence,
            prediction,
        })
    }

    /// A network of the same shape with fresh weights: to train from scratch, or to receive
    /// a saved record (which replaces every value).
    pub fn fresh(classes: usize, seed: u64, device: &Device) -> Result<Self> {
        Self::load(&mut FreshWeights::new(seed), classes, device)
    }

    /// The first `count` convolutions stop learning (their gradients are not computed at
    /// all, which also spares the backward pass below the first one that learns).
    pub fn with_frozen_convolutions(mut self, count: usize) -> Self {
        for conv in self.convs.iter_mut().take(count) {
            *conv = conv.clone().no_grad();
        }
        self
    }

    /// Output classes, the blank included.
    pub fn classes(&self) -> usize {
        self.prediction.weight.dims()[1]
    }

    /// Adds output classes after the existing ones; new class `i` starts as a copy of
    /// class `copy_of[i]` (weights and bias), so it is as likely as the letter it resembles
    /// and training only has to tell the two apart.
    pub fn with_classes_copied(mut self, copy_of: &[usize]) -> Result<Self> {
        let [input, classes] = self.prediction.weight.dims();
        if let Some(&bad) = copy_of.iter().find(|&&c| c >= classes) {
            return Err(crate::Error::Model(format!(
                "cannot copy output class {bad}: the network has {classes}"
            )));
        }
        let device = self.prediction.weight.device();
        let weight = crate::nn::into_f32_vec(self.prediction.weight.val())?;
        let bias = match &self.prediction.bias {
            Some(b) => crate::nn::into_f32_vec(b.val())?,
            None => vec![0.0; classes],
        };
        let wider = classes + copy_of.len();
        let source_of = |c: usize| if c < classes { c } else { copy_of[c - classes] };
        let new_weight: Vec<f32> = (0..input)
            .flat_map(|row| (0..wider).map(move |c| (row, c)))
            .map(|(row, c)| weight[row * classes + source_of(c)])
            .collect();
        let new_bias: Vec<f32> = (0..wider).map(|c| bias[source_of(c)]).collect();
        self.prediction.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(new_weight, [input, wider]),
            &device,
        ));
        self.prediction.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(new_bias, [wider]),
            &device,
        )));
        Ok(self)
    }

    /// `x`: `[batch, 1, 64, width]`, grey values scaled to -1..1. Returns CTC logits
    /// `[batch, width / 4 - 1, classes]` (softmax them for probabilities). For training:
    /// plain convolutions, nothing to cancel.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<3> {
        let plain = self.run::<std::convert::Infallible>(
            x,
            &mut |conv, x, pool| {
                let y = relu(differentiable_conv::forward(conv, x));
                Ok(match pool {
                    Some(kernel) => max_pool(y, kernel),
                    None => y,
                })
            },
            &mut || Ok(()),
        );
        match plain {
            Ok(logits) => logits,
            Err(never) => match never {},
        }
    }

    /// [`Self::forward`] for reading: convolutions in bands of rows and the LSTMs step by
    /// step, with `cancel` checked between them (a batch of lines takes seconds on a CPU).
    pub fn forward_cancellable(&self, x: Tensor<4>, cancel: &CancelToken) -> Result<Tensor<3>> {
        self.run(
            x,
            &mut |conv, x, pool| match pool {
                // The pools (two rows high) run inside the bands.
                Some(kernel) => {
                    let after = move |y: Tensor<4>| max_pool(y, kernel);
                    conv2d_module_relu_pooled(conv, x, &after, kernel[0], cancel)
                }
                None => conv2d_module_relu(conv, x, cancel),
            },
            &mut || cancel.check(),
        )
    }

    fn run<E>(
        &self,
        x: Tensor<4>,
        // Every convolution is followed by a ReLU, some by a max-pool of the given kernel
        // (and stride): `conv` does it all.
        conv: ConvThen<E>,
        before_step: &mut dyn FnMut() -> std::result::Result<(), E>,
    ) -> std::result::Result<Tensor<3>, E> {
        let c = &self.convs;
        let x = conv(&c[0], x, Some([2, 2]))?;
        let x = conv(&c[1], x, Some([2, 2]))?;
        let x = conv(&c[2], x, None)?;
        let x = conv(&c[3], x, Some([2, 1]))?;
        let x = conv(&c[4], x, None)?;
        let x = conv(&c[5], x, Some([2, 1]))?;
        let x = conv(&c[6], x, None)?;
        // Average the remaining rows: each column becomes one time step.
        let [batch, channels, _, time] = x.dims();
        let mut seq = x
            .mean_dim(2)
            .reshape([batch, channels, time])
            .swap_dims(1, 2);
        for layer in &self.sequence {
            seq = layer.forward(seq, before_step)?;
        }
        Ok(self.prediction.forward(seq))
    }
}

/// A convolution, its ReLU and an optional max-pool (kernel = stride), as `Crnn::run`
/// asks for them.
type ConvThen<'a, E> =
    &'a mut dyn FnMut(&Conv2d, Tensor<4>, Option<[usize; 2]>) -> std::result::Result<Tensor<4>, E>;

fn max_pool(x: Tensor<4>, kernel: [usize; 2]) -> Tensor<4> {
    max_pool::max_pool2d(x, max_pool::Window::new(kernel, kernel))
}
