//! (TrOCR config, weights, tokenizer: to be written)
