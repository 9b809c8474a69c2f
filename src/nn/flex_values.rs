//! The `f32` values of a CPU (Flex) tensor read where they lie, for our own kernels.
//!
//! `Tensor::into_data` copies a buffer that anything else still holds (a layer's weight, an
//! input the caller keeps for a fallback), and copies it a second time to align it: for
//! trocr-base's decoder that would be about 1 GB of weights copied at every step. Borrowing
//! Flex's buffer costs nothing; a tensor on another device or backend, of another element
//! type, or laid out with strides falls back to a copy.

use burn::backend::{DispatchDevice, Flex};
use burn::tensor::{DType, Tensor};

use super::into_f32_vec;

/// `f(values)`, with `t`'s values row-major: borrowed from Flex's buffer where they lie
/// contiguously, else copied out. `None` when they cannot be read as `f32`.
pub fn with_f32<const D: usize, R>(t: &Tensor<D>, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    if let Ok(flex) = t.clone().try_into_primitive::<Flex>()
        && let Some(values) = flex.as_slice::<f32>()
    {
        return Some(f(values));
    }
    into_f32_vec(t.clone()).ok().map(|values| f(&values))
}

/// `f(values)` with each tensor's values as [`with_f32`] gives them; `None` when one cannot
/// be read as `f32`.
pub fn with_all_f32<const D: usize, R>(
    ts: &[Tensor<D>],
    f: impl FnOnce(&[&[f32]]) -> R,
) -> Option<R> {
    let flex: Option<Vec<_>> = ts
        .iter()
        .map(|t| t.clone().try_into_primitive::<Flex>().ok())
        .collect();
    if let Some(flex) = &flex {
        let borrowed: Option<Vec<&[f32]>> = flex.iter().map(|t| t.as_slice::<f32>()).collect();
        if let Some(borrowed) = borrowed {
            return Some(f(&borrowed));
        }
    }
    let copies: Vec<Vec<f32>> = ts
        .iter()
        .map(|t| into_f32_vec(t.clone()).ok())
        .collect::<Option<_>>()?;
    let slices: Vec<&[f32]> = copies.iter().map(Vec::as_slice).collect();
    Some(f(&slices))
}

/// Whether `t` is a Flex tensor of `f32`s, what our CPU kernels take (GPU and autodiff
/// tensors are on other devices).
pub fn on_flex_f32<const D: usize>(t: &Tensor<D>) -> bool {
    matches!(t.device().as_dispatch(), DispatchDevice::Flex(_)) && t.dtype() == DType::F32
}

/// A layer's bias as values, zeros where it has none; `None` where it cannot be read as
/// `f32` or is not `len` long (Burn's own error then, not ours).
pub fn bias_values(bias: Option<&Tensor<1>>, len: usize) -> Option<Vec<f32>> {
    let values = match bias {
        Some(b) => into_f32_vec(b.clone()).ok()?,
        None => vec![0.0; len],
    };
    (values.len() == len).then_some(values)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;

    #[test]
    fn reads_contiguous_strided_and_offset_tensors_row_major() {
        let device = Device::flex();
        let t = Tensor::<2>::from_data(
            TensorData::new((0..6).map(|v| v as f32).collect(), [2, 3]),
            &device,
        );
        let read = |t: &Tensor<2>| with_f32(t, <[f32]>::to_vec).unwrap();
        assert_eq!(read(&t), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        // A transposed view: strided, so copied out in the new order.
        assert_eq!(read(&t.clone().transpose()), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        // The second row: contiguous, at an offset in the shared buffer.
        assert_eq!(read(&t.clone().narrow(0, 1, 1)), [3.0, 4.0, 5.0]);
    }
}
