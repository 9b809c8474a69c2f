//! PP-OCRv4 as a [`Detector`] and a [`Recognizer`]: images in, prepared the way RapidOCR
//! prepares them (BGR order, `(x/255 - 0.5) / 0.5`, OpenCV-style bilinear resizing), the
//! Burn networks of [`crate::nn::paddle`] in between.

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use image::{Rgb, RgbImage};

use super::batching::in_sorted_batches;
use super::ctc::{CtcDecoder, CtcProbabilities};
use super::db_post::{DbParams, regions_from_probability};
use super::score_map::ScoreMap;
use super::{Detector, Recognizer};
use crate::cancel::CancelToken;
use crate::models::paddle::{load_detector, load_recognizer};
use crate::nn::into_f32_vec;
use crate::nn::paddle::{DbNet, SvtrRecognizer};
use crate::reading::{LineText, Region};
use crate::{Error, Result};

/// RapidOCR's detector default: the short side is brought up to at least this.
pub const DET_LIMIT_SIDE_LEN: u32 = 736;
/// RapidOCR's default `max_side_len`: a larger page is shrunk to this before detection (the
/// lines are then cropped from the full-size page, unlike RapidOCR, which crops the shrunk one).
pub const DET_MAX_SIDE_LEN: u32 = 2000;
/// Height of the recognizer's input.
pub const REC_HEIGHT: u32 = 48;
/// RapidOCR pads every recognizer batch to at least this width (its `rec_img_shape`).
pub const REC_MIN_WIDTH: u32 = 320;
/// Lines per recognizer batch (RapidOCR's `rec_batch_num`).
pub const REC_BATCH: usize = 6;

