//! The user's corrections: each line the user fixed in the app, as its image and the right
//! text, kept in `$INKREAD_HOME/corrections/` in the training manifest format, so that
//! "Learn from my corrections" (and `inkread train recognizer --data`) can read them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::RgbImage;
use sha2::Digest;

use super::TrainError;

const MANIFEST: &str = "manifest.tsv";
/// From this many corrections on, every this-many-th one validates instead of training:
/// a model checked on the very lines it learned would look better the more it over-fits
/// them (measured in docs/TRAIN.md: 50 lines of one hand, learned that way, read the
/// hand's other pages worse).
pub const VALIDATE_EVERY: usize = 5;

/// The folder of corrections and its manifest.
pub struct Corrections {
    dir: PathBuf,
}

impl Corrections {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The manifest path (what training reads).
    pub fn manifest(&self) -> PathBuf {
        self.dir.join(MANIFEST)
    }

    /// Keeps `text` as the truth for `line`. Correcting the same line image again replaces
    /// its text; an empty text forgets it.
    pub fn record(&self, line: &RgbImage, text: &str) -> Result<(), TrainError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| TrainError::io(&self.dir, e))?;
        let name = format!(
            "{}.png",
            hex::encode(&sha2::Sha256::digest(line.as_raw())[..8])
        );
        let path = self.dir.join(&name);
        if !path.exists() {
            line.save(&path).map_err(|e| TrainError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        }
        let mut rows = self.rows();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            rows.remove(&name);
        } else {
            rows.insert(name, text);
        }
        self.write(&rows)
    }

    /// How many corrected lines there are.
    pub fn count(&self) -> usize {
        self.rows().len()
    }

    /// Whether some corrections are kept apart to validate (the manifest marks them `val`);
    /// with fewer, training can only be checked on the lines it learns.
    pub fn validates_apart(&self) -> bool {
        self.count() >= VALIDATE_EVERY
    }

    /// File name → text, as the manifest holds them.
    fn rows(&self) -> BTreeMap<String, String> {
        let Ok(text) = std::fs::read_to_string(self.manifest()) else {
            return BTreeMap::new();
        };
        text.lines()
            .skip(1)
            .filter_map(|l| {
                let mut fields = l.split('\t');
                Some((fields.next()?.to_string(), fields.next()?.to_string()))
            })
            .filter(|(name, _)| self.dir.join(name).is_file())
            .collect()
    }

    /// Rewrites the manifest through a temporary file, so a crash never leaves half of it.
    fn write(&self, rows: &BTreeMap<String, String>) -> Result<(), TrainError> {
        let mut body = String::from("path\ttranscription\tsplit\n");
        let apart = rows.len() >= VALIDATE_EVERY;
        for (i, (name, text)) in rows.iter().enumerate() {
            let validates = apart && i % VALIDATE_EVERY == VALIDATE_EVERY - 1;
            let split = if validates { "val" } else { "train" };
            body.push_str(&format!("{name}\t{text}\t{split}\n"));
        }
        let tmp = self.dir.join(".manifest.tsv.tmp");
        super::checkpoint::write_synced(&tmp, body.as_bytes())?;
        let manifest = self.manifest();
        std::fs::rename(&tmp, &manifest).map_err(|e| TrainError::io(&manifest, e))
    }
}

/// The corrections folder of a store home.
pub fn corrections_dir(home: &Path) -> PathBuf {
    home.join("corrections")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::samples::{Split, read_manifest};

    fn line(shade: u8) -> RgbImage {
        RgbImage::from_pixel(40, 10, image::Rgb([shade; 3]))
    }

    #[test]
    fn corrections_become_a_training_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Corrections::new(dir.path().join("corrections"));
        assert_eq!(store.count(), 0);
        store.record(&line(10), "first  try").unwrap();
        store.record(&line(20), "other").unwrap();
        store.record(&line(10), "first line").unwrap();
        assert_eq!(store.count(), 2);
        let samples = read_manifest(&store.manifest(), Split::Train).unwrap();
        let mut texts: Vec<&str> = samples.iter().map(|s| s.text.as_str()).collect();
        texts.sort_unstable();
        assert_eq!(texts, ["first line", "other"]);
        assert!(samples.iter().all(|s| s.image.is_file()));
        store.record(&line(20), " ").unwrap();
        assert_eq!(store.count(), 1);
    }

    #[test]
    fn one_correction_in_five_validates_once_there_are_five() {
        let dir = tempfile::tempdir().unwrap();
        let store = Corrections::new(dir.path().join("corrections"));
        let split_counts = |store: &Corrections| {
            let train = read_manifest(&store.manifest(), Split::Train)
                .unwrap()
                .len();
            let val = read_manifest(&store.manifest(), Split::Val).unwrap().len();
            (train, val)
        };
        for shade in 0..4 {
            store
                .record(&line(shade), &format!("line {shade}"))
                .unwrap();
        }
        assert!(!store.validates_apart());
        assert_eq!(split_counts(&store), (4, 0));
        for shade in 4..11 {
            store
                .record(&line(shade), &format!("line {shade}"))
                .unwrap();
        }
        assert!(store.validates_apart());
        assert_eq!(split_counts(&store), (9, 2));
    }
}
