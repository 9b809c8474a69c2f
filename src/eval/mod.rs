//! Evaluation: CER, WER, line detection (to be written).