/// Bilinear resize with OpenCV's `INTER_LINEAR` convention (pixel centres aligned,
/// edges clamped, no antialiasing), so inputs match what RapidOCR feeds the networks.
pub fn resize_bilinear(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    if (sw, sh) == (width, height) {
        return img.clone();
    }
    let xs = sample_positions(sw, width);
    let ys = sample_positions(sh, height);
    RgbImage::from_fn(width, height, |x, y| {
        let (x0, x1, fx) = xs[x as usize];
        let (y0, y1, fy) = ys[y as usize];
        let p = |xx: u32, yy: u32| img.get_pixel(xx, yy).0;
        let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
        Rgb(std::array::from_fn(|k| {
            let top = a[k] as f32 * (1.0 - fx) + b[k] as f32 * fx;
            let bottom = c[k] as f32 * (1.0 - fx) + d[k] as f32 * fx;
            (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
        }))
    })
}

/// For each output coordinate: the two source neighbours and the weight of the second.
fn sample_positions(src: u32, dst: u32) -> Vec<(u32, u32, f32)> {
    let scale = src as f32 / dst as f32;
    let last = src.saturating_sub(1);
    (0..dst)
        .map(|i| {
            let s = ((i as f32 + 0.5) * scale - 0.5).max(0.0);
            let lo = (s.floor() as u32).min(last);
            (
                lo,
                (lo + 1).min(last),
                if lo >= last { 0.0 } else { s - lo as f32 },
            )
        })
        .collect()
}

/// RapidOCR's `reduce_max_side`: a page whose longer side exceeds `max_side` is scaled so that
/// side is `max_side` (truncated), then each side is rounded to a multiple of 32.
pub fn shrink_to_max_side(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    if width.max(height) <= max_side {
        return (width, height);
    }
    let ratio = max_side as f64 / width.max(height) as f64;
    let round32 = |v: u32| -> u32 {
        let scaled = (v as f64 * ratio) as u32;
        (((scaled as f64 / 32.0).round_ties_even() as u32) * 32).max(32)
    };
    (round32(width), round32(height))
}

/// Scaling a thin strip's short side up to the limit stops before its long side passes this
/// (RapidOCR has no such stop: a 2000 × 10 strip would become 147 000 px wide).
pub const DET_MAX_UPSCALED_SIDE: u32 = 4000;

/// The detector's input size for a page: RapidOCR's `limit_type: min` rule (scale the
/// short side up to `limit` if below it, but never the long side past
/// [`DET_MAX_UPSCALED_SIDE`]), then each side rounded to a multiple of 32.
pub fn det_input_size(width: u32, height: u32, limit: u32) -> (u32, u32) {
    let short = width.min(height).max(1);
    let long = width.max(height).max(1);
    let ratio = if short < limit {
        (limit as f64 / short as f64)
            .min(DET_MAX_UPSCALED_SIDE as f64 / long as f64)
            .max(1.0)
    } else {
        1.0
    };
    let round32 = |v: u32| -> u32 {
        let scaled = (v as f64 * ratio) as u32;
        (((scaled as f64 / 32.0).round_ties_even() as u32) * 32).max(32)
    };
    (round32(width), round32(height))
}

/// Writes `img` normalised, channels in BGR order, into a `[3, h, stride]` plane buffer.
fn write_normalised(dst: &mut [f32], img: &RgbImage, stride: usize, height: usize) {
    for (x, y, px) in img.enumerate_pixels() {
        for (plane, channel) in [2usize, 1, 0].into_iter().enumerate() {
            let v = px.0[channel] as f32 / 255.0;
            dst[(plane * height + y as usize) * stride + x as usize] = (v - 0.5) / 0.5;
        }
    }
}

/// Images of one size as a `[batch, 3, h, w]` network input (BGR, `[-1, 1]`).
pub fn to_network_input(images: &[&RgbImage], device: &Device) -> Tensor<4> {
    let (w, h) = images.first().map_or((0, 0), |i| i.dimensions());
    let (w, h) = (w as usize, h as usize);
    let plane = 3 * w * h;
    let mut data = vec![0.0f32; images.len() * plane];
    for (img, dst) in images.iter().zip(data.chunks_mut(plane.max(1))) {
        write_normalised(dst, img, w, h);
    }
    Tensor::from_data(TensorData::new(data, [images.len(), 3, h, w]), device)
}

/// PP-OCRv4's DBNet on a page.
pub struct PaddleDetector {
    net: DbNet,
    device: Device,
    /// RapidOCR's `limit_side_len`.
    pub limit_side_len: u32,
    /// RapidOCR's `max_side_len`.
    pub max_side_len: u32,
    /// Post-processing knobs (RapidOCR's defaults).
    pub params: DbParams,
}

impl PaddleDetector {
    /// Loads `ch_PP-OCRv4_det_infer.onnx`.
    pub fn load(model: &Path, device: Device) -> Result<Self> {
        Ok(Self {
            net: load_detector(model, &device)?,
            device,
            limit_side_len: DET_LIMIT_SIDE_LEN,
            max_side_len: DET_MAX_SIDE_LEN,
            params: DbParams::default(),
        })
    }

    /// The text-probability map of a page, with the scale back to page pixels;
    /// [`Error::Cancelled`] within one backbone block of `cancel`.
    pub fn probability_map(&self, page: &RgbImage, cancel: &CancelToken) -> Result<ScoreMap> {
        let (pw, ph) = page.dimensions();
        if pw == 0 || ph == 0 {
            return Err(Error::Other("the page is empty".into()));
        }
        let (sw, sh) = shrink_to_max_side(pw, ph, self.max_side_len);
        let (w, h) = det_input_size(sw, sh, self.limit_side_len);
        let resized = resize_bilinear(page, w, h);
        let prob = self
            .net
            .forward(to_network_input(&[&resized], &self.device), cancel)?;
        let data = into_f32_vec(prob)?;
        Ok(ScoreMap {
            width: w as usize,
            height: h as usize,
            data,
            scale: [pw as f32 / w as f32, ph as f32 / h as f32],
        })
    }
}

impl Detector for PaddleDetector {
    fn name(&self) -> &str {
        "ppocr-v4-det"
    }

    fn detect(&mut self, page: &RgbImage, cancel: &CancelToken) -> Result<Vec<Region>> {
        cancel.check()?;
        let map = self.probability_map(page, cancel)?;
        cancel.check()?;
        Ok(regions_from_probability(&map, &self.params))
    }
}

/// PP-OCRv4's SVTR-LCNet CTC recognizer.
pub struct PaddleRecognizer {
    net: SvtrRecognizer,
    device: Device,
    decoder: CtcDecoder,
    /// Lines per batch.
    pub batch_size: usize,
}

impl PaddleRecognizer {
    /// Loads `ch_PP-OCRv4_rec_infer.onnx` and its character list.
    pub fn load(model: &Path, device: Device) -> Result<Self> {
        let (net, charset) = load_recognizer(model, &device)?;
        Ok(Self {
            net,
            device,
            // The loader puts the blank first; the decoder wants the other classes.
            decoder: CtcDecoder::new(charset.into_iter().skip(1), 0),
            batch_size: REC_BATCH,
        })
    }

    /// The CTC classes: `""` (blank) at 0, the model's characters, then `" "`.
    pub fn charset(&self) -> &[String] {
        &self.decoder.labels
    }

    /// Class probabilities for each line, batched as RapidOCR batches: lines sorted by
    /// aspect ratio, each batch resized to height 48 and padded to its widest line (at
    /// least 320 pixels).
    pub fn probabilities(
        &self,
        lines: &[RgbImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> Result<Vec<CtcProbabilities>> {
        let ratio = |img: &RgbImage| img.width() as f32 / img.height().max(1) as f32;
        let mut order: Vec<usize> = (0..lines.len()).collect();
        order.sort_by(|&a, &b| ratio(&lines[a]).total_cmp(&ratio(&lines[b])));
        in_sorted_batches(
            self.name(),
            &order,
            self.batch_size,
            cancel,
            on_line,
            |batch| {
                let images: Vec<&RgbImage> = batch.iter().map(|&i| &lines[i]).collect();
                self.run_batch(&images, cancel)
            },
        )
    }

    fn run_batch(
        &self,
        images: &[&RgbImage],
        cancel: &CancelToken,
    ) -> Result<Vec<CtcProbabilities>> {
        let max_ratio = images
            .iter()
            .map(|i| i.width() as f32 / i.height().max(1) as f32)
            .fold(REC_MIN_WIDTH as f32 / REC_HEIGHT as f32, f32::max);
        let width = (REC_HEIGHT as f32 * max_ratio) as usize;
        let (h, plane) = (REC_HEIGHT as usize, 3 * REC_HEIGHT as usize * width);
        let mut data = vec![0.0f32; images.len() * plane];
        for (img, dst) in images.iter().zip(data.chunks_mut(plane)) {
            let resized = rec_resize(img, width as u32);
            write_normalised(dst, &resized, width, h);
        }
        let input = Tensor::from_data(
            TensorData::new(data, [images.len(), 3, h, width]),
            &self.device,
        );
        let probs = self.net.forward(input, cancel)?;
        let [_, timesteps, classes] = probs.dims();
        let flat = into_f32_vec(probs)?;
        Ok(CtcProbabilities::split_batch(&flat, timesteps, classes))
    }
}

/// A line resized to height 48 keeping its aspect ratio, at most `max_width` wide
/// (RapidOCR's `resize_norm_img` before padding).
pub fn rec_resize(line: &RgbImage, max_width: u32) -> RgbImage {
    let ratio = line.width() as f64 / line.height().max(1) as f64;
    let width = ((REC_HEIGHT as f64 * ratio).ceil() as u32).clamp(1, max_width.max(1));
    resize_bilinear(line, width, REC_HEIGHT)
}

impl Recognizer for PaddleRecognizer {
    fn name(&self) -> &str {
        "ppocr-v4-rec"
    }

    fn recognize(
        &mut self,
        lines: &[RgbImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> Result<Vec<LineText>> {
        let probs = self.probabilities(lines, cancel, on_line)?;
        probs
            .iter()
            .map(|p| Ok(self.decoder.decode_line(&p.data, p.timesteps)?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn det_input_follows_rapidocr_rounding() {
        // Short side 500 < 736: scaled by 1.472, then rounded to multiples of 32.
        assert_eq!(det_input_size(800, 500, 736), (1184, 736));
        // Big enough already: only rounded.
        assert_eq!(det_input_size(1000, 800, 736), (992, 800));
        // A thin strip is not blown up to a huge input.
        assert_eq!(det_input_size(2001, 10, 736), (4000, 32));
        assert_eq!(det_input_size(5000, 10, 736), (4992, 32));
        // Values computed with RapidOCR 1.4.4's reduce_max_side.
        assert_eq!(shrink_to_max_side(2550, 3300, 2000), (1536, 1984));
        assert_eq!(shrink_to_max_side(4319, 5576, 2000), (1536, 1984));
        assert_eq!(shrink_to_max_side(3100, 2800, 2000), (1984, 1792));
        assert_eq!(shrink_to_max_side(1000, 580, 2000), (1000, 580));
    }

    #[test]
    fn bilinear_resize_keeps_a_flat_image_flat_and_matches_corners() {
        let flat = RgbImage::from_pixel(7, 5, Rgb([10, 200, 30]));
        let up = resize_bilinear(&flat, 16, 11);
        assert!(up.pixels().all(|p| p.0 == [10, 200, 30]));
        let mut ramp = RgbImage::new(2, 1);
        ramp.put_pixel(1, 0, Rgb([100, 100, 100]));
        let wide = resize_bilinear(&ramp, 4, 1);
        // OpenCV: source x = (i + 0.5) / 2 - 0.5 → 0 (clamped), 0.25, 0.75, 1.
        let row: Vec<u8> = wide.pixels().map(|p| p.0[0]).collect();
        assert_eq!(row, vec![0, 25, 75, 100]);
    }
}
