//! EasyOCR's CRAFT detector and English CRNN behind the pipeline traits, with EasyOCR's
//! preprocessing: CRAFT sees the page scaled to fit a canvas (longest side at most
//! `DetectParams::width`), zero-padded to multiples of 32 and ImageNet-normalised on the 0..255
//! scale; the CRNN sees grey line crops scaled to height 64, mapped to -1..1 and padded on
//! the right with their last column.

use std::path::Path;

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use image::{GrayImage, RgbImage};

use crate::Result;
use crate::cancel::CancelToken;
use crate::models::easyocr::{
    ENGLISH_G2_MODEL_ID, english_g2_charset, load_craft, load_english_g2,
};
use crate::models::personal::load_personal_crnn;
use crate::nn::easyocr::craft::CRAFT_STRIDE_MULTIPLE;
use crate::nn::easyocr::crnn::CRNN_INPUT_HEIGHT;
use crate::nn::easyocr::{Craft, Crnn};
use crate::nn::into_f32_vec;
use crate::pipeline::batching::in_sorted_batches;
use crate::pipeline::craft_post::{DetectParams, regions_from_craft};
use crate::pipeline::ctc::{CtcDecoder, CtcProbabilities};
use crate::pipeline::ctc_beam::beam_decode_best;
use crate::pipeline::deslant::deslant;
use crate::pipeline::language_model::{self, LanguageModel};
use crate::pipeline::score_map::ScoreMap;
use crate::pipeline::{Detector, Recognizer};
use crate::reading::{LineText, Region};

/// ImageNet statistics, which CRAFT's VGG encoder was trained with (0..1 scale).
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// EasyOCR's detector settings (`Reader.readtext` defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct CraftOptions {
    /// Scale applied before the size limit (EasyOCR's `mag_ratio`).
    pub mag_ratio: f32,
    /// Thresholds and minimum size for turning the maps into regions, and `width`, the
    /// longest side of the network input (JSL's `width`; larger pages are scaled down).
    pub post: DetectParams,
}

impl Default for CraftOptions {
    /// JSL's input width of 1280 rather than EasyOCR's canvas of 2560: a quarter of the
    /// work, which keeps a page on the CPU near half a minute (docs/EVAL.md).
    fn default() -> Self {
        Self {
            mag_ratio: 1.0,
            post: DetectParams::default(),
        }
    }
}

/// A page prepared for CRAFT.
#[derive(Clone, Debug, PartialEq)]
pub struct CraftInput {
    /// `[3, height, width]`, channel-major, normalised.
    pub data: Vec<f32>,
    pub height: usize,
    pub width: usize,
    /// Canvas pixels per page pixel.
    pub ratio: f32,
}

/// EasyOCR's `resize_aspect_ratio` + `normalizeMeanVariance`.
pub fn craft_input(page: &RgbImage, canvas_size: u32, mag_ratio: f32) -> CraftInput {
    let (w, h) = page.dimensions();
    let longest = w.max(h).max(1) as f32;
    let target = (mag_ratio * longest).min(canvas_size as f32);
    let ratio = target / longest;
    // EasyOCR truncates (`int(height * ratio)`).
    let (rw, rh) = (
        ((w as f32 * ratio) as u32).max(1),
        ((h as f32 * ratio) as u32).max(1),
    );
    let resized = if (rw, rh) == (w, h) {
        page.clone()
    } else {
        resize_bilinear_rgb(page, rw, rh)
    };
    let (cw, ch) = (round_up(rw as usize), round_up(rh as usize));
    let mut data = vec![0.0; 3 * ch * cw];
    for c in 0..3 {
        // The canvas is zero-filled before normalising, so padding is a normalised 0.
        let (mean, std) = (IMAGENET_MEAN[c] * 255.0, IMAGENET_STD[c] * 255.0);
        let plane = &mut data[c * ch * cw..(c + 1) * ch * cw];
        for y in 0..ch {
            for x in 0..cw {
                let v = if x < rw as usize && y < rh as usize {
                    f32::from(resized.get_pixel(x as u32, y as u32)[c])
                } else {
                    0.0
                };
                plane[y * cw + x] = (v - mean) / std;
            }
        }
    }
    CraftInput {
        data,
        height: ch,
        width: cw,
        ratio,
    }
}

