//! Building blocks shared by CRAFT and the CRNN: convolutions with their batch norm folded in.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor, TensorData};

use super::TensorSource;
use crate::{Error, Result};

/// BatchNorm's epsilon in every EasyOCR network (PyTorch's default).
const BATCH_NORM_EPS: f64 = 1e-5;

/// How to read one convolution from the state dict.
#[derive(Clone, Copy, Debug)]
pub struct ConvSpec<'a> {
    /// State-dict name of the convolution, e.g. `basenet.slice1.0`.
    pub name: &'a str,
    /// Name of the BatchNorm2d that follows it (inference only, so it is folded in).
    pub batch_norm: Option<&'a str>,
    pub channels: [usize; 2],
    pub kernel: usize,
    pub padding: usize,
    pub dilation: usize,
    /// Whether the PyTorch convolution has its own bias.
    pub bias: bool,
}

impl<'a> ConvSpec<'a> {
    pub fn new(name: &'a str, channels: [usize; 2], kernel: usize, padding: usize) -> Self {
        Self {
            name,
            batch_norm: None,
            channels,
            kernel,
            padding,
            dilation: 1,
            bias: true,
        }
    }

    pub fn batch_norm(mut self, name: &'a str) -> Self {
        self.batch_norm = Some(name);
        self
    }

    pub fn dilation(mut self, dilation: usize) -> Self {
        self.dilation = dilation;
        self
    }

    pub fn without_bias(mut self) -> Self {
        self.bias = false;
        self
    }
}

/// Loads a convolution; a following eval-mode BatchNorm is an affine map per channel, so
/// it is folded into the weights and bias (one op less per layer, same result).
pub fn load_conv(src: &mut dyn TensorSource, spec: ConvSpec, device: &Device) -> Result<Conv2d> {
    let [c_in, c_out] = spec.channels;
    let k = spec.kernel;
    let weight_shape = [c_out, c_in, k, k];
    let mut weight = floats(src, &format!("{}.weight", spec.name), &weight_shape)?;
    let mut bias = if spec.bias {
        floats(src, &format!("{}.bias", spec.name), &[c_out])?
    } else {
        vec![0.0; c_out]
    };
    if let Some(bn) = spec.batch_norm {
        fold_batch_norm(src, bn, &mut weight, &mut bias)?;
    }
    let weight = Tensor::<4>::from_data(TensorData::new(weight, weight_shape), device);
    let bias = Tensor::<1>::from_data(TensorData::new(bias, [c_out]), device);
    let p = spec.padding;
    Ok(Conv2d {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(bias)),
        stride: [1, 1],
        kernel_size: [k, k],
        dilation: [spec.dilation, spec.dilation],
        groups: 1,
        padding: PaddingConfig2d::Explicit(p, p, p, p),
    })
}

/// `conv` as two layers, one for its first `first` input channels (without the bias) and
/// one for the rest (with it): on a concatenation `[a, b]` of that split, `conv` is the sum
/// of the two layers on `a` and on `b`. `None` where `first` is not inside the channels.
pub fn split_input_channels(conv: &Conv2d, first: usize) -> Option<(Conv2d, Conv2d)> {
    let weight = conv.weight.val();
    let [_, c_in, _, _] = weight.dims();
    if first == 0 || first >= c_in {
        return None;
    }
    // Copied out, so that each half is a plain contiguous tensor for the kernels.
    let part = |from: usize, len: usize| {
        let data = weight.clone().narrow(1, from, len).into_data();
        Param::from_tensor(Tensor::<4>::from_data(data, &weight.device()))
    };
    let without_bias = Conv2d {
        weight: part(0, first),
        bias: None,
        ..conv.clone()
    };
    let with_bias = Conv2d {
        weight: part(first, c_in - first),
        ..conv.clone()
    };
    Some((without_bias, with_bias))
}

/// `bn(conv(x)) = conv(x) * s + (beta - mean * s)` with `s = gamma / sqrt(var + eps)`.
fn fold_batch_norm(
    src: &mut dyn TensorSource,
    name: &str,
    weight: &mut [f32],
    bias: &mut [f32],
) -> Result<()> {
    let n = bias.len();
    let gamma = floats(src, &format!("{name}.weight"), &[n])?;
    let beta = floats(src, &format!("{name}.bias"), &[n])?;
    let mean = floats(src, &format!("{name}.running_mean"), &[n])?;
    let var = floats(src, &format!("{name}.running_var"), &[n])?;
    let per_channel = weight.len() / n;
    for c in 0..n {
        let scale = f64::from(gamma[c]) / (f64::from(var[c]) + BATCH_NORM_EPS).sqrt();
        for w in &mut weight[c * per_channel..(c + 1) * per_channel] {
            *w = (f64::from(*w) * scale) as f32;
        }
        let shifted = (f64::from(bias[c]) - f64::from(mean[c])) * scale + f64::from(beta[c]);
        bias[c] = shifted as f32;
    }
    Ok(())
}

/// A tensor's values as `f32`, checked against `shape`.
pub fn floats(src: &mut dyn TensorSource, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let data = src.tensor(name, shape)?;
    data.try_into_vec::<f32>()
        .map_err(|source| Error::TensorData {
            what: format!("tensor {name} as float32"),
            source,
        })
}

/// A tensor on `device`, checked against `shape`.
pub fn tensor<const D: usize>(
    src: &mut dyn TensorSource,
    name: &str,
    shape: [usize; D],
    device: &Device,
) -> Result<Tensor<D>> {
    let values = floats(src, name, &shape)?;
    Ok(Tensor::from_data(TensorData::new(values, shape), device))
}

/// ReLU, spelled once.
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    burn::tensor::activation::relu(x)
}
