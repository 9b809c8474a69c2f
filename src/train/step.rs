//! One training step of the CRNN: a batch of lines and their class sequences in, the CTC
//! loss out, gradients through Burn's autodiff, and AdamW's update.

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::nn::loss::{CTCLossConfig, Reduction};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use image::GrayImage;

use crate::nn::easyocr::Crnn;
use crate::nn::easyocr::crnn::CRNN_INPUT_HEIGHT;
use crate::pipeline::easyocr::{batch_width, line_batch};

/// A batch as tensors on the training device.
pub struct Batch {
    /// `[n, 1, 64, width]`, grey mapped to -1..1 as at inference.
    pub images: Tensor<4>,
    /// `[n, longest]` class indices, padded with class 1 past each line's length.
    pub targets: Tensor<2, Int>,
    pub target_lengths: Tensor<1, Int>,
}

impl Batch {
    /// Lines of one batch (any widths: padded like EasyOCR pads at inference) and their
    /// class sequences (no blanks).
    pub fn new(lines: &[GrayImage], classes: &[Vec<usize>], device: &Device) -> Batch {
        let n = lines.len();
        let width = batch_width(lines.iter().map(GrayImage::width));
        let images = Tensor::<4>::from_data(
            TensorData::new(line_batch(lines, width), [n, 1, CRNN_INPUT_HEIGHT, width]),
            device,
        );
        let longest = classes.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut padded = vec![1i64; n * longest];
        for (row, seq) in padded.chunks_exact_mut(longest).zip(classes) {
            for (slot, &c) in row.iter_mut().zip(seq) {
                *slot = c as i64;
            }
        }
        let lengths: Vec<i64> = classes.iter().map(|c| c.len() as i64).collect();
        Batch {
            images,
            targets: Tensor::from_data(TensorData::new(padded, [n, longest]), device),
            target_lengths: Tensor::from_data(TensorData::new(lengths, [n]), device),
        }
    }
}

/// The batch's CTC loss, PyTorch's `reduction="mean"` (each line's loss divided by its
/// length, then averaged), with impossible alignments counted as zero rather than infinity.
/// Every frame is an input frame: inference decodes the padded frames too.
pub fn ctc_loss(net: &Crnn, batch: &Batch) -> Tensor<1> {
    let logits = net.forward(batch.images.clone());
    ctc_loss_of_logits(logits, batch.targets.clone(), batch.target_lengths.clone())
}

/// [`ctc_loss`] from the network's output, `[n, frames, classes]` logits.
pub fn ctc_loss_of_logits(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    target_lengths: Tensor<1, Int>,
) -> Tensor<1> {
    let [n, frames, _] = logits.dims();
    let log_probs = log_softmax(logits, 2).swap_dims(0, 1);
    let device = log_probs.device();
    let input_lengths =
        Tensor::<1, Int>::from_data(TensorData::new(vec![frames as i64; n], [n]), &device);
    CTCLossConfig::new()
        .with_zero_infinity(true)
        .init()
        .forward_with_reduction(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            Reduction::Mean,
        )
}

/// AdamW with PyTorch's defaults (epsilon 1e-8, weight decay 0.01), gradients clipped to
/// `clip_norm` when given (training clips at 5, which keeps the first steps on new output
/// classes from blowing up).
pub fn adamw(clip_norm: Option<f32>) -> ModuleOptimizer {
    AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(1e-2)
        .with_grad_clipping(clip_norm.map(GradientClippingConfig::Norm))
        .init()
}

/// `net` (loaded on a plain device) on the autodiff device `ad`, its parameters tracked.
pub fn for_training(net: Crnn, ad: &Device) -> Crnn {
    net.fork(ad).train()
}

/// One optimisation step; returns the updated network and the batch's loss before it.
pub fn train_step(
    net: Crnn,
    optim: &mut ModuleOptimizer,
    batch: &Batch,
    learning_rate: f64,
) -> crate::Result<(Crnn, f32)> {
    let loss = ctc_loss(&net, batch);
    let value = crate::nn::into_f32_vec(loss.clone().detach())?
        .first()
        .copied()
        .unwrap_or(f32::NAN);
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    Ok((optim.step(learning_rate, net, grads), value))
}
