//! Kraken's baseline segmenter (blla) as a page detector: input preparation as kraken does
//! it, the network of [`crate::nn::kraken`], and the post-processing from heatmaps to
//! baselines and line polygons.

pub mod baselines;
pub mod detector;
pub mod features;
pub mod heatmap;
pub mod line_frame;
pub mod order;
pub mod polygon;
pub mod prepare;
pub mod regions;
pub mod resize;
pub mod ridge;
pub mod roi;
pub mod seam;
pub mod skeleton;

pub use detector::{BllaDetector, BllaLine};
pub use prepare::{PreparedInput, input_size, prepare_input};
pub use resize::resize_lanczos_pil;
