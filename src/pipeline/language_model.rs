//! A recognizer's language model on disk: `char-lm.json` beside a personal model's weights,
//! holding the transcriptions it is learnt from (rebuilt on load: a second or less, and a
//! file a fraction of the size of the counts) and the beam search settings. When the texts
//! name their languages and two or more of them have enough lines, each such language gets
//! its own n-grams and every line is read in the one it reads best in (an English letter
//! is not read with French spelling habits, measured in docs/TRAIN.md).

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
    /// Each text's language (empty when unknown), parallel to `texts`; files written before
    /// languages were kept have none, and read with one model of all their texts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// Knots mapping a line's confidence to its expected accuracy when read with this
    /// language model (the folder's `calibration.json` was fitted on greedy readings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Vec<[f32; 2]>>,
}

/// A model folder's language model, ready for decoding.
#[derive(Debug)]
pub struct LanguageModel {
    /// One per language (or one for all), each line read with the one that suits it best.
    pub models: Vec<CharLm>,
    pub settings: BeamSettings,
}

/// Fewer lines than this in a language and it gets no n-grams of its own (its texts join
/// every language's): a few dozen lines would make a model that is sure and wrong.
pub const MIN_TEXTS_PER_LANGUAGE: usize = 200;

impl LanguageModelFile {
    pub fn save(&self, model_dir: &Path) -> Result<()> {
        let path = model_dir.join(FILE);
        let text = serde_json::to_string(self).map_err(|e| Error::model_because(FILE, e))?;
        std::fs::write(&path, text).map_err(|source| Error::Io { path, source })
    }

    pub fn build(&self) -> LanguageModel {
        LanguageModel {
            models: self
                .text_groups()
                .into_iter()
                .map(|texts| CharLm::train(texts, self.order))
                .collect(),
            settings: self.settings,
        }
    }

    /// The languages with their own n-grams, in the order of [`Self::build`]'s models;
    /// empty when one model holds every text.
    pub fn separate_languages(&self) -> Vec<&str> {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for lang in self.languages.iter().filter(|l| !l.is_empty()) {
            *counts.entry(lang.as_str()).or_default() += 1;
        }
        let own: Vec<&str> = counts
            .into_iter()
            .filter(|&(_, n)| n >= MIN_TEXTS_PER_LANGUAGE)
            .map(|(lang, _)| lang)
            .collect();
        if own.len() < 2 { Vec::new() } else { own }
    }

    /// The texts each model learns from: every text when the languages are not told apart,
    /// else per separate language its own texts and those of no separate language.
    fn text_groups(&self) -> Vec<Vec<&str>> {
        let own = self.separate_languages();
        if own.is_empty() || self.languages.len() != self.texts.len() {
            return vec![self.texts.iter().map(String::as_str).collect()];
        }
        own.iter()
            .map(|&lang| {
                self.texts
                    .iter()
                    .zip(&self.languages)
                    .filter(|(_, l)| l.as_str() == lang || !own.contains(&l.as_str()))
                    .map(|(t, _)| t.as_str())
                    .collect()
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file(languages: &[(&str, usize)]) -> LanguageModelFile {
        let mut texts = Vec::new();
        let mut langs = Vec::new();
        for &(lang, n) in languages {
            texts.extend((0..n).map(|i| format!("{lang} line {i}")));
            langs.extend(std::iter::repeat_n(lang.to_string(), n));
        }
        LanguageModelFile {
            order: 3,
            settings: BeamSettings::default(),
            sources: vec![],
            texts,
            languages: langs,
            calibration: None,
        }
    }

    #[test]
    fn languages_with_enough_lines_get_their_own_model() {
        let f = file(&[("fr", 300), ("en", 250), ("es", 20), ("", 5)]);
        assert_eq!(f.separate_languages(), ["en", "fr"]);
        let groups = f.text_groups();
        // Each: its own lines plus the 25 of no separate language.
        assert_eq!(groups.iter().map(Vec::len).collect::<Vec<_>>(), [275, 325]);
        assert!(groups[0].iter().all(|t| !t.starts_with("fr")));
        assert!(groups[1].iter().any(|t| t.starts_with("es")));
        assert_eq!(f.build().models.len(), 2);
    }

    #[test]
    fn one_language_or_none_named_is_one_model_of_everything() {
        for f in [
            file(&[("fr", 300), ("en", 199)]),
            file(&[("", 600)]),
            LanguageModelFile {
                languages: vec![],
                ..file(&[("fr", 300), ("en", 300)])
            },
        ] {
            assert!(f.separate_languages().is_empty());
            assert_eq!(f.text_groups().len(), 1);
            assert_eq!(f.text_groups()[0].len(), f.texts.len());
        }
    }
}
