//! Evaluation on manifests of real documents (see docs/EVAL.md): CER and WER after Unicode
//! NFC (also ignoring case and punctuation), line-detection precision / recall / F1 at
//! polygon IoU ≥ 0.5, and the CER of the whole page text in reading order, per set (the first
//! path component) and overall.
//!
//! The evaluation drives any [`Pipeline`], so tests can pass fakes. All rates are
//! micro-averaged: total edits over total reference length within the set.

pub mod manifest;
pub mod metrics;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use image::RgbImage;
use serde::Serialize;

use crate::cancel::CancelToken;
use crate::pipeline::{Mode, Pipeline, lines::crop_line};
use crate::reading::{Line, Page, Reading};
use crate::{Error, Result};
use manifest::{TruthLine, read_lines_manifest, read_pages_manifest, read_truth_lines};
use metrics::{
    Detection, Errors, IOU_THRESHOLD, TextErrors, char_errors, match_polygons, normalize,
};

/// Which items to evaluate and how lines are found on pages.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Read the ground-truth polygons instead of detecting: measures recognition alone.
    pub oracle_detector: bool,
    /// Only items of this set.
    pub set: Option<String>,
    /// At most this many items (after the set filter), in manifest order.
    pub limit: Option<usize>,
    /// Print one line per item to stderr.
    pub verbose: bool,
}

/// The scores of one set (or of everything). `None` where a figure does not apply
/// (detection in the lines mode) or has no reference.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Scores {
    pub cer: Option<f64>,
    pub wer: Option<f64>,
    pub cer_nocase: Option<f64>,
    pub wer_nocase: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub page_cer: Option<f64>,
    /// Items: line images in the lines mode, pages in the pages mode.
    pub n: usize,
    /// Wall time of the pipeline per item (image decoding excluded).
    pub seconds_per_item: f64,
}

/// The whole evaluation, as `--format json` prints it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub mode: String,
    pub sets: BTreeMap<String, Scores>,
    pub overall: Scores,
}

/// Running sums for one set.
#[derive(Clone, Debug, Default)]
struct Tally {
    text: TextErrors,
    detection: Option<Detection>,
    page: Option<Errors>,
    n: usize,
    seconds: f64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.text.add(other.text);
        if let Some(d) = other.detection {
            self.detection.get_or_insert_default().add(d);
        }
        if let Some(p) = other.page {
            self.page.get_or_insert_default().add(p);
        }
        self.n += other.n;
        self.seconds += other.seconds;
    }

    fn scores(&self) -> Scores {
        Scores {
            cer: self.text.chars.rate(),
            wer: self.text.words.rate(),
            cer_nocase: self.text.chars_loose.rate(),
            wer_nocase: self.text.words_loose.rate(),
            precision: self.detection.and_then(|d| d.precision()),
            recall: self.detection.and_then(|d| d.recall()),
            f1: self.detection.and_then(|d| d.f1()),
            page_cer: self.page.and_then(|p| p.rate()),
            n: self.n,
            seconds_per_item: if self.n == 0 {
                0.0
            } else {
                self.seconds / self.n as f64
            },
        }
    }
}

fn report(mode: &str, tallies: BTreeMap<String, Tally>) -> Report {
    let mut overall = Tally::default();
    tallies.values().for_each(|t| overall.add(t));
    Report {
        mode: mode.to_string(),
        sets: tallies
            .iter()
            .map(|(k, t)| (k.clone(), t.scores()))
            .collect(),
        overall: overall.scores(),
    }
}

fn load_image(path: &Path) -> Result<RgbImage> {
    crate::pipeline::preprocess::open_rgb(path)
}

fn selected<T>(items: Vec<T>, set_of: impl Fn(&T) -> &str, options: &Options) -> Vec<T> {
    items
        .into_iter()
        .filter(|i| options.set.as_deref().is_none_or(|s| s == set_of(i)))
        .take(options.limit.unwrap_or(usize::MAX))
        .collect()
}

/// `inkread eval lines`: every line image is read as one line (no detection).
pub fn evaluate_lines(
    manifest: &Path,
    pipeline: &mut Pipeline,
    options: &Options,
) -> Result<Report> {
    let items = selected(read_lines_manifest(manifest)?, |i| &i.set, options);
    let cancel = CancelToken::new();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for item in items {
        let page = Page {
            image: load_image(&item.image)?,
            source: item.image.display().to_string(),
        };
        let started = Instant::now();
        let reading = pipeline.read(&page, Mode::Line, &cancel, &mut |_| {})?;
        let seconds = started.elapsed().as_secs_f64();
        let hypothesis = reading.text();
        let errors = TextErrors::of(&item.text, &hypothesis);
        if options.verbose {
            // The recognizer's confidence too, for calibrating `auto` (scripts/calibrate.py).
            let confidence = reading.lines.first().map_or(0.0, |l| l.confidence);
            eprintln!(
                "{}\t{:?}\t{:?}\t{confidence:.4}",
                item.image.display(),
                item.text,
                hypothesis
            );
        }
        let tally = tallies.entry(item.set).or_default();
        tally.text.add(errors);
        tally.n += 1;
        tally.seconds += seconds;
    }
    Ok(report("lines", tallies))
}

