//! Image in, [`Reading`](crate::reading::Reading) out: the detector and recognizer traits,
//! and the steps between them (pre-processing, line grouping, reading order, cropping).

use image::RgbImage;

use crate::Result;
use crate::cancel::CancelToken;
use crate::reading::{LineText, Region};

/// Where a running job is, for progress bars.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    Loading { what: String },
    Detecting,
    Recognizing { done: usize, total: usize },
    Done,
}

/// Receives progress; the app forwards it to the UI thread, the CLI ignores or prints it.
pub type ProgressFn<'a> = &'a mut dyn FnMut(Stage);

/// Finds text regions (words or lines) on a page.
pub trait Detector: Send {
    fn name(&self) -> &str;
    fn detect(&mut self, page: &RgbImage, cancel: &CancelToken) -> Result<Vec<Region>>;
    /// Whole text lines in reading order, with their baselines, from detectors that find
    /// lines (kraken's segmenter); the pipeline keeps them as they are. `None` (the default)
    /// has the pipeline group and order the regions of [`Detector::detect`].
    fn detect_lines(
        &mut self,
        _page: &RgbImage,
        _cancel: &CancelToken,
    ) -> Result<Option<Vec<lines::LineGeometry>>> {
        Ok(None)
    }
}

/// Reads line images. Implementations batch internally; `on_line` is called with the
/// number of lines done so far, so callers can show "k of n".
pub trait Recognizer: Send {
    fn name(&self) -> &str;
    fn recognize(
        &mut self,
        lines: &[RgbImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> Result<Vec<LineText>>;
}

pub mod auto_detect;
pub mod auto_recognize;
mod batching;
pub mod blla;
pub mod build;
pub mod calibration;
pub mod char_lm;
mod columns;
pub mod craft_post;
pub mod ctc;
pub mod ctc_beam;
pub mod db_post;
pub mod deslant;
pub mod easyocr;
mod frame;
pub mod geometry;
pub mod language_model;
pub mod lines;
pub mod masked_crop;
pub mod overlap;
pub mod paddle;
pub mod preprocess;
mod reading_order;
pub mod score_map;
pub mod trocr;

use std::collections::BTreeMap;
use std::time::Instant;

use crate::reading::{Line, Page, Reading};

/// Whether to look for lines first or treat the whole image as one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// The image is one text line: skip detection.
    Line,
    /// The image is a page: detect lines, then read each.
    Page,
    /// Decide from the image's shape (a short wide strip is one line).
    #[default]
    Auto,
}

impl Mode {
    /// Whether an image of this size is read whole, as one line, without a detector.
    pub fn reads_whole(self, width: u32, height: u32) -> bool {
        match self {
            Mode::Line => true,
            Mode::Page => false,
            Mode::Auto => lines::looks_like_single_line(width, height),
        }
    }
}

/// A detector (optional: without one every image is read as a single line) and a recognizer.
pub struct Pipeline {
    pub detector: Option<Box<dyn Detector>>,
    pub recognizer: Box<dyn Recognizer>,
}

/// A page whose lines are found and not yet read: what the detector hands the recognizer
/// (on another thread when pages overlap, see [`overlap`]).
pub struct Detected {
    /// The lines in reading order, `None` when the image is read whole as one line.
    lines: Option<Vec<lines::LineGeometry>>,
    pub timings_ms: BTreeMap<String, f64>,
}

impl Pipeline {
    /// Reads one page: detect, group into ordered lines, crop, recognize.
    pub fn read(
        &mut self,
        page: &Page,
        mode: Mode,
        cancel: &CancelToken,
        progress: ProgressFn<'_>,
    ) -> Result<Reading> {
        let detected = detect_page(self.detector.as_deref_mut(), page, mode, cancel, progress)?;
        cancel.check()?;
        recognize_page(self.recognizer.as_mut(), page, detected, cancel, progress)
    }
}

/// The first half of [`Pipeline::read`]: the page's lines found (none looked for when the
/// image is read whole, or without a detector).
pub fn detect_page(
    detector: Option<&mut (dyn Detector + 'static)>,
    page: &Page,
    mode: Mode,
    cancel: &CancelToken,
    progress: ProgressFn<'_>,
) -> Result<Detected> {
    let mut timings_ms = BTreeMap::new();
    let lines = find_lines(detector, page, mode, cancel, progress, &mut timings_ms)?;
    Ok(Detected { lines, timings_ms })
}

/// The second half of [`Pipeline::read`]: the found lines cropped and read.
pub fn recognize_page(
    recognizer: &mut dyn Recognizer,
    page: &Page,
    detected: Detected,
    cancel: &CancelToken,
    progress: ProgressFn<'_>,
) -> Result<Reading> {
    let mut timings = detected.timings_ms;
    let (geometry, crops) = crop_lines(page, detected.lines);
    let total = crops.len();
    progress(Stage::Recognizing { done: 0, total });
    let started = Instant::now();
    let texts = recognizer.recognize(&crops, cancel, &mut |done| {
        progress(Stage::Recognizing { done, total })
    })?;
    timings.insert("recognize".into(), ms_since(started));
    batching::check_count(recognizer.name(), geometry.len(), texts.len())?;
    progress(Stage::Done);
    let lines = geometry
        .into_iter()
        .zip(texts)
        .map(|(g, t)| Line {
            baseline: g.baseline,
            ..Line::placed(g.polygon, t)
        })
        .collect();
    Ok(Reading {
        image: page.source.clone(),
        width: page.image.width(),
        height: page.image.height(),
        lines,
        timings_ms: timings,
    })
}

/// Each line's image, cut from the page along its polygon; a page read whole (`None`) is its
/// own single line and goes to the recognizer untouched: no padding, no resampling.
fn crop_lines(
    page: &Page,
    found: Option<Vec<lines::LineGeometry>>,
) -> (Vec<lines::LineGeometry>, Vec<RgbImage>) {
    let Some(geometry) = found else {
        let (w, h) = page.image.dimensions();
        return (
            vec![lines::LineGeometry::whole_image(w, h)],
            vec![page.image.clone()],
        );
    };
    let crop = if masked_crop::enabled() {
        masked_crop::crop_line_masked
    } else {
        lines::crop_line
    };
    let crops = geometry
        .iter()
        .map(|g| crop(&page.image, &g.polygon))
        .collect();
    (geometry, crops)
}

/// The page's lines in reading order, or `None` when the image is read whole as one line.
fn find_lines(
    detector: Option<&mut (dyn Detector + 'static)>,
    page: &Page,
    mode: Mode,
    cancel: &CancelToken,
    progress: ProgressFn<'_>,
    timings: &mut BTreeMap<String, f64>,
) -> Result<Option<Vec<lines::LineGeometry>>> {
    let (w, h) = page.image.dimensions();
    let single = mode.reads_whole(w, h);
    let Some(detector) = detector.filter(|_| !single) else {
        return Ok(None);
    };
    progress(Stage::Detecting);
    let started = Instant::now();
    if let Some(found) = detector.detect_lines(&page.image, cancel)? {
        timings.insert("detect".into(), ms_since(started));
        return Ok(Some(found));
    }
    let regions = detector.detect(&page.image, cancel)?;
    timings.insert("detect".into(), ms_since(started));
    let started = Instant::now();
    let grouped = lines::group_into_lines(&regions);
    timings.insert("group".into(), ms_since(started));
    Ok(Some(grouped))
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
