//! A trained network becomes a personal model: its weights and model card placed in the
//! store, where the catalog finds it (`inkread models list`, `--recognizer ID`, the app).

use std::path::PathBuf;

use burn::module::Module;
use sha2::Digest;

use super::TrainError;
use crate::models::Installer;
use crate::models::personal::{CARD_FILE, ModelCard, WEIGHTS_FILE};
use crate::nn::easyocr::Crnn;
use crate::pipeline::calibration::{CALIBRATION_FILE, Calibration};
use crate::pipeline::language_model;

/// Writes `net` with `card` (its `weights_sha256` filled in here) as model `card.id`.
pub fn publish(
    installer: &Installer,
    net: &Crnn,
    mut card: ModelCard,
    calibration: Option<&Calibration>,
) -> Result<PathBuf, TrainError> {
    let scratch = tempfile::tempdir().map_err(|e| TrainError::io(&std::env::temp_dir(), e))?;
    let weights_path = scratch.path().join(WEIGHTS_FILE);
    net.clone()
        .valid()
        .save_file(&weights_path)
        .map_err(|e| TrainError::Checkpoint {
            path: weights_path.clone(),
            source: e.into(),
        })?;
    let weights = std::fs::read(&weights_path).map_err(|e| TrainError::io(&weights_path, e))?;
    card.weights_sha256 = hex::encode(sha2::Sha256::digest(&weights));
    let card_json = serde_json::to_vec_pretty(&card).map_err(|e| TrainError::Checkpoint {
        path: PathBuf::from(CARD_FILE),
        source: e.into(),
    })?;
    let calibration = calibration.map(Calibration::to_json);
    let language_model = language_model_to_keep(installer, &card);
    let mut files = vec![(WEIGHTS_FILE, &weights[..]), (CARD_FILE, &card_json[..])];
    files.extend(calibration.as_deref().map(|json| (CALIBRATION_FILE, json)));
    let dir = installer
        .place_made_here(&card.id, &files)
        .map_err(|e| TrainError::Inkread(crate::Error::model_because("publishing the model", e)))?;
    // Not among the files the store checks: `inkread train lm` replaces or removes it later,
    // which must not make the model look incomplete.
    if let Some(json) = language_model {
        let path = dir.join(language_model::FILE);
        std::fs::write(&path, json).map_err(|e| TrainError::io(&path, e))?;
    }
    Ok(dir)
}

/// The language model (`inkread train lm`) the new weights read with: the one the model
/// being replaced had, else its base's. It is about the language, not the weights, so
/// republishing a model or training a personal model from it keeps it.
fn language_model_to_keep(installer: &Installer, card: &ModelCard) -> Option<Vec<u8>> {
    // Personal models live in the store's models folder under their id.
    let models = installer.config.models_dir();
    std::iter::once(&card.id)
        .chain(card.base.as_ref())
        .find_map(|id| std::fs::read(models.join(id).join(language_model::FILE)).ok())
}

/// Now in RFC 3339, UTC, to the second (for model cards).
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's well-known algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::StoreConfig;
    use crate::models::catalog::Catalog;
    use crate::models::personal::sample_card;
    use language_model::FILE;

    fn card(id: &str, base: Option<&str>) -> ModelCard {
        ModelCard {
            base: base.map(Into::into),
            ..sample_card(id, &now_utc())
        }
    }

    #[test]
    fn the_language_model_stays_with_a_republished_model_and_passes_to_its_children() {
        let root = tempfile::tempdir().unwrap();
        let installer = Installer::new(
            StoreConfig::rooted(root.path(), "http://127.0.0.1:9"),
            Catalog::builtin(),
        );
        let net = Crnn::fresh(3, 1, &burn::tensor::Device::flex()).unwrap();
        let dir = publish(&installer, &net, card("mine", None), None).unwrap();
        assert!(!dir.join(FILE).exists());
        std::fs::write(dir.join(FILE), b"{\"lm\": 1}").unwrap();
        let again = publish(&installer, &net, card("mine", None), None).unwrap();
        assert_eq!(std::fs::read(again.join(FILE)).unwrap(), b"{\"lm\": 1}");
        // `train lm` may replace it (another size) or remove it later, so the store's list
        // of files it checks for completeness must not hold it.
        let checked = std::fs::read_to_string(again.join("inkread-model.json")).unwrap();
        assert!(checked.contains(WEIGHTS_FILE), "{checked}");
        assert!(!checked.contains(FILE), "{checked}");
        let child = publish(&installer, &net, card("child", Some("mine")), None).unwrap();
        assert_eq!(std::fs::read(child.join(FILE)).unwrap(), b"{\"lm\": 1}");
        let other = publish(&installer, &net, card("other", None), None).unwrap();
        assert!(!other.join(FILE).exists());
    }

    #[test]
    fn calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
    }
}
