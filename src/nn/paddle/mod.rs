//! PaddleOCR PP-OCRv4 networks: the PP-LCNetV3 backbone, the DBNet text detector and the
//! SVTR-LCNet CTC recognizer, mirroring the graphs of RapidOCR's ONNX exports.
//!
//! Batch norms are folded into the preceding convolution when the weights are loaded
//! (see `crate::models::paddle`), so every layer here is a plain convolution.

pub mod db;
pub mod layers;
pub mod lcnet;
pub mod svtr;

pub use db::DbNet;
pub use lcnet::LcNetV3;
pub use svtr::SvtrRecognizer;
