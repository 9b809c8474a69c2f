//! Kraken's segmentation networks (e.g. `blla`, its default baseline segmenter) in Burn,
//! built from the VGSL spec the model carries, so any kraken segmentation model with these
//! layer types runs. Weights come in as plain vectors ([`LayerWeights`]); no files here.

pub mod lstm;
pub mod net;
pub mod vgsl;

pub use lstm::LstmWeights;
pub use net::{LayerWeights, NetError, SegNet};
pub use vgsl::{VgslError, VgslLayer, VgslSpec};
