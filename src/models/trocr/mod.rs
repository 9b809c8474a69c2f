pub mod config;
pub mod tokenizer;
pub mod weights;
