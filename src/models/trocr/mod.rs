//! (TrOCR config, weights, tokenizer: to be written)

pub mod tokenizer;
