//! The lines a run trains and validates on, ready for the loop: images in memory at the
//! network's height, texts as class sequences of the run's alphabet.

use std::path::PathBuf;

use image::GrayImage;

use super::TrainError;
use super::alphabet::Alphabet;
use super::lines::{frames_for_width, frames_needed, load_lines};
use super::page_xml::{is_page_xml, read_page_xml};
use super::samples::{Sample, Split, check_samples, read_manifest};
use super::trainer::{TrainEvent, TrainRun};
use crate::cancel::CancelToken;
use crate::pipeline::easyocr::batch_width;

/// Training lines (with their classes) and validation lines (with their reference text).
pub struct DataSet {
    pub train_lines: Vec<GrayImage>,
    pub train_classes: Vec<Vec<usize>>,
    pub val_lines: Vec<GrayImage>,
    pub val_texts: Vec<String>,
}

/// The run's samples as listed: training rows, validation rows.
pub fn read_samples(run: &TrainRun) -> Result<(Vec<Sample>, Vec<Sample>), TrainError> {
    read_data(&run.data, &run.val, run.limit)
}

/// Training and validation rows of `data` (manifests, PAGE-XML / ALTO files or folders);
/// `val`, when not empty, replaces the validation rows the data would give.
pub fn read_data(
    data: &[PathBuf],
    val_data: &[PathBuf],
    limit: Option<usize>,
) -> Result<(Vec<Sample>, Vec<Sample>), TrainError> {
    let mut train = Vec::new();
    let mut val = Vec::new();
    let (pages, manifests): (Vec<PathBuf>, Vec<PathBuf>) = expand_folders(data)?
        .into_iter()
        .partition(|p| is_page_xml(p));
    for manifest in &manifests {
        train.extend(read_manifest(manifest, Split::Train)?);
        if val_data.is_empty() {
            val.extend(read_manifest(manifest, Split::Val)?);
        }
    }
    // Transcribed pages: without --val, every 20th page (from the first, in name order)
    // validates, when there are at least two; lines of one page never go to both sides.
    for (i, page) in pages.iter().enumerate() {
        let held_out = val_data.is_empty() && pages.len() >= 2 && i % 20 == 0;
        let lines = read_page_xml(page)?;
        if held_out {
            val.extend(lines)
        } else {
            train.extend(lines)
        }
    }
    for path in expand_folders(val_data)? {
        if is_page_xml(&path) {
            val.extend(read_page_xml(&path)?);
        } else {
            val.extend(read_manifest(&path, Split::All)?);
        }
    }
    if let Some(limit) = limit {
        train.truncate(limit);
        val.truncate(limit);
    }
    check_samples(&train)?;
    check_samples(&val)?;
    if train.is_empty() {
        return Err(TrainError::NoSamples);
    }
    Ok((train, val))
}

/// Folders stand for the PAGE-XML / ALTO files in them (in name order).
fn expand_folders(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TrainError> {
    let mut out = Vec::new();
    for path in paths {
        if !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| TrainError::io(path, e))?;
        let mut xml: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_page_xml(p))
            .collect();
        xml.sort();
        out.extend(xml);
    }
    Ok(out)
}

/// The validation lines alone, to score a checkpoint.
pub fn load_validation(
    val: &[Sample],
    deslant: bool,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<DataSet, TrainError> {
    let total = val.len();
    let val_lines = load_lines(val, deslant, cancel, &mut |done| {
        on_event(TrainEvent::Loading { done, total })
    })?;
    Ok(DataSet {
        train_lines: Vec::new(),
        train_classes: Vec::new(),
        val_lines,
        val_texts: val.iter().map(|s| s.text.clone()).collect(),
    })
}

/// Encodes and loads the samples. Training lines too narrow for their text (CTC needs a
/// frame per character) are left out and counted in a [`TrainEvent::LeftOut`].
pub fn load(
    train: &[Sample],
    val: &[Sample],
    alphabet: &Alphabet,
    deslant: bool,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<DataSet, TrainError> {
    let classes = train
        .iter()
        .map(|s| alphabet.encode(&s.text))
        .collect::<Result<Vec<_>, _>>()?;
    let total = train.len() + val.len();
    let mut report = |done| on_event(TrainEvent::Loading { done, total });
    let lines = load_lines(train, deslant, cancel, &mut report)?;
    let val_lines = load_lines(val, deslant, cancel, &mut |done| report(train.len() + done))?;
    let mut data = DataSet {
        train_lines: Vec::with_capacity(lines.len()),
        train_classes: Vec::with_capacity(lines.len()),
        val_lines,
        val_texts: val.iter().map(|s| s.text.clone()).collect(),
    };
    let mut left_out = Vec::new();
    for ((line, classes), sample) in lines.into_iter().zip(classes).zip(train) {
        let frames = frames_for_width(batch_width([line.width()]));
        if frames_needed(&classes) > frames {
            left_out.push(sample.origin.clone());
        } else {
            data.train_lines.push(line);
            data.train_classes.push(classes);
        }
    }
    if !left_out.is_empty() {
        on_event(TrainEvent::LeftOut {
            count: left_out.len(),
            why: "the line image is too narrow for its transcription".into(),
            first: left_out.into_iter().take(3).collect(),
        });
    }
    if data.train_lines.is_empty() {
        return Err(TrainError::NoSamples);
    }
    Ok(data)
}
