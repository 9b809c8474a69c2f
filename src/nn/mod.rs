//! Burn networks only: tensors in, tensors out. No files, no images, no threads.

pub mod banded;
pub mod bilinear;
pub mod channel_gate;
pub mod conv_gemm;
pub mod differentiable_conv;
pub mod direct_conv;
pub mod easyocr;
mod flex_values;
pub mod host_attention;
pub mod host_linear;
pub mod kraken;
pub mod lstm_cell;
mod matmul;
pub mod max_pool;
pub mod nearest;
mod one_query;
pub mod paddle;
pub mod pointwise;
mod shifted_products;
mod softmax;
pub mod step_clock;
mod table_dots;
pub mod tiled_upsampling;
pub mod time_steps;
pub mod trocr;
mod unfilled;
pub mod vector_math;
mod winograd;

use burn::tensor::Tensor;

/// A network output copied to the host as `f32`s, row-major.
pub fn into_f32_vec<const D: usize>(t: Tensor<D>) -> crate::Result<Vec<f32>> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|source| crate::Error::TensorData {
            what: "network output as f32".into(),
            source,
        })
}
