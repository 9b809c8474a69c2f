//! Training lines: an image and its transcription, read from manifests in the shared format
//! (tab-separated with a header; `path` and `transcription` columns, optional `split`;
//! paths relative to the manifest's folder).

use std::path::{Path, PathBuf};

use super::TrainError;
use crate::eval::manifest::{column, field, read_rows};
use crate::eval::metrics::normalize;

/// One line image and what is written on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub image: PathBuf,
    /// NFC, whitespace collapsed.
    pub text: String,
    /// Where it came from, for messages: `manifest.tsv:12`.
    pub origin: String,
    /// The line's outline when `image` is a whole page (PAGE-XML, ALTO): the line is cropped
    /// from it as the pipeline crops detected lines.
    pub polygon: Option<Vec<crate::reading::Point>>,
    /// The line's language as its source names it (a manifest's `lang` column), if it does:
    /// `inkread train lm` learns one language model per language from it.
    pub lang: Option<String>,
}

/// Which rows of a manifest to take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Rows whose `split` is `train`, or every row when there is no `split` column.
    Train,
    /// Rows whose `split` is `val` (none when there is no `split` column).
    Val,
    /// Every row.
    All,
}

/// The rows of `manifest` that belong to `split`. Problems with single rows (an empty
/// transcription, a missing image) are collected, not fatal here: see [`check_samples`].
pub fn read_manifest(manifest: &Path, split: Split) -> Result<Vec<Sample>, TrainError> {
    let (header, rows) = read_rows(manifest)?;
    let path_col = column(&header, "path", manifest)?;
    let text_col = column(&header, "transcription", manifest)?;
    let split_col = header.iter().position(|h| h == "split");
    let lang_col = header.iter().position(|h| h == "lang");
    let base = manifest.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (number, row) in rows {
        let row_split = match split_col {
            Some(i) => field(&row, i, manifest, number)?,
            None => "train",
        };
        let wanted = match split {
            Split::All => true,
            Split::Train => row_split == "train",
            Split::Val => row_split == "val",
        };
        if !wanted {
            continue;
        }
        out.push(Sample {
            image: base.join(field(&row, path_col, manifest, number)?),
            text: normalize(field(&row, text_col, manifest, number)?),
            origin: format!("{}:{number}", manifest.display()),
            polygon: None,
            lang: lang_col
                .and_then(|i| row.get(i))
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty()),
        });
    }
    Ok(out)
}

/// Every sample must have text and an image file; all problems are reported at once, before
/// any training starts, so nothing is lost to a bad row found hours later.
pub fn check_samples(samples: &[Sample]) -> Result<(), TrainError> {
    let problems: Vec<String> = samples
        .iter()
        .filter_map(|s| {
            if s.text.is_empty() {
                Some(format!("{}: empty transcription", s.origin))
            } else if !s.image.is_file() {
                Some(format!(
                    "{}: image {} is missing",
                    s.origin,
                    s.image.display()
                ))
            } else {
                None
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(TrainError::BadSamples {
            count: problems.len(),
            first: problems.into_iter().take(5).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("manifest.tsv");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn splits_rows_and_resolves_paths() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(
            dir.path(),
            "path\ttranscription\tsplit\na.png\tHello  world\ttrain\nb.png\tVal\tval\n",
        );
        let train = read_manifest(&m, Split::Train).unwrap();
        assert_eq!(train.len(), 1);
        assert_eq!(train[0].text, "Hello world");
        assert_eq!(train[0].image, dir.path().join("a.png"));
        assert_eq!(read_manifest(&m, Split::Val).unwrap()[0].text, "Val");
        assert_eq!(read_manifest(&m, Split::All).unwrap().len(), 2);
        assert_eq!(train[0].lang, None);
    }

    #[test]
    fn the_lang_column_names_each_rows_language() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(
            dir.path(),
            "path\ttranscription\tlang\na.png\tHello\ten\nb.png\tSalut\tfr\nc.png\tx\t \n",
        );
        let langs: Vec<Option<String>> = read_manifest(&m, Split::All)
            .unwrap()
            .into_iter()
            .map(|s| s.lang)
            .collect();
        assert_eq!(langs, [Some("en".into()), Some("fr".into()), None]);
    }

    #[test]
    fn without_split_column_every_row_is_training() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path(), "path\ttranscription\na.png\tx\n");
        assert_eq!(read_manifest(&m, Split::Train).unwrap().len(), 1);
        assert!(read_manifest(&m, Split::Val).unwrap().is_empty());
    }

    #[test]
    fn bad_rows_are_all_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.png"), b"x").unwrap();
        let m = manifest(
            dir.path(),
            "path\ttranscription\na.png\t \nmissing.png\tok\na.png\tfine\n",
        );
        let samples = read_manifest(&m, Split::All).unwrap();
        let err = check_samples(&samples).unwrap_err().to_string();
        assert!(err.contains("2 training lines"), "{err}");
        assert!(err.contains(":2: empty transcription"), "{err}");
        assert!(err.contains("missing.png is missing"), "{err}");
    }

    #[test]
    fn a_manifest_without_transcriptions_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path(), "path\ttext\na.png\tx\n");
        let err = read_manifest(&m, Split::All).unwrap_err().to_string();
        assert!(err.contains("transcription"), "{err}");
    }
}
