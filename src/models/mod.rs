//! Models: the catalog, downloads and the cache, and loading weights into the networks.

pub mod onnx;
pub mod paddle;
pub mod trocr;