fn round_up(n: usize) -> usize {
    n.div_ceil(CRAFT_STRIDE_MULTIPLE) * CRAFT_STRIDE_MULTIPLE
}

/// OpenCV's `INTER_LINEAR` (half-pixel centres, no antialiasing), which EasyOCR uses.
fn resize_bilinear_rgb(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let xs = axis_taps(img.width(), width);
    let ys = axis_taps(img.height(), height);
    RgbImage::from_fn(width, height, |x, y| {
        let (x0, x1, fx) = xs[x as usize];
        let (y0, y1, fy) = ys[y as usize];
        let mut out = [0u8; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let p = |xx, yy| f32::from(img.get_pixel(xx, yy)[c]);
            let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
            let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
            *o = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
        }
        image::Rgb(out)
    })
}

fn resize_bilinear_grey(img: &GrayImage, width: u32, height: u32) -> GrayImage {
    let xs = axis_taps(img.width(), width);
    let ys = axis_taps(img.height(), height);
    GrayImage::from_fn(width, height, |x, y| {
        let (x0, x1, fx) = xs[x as usize];
        let (y0, y1, fy) = ys[y as usize];
        let p = |xx, yy| f32::from(img.get_pixel(xx, yy)[0]);
        let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
        let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
        image::Luma([(top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8])
    })
}

/// For each output index: the two source indices and the weight of the second.
fn axis_taps(src: u32, dst: u32) -> Vec<(u32, u32, f32)> {
    let scale = src as f32 / dst.max(1) as f32;
    let last = src.saturating_sub(1);
    (0..dst)
        .map(|i| {
            let s = (i as f32 + 0.5) * scale - 0.5;
            if s <= 0.0 {
                return (0, 0, 0.0);
            }
            let i0 = s.floor() as u32;
            if i0 >= last {
                return (last, last, 0.0);
            }
            (i0, i0 + 1, s - i0 as f32)
        })
        .collect()
}

/// OpenCV's and PIL's grey: ITU-R BT.601 weights (the `image` crate uses BT.709).
pub fn grey_bt601(img: &RgbImage) -> GrayImage {
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let [r, g, b] = img.get_pixel(x, y).0;
        let v = 0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b);
        image::Luma([v.round().clamp(0.0, 255.0) as u8])
    })
}

/// A line crop scaled to the CRNN's height, keeping its aspect ratio (width at least 1).
pub fn scale_line(grey: &GrayImage) -> GrayImage {
    let (w, h) = grey.dimensions();
    let height = CRNN_INPUT_HEIGHT as u32;
    let width = ((w as f64 * f64::from(height) / f64::from(h.max(1))) as u32).max(1);
    if (width, height) == (w, h) {
        grey.clone()
    } else {
        resize_bilinear_grey(grey, width, height)
    }
}

/// Batch width for lines of these widths: EasyOCR's `ceil(max ratio) * 64`, at least 64.
pub fn batch_width(widths: impl IntoIterator<Item = u32>) -> usize {
    let widest = widths.into_iter().max().unwrap_or(0) as usize;
    widest.div_ceil(CRNN_INPUT_HEIGHT).max(1) * CRNN_INPUT_HEIGHT
}

