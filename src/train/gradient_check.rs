//! A check, on the training device, of the one gradient known to go wrong there.
//!
//! Burn 0.22.1 computes a convolution's weight gradient as another convolution whose kernel
//! is the output gradient. On wgpu through lavapipe that result is wrong once batch × height
//! × width reaches 65 536 (docs/TRAIN.md), while the CPU backends are right; whether a real
//! GPU's driver shows it depends on its limits. Training with a wrong gradient would spend
//! hours and publish a ruined model, so a run on wgpu first computes one such gradient of a
//! training-sized batch and compares it with the sum written out.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Device, Tensor, TensorData};

use super::TrainError;

/// Largest relative error accepted (f32 sums over a quarter of a million products).
const TOLERANCE: f32 = 1e-3;

/// Errors with [`TrainError::WrongGradient`] when `device` is a wgpu device whose conv2d
/// weight gradient is wrong; the CPU backends are not checked (they are the reference).
pub fn ensure_conv_gradient(device: &Device) -> Result<(), TrainError> {
    if !crate::device::is_wgpu(device) {
        return Ok(());
    }
    let error = conv_weight_gradient_error(device, 4, 64, 1024)?;
    if error > TOLERANCE {
        return Err(TrainError::WrongGradient { error });
    }
    Ok(())
}

/// Relative error of Burn's conv2d weight gradient (3 × 3, padding 1, one input channel,
/// three output channels) on `device` against the sum written out in f64.
pub fn conv_weight_gradient_error(
    device: &Device,
    batch: usize,
    h: usize,
    w: usize,
) -> Result<f32, TrainError> {
    let ad = device.clone().autodiff();
    let conv = Conv2dConfig::new([1, 3], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
        .fork(&ad)
        .train();
    let xs = pattern(batch * h * w, 7919, 1000);
    let rs = pattern(3 * batch * h * w, 104_729, 997);
    let x = Tensor::<4>::from_data(TensorData::new(xs.clone(), [batch, 1, h, w]), &ad);
    let r = Tensor::<4>::from_data(TensorData::new(rs.clone(), [batch, 3, h, w]), &ad);
    let grads = (conv.forward(x) * r).sum().backward();
    let got = conv
        .weight
        .val()
        .grad(&grads)
        .map(crate::nn::into_f32_vec)
        .transpose()?
        .unwrap_or_default();
    let mut worst = if got.len() == 27 {
        0.0f32
    } else {
        f32::INFINITY
    };
    for (index, g) in got.iter().enumerate() {
        let sum = expected_gradient(&xs, &rs, [batch, h, w], index);
        worst = worst.max((g - sum as f32).abs() / (sum.abs() as f32).max(1.0));
    }
    Ok(worst)
}

/// Values in [-1, 1) from a multiplicative pattern: no zeros that would hide wrong indexing.
fn pattern(len: usize, step: usize, modulus: usize) -> Vec<f32> {
    let half = modulus as f32 / 2.0;
    (0..len)
        .map(|i| (i * step % modulus) as f32 / half - 1.0)
        .collect()
}

/// d(sum(conv(x) * r)) / d(weight[o, 0, ky, kx]) for the flat weight `index`.
fn expected_gradient(xs: &[f32], rs: &[f32], [batch, h, w]: [usize; 3], index: usize) -> f64 {
    let (o, ky, kx) = (index / 9, index / 3 % 3, index % 3);
    let mut sum = 0.0f64;
    for b in 0..batch {
        for y in 0..h {
            let Some(iy) = (y + ky).checked_sub(1).filter(|&iy| iy < h) else {
                continue;
            };
            for x in 0..w {
                let Some(ix) = (x + kx).checked_sub(1).filter(|&ix| ix < w) else {
                    continue;
                };
                let input = xs[(b * h + iy) * w + ix];
                sum += f64::from(rs[((b * 3 + o) * h + y) * w + x]) * f64::from(input);
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_gradient_matches_the_written_out_sum() {
        let error = conv_weight_gradient_error(&Device::flex(), 2, 64, 512).unwrap();
        assert!(error < TOLERANCE, "relative error {error}");
        ensure_conv_gradient(&Device::flex()).unwrap();
    }
}
