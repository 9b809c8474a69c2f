//! `inkread read`: finds the lines in each image and reads them. A single-line image skips
//! detection (`--mode auto`); `--model DIR` reads with a TrOCR folder in the Hugging Face
//! layout instead of a catalog model. Missing default models are installed on first use.
//! A PDF or a multi-page TIFF is read page by page; `--format pdf` writes a searchable PDF.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use super::models_cmd::{ProgressView, report, report_handwriting};
use crate::cancel::CancelToken;
use crate::device::{self, DeviceChoice};
use crate::export::pdf::{PdfPage, searchable_pdf};
use crate::export::{self, Format};
use crate::models::{InstallEvent, Installer};
use crate::pipeline::build::PipelineBuilder;
use crate::pipeline::overlap::overlapped;
use crate::pipeline::trocr::{TrocrOptions, TrocrRecognizer};
use crate::pipeline::{Detected, Detector, Mode, Recognizer, detect_page, recognize_page};
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

/// What `read` writes: an export format, or a searchable PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReadFormat {
    #[default]
    Text,
    Json,
    Hocr,
    PageXml,
    Alto,
    Pdf,
}

impl ReadFormat {
    /// The text export, or `None` for the PDF.
    fn export(self) -> Option<Format> {
        match self {
            Self::Text => Some(Format::Text),
            Self::Json => Some(Format::Json),
            Self::Hocr => Some(Format::Hocr),
            Self::PageXml => Some(Format::PageXml),
            Self::Alto => Some(Format::Alto),
            Self::Pdf => None,
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
    /// Detector model id, or `auto` (the default): kraken's segmenter for document pages,
    /// PP-OCRv4's detector for the rest (`ppocr-v4-det` is faster on printed pages).
    #[arg(long, value_name = "ID")]
    pub detector: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub mode: ReadMode,
    /// text, json (one JSON object per page), hocr, page-xml, alto or pdf (the pages with an
    /// invisible text layer). Several pages make one hOCR, ALTO or PDF document; PAGE-XML
    /// holds one page a file (with -o, OUT-1.xml, OUT-2.xml...).
    #[arg(long, value_enum, default_value_t)]
    pub format: ReadFormat,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// TrOCR beam width; 1 is greedy. Defaults to the model's generation_config.json.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub beams: Option<u32>,
    /// Most tokens TrOCR generates per line. Defaults to the model's max_length - 1.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_tokens: Option<u32>,
    #[arg(long, value_enum, default_value_t)]
    pub device: DeviceChoice,
    /// Images to read: PNG, JPEG, WebP, TIFF (every page), BMP, GIF or PDF (every page).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
}

/// Reads the images one at a time (decode, read, print, let go), so memory holds about two
/// pages however many are named, and each result appears as soon as it is done: the next
/// page is decoded and its lines found on a second thread while this one's are read
/// (`pipeline::overlap`). Every path is checked (exists, looks like an image) before any
/// model loads, so a typo fails at once; the models load when the first image needs them.
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
    let streamed =
        args.output.is_none() && matches!(args.format, ReadFormat::Text | ReadFormat::Json);
    let cancel = CancelToken::new();
    let mut finder = LineFinder {
        args,
        builder: &builder,
        mode,
        cancel: &cancel,
        detector: None,
    };
    let mut reader = LineReader {
        args,
        builder: &builder,
        cancel: &cancel,
        recognizer: None,
    };
    let (mut images, mut readings) = (Vec::new(), Vec::new());
    overlapped(
        |send| finder.each_page(send),
        |found: Found| {
            let Found {
                page,
                detected,
                several,
            } = found;
            let result = reader.read(&page, detected)?;
            // Text and JSON on a terminal come page by page, as each is read; the other
            // formats are one document (or one PDF) for every page.
            match args.format.export() {
                Some(format) if streamed => print_reading(&result, format, several),
                _ => {
                    images.push(page.image);
                    readings.push(result);
                }
            }
            Ok(())
        },
    )?;
    if streamed {
        return Ok(());
    }
    let images: Vec<&image::RgbImage> = images.iter().collect();
    write_output(args, &images, &readings)
}

/// A page with its lines found, on its way to the recognizer.
struct Found {
    page: Page,
    detected: Detected,
    /// Whether more than one page is read (results are then labelled).
    several: bool,
}

/// The first stage: pages decoded and their lines found; the detector loads when the first
/// page needs one.
struct LineFinder<'a> {
    args: &'a ReadArgs,
    builder: &'a PipelineBuilder<'a>,
    mode: Mode,
    cancel: &'a CancelToken,
    detector: Option<Box<dyn Detector>>,
}

impl LineFinder<'_> {
    /// Every page of every image, in order, to `send`; stops when `send` says the reading
    /// stopped.
    fn each_page(&mut self, send: &mut dyn FnMut(Found) -> bool) -> anyhow::Result<()> {
        let args = self.args;
        for path in &args.images {
            let mut decode_started = Instant::now();
            crate::image_file::each_page_of_file(path, |of, image| -> anyhow::Result<()> {
                let decode_ms = decode_started.elapsed().as_secs_f64() * 1000.0;
                let page = Page {
                    image,
                    source: of.label(&path.display().to_string()),
                };
                let mut detected = self.find(&page)?;
                detected.timings_ms.insert("decode_image".into(), decode_ms);
                let several = args.images.len() > 1 || of.count > 1;
                if !send(Found {
                    page,
                    detected,
                    several,
                }) {
                    anyhow::bail!("reading stopped");
                }
                decode_started = Instant::now();
                Ok(())
            })?;
        }
        Ok(())
    }

    fn find(&mut self, page: &Page) -> anyhow::Result<Detected> {
        let load_started = Instant::now();
        let load_now = self.detector.is_none() && wants_detection(&page.image, self.mode);
        if load_now {
            self.detector = Some(detector(self.args, self.builder)?);
        }
        let load_ms = load_started.elapsed().as_secs_f64() * 1000.0;
        let detector = self.detector.as_deref_mut();
        let mut detected = detect_page(detector, page, self.mode, self.cancel, &mut |_| {})?;
        if load_now {
            detected.timings_ms.insert("load_model".into(), load_ms);
        }
        Ok(detected)
    }
}

