//! `inkread read`: finds the lines in each image and reads them. A single-line image skips
//! detection (`--mode auto`); `--model DIR` reads with a TrOCR folder in the Hugging Face
//! layout instead of a catalog model. Missing default models are installed on first use.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use super::models_cmd::{ProgressView, report};
use crate::cancel::CancelToken;
use crate::device::{self, DeviceChoice};
use crate::export::{self, Format};
use crate::models::{InstallEvent, Installer};
use crate::pipeline::build::PipelineBuilder;
use crate::pipeline::trocr::{TrocrOptions, TrocrRecognizer};
use crate::pipeline::{Detector, Mode, Pipeline, Recognizer, lines};
use crate::reading::{Page, Reading};

/// How to treat each image (clap's view of [`Mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReadMode {
    /// The image is one text line.
    Line,
    /// The image is a page: detect its lines first.
    Page,
    /// A short wide strip is a line, anything else a page.
    #[default]
    Auto,
}

impl From<ReadMode> for Mode {
    fn from(m: ReadMode) -> Mode {
        match m {
            ReadMode::Line => Mode::Line,
            ReadMode::Page => Mode::Page,
            ReadMode::Auto => Mode::Auto,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// A TrOCR model folder in the Hugging Face layout (config.json, model.safetensors or
    /// pytorch_model.bin, tokenizer files), used instead of a catalog recognizer.
    #[arg(long, value_name = "DIR", conflicts_with = "recognizer")]
    pub model: Option<PathBuf>,
    /// Recognizer model id (see `inkread models list`). Default: an installed TrOCR
    /// handwriting model, else the catalog's default.
    #[arg(long, value_name = "ID")]
    pub recognizer: Option<String>,
    /// Detector model id. Default: the catalog's default detector.
    #[arg(long, value_name = "ID")]
    pub detector: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub mode: ReadMode,
    /// text, json (one JSON object per image and line), hocr, page-xml or alto.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// TrOCR beam width; 1 is greedy. Defaults to the model's generation_config.json.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub beams: Option<u32>,
    /// Most tokens TrOCR generates per line. Defaults to the model's max_length - 1.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_tokens: Option<u32>,
    #[arg(long, value_enum, default_value_t)]
    pub device: DeviceChoice,
    /// Images to read.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
}

/// Reads the images one at a time (decode, read, print, let go), so memory holds one image
/// however many are named, and each result appears as soon as it is done. Every path is
/// checked (exists, looks like an image) before any model loads, so a typo fails at once;
/// the models load when the first image needs them.
pub fn run(args: &ReadArgs) -> anyhow::Result<()> {
    for path in &args.images {
        probe_image(path)?;
    }
    let mode = Mode::from(args.mode);
    let selected = device::select(args.device)?;
    let installer = Installer::from_env()?;
    let builder = PipelineBuilder {
        installer: &installer,
        device: selected.device.clone(),
        trocr: trocr_options(args),
    };
    let cancel = CancelToken::new();
    let several = args.images.len() > 1;
    let mut pipeline: Option<Pipeline> = None;
    for path in &args.images {
        let (page, decode_ms) = load_page(path)?;
        let load_started = Instant::now();
        let mut loaded_now = pipeline.is_none();
        let pipeline = match &mut pipeline {
            Some(p) => p,
            empty => empty.insert(Pipeline {
                recognizer: recognizer(args, &builder)?,
                detector: None,
            }),
        };
        if pipeline.detector.is_none() && wants_detection(&page.image, mode) {
            pipeline.detector = Some(detector(args, &builder)?);
            loaded_now = true;
        }
        let load_ms = load_started.elapsed().as_secs_f64() * 1000.0;
        let mut reading = pipeline.read(&page, mode, &cancel, &mut |_| {})?;
        reading.timings_ms.insert("decode_image".into(), decode_ms);
        if loaded_now {
            reading.timings_ms.insert("load_model".into(), load_ms);
        }
        print_reading(&reading, args.format, several);
    }
    Ok(())
}

/// Fails fast, before any model loads, on a path that is missing or is not an image (by
/// its first bytes; the full decode comes when the image's turn comes).
fn probe_image(path: &Path) -> crate::Result<()> {
    let io = |source| crate::Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let reader = image::ImageReader::open(path)
        .map_err(io)?
        .with_guessed_format()
        .map_err(io)?;
    match reader.format() {
        Some(_) => Ok(()),
        None => Err(crate::Error::NotAnImage {
            path: path.to_path_buf(),
            reason: "unknown file format".into(),
        }),
    }
}

fn wants_detection(image: &image::RgbImage, mode: Mode) -> bool {
    match mode {
        Mode::Line => false,
        Mode::Page => true,
        Mode::Auto => !lines::looks_like_single_line(image.width(), image.height()),
    }
}

fn trocr_options(args: &ReadArgs) -> TrocrOptions {
    TrocrOptions {
        num_beams: args.beams.map(|b| b as usize),
        max_new_tokens: args.max_tokens.map(|t| t as usize),
        ..TrocrOptions::default()
    }
}

/// `--model DIR`, else `--recognizer ID`, else the installed default (installed now if
/// missing, saying where from).
fn recognizer(args: &ReadArgs, builder: &PipelineBuilder) -> anyhow::Result<Box<dyn Recognizer>> {
    if let Some(dir) = &args.model {
        let r = TrocrRecognizer::open(dir, &builder.device, &builder.trocr)
            .with_context(|| format!("cannot load the model in {}", dir.display()))?;
        return Ok(Box::new(r));
    }
    let id = match &args.recognizer {
        Some(id) => id.clone(),
        None => {
            install_defaults(builder.installer)?;
            builder.installer.recognizer_to_use().id.clone()
        }
    };
    with_progress(|on_event| builder.recognizer(&id, on_event))
}

fn detector(args: &ReadArgs, builder: &PipelineBuilder) -> anyhow::Result<Box<dyn Detector>> {
    let id = match &args.detector {
        Some(id) => id.clone(),
        None => builder.installer.detector_to_use().id.clone(),
    };
    with_progress(|on_event| builder.detector(&id, on_event))
}

/// First run: the default detector and recognizer, from the first source that has them.
fn install_defaults(installer: &Installer) -> anyhow::Result<()> {
    let catalog = &installer.catalog;
    let missing = [catalog.default_detector(), catalog.default_recognizer()]
        .iter()
        .any(|m| installer.installed_dir(&m.id).is_none());
    if !missing {
        return Ok(());
    }
    eprintln!("inkread: installing the default models (first run)");
    let mut view = ProgressView::new();
    let done = installer.ensure_defaults(&mut |e| view.show(e));
    view.finish();
    let done = done.context("cannot install the default models")?;
    report(&done.detector);
    report(&done.recognizer);
    Ok(())
}

fn with_progress<T>(
    load: impl FnOnce(&mut dyn FnMut(InstallEvent)) -> crate::Result<T>,
) -> anyhow::Result<T> {
    let mut view = ProgressView::new();
    let result = load(&mut |e| view.show(e));
    view.finish();
    Ok(result?)
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

/// One result, printed (and flushed) as soon as it is done. JSON is one object per image
/// (JSON Lines); hOCR, PAGE XML and ALTO are one whole document per image, as before.
fn print_reading(reading: &Reading, format: Format, with_name: bool) {
    match format {
        // One object per line of output, so several images stream as JSON Lines.
        Format::Json => match serde_json::to_string(reading) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("inkread: cannot write JSON: {e}"),
        },
        Format::Text if with_name => println!("{}: {}", reading.image, reading.text()),
        other => print!("{}", export::export(reading, other)),
    }
    // Piped stdout is block-buffered: flush so a reader sees each image when it is done.
    let _ = std::io::Write::flush(&mut std::io::stdout());
}
