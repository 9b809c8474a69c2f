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
    let mut files = vec![(WEIGHTS_FILE, &weights[..]), (CARD_FILE, &card_json[..])];
    files.extend(calibration.as_deref().map(|json| (CALIBRATION_FILE, json)));
    installer
        .place_made_here(&card.id, &files)
        .map_err(|e| TrainError::Inkread(crate::Error::model_because("publishing the model", e)))
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
    use super::civil_from_days;

    #[test]
    fn calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
    }
}