/// The second stage: the found lines read; the recognizer loads for the first page.
struct LineReader<'a> {
    args: &'a ReadArgs,
    builder: &'a PipelineBuilder<'a>,
    cancel: &'a CancelToken,
    recognizer: Option<Box<dyn Recognizer>>,
}

impl LineReader<'_> {
    fn read(&mut self, page: &Page, detected: Detected) -> anyhow::Result<Reading> {
        let load_started = Instant::now();
        let load_now = self.recognizer.is_none();
        let recognizer = match &mut self.recognizer {
            Some(r) => r,
            empty => empty.insert(recognizer(self.args, self.builder)?),
        };
        let load_ms = load_started.elapsed().as_secs_f64() * 1000.0;
        let mut reading = recognize_page(
            recognizer.as_mut(),
            page,
            detected,
            self.cancel,
            &mut |_| {},
        )?;
        if load_now {
            *reading.timings_ms.entry("load_model".into()).or_default() += load_ms;
        }
        Ok(reading)
    }
}

/// Everything read, in the chosen format, to `-o` or standard output.
fn write_output(
    args: &ReadArgs,
    images: &[&image::RgbImage],
    readings: &[Reading],
) -> anyhow::Result<()> {
    let bytes = match args.format.export() {
        None => {
            let pages: Vec<PdfPage<'_>> = images
                .iter()
                .zip(readings)
                .map(|(image, reading)| PdfPage { image, reading })
                .collect();
            searchable_pdf(&pages)?
        }
        Some(Format::PageXml) if readings.len() > 1 && args.output.is_some() => {
            return write_page_files(args.output.as_deref().unwrap_or(Path::new("")), readings);
        }
        Some(Format::Json) => readings
            .iter()
            .map(|r| serde_json::to_string(r).map(|j| j + "\n"))
            .collect::<Result<String, _>>()?
            .into_bytes(),
        Some(format) => export::export_pages(readings, format).into_bytes(),
    };
    match &args.output {
        Some(path) => std::fs::write(path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .write_all(&bytes)
            .context("cannot write to standard output")?,
    }
    Ok(())
}

/// PAGE-XML holds one page a file: `out.xml` becomes `out-1.xml`, `out-2.xml`...
fn write_page_files(output: &Path, readings: &[Reading]) -> anyhow::Result<()> {
    let stem = output.file_stem().unwrap_or_default().to_string_lossy();
    let ext = output
        .extension()
        .map_or("xml".into(), |e| e.to_string_lossy());
    for (i, reading) in readings.iter().enumerate() {
        let path = output.with_file_name(format!("{stem}-{}.{ext}", i + 1));
        std::fs::write(&path, export::export(reading, Format::PageXml))
            .with_context(|| format!("cannot write {}", path.display()))?;
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
    let pdf = || {
        let mut head = Vec::with_capacity(1024);
        std::fs::File::open(path)
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 1024), &mut head))
            .is_ok_and(|_| crate::image_file::is_pdf(&head))
    };
    match reader.format() {
        Some(_) => Ok(()),
        None if pdf() => Ok(()),
        None => Err(crate::Error::NotAnImage {
            path: path.to_path_buf(),
            reason: "unknown file format".into(),
        }),
    }
}

fn wants_detection(image: &image::RgbImage, mode: Mode) -> bool {
    !mode.reads_whole(image.width(), image.height())
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
    if args.recognizer.is_none() {
        install_defaults(builder.installer)?;
    }
    let id = builder
        .installer
        .recognizer_id_for(args.recognizer.as_deref());
    with_progress(|on_event| builder.recognizer(&id, on_event))
}

fn detector(args: &ReadArgs, builder: &PipelineBuilder) -> anyhow::Result<Box<dyn Detector>> {
    let id = builder.installer.detector_id_for(args.detector.as_deref());
    with_progress(|on_event| builder.detector(&id, on_event))
}

/// First run: the default detector and recognizer, from the first source that has them.
fn install_defaults(installer: &Installer) -> anyhow::Result<()> {
    let catalog = &installer.catalog;
    let missing = [catalog.default_detector(), catalog.default_recognizer()]
        .into_iter()
        .chain(catalog.page_detector())
        .any(|m| installer.installed_dir(&m.id).is_none());
    if !missing {
        return Ok(());
    }
    eprintln!("inkread: installing the default models (first run)");
    let mut view = ProgressView::new();
    let done = installer.ensure_defaults(&mut |e| view.show(e));
    let handwriting = done
        .is_ok()
        .then(|| installer.ensure_handwriting(&mut |e| view.show(e)));
    view.finish();
    let done = done.context("cannot install the default models")?;
    report(&done.detector);
    report(&done.recognizer);
    if let Some(page_detector) = &done.page_detector {
        report(page_detector);
    }
    if let Some(handwriting) = &handwriting {
        report_handwriting(handwriting);
    }
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
