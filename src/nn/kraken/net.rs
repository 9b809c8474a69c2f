//! Kraken's segmentation network, assembled from a parsed VGSL spec and the weights of each
//! of its layers: an image tensor in, the output heatmaps' logits out.

use burn::tensor::activation::{leaky_relu, relu, softmax, tanh};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

use super::lstm::{AxisLstm, LstmWeights};
use super::vgsl::{Activation, VgslLayer, VgslSpec};
use crate::cancel::CancelToken;
use crate::nn::banded::{conv2d_banded, in_timed_parts};

/// PyTorch's `nn.GroupNorm` epsilon, which kraken keeps.
const GROUP_NORM_EPS: f64 = 1e-5;
/// PyTorch's `nn.LeakyReLU` default slope.
const LEAKY_SLOPE: f64 = 0.01;

/// The weights of one layer, in PyTorch's layouts.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerWeights {
    /// `weight` `[out, in, ky, kx]`, `bias` `[out]`.
    Conv { weight: Vec<f32>, bias: Vec<f32> },
    /// Per-channel scale and shift.
    GroupNorm { weight: Vec<f32>, bias: Vec<f32> },
    /// One entry per direction, forward first.
    Lstm(Vec<LstmWeights>),
    /// Layers without weights (dropout).
    None,
}

/// Weights that do not fit the spec's layer: the loader checks sizes first, so this is a
/// second line of defence that keeps a bad file from reaching a panicking tensor op.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetError {
    #[error("layer {layer}: {what} has {found} values, the spec needs {expected}")]
    WrongSize {
        layer: String,
        what: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("layer {layer}: got {found} weights, the spec needs {expected}")]
    WrongKind {
        layer: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("the spec has {layers} layers but {weights} sets of weights were given")]
    LayerCount { layers: usize, weights: usize },
}

impl LayerWeights {
    fn kind(&self) -> &'static str {
        match self {
            LayerWeights::Conv { .. } => "convolution",
            LayerWeights::GroupNorm { .. } => "group norm",
            LayerWeights::Lstm(_) => "LSTM",
            LayerWeights::None => "no",
        }
    }
}

#[derive(Debug, Clone)]
struct Conv {
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
    activation: Activation,
}

/// PyTorch's `nn.GroupNorm` (biased variance, affine). The statistics are summed in two
/// levels (along rows, then over rows and channels): a flat f32 sum over a whole group of a
/// page-sized map (a quarter million values) drifts enough to move the output by 1e-2.
#[derive(Debug, Clone)]
struct GroupNorm {
    groups: usize,
    weight: Tensor<1>,
    bias: Tensor<1>,
}

/// Values normalised between two cancel checks: a page-sized map is tens of millions, and
/// each pass over it a fraction of a second.
const GROUP_NORM_VALUES_PER_CHUNK: usize = 8_000_000;

/// A per-channel affine map `x * scale + shift` (`[n, c, 1, 1]` each): a GroupNorm's
/// normalisation, left for the next layer to apply band by band to what it reads, so the
/// normalised page-sized map is never made in one uncancellable pass.
#[derive(Debug, Clone)]
struct ChannelAffine {
    scale: Tensor<4>,
    shift: Tensor<4>,
}

impl ChannelAffine {
    fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        x * self.scale.clone() + self.shift.clone()
    }
}

impl GroupNorm {
    /// The normalisation of `x` as a [`ChannelAffine`]: statistics a few groups at a time
    /// (each group's are its own), `cancel` checked between every pass over a chunk.
    fn affine(&self, x: &Tensor<4>, cancel: &CancelToken) -> crate::Result<ChannelAffine> {
        let [n, c, h, w] = x.dims();
        let per_group = c / self.groups;
        let group_values = (n * per_group * h * w).max(1);
        let chunk = (GROUP_NORM_VALUES_PER_CHUNK / group_values).clamp(1, self.groups);
        // Chunks sized by time after the first, like convolution bands (the budget is an
        // estimate of the rate, and a loaded machine runs slower than any estimate).
        let (mut means, mut inv_stds) = (Vec::new(), Vec::new());
        in_timed_parts(self.groups, chunk, 1, |part| {
            let groups = part.len();
            let slice = x
                .clone()
                .narrow(1, part.start * per_group, groups * per_group);
            let (mean, inv_std) = statistics(slice, groups, cancel)?;
            means.push(mean);
            inv_stds.push(inv_std);
            Ok(())
        })?;
        let per_channel = |parts: Vec<Tensor<4>>| {
            Tensor::cat(parts, 1)
                .reshape([n, self.groups, 1])
                .expand([n, self.groups, per_group])
                .reshape([n, c, 1, 1])
        };
        let scale = per_channel(inv_stds) * self.weight.clone().reshape([1, c, 1, 1]);
        let shift = self.bias.clone().reshape([1, c, 1, 1]) - per_channel(means) * scale.clone();
        Ok(ChannelAffine { scale, shift })
    }
}

