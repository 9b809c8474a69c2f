//! The configured activation functions, computed as PyTorch's `ACT2FN` does.

use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::activation;

use crate::nn::{host_linear, vector_math};

pub use super::config::Activation;

pub fn apply<const D: usize>(kind: Activation, x: Tensor<D>) -> Tensor<D> {
    match kind {
        Activation::Gelu => vector_math::gelu_tensor(x),
        Activation::GeluTanh => activation::gelu_approximate(x),
        Activation::QuickGelu => x.clone() * activation::sigmoid(x * 1.702),
        Activation::Relu => activation::relu(x),
        Activation::Silu => activation::silu(x),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => activation::sigmoid(x),
    }
}

/// `apply(kind, linear.forward(x))`, the exact GELU done as the product finishes its rows.
pub fn after_linear<const D: usize>(kind: Activation, linear: &Linear, x: Tensor<D>) -> Tensor<D> {
    match kind {
        Activation::Gelu => host_linear::forward_gelu(linear, x),
        _ => apply(kind, host_linear::forward(linear, x)),
    }
}
