//! What a recognizer's line confidence is worth: the share of characters it reads right at
//! that confidence, measured (scripts/calibrate_auto.py) and stored as knots of a
//! non-decreasing curve. The `auto` recognizer compares two recognizers by it, because raw
//! confidences are not comparable: a print model is about as sure of itself on handwriting
//! it misreads as on print it reads right.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The file in a model folder that holds its calibration (it wins over the catalog's).
pub const CALIBRATION_FILE: &str = "calibration.json";
/// The most knots a fitted calibration keeps.
const MAX_KNOTS: usize = 16;
/// Fewer measured lines than this say too little to fit a curve.
const MIN_LINES: usize = 20;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Calibration {
    /// (confidence, expected character accuracy), confidences increasing; empty: identity.
    knots: Vec<[f32; 2]>,
}

/// Knots that do not make a calibration curve.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadKnots(String);

#[derive(Deserialize, Serialize)]
struct CalibrationFile {
    knots: Vec<[f32; 2]>,
}

impl Calibration {
    /// Checks the knots: finite, in 0..=1, confidences increasing, accuracies not falling.
    pub fn new(knots: Vec<[f32; 2]>) -> std::result::Result<Calibration, BadKnots> {
        let in_range = |v: f32| v.is_finite() && (0.0..=1.0).contains(&v);
        if let Some(k) = knots.iter().find(|k| !in_range(k[0]) || !in_range(k[1])) {
            return Err(BadKnots(format!("knot {k:?} is outside 0..=1")));
        }
        if knots
            .windows(2)
            .any(|w| w[1][0] <= w[0][0] || w[1][1] < w[0][1])
        {
            return Err(BadKnots(
                "knots must rise: confidences increasing, accuracies not falling".into(),
            ));
        }
        Ok(Calibration { knots })
    }

