//! The TrOCR [`Recognizer`]: a model directory in, text with confidences out.

use std::path::Path;

use burn::tensor::Device;
use image::RgbImage;

use crate::cancel::CancelToken;
use crate::models::trocr::config::{GenerationConfig, PreprocessorConfig, TrocrModelDir};
use crate::models::trocr::tokenizer::TrocrTokenizer;
use crate::models::trocr::weights::load_model;
use crate::nn::trocr::TrocrModel;
use crate::nn::trocr::generate::{GenerateOptions, SpecialTokens, generate};
use crate::pipeline::Recognizer;
use crate::pipeline::preprocess::{self, ImageSpec, Resample};
use crate::reading::LineText;
use crate::{Error, Result};

/// How to read: everything left `None` comes from the model's generation_config.json.
#[derive(Clone, Debug)]
pub struct TrocrOptions {
    pub num_beams: Option<usize>,
    pub max_new_tokens: Option<usize>,
    /// Lines per forward pass. Every line is resized to the model's fixed input size, so
    /// batches need no padding; the limit only bounds memory.
    pub batch_size: usize,
}

impl Default for TrocrOptions {
    fn default() -> Self {
        Self {
            num_beams: None,
            max_new_tokens: None,
            batch_size: 8,
        }
    }
}

/// A loaded TrOCR model with its tokenizer and processor settings.
pub struct TrocrRecognizer {
    name: String,
    model: TrocrModel,
    tokenizer: TrocrTokenizer,
    spec: ImageSpec,
    generate: GenerateOptions,
    special: SpecialTokens,
    device: Device,
    batch_size: usize,
}

impl TrocrRecognizer {
    /// Opens a Hugging Face TrOCR directory: configs, weights and tokenizer.
    pub fn open(dir: &Path, device: &Device, options: &TrocrOptions) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Model(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let model_dir = TrocrModelDir::open(dir)
            .map_err(|e| Error::model_because(format!("TrOCR folder {}", dir.display()), e))?;
        let tokenizer = TrocrTokenizer::open(dir)?;
        let spec = image_spec(&model_dir.preprocessor)?;
        let model = load_model(&model_dir, device)
            .map_err(|e| Error::model_because(format!("TrOCR weights in {}", dir.display()), e))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "trocr".into());
        Ok(Self {
            name,
            model,
            tokenizer,
            spec,
            generate: generate_options(&model_dir.generation, options),
            special: special_tokens(&model_dir.generation),
            device: device.clone(),
            batch_size: options.batch_size.max(1),
        })
    }

    /// Reads one batch of line images; a cancel takes effect within one encoder layer or
    /// one decoding step.
    pub fn read_batch(&self, lines: &[RgbImage], cancel: &CancelToken) -> Result<Vec<LineText>> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let pixels = preprocess::to_tensor(lines, &self.spec, &self.device)?;
        let states = self.model.encode(pixels, cancel)?;
        let generated = generate(&self.model, states, &self.generate, &self.special, cancel)?;
        generated
            .iter()
            .map(|g| {
                let line = self.tokenizer.decode_line(&g.ids, &g.token_probs)?;
                Ok(LineText {
                    text: line.text,
                    confidence: line.confidence,
                    words: line.words,
                })
            })
            .collect()
    }

    pub fn tokenizer(&self) -> &TrocrTokenizer {
        &self.tokenizer
    }
}

impl Recognizer for TrocrRecognizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn recognize(
        &mut self,
        lines: &[RgbImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> Result<Vec<LineText>> {
        let mut out = Vec::with_capacity(lines.len());
        for batch in lines.chunks(self.batch_size) {
            cancel.check()?;
            let texts = self.read_batch(batch, cancel)?;
            super::batching::check_count(&self.name, batch.len(), texts.len())?;
            out.extend(texts);
            on_line(out.len());
        }
        Ok(out)
    }
}

/// The processor settings as the preprocessing module takes them.
pub fn image_spec(p: &PreprocessorConfig) -> Result<ImageSpec> {
    let resample = Resample::from_pil_code(p.resample).ok_or_else(|| {
        Error::Model(format!(
            "unsupported resample code {} in preprocessor_config.json",
            p.resample
        ))
    })?;
    // transformers multiplies by the Python float; 1/255 stored as f32 would round
    // differently, so the exact value is restored when that is what the file said.
    let rescale_factor = if p.rescale_factor == (1.0f64 / 255.0) as f32 {
        1.0 / 255.0
    } else {
        f64::from(p.rescale_factor)
    };
    Ok(ImageSpec {
        height: p.height,
        width: p.width,
        resample,
        do_resize: p.do_resize,
        do_rescale: p.do_rescale,
        rescale_factor,
        do_normalize: p.do_normalize,
        mean: p.image_mean,
        std: p.image_std,
    })
}

fn generate_options(g: &GenerationConfig, o: &TrocrOptions) -> GenerateOptions {
    GenerateOptions {
        num_beams: o.num_beams.unwrap_or(g.num_beams).max(1),
        max_new_tokens: o.max_new_tokens.unwrap_or_else(|| g.new_token_budget()),
        min_new_tokens: g.min_new_tokens,
        length_penalty: g.length_penalty,
        early_stopping: g.early_stopping,
    }
}

fn special_tokens(g: &GenerationConfig) -> SpecialTokens {
    SpecialTokens {
        decoder_start: g.decoder_start_token_id,
        eos: g.eos_token_id,
        pad: g.pad_token_id,
    }
}
