//! Work on a batch one image (or a few) at a time, with a cancel check before each: one
//! TrOCR-base encoder layer, or the cross-attention keys of one decoder layer, on a batch
//! of lines is a second or more of CPU time, longer than a Cancel may wait.

use burn::tensor::Tensor;

use crate::Result;
use crate::cancel::CancelToken;

/// Tokens one run of images takes at once: three images of 577 tokens. Image by image,
/// every linear layer's weights were read from memory again for each image; three at a
/// time, trocr-base's encoder on a batch of 8 took 3.66–3.72 s against 3.88–3.95
/// (trocr-small 1.16–1.21 s against 1.25; all eight at once did no better, docs/BENCH.md).
const TOKENS_PER_RUN: usize = 3 * 577;

/// Images of `tokens` tokens in one run: about [`TOKENS_PER_RUN`] tokens, at least one image.
pub fn images_per_run(tokens: usize) -> usize {
    (TOKENS_PER_RUN / tokens.max(1)).max(1)
}

/// `f` applied to runs of up to `images` images of `x` (`[batch, ...]`) in order, `cancel`
/// checked before each run.
pub fn image_runs<T>(
    x: &Tensor<3>,
    images: usize,
    cancel: &CancelToken,
    mut f: impl FnMut(Tensor<3>) -> T,
) -> Result<Vec<T>> {
    let batch = x.dims()[0];
    let images = images.max(1);
    let mut out = Vec::with_capacity(batch.div_ceil(images));
    for first in (0..batch).step_by(images) {
        cancel.check()?;
        out.push(f(x.clone().narrow(0, first, images.min(batch - first))));
    }
    Ok(out)
}

/// [`image_runs`] for a function from states to states, the results joined again.
pub fn map_image_runs(
    x: Tensor<3>,
    images: usize,
    cancel: &CancelToken,
    f: impl FnMut(Tensor<3>) -> Tensor<3>,
) -> Result<Tensor<3>> {
    Ok(Tensor::cat(image_runs(&x, images, cancel, f)?, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// Runs of two over five images: three calls, the results joined in order; a cancelled
    /// token stops before the first.
    #[test]
    fn runs_cover_the_batch_in_order() {
        let device = Device::flex();
        let values: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let x = Tensor::<3>::from_data(TensorData::new(values.clone(), [5, 2, 1]), &device);
        let mut sizes = Vec::new();
        let never = CancelToken::new();
        let y = map_image_runs(x.clone(), 2, &never, |part| {
            sizes.push(part.dims()[0]);
            part.mul_scalar(2.0)
        })
        .unwrap();
        assert_eq!(sizes, [2, 2, 1]);
        let doubled: Vec<f32> = values.iter().map(|v| v * 2.0).collect();
        assert_eq!(y.into_data().try_into_vec::<f32>().unwrap(), doubled);
        let cancelled = CancelToken::new();
        cancelled.cancel();
        let result = map_image_runs(x, 2, &cancelled, |part| part);
        assert!(matches!(result, Err(crate::Error::Cancelled)));
    }
}
