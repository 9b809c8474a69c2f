//! Work on a batch one image at a time, with a cancel check before each: one TrOCR-base
//! encoder layer, or the cross-attention keys of one decoder layer, on a batch of lines is
//! a second or more of CPU time, longer than a Cancel may wait.

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

/// [`each_image`] for a function from states to states, the results joined again.
pub fn map_images(
    x: Tensor<3>,
    cancel: &CancelToken,
    f: impl FnMut(Tensor<3>) -> Tensor<3>,
) -> Result<Tensor<3>> {
    Ok(Tensor::cat(each_image(&x, cancel, f)?, 0))
}
