//! Small building blocks shared by the detector and the recognizer.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::{Tensor, activation};

use crate::nn::channel_gate;

/// Stride, padding and grouping of a convolution, as the ONNX graph gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    pub groups: usize,
}

/// A convolution from ready weights (`[out, in/groups, kh, kw]`) and an optional bias.
pub fn conv2d(weight: Tensor<4>, bias: Option<Tensor<1>>, g: ConvGeometry) -> Conv2d {
    let [_, _, kh, kw] = weight.dims();
    Conv2d {
        weight: Param::from_tensor(weight),
        bias: bias.map(Param::from_tensor),
        stride: g.stride,
        kernel_size: [kh, kw],
        dilation: [1, 1],
        groups: g.groups,
        padding: PaddingConfig2d::Explicit(g.pads[0], g.pads[1], g.pads[2], g.pads[3]),
    }
}

/// A transposed convolution without padding (`weight`: `[in, out, kh, kw]`).
pub fn conv_transpose2d(weight: Tensor<4>, bias: Tensor<1>, stride: [usize; 2]) -> ConvTranspose2d {
    let [c_in, c_out, kh, kw] = weight.dims();
    ConvTranspose2d {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(bias)),
        stride,
        kernel_size: [kh, kw],
        dilation: [1, 1],
        groups: 1,
        padding: [0, 0],
        padding_out: [0, 0],
        channels: [c_in, c_out],
    }
}

/// PP-LCNetV3's learnable affine block: `scale * x + bias` with two learned scalars.
#[derive(Module, Debug)]
pub struct Affine {
    pub scale: f32,
    pub bias: f32,
}

impl Affine {
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        x.mul_scalar(self.scale).add_scalar(self.bias)
    }

    /// `self.forward(hard_swish(x))` over values in place: one pass where the tensors take
    /// three.
    pub fn after_hard_swish(&self, values: &mut [f32]) {
        for v in values {
            let gate = (*v / 6.0 + 0.5).clamp(0.0, 1.0);
            *v = self.scale * (*v * gate) + self.bias;
        }
    }
}

/// `x * relu6(x + 3) / 6` (the export's form) as `x * clamp(x / 6 + 1/2, 0, 1)`: Burn's
/// hard sigmoid is one pass over the tensor on Flex, where the export's form took three,
/// and hard swish follows every LCNet block (it was 15 % of a printed page's CPU profile).
pub fn hard_swish<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    activation::hard_swish(x)
}

/// `x * sigmoid(x)`.
pub fn swish<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone().mul(activation::sigmoid(x))
}

/// Squeeze-and-excitation: a per-channel gate from the global average.
/// With `residual` the gated map is added to the input (the DB neck's RSE layers).
#[derive(Module, Debug)]
pub struct SqueezeExcite {
    pub reduce: Conv2d,
    pub expand: Conv2d,
    /// Slope of the hard sigmoid (1/6 in the backbone, 0.2 in the DB neck).
    pub slope: f32,
    pub residual: bool,
}

impl SqueezeExcite {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let pooled = x.clone().mean_dim(3).mean_dim(2);
        let hidden = activation::relu(self.reduce.forward(pooled));
        let gate = activation::hard_sigmoid(self.expand.forward(hidden), self.slope as f64, 0.5);
        channel_gate::apply(x, gate, self.residual)
    }
}

/// Layer normalisation over the last dimension.
#[derive(Module, Debug)]
pub struct LayerNorm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    pub epsilon: f32,
}

impl LayerNorm {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let (var, mean) = x.clone().var_mean_bias(2);
        let normed = x.sub(mean).div(var.add_scalar(self.epsilon).sqrt());
        normed
            .mul(self.gamma.val().unsqueeze::<3>())
            .add(self.beta.val().unsqueeze::<3>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn hard_swish_matches_its_definition() {
        let device = Device::flex();
        let x =
            Tensor::<1>::from_data(TensorData::new(vec![-4.0f32, -1.0, 0.5, 4.0], [4]), &device);
        let y: Vec<f32> = hard_swish(x).into_data().try_to_vec().unwrap();
        let want = [0.0, -2.0 / 6.0, 0.5 * 3.5 / 6.0, 4.0];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