/// Scaled lines as one `[n, 1, 64, width]` batch: grey mapped to -1..1, each line padded
/// on the right by repeating its last column (EasyOCR's `NormalizePAD`).
pub fn line_batch(lines: &[GrayImage], width: usize) -> Vec<f32> {
    let h = CRNN_INPUT_HEIGHT;
    let mut data = vec![0.0; lines.len() * h * width];
    for (line, out) in lines.iter().zip(data.chunks_exact_mut(h * width)) {
        let lw = (line.width() as usize).min(width);
        for y in 0..h.min(line.height() as usize) {
            let row = &mut out[y * width..(y + 1) * width];
            for (x, v) in row.iter_mut().enumerate() {
                let sx = x.min(lw.saturating_sub(1)) as u32;
                let grey = f32::from(line.get_pixel(sx, y as u32)[0]);
                *v = (grey / 255.0 - 0.5) / 0.5;
            }
        }
    }
    data
}

/// CRAFT on a page: score maps, then word regions ([`regions_from_craft`]).
pub struct CraftDetector {
    net: Craft,
    device: Device,
    pub options: CraftOptions,
}

impl CraftDetector {
    /// Loads `craft_mlt_25k.pth`.
    pub fn load(model_file: &Path, device: &Device) -> Result<Self> {
        Ok(Self::new(load_craft(model_file, device)?, device.clone()))
    }

    pub fn new(net: Craft, device: Device) -> Self {
        Self {
            net,
            device,
            options: CraftOptions::default(),
        }
    }

    /// Text and link maps at half the canvas resolution; `scale` maps back to page pixels.
    /// [`crate::Error::Cancelled`] within one convolution stage of `cancel`.
    pub fn score_maps(
        &self,
        page: &RgbImage,
        cancel: &CancelToken,
    ) -> Result<(ScoreMap, ScoreMap)> {
        let o = &self.options;
        let input = craft_input(page, o.post.width, o.mag_ratio);
        let x = Tensor::<4>::from_data(
            TensorData::new(input.data, [1, 3, input.height, input.width]),
            &self.device,
        );
        let maps = self.net.forward(x, cancel)?;
        let [_, h, w] = maps.text.dims();
        let scale = 2.0 / input.ratio;
        let to_map = |t: Tensor<3>| -> Result<ScoreMap> {
            Ok(ScoreMap {
                width: w,
                height: h,
                data: into_f32_vec(t)?,
                scale: [scale, scale],
            })
        };
        Ok((to_map(maps.text)?, to_map(maps.link)?))
    }
}

impl Detector for CraftDetector {
    fn name(&self) -> &str {
        "craft"
    }

    fn detect(&mut self, page: &RgbImage, cancel: &CancelToken) -> Result<Vec<Region>> {
        cancel.check()?;
        let (text, link) = self.score_maps(page, cancel)?;
        cancel.check()?;
        Ok(regions_from_craft(&text, &link, &self.options.post))
    }
}

/// EasyOCR's English generation 2 CRNN.
pub struct CrnnRecognizer {
    /// The catalog id it was loaded as.
    name: String,
    net: Crnn,
    device: Device,
    charset: Vec<String>,
    decoder: CtcDecoder,
    /// When the model folder has one (`inkread train lm`), lines are read by beam search
    /// weighed by it; training's validation always reads greedily.
    language_model: Option<std::sync::Arc<LanguageModel>>,
    /// Lines are deslanted before reading: the model was trained on them so.
    deslant: bool,
    /// Lines per forward pass (sorted by width, so a batch pads little).
    pub batch_size: usize,
}

impl CrnnRecognizer {
    /// Loads `english_g2.pth`.
    pub fn load(model_file: &Path, device: &Device) -> Result<Self> {
        let net = load_english_g2(model_file, device)?;
        Ok(Self::from_network(
            ENGLISH_G2_MODEL_ID,
            net,
            english_g2_charset(),
            device,
        ))
    }

    /// A personal model's folder (`inkread train`): its card's alphabet and its weights.
    pub fn load_personal(dir: &Path, device: &Device) -> Result<Self> {
        let (net, labels, card) = load_personal_crnn(dir, device)?;
        let mut recognizer = Self::from_network(&card.id, net, labels, device);
        recognizer.deslant = card.deslant;
        recognizer.language_model = language_model::load(dir)?.map(std::sync::Arc::new);
        Ok(recognizer)
    }

