//! Kraken's baseline segmenter (blla) as a page detector: input preparation as kraken does
//! it, the network of [`crate::nn::kraken`], and the post-processing from heatmaps to
//! baselines and line polygons.

pub mod prepare;
pub mod resize;

pub use prepare::{PreparedInput, input_size, prepare_input};
pub use resize::resize_lanczos_pil;
