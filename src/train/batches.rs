//! Which lines go together in each batch of an epoch. Lines of similar width share a batch
//! (little padding, so little wasted work), and the plan is a pure function of the seed and
//! the epoch: a run resumed in the middle of an epoch takes the very same batches.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Lines are shuffled, then sorted by width within pools of this many batches.
const POOL_BATCHES: usize = 32;

/// A generator for one purpose in one epoch of a seeded run.
pub fn rng_for(seed: u64, epoch: usize, purpose: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(purpose.wrapping_mul(1_000_003).wrapping_add(epoch as u64));
    rng
}

/// The epoch's batches: indices into `widths`, each batch of lines of similar width, batches
/// in random order. Every line appears exactly once.
pub fn epoch_batches(widths: &[u32], batch: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let batch = batch.max(1);
    let mut rng = rng_for(seed, epoch, 1);
    let mut order: Vec<usize> = (0..widths.len()).collect();
    order.shuffle(&mut rng);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for pool in order.chunks_mut(batch * POOL_BATCHES) {
        pool.sort_by_key(|&i| widths[i]);
        batches.extend(pool.chunks(batch).map(<[usize]>::to_vec));
    }
    batches.shuffle(&mut rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_once_and_reproducible() {
        let widths: Vec<u32> = (0..1000).map(|i| (i * 37 % 900) as u32).collect();
        let a = epoch_batches(&widths, 16, 5, 3);
        assert_eq!(a, epoch_batches(&widths, 16, 5, 3));
        assert_ne!(a, epoch_batches(&widths, 16, 5, 4));
        let mut all: Vec<usize> = a.concat();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn batches_hold_similar_widths() {
        let widths: Vec<u32> = (0..4096).map(|i| (i * 7919 % 2000) as u32).collect();
        let batches = epoch_batches(&widths, 16, 1, 0);
        let spread: u32 = batches
            .iter()
            .map(|b| {
                let w: Vec<u32> = b.iter().map(|&i| widths[i]).collect();
                w.iter().max().unwrap() - w.iter().min().unwrap()
            })
            .sum();
        // Random batches would spread about 1750 px each; sorted pools far less.
        assert!(
            spread / (batches.len() as u32) < 200,
            "mean spread {spread}"
        );
    }
}