    /// A recognizer around a network whose output classes are `labels` (blank first).
    pub fn from_network(name: &str, net: Crnn, labels: Vec<String>, device: &Device) -> Self {
        Self {
            name: name.to_string(),
            net,
            device: device.clone(),
            decoder: CtcDecoder::new(labels[1..].iter().cloned(), 0),
            language_model: None,
            deslant: false,
            charset: labels,
            batch_size: 16,
        }
    }

    /// Whether lines are deslanted before the network sees them (a model trained so).
    pub fn deslants(&self) -> bool {
        self.deslant
    }

    /// Class names: index 0 is the CTC blank (an empty string), then the characters.
    pub fn charset(&self) -> &[String] {
        &self.charset
    }

    /// Per-time-step class probabilities for each line, in input order.
    pub fn probabilities(
        &self,
        lines: &[RgbImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> Result<Vec<CtcProbabilities>> {
        let scaled: Vec<GrayImage> = lines
            .iter()
            .map(|l| scale_line(&grey_bt601(l)))
            .map(|g| if self.deslant { deslant(&g) } else { g })
            .collect();
        self.probabilities_of_scaled(&scaled, cancel, on_line)
    }

    /// [`CrnnRecognizer::probabilities`] of lines already grey and at the network's height
    /// (and deslanted when [`CrnnRecognizer::deslants`]).
    pub fn probabilities_of_scaled(
        &self,
        scaled: &[GrayImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> Result<Vec<CtcProbabilities>> {
        let mut order: Vec<usize> = (0..scaled.len()).collect();
        order.sort_by_key(|&i| scaled[i].width());
        in_sorted_batches(
            &self.name,
            &order,
            self.batch_size,
            cancel,
            on_line,
            |chunk| {
                let batch: Vec<GrayImage> = chunk.iter().map(|&i| scaled[i].clone()).collect();
                self.run_batch(&batch, cancel)
            },
        )
    }

    /// The text of lines already grey and at the network's height (training's validation,
    /// whose recognizer has no language model: it reads greedily).
    pub fn read_scaled(
        &self,
        scaled: &[GrayImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> Result<Vec<LineText>> {
        self.probabilities_of_scaled(scaled, cancel, on_line)?
            .iter()
            .map(|out| self.decode(out))
            .collect()
    }

    /// One line's text: by beam search with the language model when there is one, else
    /// greedily.
    pub fn decode(&self, out: &CtcProbabilities) -> Result<LineText> {
        let Some(model) = &self.language_model else {
            return self.decode_greedy(out);
        };
        let decoded = beam_decode_best(
            &self.decoder,
            &out.data,
            out.timesteps,
            &model.models,
            &model.settings,
        )?;
        Ok(decoded.line_text())
    }

    /// One line's text, greedily, language model or not.
    pub fn decode_greedy(&self, out: &CtcProbabilities) -> Result<LineText> {
        Ok(self.decoder.decode_line(&out.data, out.timesteps)?)
    }

    fn run_batch(
        &self,
        lines: &[GrayImage],
        cancel: &CancelToken,
    ) -> Result<Vec<CtcProbabilities>> {
        let width = batch_width(lines.iter().map(GrayImage::width));
        let data = line_batch(lines, width);
        let shape = [lines.len(), 1, CRNN_INPUT_HEIGHT, width];
        let x = Tensor::<4>::from_data(TensorData::new(data, shape), &self.device);
        let probs = softmax(self.net.forward_cancellable(x, cancel)?, 2);
        let [_, timesteps, classes] = probs.dims();
        let all = into_f32_vec(probs)?;
        Ok(CtcProbabilities::split_batch(&all, timesteps, classes))
    }
}

impl Recognizer for CrnnRecognizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn recognize(
        &mut self,
        lines: &[RgbImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> Result<Vec<LineText>> {
        self.probabilities(lines, cancel, on_line)?
            .iter()
            .map(|out| self.decode(out))
            .collect()
    }
}
