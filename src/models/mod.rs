//! Models: the catalog, downloads and the cache, and loading weights into the networks.

pub mod easyocr;
pub mod trocr;
