//! Fresh weights for the EasyOCR networks, by the same names and shapes as a state dict, so
//! a network built from scratch (to train, or to receive a saved record) goes through the
//! very loader that reads EasyOCR's files. Values follow PyTorch's default initialisation.

use burn::tensor::TensorData;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::TensorSource;
use crate::Result;

/// A [`TensorSource`] that makes up every tensor it is asked for, reproducibly from a seed.
pub struct FreshWeights {
    rng: ChaCha8Rng,
}

impl FreshWeights {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl TensorSource for FreshWeights {
    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<TensorData> {
        let n: usize = shape.iter().product();
        let values = match (shape.len(), name.rsplit('.').next().unwrap_or_default()) {
            // A batch norm that has seen no data: identity statistics and affine map.
            (_, "running_var") => vec![1.0; n],
            (_, "running_mean") => vec![0.0; n],
            (1, "weight") => vec![1.0; n],
            (1, _) => vec![0.0; n],
            // Convolutions, linear layers and LSTM matrices: uniform in ±1/sqrt(fan in)
            // (PyTorch's default for all three, up to its Kaiming gain for convolutions).
            _ => {
                let fan_in: usize = shape[1..].iter().product();
                let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
                (0..n)
                    .map(|_| self.rng.random_range(-bound..=bound))
                    .collect()
            }
        };
        Ok(TensorData::new(values, shape.to_vec()))
    }
}