/// Mean and `1 / sqrt(var + eps)` of each of the `groups` whole groups in `x`, as
/// `[n, groups, 1, 1]`.
fn statistics(
    x: Tensor<4>,
    groups: usize,
    cancel: &CancelToken,
) -> crate::Result<(Tensor<4>, Tensor<4>)> {
    let [n, c, h, w] = x.dims();
    let grouped = x.reshape([n, groups, (c / groups) * h, w]);
    let two_level_mean = |t: Tensor<4>| t.mean_dim(3).mean_dim(2);
    cancel.check()?;
    let mean = two_level_mean(grouped.clone());
    cancel.check()?;
    let var = two_level_mean((grouped - mean.clone()).square());
    Ok((mean, (var + GROUP_NORM_EPS).sqrt().recip()))
}

#[derive(Debug)]
enum Block {
    Conv(Box<Conv>),
    GroupNorm(Box<GroupNorm>),
    Lstm(Box<AxisLstm>),
}

/// The network of a kraken segmentation model.
#[derive(Debug)]
pub struct SegNet {
    blocks: Vec<Block>,
    /// Input channels (1 or 3).
    pub channels: usize,
    /// Output heatmaps.
    pub outputs: usize,
}

fn check(layer: &str, what: &'static str, expected: usize, v: &[f32]) -> Result<(), NetError> {
    if v.len() == expected {
        Ok(())
    } else {
        Err(NetError::WrongSize {
            layer: layer.to_string(),
            what,
            expected,
            found: v.len(),
        })
    }
}

impl SegNet {
    /// Builds the network of `spec` from one [`LayerWeights`] per spec layer, in order.
    pub fn new(
        spec: &VgslSpec,
        weights: Vec<LayerWeights>,
        device: &Device,
    ) -> Result<Self, NetError> {
        if weights.len() != spec.layers.len() {
            return Err(NetError::LayerCount {
                layers: spec.layers.len(),
                weights: weights.len(),
            });
        }
        let mut blocks = Vec::new();
        for (layer, w) in spec.layers.iter().zip(weights) {
            let name = layer.name().unwrap_or("dropout");
            let wrong = |w: &LayerWeights, expected| NetError::WrongKind {
                layer: name.to_string(),
                expected,
                found: w.kind(),
            };
            match (layer, w) {
                (
                    VgslLayer::Conv {
                        activation,
                        kernel,
                        input,
                        output,
                        stride,
                        dilation,
                        ..
                    },
                    LayerWeights::Conv { weight, bias },
                ) => {
                    let shape = [*output, *input, kernel[0], kernel[1]];
                    check(name, "weight", shape.iter().product(), &weight)?;
                    check(name, "bias", *output, &bias)?;
                    // kraken pads `dilation * (k - 1) / 2` on each side ("no dropped columns").
                    let padding = [0, 1].map(|i| dilation[i] * (kernel[i] - 1) / 2);
                    blocks.push(Block::Conv(Box::new(Conv {
                        weight: Tensor::from_data(TensorData::new(weight, shape), device),
                        bias: Tensor::from_data(TensorData::new(bias, [*output]), device),
                        options: ConvOptions::new(*stride, padding, *dilation, 1),
                        activation: *activation,
                    })));
                }
                (
                    VgslLayer::GroupNorm {
                        channels, groups, ..
                    },
                    LayerWeights::GroupNorm { weight, bias },
                ) => {
                    check(name, "weight", *channels, &weight)?;
                    check(name, "bias", *channels, &bias)?;
                    let t = |v| Tensor::from_data(TensorData::new(v, [*channels]), device);
                    blocks.push(Block::GroupNorm(Box::new(GroupNorm {
                        groups: *groups,
                        weight: t(weight),
                        bias: t(bias),
                    })));
                }
                (
                    VgslLayer::Lstm {
                        direction,
                        axis,
                        input,
                        hidden,
                        ..
                    },
                    LayerWeights::Lstm(dirs),
                ) => {
                    if dirs.len() != direction.count() {
                        return Err(NetError::WrongSize {
                            layer: name.to_string(),
                            what: "directions",
                            expected: direction.count(),
                            found: dirs.len(),
                        });
                    }
                    for d in &dirs {
                        check(name, "input weights", 4 * hidden * input, &d.w_ih)?;
                        check(name, "recurrent weights", 4 * hidden * hidden, &d.w_hh)?;
                        check(name, "biases", 4 * hidden, &d.bias)?;
                    }
                    blocks.push(Block::Lstm(Box::new(AxisLstm::new(
                        *axis,
                        *direction,
                        [*input, *hidden],
                        dirs,
                        device,
                    ))));
                }
                (VgslLayer::Dropout, LayerWeights::None) => {}
                (VgslLayer::Conv { .. }, w) => return Err(wrong(&w, "convolution")),
                (VgslLayer::GroupNorm { .. }, w) => return Err(wrong(&w, "group norm")),
                (VgslLayer::Lstm { .. }, w) => return Err(wrong(&w, "LSTM")),
                (VgslLayer::Dropout, w) => return Err(wrong(&w, "no")),
            }
        }
        Ok(Self {
            blocks,
            channels: spec.channels,
            outputs: spec.output_channels(),
        })
    }

