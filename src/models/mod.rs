//! Models: the catalog, downloads and the cache, and loading weights into the networks.

pub mod catalog;
pub mod easyocr;
pub mod install;
pub mod kraken;
pub mod onnx;
pub mod paddle;
pub mod personal;
pub mod trocr;

pub use install::{
    DefaultModels, FirstHandwriting, InstallError, InstallEvent, Installed, Installer, SourceKind,
    StoreConfig,
};

use std::path::PathBuf;

/// The folder holding an installed model's files (for Hub models the Hugging Face cache
/// snapshot), or `None` when it is not completely installed. Uses the environment
/// (`INKREAD_HOME`, `HF_HOME`, ...; see [`StoreConfig::from_env`]).
pub fn installed_dir(id: &str) -> Option<PathBuf> {
    Installer::from_env().ok()?.installed_dir(id)
}

/// Installs a model if needed (sources in catalog order) and returns its folder.
pub fn ensure_installed(
    id: &str,
    on_event: &mut dyn FnMut(InstallEvent),
) -> Result<PathBuf, InstallError> {
    Installer::from_env()?.ensure_installed(id, on_event)
}

/// First run: the default detector and recognizer, installed if missing, with the source used.
pub fn ensure_defaults(
    on_event: &mut dyn FnMut(InstallEvent),
) -> Result<DefaultModels, InstallError> {
    Installer::from_env()?.ensure_defaults(on_event)
}

/// Where a network loader keeps its one-time conversion of a model file to Burn's record
/// format: `<store>/converted/<id>/<source_sha256>/<what>`. Keyed by the source file's
/// sha256, so a new upstream file never loads a stale conversion. The parent folder may not
/// exist yet; write to a temporary name beside it and rename.
pub fn converted_cache_path(id: &str, source_sha256: &str, what: &str) -> PathBuf {
    Installer::new(StoreConfig::from_env(), catalog::Catalog::builtin()).converted_cache_path(
        id,
        source_sha256,
        what,
    )
}
