//! EasyOCR's networks in Burn: the CRAFT text detector and the "generation 2" English CRNN.
//!
//! Weights come from a [`TensorSource`] keyed by PyTorch state-dict names (without the
//! `module.` prefix that DataParallel adds), so these modules never touch files.

pub mod craft;
pub mod crnn;
pub mod fresh;
pub mod layers;
pub mod lstm;

pub use craft::{Craft, CraftMaps};
pub use crnn::Crnn;

use burn::tensor::TensorData;

use crate::Result;

/// Where the networks get their weights: one float tensor per PyTorch name.
pub trait TensorSource {
    /// The tensor stored under `name`, which must have exactly `shape`; the error names
    /// the tensor when it is missing or misshapen.
    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<TensorData>;
}