    /// The calibration in `dir`'s [`CALIBRATION_FILE`], if it has one.
    pub fn from_dir(dir: &Path) -> Result<Option<Calibration>> {
        let path = dir.join(CALIBRATION_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        let what = format!("reading the calibration {}", path.display());
        let file: CalibrationFile =
            serde_json::from_str(&text).map_err(|e| Error::model_because(&what, e))?;
        Calibration::new(file.knots)
            .map(Some)
            .map_err(|e| Error::model_because(&what, e))
    }

    /// Fits the curve to measured lines, each (confidence, share of characters read right):
    /// the best non-decreasing fit (pool-adjacent-violators), kept as at most
    /// [`MAX_KNOTS`] knots at quantiles of the confidences. `None` for too few lines.
    pub fn fit(lines: &[(f32, f32)]) -> Option<Calibration> {
        let mut lines: Vec<(f32, f32)> = lines
            .iter()
            .copied()
            .filter(|(c, a)| c.is_finite() && a.is_finite())
            .collect();
        if lines.len() < MIN_LINES {
            return None;
        }
        lines.sort_by(|a, b| a.0.total_cmp(&b.0));
        let fitted = non_decreasing_fit(&lines);
        let mut knots: Vec<[f32; 2]> = Vec::new();
        for k in 0..MAX_KNOTS {
            let i = k * (lines.len() - 1) / (MAX_KNOTS - 1);
            let knot = [lines[i].0.clamp(0.0, 1.0), fitted[i].clamp(0.0, 1.0)];
            match knots.last_mut() {
                Some(last) if knot[0] <= last[0] => last[1] = last[1].max(knot[1]),
                _ => knots.push(knot),
            }
        }
        Calibration::new(knots).ok()
    }

    /// The knots: (confidence, expected accuracy), confidences increasing.
    pub fn knots(&self) -> &[[f32; 2]] {
        &self.knots
    }

    /// The contents of a [`CALIBRATION_FILE`].
    pub fn to_json(&self) -> Vec<u8> {
        let file = CalibrationFile {
            knots: self.knots.clone(),
        };
        serde_json::to_vec_pretty(&file).unwrap_or_default()
    }

    /// The expected share of characters read right at `confidence`: linear between knots,
    /// flat beyond the ends; the confidence itself when there are no knots.
    pub fn expected_accuracy(&self, confidence: f32) -> f32 {
        let (Some(first), Some(last)) = (self.knots.first(), self.knots.last()) else {
            return confidence;
        };
        if confidence <= first[0] {
            return first[1];
        }
        if confidence >= last[0] {
            return last[1];
        }
        let i = self.knots.partition_point(|k| k[0] <= confidence);
        let ([c0, a0], [c1, a1]) = (self.knots[i - 1], self.knots[i]);
        a0 + (a1 - a0) * (confidence - c0) / (c1 - c0)
    }
}

/// Pool-adjacent-violators on values ordered by confidence: the closest non-decreasing
/// sequence in the least-squares sense (what isotonic regression fits).
fn non_decreasing_fit(lines: &[(f32, f32)]) -> Vec<f32> {
    // Blocks of pooled values: (sum, count).
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for &(_, value) in lines {
        blocks.push((value as f64, 1));
        while let [.., (s0, n0), (s1, n1)] = blocks[..] {
            if s0 / n0 as f64 <= s1 / n1 as f64 {
                break;
            }
            blocks.truncate(blocks.len() - 2);
            blocks.push((s0 + s1, n0 + n1));
        }
    }
    blocks
        .iter()
        .flat_map(|&(sum, n)| std::iter::repeat_n((sum / n as f64) as f32, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_between_knots_and_is_flat_beyond_them() {
        let c = Calibration::new(vec![[0.5, 0.1], [0.9, 0.5], [0.99, 0.97]]).unwrap();
        assert_eq!(c.expected_accuracy(0.2), 0.1);
        assert!((c.expected_accuracy(0.7) - 0.3).abs() < 1e-6);
        assert_eq!(c.expected_accuracy(1.0), 0.97);
        assert_eq!(Calibration::default().expected_accuracy(0.42), 0.42);
    }

    #[test]
    fn a_fit_rises_with_confidence_and_follows_the_measured_accuracy() {
        // Sure readings are mostly right, unsure ones mostly wrong, with noise that breaks
        // the order locally (which the fit must smooth out, never fall).
        let lines: Vec<(f32, f32)> = (0..200)
            .map(|i| {
                let c = i as f32 / 200.0;
                let wobble = if i % 7 == 0 { -0.3 } else { 0.0 };
                (c, (c * c + wobble).clamp(0.0, 1.0))
            })
            .collect();
        let fit = Calibration::fit(&lines).unwrap();
        assert!(fit.knots.len() <= MAX_KNOTS);
        assert!(fit.knots.windows(2).all(|w| w[1][1] >= w[0][1]));
        assert!((fit.expected_accuracy(0.5) - 0.25).abs() < 0.08, "{fit:?}");
        assert!(fit.expected_accuracy(0.95) > 0.8);
        let back = serde_json::from_slice::<CalibrationFile>(&fit.to_json()).unwrap();
        assert_eq!(back.knots, fit.knots);
        assert!(Calibration::fit(&lines[..5]).is_none());
    }

    #[test]
    fn bad_knots_are_refused() {
        assert!(Calibration::new(vec![[0.5, 0.4], [0.4, 0.5]]).is_err());
        assert!(Calibration::new(vec![[0.4, 0.5], [0.5, 0.4]]).is_err());
        assert!(Calibration::new(vec![[0.4, f32::NAN]]).is_err());
        assert!(Calibration::new(vec![[1.5, 0.5]]).is_err());
    }

    #[test]
    fn a_folder_without_the_file_has_none_and_a_broken_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Calibration::from_dir(dir.path()).unwrap(), None);
        std::fs::write(
            dir.path().join(CALIBRATION_FILE),
            r#"{"knots": [[0.3, 0.2], [0.9, 0.8]]}"#,
        )
        .unwrap();
        let c = Calibration::from_dir(dir.path()).unwrap().unwrap();
        assert!((c.expected_accuracy(0.6) - 0.5).abs() < 1e-6);
        std::fs::write(dir.path().join(CALIBRATION_FILE), "{\"knots\": 3}").unwrap();
        assert!(Calibration::from_dir(dir.path()).is_err());
    }
}
