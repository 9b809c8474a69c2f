//! A recognizer's language model on disk: `char-lm.json` beside a personal model's weights,
//! holding the transcriptions it is learnt from (rebuilt on load: a second or less, and a
//! file a fraction of the size of the counts) and the beam search settings.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::calibration::Calibration;
use super::char_lm::CharLm;
use super::ctc_beam::BeamSettings;
use crate::{Error, Result};

/// The file's name in a model folder.
pub const FILE: &str = "char-lm.json";

#[derive(Debug, Serialize, Deserialize)]
pub struct LanguageModelFile {
    /// Characters per n-gram, the one predicted included.
    pub order: usize,
    pub settings: BeamSettings,
    /// Where the texts came from, for the user.
    pub sources: Vec<String>,
    pub texts: Vec<String>,
    /// Knots mapping a line's confidence to its expected accuracy when read with this
    /// language model (the folder's `calibration.json` was fitted on greedy readings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Vec<[f32; 2]>>,
}

/// A model folder's language model, ready for decoding.
#[derive(Debug)]
pub struct LanguageModel {
    pub lm: CharLm,
    pub settings: BeamSettings,
}

impl LanguageModelFile {
    pub fn save(&self, model_dir: &Path) -> Result<()> {
        let path = model_dir.join(FILE);
        let text = serde_json::to_string(self).map_err(|e| Error::model_because(FILE, e))?;
        std::fs::write(&path, text).map_err(|source| Error::Io { path, source })
    }

    pub fn build(&self) -> LanguageModel {
        LanguageModel {
            lm: CharLm::train(self.texts.iter().map(String::as_str), self.order),
            settings: self.settings,
        }
    }
}

/// The folder's language model, or `None` when it has none.
pub fn load(model_dir: &Path) -> Result<Option<LanguageModel>> {
    Ok(read(model_dir)?.map(|file| file.build()))
}

/// The calibration of readings with the folder's language model, when it has one fitted.
pub fn calibration(model_dir: &Path) -> Result<Option<Calibration>> {
    let Some(knots) = read(model_dir)?.and_then(|file| file.calibration) else {
        return Ok(None);
    };
    Calibration::new(knots)
        .map(Some)
        .map_err(|e| Error::model_because(FILE, e))
}

/// The folder's language model file as stored, or `None` when it has none.
pub fn read(model_dir: &Path) -> Result<Option<LanguageModelFile>> {
    let path = model_dir.join(FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::model_because(FILE, e))
}
