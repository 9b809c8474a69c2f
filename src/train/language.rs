//! `inkread train lm`: a personal model's character language model, learnt from the training
//! rows of transcriptions and checked on their validation rows, where the same lines are read
//! greedily and with it (the user sees whether it helps), and where the confidence of its
//! readings is calibrated for `auto`.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::TrainError;
use super::dataset::read_data;
use super::lines::load_lines;
use crate::cancel::CancelToken;
use crate::eval::metrics::{Errors, char_errors};
use crate::models::Installer;
use crate::models::personal::ModelCard;
use crate::pipeline::calibration::Calibration;
use crate::pipeline::ctc_beam::BeamSettings;
use crate::pipeline::easyocr::CrnnRecognizer;
use crate::pipeline::language_model::{FILE, LanguageModelFile};

/// What `train lm` learnt from and measured.
#[derive(Clone, Debug, PartialEq)]
pub struct LanguageReport {
    pub path: PathBuf,
    pub texts: usize,
    /// The languages that got n-grams of their own (none: one model of every text).
    pub languages: Vec<String>,
    pub validation_lines: usize,
    /// CER of the validation lines read greedily and with the language model.
    pub greedy_cer: Option<f64>,
    pub with_model_cer: Option<f64>,
}

/// The personal model `id`'s folder, or an error saying only those take a language model.
fn personal_dir(installer: &Installer, id: &str) -> Result<PathBuf, TrainError> {
    let dir = installer.config.models_dir().join(id);
    if ModelCard::read(&dir).is_none() {
        return Err(TrainError::NotPersonal { id: id.to_string() });
    }
    Ok(dir)
}

/// Learns `order`-grams from the training rows of `data`, stores them with `settings` in
/// model `id`'s folder, then reads `data`'s validation rows both ways and stores the
/// calibration of the readings with it.
pub fn attach_language_model(
    installer: &Installer,
    id: &str,
    data: &[PathBuf],
    order: usize,
    settings: BeamSettings,
    device: &Device,
    cancel: &CancelToken,
) -> Result<LanguageReport, TrainError> {
    let dir = personal_dir(installer, id)?;
    let (rows, validation) = read_data(data, &[], None)?;
    let mut file = LanguageModelFile {
        order: order.clamp(1, 12),
        settings,
        sources: data.iter().map(|p| p.display().to_string()).collect(),
        languages: rows
            .iter()
            .map(|s| s.lang.clone().unwrap_or_default())
            .collect(),
        texts: rows.into_iter().map(|s| s.text).collect(),
        calibration: None,
    };
    file.save(&dir)?;
    let mut report = LanguageReport {
        path: dir.join(FILE),
        texts: file.texts.len(),
        languages: file
            .separate_languages()
            .into_iter()
            .map(String::from)
            .collect(),
        validation_lines: validation.len(),
        greedy_cer: None,
        with_model_cer: None,
    };
    if validation.is_empty() {
        return Ok(report);
    }
    let reader = CrnnRecognizer::load_personal(&dir, device)?;
    let lines = load_lines(&validation, reader.deslants(), cancel, &mut |_| {})?;
    let outputs = reader
        .probabilities_of_scaled(&lines, cancel, &mut |_| {})
        .map_err(|e| match e {
            crate::Error::Cancelled => TrainError::Cancelled,
            other => other.into(),
        })?;
    let (mut greedy, mut with_model) = (Errors::default(), Errors::default());
    let mut measured = Vec::with_capacity(outputs.len());
    for (out, sample) in outputs.iter().zip(&validation) {
        greedy.add(char_errors(&sample.text, &reader.decode_greedy(out)?.text));
        let read = reader.decode(out)?;
        let errors = char_errors(&sample.text, &read.text);
        with_model.add(errors);
        let accuracy = 1.0 - errors.rate().unwrap_or(0.0).min(1.0);
        measured.push((read.confidence, accuracy as f32));
    }
    file.calibration = Calibration::fit(&measured).map(|c| c.knots().to_vec());
    file.save(&dir)?;
    report.greedy_cer = greedy.rate();
    report.with_model_cer = with_model.rate();
    Ok(report)
}

/// Takes model `id`'s language model away: it reads greedily again.
pub fn remove_language_model(installer: &Installer, id: &str) -> Result<(), TrainError> {
    let path = personal_dir(installer, id)?.join(FILE);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrainError::io(&path, e)),
        _ => Ok(()),
    }
}

/// Whether model folder `dir` has a language model.
pub fn has_language_model(dir: &Path) -> bool {
    dir.join(FILE).is_file()
}
