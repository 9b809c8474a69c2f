//! `inkread read`: each image is one text line, read with a TrOCR model directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::cancel::CancelToken;
use crate::device::{self, DeviceChoice};
use crate::pipeline::trocr::{TrocrOptions, TrocrRecognizer};
use crate::pipeline::{Mode, Pipeline};
use crate::reading::{Page, Reading};

/// Environment variable naming the default TrOCR model directory, until the model
/// installer provides one.
pub const MODEL_ENV: &str = "INKREAD_TROCR_MODEL";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The text only (prefixed by the file name when several images are read).
    #[default]
    Text,
    /// One JSON object per image and line of output.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// TrOCR model directory in the Hugging Face layout (config.json, model.safetensors or
    /// pytorch_model.bin, tokenizer files). Defaults to $INKREAD_TROCR_MODEL.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Beam width; 1 is greedy. Defaults to the model's generation_config.json.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub beams: Option<u32>,
    /// Most tokens generated per line. Defaults to the model's max_length - 1.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_tokens: Option<u32>,
    #[arg(long, value_enum, default_value_t)]
    pub device: DeviceChoice,
    /// Text-line images to read.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
}

pub fn run(args: &ReadArgs) -> anyhow::Result<()> {
    // Images first: a typo in a path should not wait for a model to load.
    let pages = args
        .images
        .iter()
        .map(|p| load_page(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let model_dir = model_dir(args.model.as_deref())?;
    let selected = device::select(args.device)?;
    let options = TrocrOptions {
        num_beams: args.beams.map(|b| b as usize),
        max_new_tokens: args.max_tokens.map(|t| t as usize),
        ..TrocrOptions::default()
    };
    let load_started = Instant::now();
    let recognizer = TrocrRecognizer::open(&model_dir, &selected.device, &options)
        .with_context(|| format!("cannot load the model in {}", model_dir.display()))?;
    let load_ms = load_started.elapsed().as_secs_f64() * 1000.0;
    let mut pipeline = Pipeline {
        detector: None,
        recognizer: Box::new(recognizer),
    };
    let cancel = CancelToken::new();
    let several = pages.len() > 1;
    for (i, (page, decode_ms)) in pages.iter().enumerate() {
        let mut reading = pipeline.read(page, Mode::Line, &cancel, &mut |_| {})?;
        reading.timings_ms.insert("decode_image".into(), *decode_ms);
        if i == 0 {
            reading.timings_ms.insert("load_model".into(), load_ms);
        }
        print_reading(&reading, args.format, several)?;
    }
    Ok(())
}

/// `--model`, else the environment's default, else a clear error.
fn model_dir(arg: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = arg {
        return Ok(dir.to_path_buf());
    }
    match std::env::var_os(MODEL_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => anyhow::bail!("no TrOCR model given: pass --model DIR (or set {MODEL_ENV})"),
    }
}

/// Reads an image file, telling a missing file apart from one that is not an image.
fn load_page(path: &Path) -> anyhow::Result<(Page, f64)> {
    let started = Instant::now();
    let image = crate::pipeline::preprocess::open_rgb(path)?;
    let page = Page {
        image,
        source: path.display().to_string(),
    };
    Ok((page, started.elapsed().as_secs_f64() * 1000.0))
}

fn print_reading(reading: &Reading, format: Format, with_name: bool) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string(reading)?),
        Format::Text if with_name => println!("{}: {}", reading.image, reading.text()),
        Format::Text => println!("{}", reading.text()),
    }
    Ok(())
}