    /// `[n, channels, h, w]` → logits `[n, outputs, ⌈h/s⌉, ⌈w/s⌉]` (`s` the total stride).
    /// Apply a sigmoid for the heatmaps. A page takes minutes on a CPU, so `cancel` is
    /// checked between bands of every convolution and between the LSTMs' time steps.
    pub fn forward(&self, x: Tensor<4>, cancel: &CancelToken) -> crate::Result<Tensor<4>> {
        let mut x = x;
        let mut pending = None;
        for block in &self.blocks {
            (x, pending) = Self::block(x, pending, block, cancel)?;
        }
        Self::settle(x, pending, cancel)
    }

    /// [`Self::forward`] with the time each layer took (waiting for its output), for
    /// benchmarks: `(layer kind, seconds)` in order. A GroupNorm's time is its statistics;
    /// its normalisation is part of the next layer's.
    pub fn forward_profiled(
        &self,
        x: Tensor<4>,
    ) -> crate::Result<(Tensor<4>, Vec<(&'static str, f64)>)> {
        let never = CancelToken::new();
        let mut times = Vec::new();
        let mut x = x;
        let mut pending = None;
        for block in &self.blocks {
            let started = std::time::Instant::now();
            (x, pending) = Self::block(x, pending, block, &never)?;
            // Reading one value waits for the layer on any backend.
            let _ = x.clone().slice([0..1, 0..1, 0..1, 0..1]).into_data();
            let kind = match block {
                Block::Conv(_) => "conv",
                Block::GroupNorm(_) => "group norm",
                Block::Lstm(_) => "lstm",
            };
            times.push((kind, started.elapsed().as_secs_f64()));
        }
        Ok((Self::settle(x, pending, &never)?, times))
    }

    /// A pending affine applied to the whole map, where no layer follows to do it.
    fn settle(
        x: Tensor<4>,
        pending: Option<ChannelAffine>,
        cancel: &CancelToken,
    ) -> crate::Result<Tensor<4>> {
        Ok(match pending {
            Some(affine) => {
                cancel.check()?;
                affine.apply(x)
            }
            None => x,
        })
    }

    /// One layer on `x` (first mapped by `pending`, if any); a GroupNorm returns its input
    /// and its own affine as the next pending one.
    fn block(
        x: Tensor<4>,
        pending: Option<ChannelAffine>,
        block: &Block,
        cancel: &CancelToken,
    ) -> crate::Result<(Tensor<4>, Option<ChannelAffine>)> {
        let before = |x: Tensor<4>| match &pending {
            Some(affine) => affine.apply(x),
            None => x,
        };
        Ok(match block {
            Block::Conv(c) => {
                let bias = Some(c.bias.clone());
                // The activation runs band by band with the convolution (softmax is over
                // channels, so a band holds all it needs).
                let activation = |y: Tensor<4>| match c.activation {
                    Activation::Relu => relu(y),
                    Activation::Tanh => tanh(y),
                    Activation::LeakyRelu => leaky_relu(y, LEAKY_SLOPE),
                    Activation::Softmax => softmax(y, 1),
                    // kraken keeps sigmoid convolutions as logits, in training and inference.
                    Activation::Sigmoid | Activation::Linear => y,
                };
                let (weight, options) = (c.weight.clone(), c.options.clone());
                let y = conv2d_banded(x, &before, weight, bias, options, &activation, cancel)?;
                (y, None)
            }
            Block::GroupNorm(g) => {
                let x = Self::settle(x, pending.clone(), cancel)?;
                let affine = g.affine(&x, cancel)?;
                (x, Some(affine))
            }
            Block::Lstm(l) => (l.forward(x, &before, cancel)?, None),
        })
    }
}
