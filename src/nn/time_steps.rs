//! Cutting a sequence into its time steps for a recurrence, in a way training can afford.
//!
//! Burn's autodiff takes the gradient of a slice by allocating zeros of the *whole* input
//! and writing the slice's gradient into them. Cutting `T` steps one by one from a
//! `[T, ..]` tensor therefore costs `T` whole-size zero tensors, `T` copies and `T`
//! whole-size additions in the backward pass: quadratic in the length. A profile of the
//! CRNN's training spent about half its time there (docs/TRAIN.md, "Speed on this CPU").
//! Halving the sequence recursively gives the same pieces, and each level of halving costs
//! about two whole-size tensors, so the backward pass is `O(T log T)`. Without autodiff a
//! slice is a view and the extra levels cost next to nothing.

use burn::tensor::Tensor;

/// The pieces `tensor.narrow(0, t, 1)` for every `t`, in order, cut by halving.
pub fn time_steps<const D: usize>(tensor: Tensor<D>) -> Vec<Tensor<D>> {
    let mut steps = Vec::with_capacity(tensor.dims()[0]);
    cut_in_halves(tensor, &mut steps);
    steps
}

fn cut_in_halves<const D: usize>(tensor: Tensor<D>, steps: &mut Vec<Tensor<D>>) {
    let length = tensor.dims()[0];
    match length {
        0 => {}
        1 => steps.push(tensor),
        _ => {
            let half = length / 2;
            cut_in_halves(tensor.clone().narrow(0, 0, half), steps);
            cut_in_halves(tensor.narrow(0, half, length - half), steps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// Every length from 1 to 9: the same pieces as narrowing step by step, and the same
    /// gradient through them (each step weighted differently, so none is a plain sum).
    #[test]
    fn gives_the_steps_and_gradients_of_narrowing_one_by_one() {
        let ad = Device::flex().autodiff();
        for length in 1..=9 {
            let x = Tensor::<2>::random([length, 5], Distribution::Default, &ad).require_grad();
            let weights = Tensor::<2>::random([length, 5], Distribution::Default, &ad).detach();
            let weighted = |steps: Vec<Tensor<2>>| {
                let weighted: Vec<_> = (steps.into_iter().enumerate())
                    .map(|(t, step)| step * weights.clone().narrow(0, t, 1))
                    .collect();
                Tensor::cat(weighted, 0).sum()
            };
            let halved = time_steps(x.clone());
            let one_by_one: Vec<_> = (0..length).map(|t| x.clone().narrow(0, t, 1)).collect();
            assert_eq!(halved.len(), length);
            for (a, b) in halved.iter().zip(&one_by_one) {
                assert_eq!(a.to_data(), b.to_data(), "length {length}");
            }
            let grad_halved = x.grad(&weighted(halved).backward()).expect("a gradient");
            let grad_one_by_one = x
                .grad(&weighted(one_by_one).backward())
                .expect("a gradient");
            assert_eq!(
                grad_halved.to_data(),
                grad_one_by_one.to_data(),
                "length {length}"
            );
            assert_eq!(grad_halved.to_data(), weights.to_data());
        }
    }
}
