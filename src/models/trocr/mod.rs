/// The model's JSON configuration lives with the network it configures; this path is kept
/// for the loaders and callers that find model folders.
pub use crate::nn::trocr::config;
pub mod tokenizer;
pub mod weights;
