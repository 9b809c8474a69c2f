//! Burn networks only: tensors in, tensors out. No files, no images, no threads.

pub mod easyocr;
pub mod paddle;
pub mod trocr;
