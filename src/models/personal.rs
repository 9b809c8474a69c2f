//! Personal models: recognizers trained on this machine (`inkread train`, or the app's
//! "Learn from my corrections"). Each lives in the store like any installed model, with a
//! model card saying what it is; the catalog lists every such folder it finds, so a trained
//! model is used by id like the built-in ones, and removing its folder forgets it.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::catalog::{FileSpec, Kind, ModelEntry, Script, Source};
use crate::nn::easyocr::Crnn;

/// The model card's file name inside the model's folder.
pub const CARD_FILE: &str = "model-card.json";
/// The weights' file name (a Burn record).
pub const WEIGHTS_FILE: &str = "model.bpk";
/// The only architecture `inkread train` writes so far: EasyOCR's generation 2 CRNN.
pub const CRNN_G2: &str = "easyocr-crnn-g2";

/// What a personal model is and how it was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub id: String,
    pub architecture: String,
    /// The characters of output classes 1.. (class 0 is the CTC blank).
    pub alphabet: String,
    /// The catalog id it was fine-tuned from, or `None` when trained from scratch.
    pub base: Option<String>,
    /// The training data, as given (manifests, folders).
    pub data: Vec<String>,
    pub training_lines: usize,
    pub validation_lines: usize,
    /// Epochs trained, and the epoch whose weights these are (the best on validation).
    pub epochs: usize,
    pub best_epoch: usize,
    /// Set when these weights are a checkpoint taken inside the epoch after `epochs`
    /// (`inkread train publish`): how many of its batches were done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_epoch: Option<PartialEpoch>,
    /// Validation character error rate of these weights, when there was validation data.
    pub validation_cer: Option<f64>,
    pub seed: u64,
    /// Lines are deslanted before the network sees them (`pipeline::deslant`), in
    /// training and so in reading.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deslant: bool,
    /// When training finished, RFC 3339 in UTC.
    pub created: String,
    pub weights_sha256: String,
}

/// How far into an epoch a checkpoint was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialEpoch {
    pub batches_done: usize,
    pub batches: usize,
}

impl ModelCard {
    pub fn read(dir: &Path) -> Option<ModelCard> {
        let text = std::fs::read_to_string(dir.join(CARD_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// A catalog entry for the model in `dir`: a CTC recognizer whose only source is this
    /// machine.
    pub fn catalog_entry(&self, dir: &Path) -> ModelEntry {
        let size = std::fs::metadata(dir.join(WEIGHTS_FILE)).map_or(0, |m| m.len());
        let base = self.base.as_deref().unwrap_or("scratch");
        let cer = self.validation_cer.map_or(String::new(), |c| {
            format!(", validation CER {:.1} %", 100.0 * c)
        });
        let partial = self.partial_epoch.map_or(String::new(), |p| {
            format!(" and {} of {} batches", p.batches_done, p.batches)
        });
        ModelEntry {
            id: self.id.clone(),
            name: format!(
                "Personal recognizer (from {base}, {} epochs{partial}{cer})",
                self.epochs
            ),
            kind: Kind::Ctc,
            architecture: format!("{} trained on this machine", self.architecture),
            languages: Vec::new(),
            licence: "yours: trained on this machine from your data".into(),
            size_mb: size.div_ceil(1_000_000),
            reads: vec![Script::Handwriting],
            calibration: None,
            sources: vec![Source::Trained {
                files: [WEIGHTS_FILE, CARD_FILE]
                    .iter()
                    .map(|name| FileSpec::named(name))
                    .collect(),
            }],
        }
    }
}

/// Every personal model in `models_dir` (folders with a readable model card), newest
/// first. The order matters: `auto` reads handwriting with the first installed handwriting
/// recognizer of the catalog, so the user's latest training (a "Learn from my corrections"
/// model, made from the one in use) is the one it uses. Validation CERs would not do: each
/// model is validated on other lines (a personal model on a handful of the user's own).
pub fn discover(models_dir: &Path) -> Vec<ModelEntry> {
    let Ok(entries) = std::fs::read_dir(models_dir) else {
        return Vec::new();
    };
    let mut found: Vec<(ModelCard, ModelEntry)> = entries
        .flatten()
        .filter_map(|e| {
            let dir = e.path();
            let card = ModelCard::read(&dir)?;
            // A card copied under another folder name would be found under the wrong id.
            let entry = (dir.file_name()? == card.id.as_str()).then(|| card.catalog_entry(&dir))?;
            Some((card, entry))
        })
        .collect();
    // RFC 3339 times in UTC sort as strings.
    found.sort_by(|(a, _), (b, _)| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    found.into_iter().map(|(_, entry)| entry).collect()
}

/// A personal CRNN's network, its class labels (blank first, an empty string) and its card.
pub fn load_personal_crnn(
    dir: &Path,
    device: &Device,
) -> crate::Result<(Crnn, Vec<String>, ModelCard)> {
    let card = ModelCard::read(dir).ok_or_else(|| {
        crate::Error::Model(format!("{}: no readable {CARD_FILE}", dir.display()))
    })?;
    if card.architecture != CRNN_G2 {
        return Err(crate::Error::Model(format!(
            "{}: architecture {} is not one Inkread can run",
            card.id, card.architecture
        )));
    }
    let labels: Vec<String> = std::iter::once(String::new())
        .chain(card.alphabet.chars().map(String::from))
        .collect();
    let weights = dir.join(WEIGHTS_FILE);
    let net = Crnn::fresh(labels.len(), 0, device)?
        .try_load_file(&weights)
        .map_err(|e| crate::Error::model_because(weights.display().to_string(), e))?;
    Ok((net, labels, card))
}

/// A card with made-up figures, for tests here and in `train`.
#[cfg(test)]
pub(crate) fn sample_card(id: &str, created: &str) -> ModelCard {
    ModelCard {
        id: id.into(),
        architecture: CRNN_G2.into(),
        alphabet: "ab".into(),
        base: None,
        data: Vec::new(),
        training_lines: 1,
        validation_lines: 0,
        epochs: 1,
        best_epoch: 1,
        partial_epoch: None,
        validation_cer: None,
        seed: 1,
        deslant: false,
        created: created.into(),
        weights_sha256: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_models_are_found_newest_first() {
        let store = tempfile::tempdir().unwrap();
        let cards = [
            sample_card("b-old", "2026-11-01T10:00:00Z"),
            sample_card("a-new", "2026-11-30T09:00:00Z"),
            sample_card("c-newest", "2026-11-30T10:00:00Z"),
        ];
        for c in &cards {
            let dir = store.path().join(&c.id);
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join(CARD_FILE), serde_json::to_string(c).unwrap()).unwrap();
        }
        // A card under a folder of another name is not a model of that id.
        let stray = store.path().join("copy");
        std::fs::create_dir(&stray).unwrap();
        std::fs::write(
            stray.join(CARD_FILE),
            serde_json::to_string(&cards[0]).unwrap(),
        )
        .unwrap();
        let ids: Vec<String> = discover(store.path()).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["c-newest", "a-new", "b-old"]);
    }
}