/// `inkread eval pages`: each page is read whole (or, with the oracle detector, line by line
/// from the true polygons) and scored against its `lines.json`.
pub fn evaluate_pages(
    manifest: &Path,
    pipeline: &mut Pipeline,
    options: &Options,
) -> Result<Report> {
    let items = selected(read_pages_manifest(manifest)?, |i| &i.set, options);
    let cancel = CancelToken::new();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for item in items {
        let truth = read_truth_lines(&item.lines_json)?;
        let page = Page {
            image: load_image(&item.image)?,
            source: item.image.display().to_string(),
        };
        let started = Instant::now();
        let reading = if options.oracle_detector {
            read_with_truth_polygons(pipeline, &page, &truth, &cancel)?
        } else {
            pipeline.read(&page, Mode::Page, &cancel, &mut |_| {})?
        };
        let seconds = started.elapsed().as_secs_f64();
        let tally = score_page(&truth, &reading);
        if options.verbose {
            let s = tally.scores();
            eprintln!(
                "{}\tlines read {} annotated {}\tcer% {}\tpage_cer% {}\t{seconds:.2}s",
                item.image.display(),
                reading.lines.len(),
                truth.len(),
                percent(s.cer),
                percent(s.page_cer)
            );
        }
        let set = tallies.entry(item.set).or_default();
        set.add(&tally);
        set.n += 1;
        set.seconds += seconds;
    }
    Ok(report("pages", tallies))
}

/// The oracle detector: crops every true polygon, in the ground truth's order, and hands the
/// crops to the recognizer; grouping and reading order are bypassed on purpose.
pub fn read_with_truth_polygons(
    pipeline: &mut Pipeline,
    page: &Page,
    truth: &[TruthLine],
    cancel: &CancelToken,
) -> Result<Reading> {
    let crops: Vec<RgbImage> = truth
        .iter()
        .map(|t| crop_line(&page.image, &t.polygon))
        .collect();
    let texts = pipeline.recognizer.recognize(&crops, cancel, &mut |_| {})?;
    if texts.len() != truth.len() {
        return Err(Error::Model(format!(
            "recognizer returned {} texts for {} lines",
            texts.len(),
            truth.len()
        )));
    }
    let lines = truth
        .iter()
        .zip(texts)
        .map(|(t, text)| Line::placed(t.polygon.clone(), text))
        .collect();
    Ok(Reading {
        image: page.source.clone(),
        width: page.image.width(),
        height: page.image.height(),
        lines,
        timings_ms: BTreeMap::new(),
    })
}

/// Scores one page. Line CER/WER: every true line against the text of the detection matched
/// to it (a missed line counts as all deleted; unmatched detections only cost precision).
/// Page CER: the true lines joined by newlines against the read lines in their order.
fn score_page(truth: &[TruthLine], reading: &Reading) -> Tally {
    let truth_polygons: Vec<_> = truth.iter().map(|t| t.polygon.clone()).collect();
    let detected: Vec<_> = reading.lines.iter().map(|l| l.polygon.clone()).collect();
    let matches = match_polygons(&truth_polygons, &detected, IOU_THRESHOLD);
    let mut text = TextErrors::default();
    for (t, m) in truth.iter().zip(&matches) {
        let hypothesis = m.map_or("", |d| reading.lines[d].text.as_str());
        text.add(TextErrors::of(&t.text, hypothesis));
    }
    let page_text = |texts: Vec<&str>| {
        texts
            .into_iter()
            .map(normalize)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let reference = page_text(truth.iter().map(|t| t.text.as_str()).collect());
    let hypothesis = page_text(reading.lines.iter().map(|l| l.text.as_str()).collect());
    Tally {
        text,
        detection: Some(Detection {
            matched: matches.iter().filter(|m| m.is_some()).count(),
            detected: detected.len(),
            truth: truth.len(),
        }),
        page: Some(char_errors(&reference, &hypothesis)),
        n: 0,
        seconds: 0.0,
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{:.2}", v * 100.0))
}

/// A plain-text table (rates in percent).
pub fn format_table(report: &Report) -> String {
    let mut out = format!(
        "{:<20} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8}\n",
        "set", "n", "CER%", "WER%", "CERnc%", "WERnc%", "P%", "R%", "F1%", "pageCER%", "s/item"
    );
    let rows = report.sets.iter().map(|(k, s)| (k.as_str(), s));
    for (name, s) in rows.chain(std::iter::once(("overall", &report.overall))) {
        out.push_str(&format!(
            "{:<20} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8.3}\n",
            name,
            s.n,
            percent(s.cer),
            percent(s.wer),
            percent(s.cer_nocase),
            percent(s.wer_nocase),
            percent(s.precision),
            percent(s.recall),
            percent(s.f1),
            percent(s.page_cer),
            s.seconds_per_item
        ));
    }
    out
}
