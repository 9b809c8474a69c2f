//! Work on a batch one image (or a few) at a time, with a cancel check before each: one
//! TrOCR-base encoder layer, or the cross-attention keys of one decoder layer, on a batch
//! of lines is a second or more of CPU time, longer than a Cancel may wait.

use burn::tensor::Tensor;

use crate::Result;
use crate::cancel::CancelToken;

/// `f` applied to each image of `x` (`[batch, ...]`) in order, `cancel` checked before each.
pub fn each_image<T>(
    x: &Tensor<3>,
    cancel: &CancelToken,
    mut f: impl FnMut(Tensor<3>) -> T,
) -> Result<Vec<T>> {
    let batch = x.dims()[0];
    let mut out = Vec::with_capacity(batch);
    for i in 0..batch {
        cancel.check()?;
        out.push(f(x.clone().narrow(0, i, 1)));
    }
    Ok(out)
}

/// `f` applied to runs of up to `images` images of `x` (`[batch, ...]`), `cancel` checked
/// before each run, the results joined again.
pub fn map_image_runs(
    x: Tensor<3>,
    images: usize,
    cancel: &CancelToken,
    mut f: impl FnMut(Tensor<3>) -> Tensor<3>,
) -> Result<Tensor<3>> {
    let batch = x.dims()[0];
    let images = images.max(1);
    let mut out = Vec::with_capacity(batch.div_ceil(images));
    for first in (0..batch).step_by(images) {
        cancel.check()?;
        out.push(f(x.clone().narrow(0, first, images.min(batch - first))));
    }
    Ok(Tensor::cat(out, 0))
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
