//! Training CTC line recognizers on the user's machine, in Burn: from a manifest of line
//! images and transcriptions (or the app's corrections) to a personal model in the store.
//!
//! The pieces, in the order data flows through them: [`samples`] (what to learn from),
//! [`lines`] (images at the network's height, held in memory), [`alphabet`] (what can be
//! written), [`batches`] and [`augment`] (what each step sees), [`step`] (loss and update),
//! [`checkpoint`] (surviving a kill), [`trainer`] (the loop, validation, early stopping) and
//! [`publish`] (the model folder the catalog finds). Everything random comes from the run's
//! seed, so a resumed run retraces an uninterrupted one.

pub mod alphabet;
pub mod augment;
pub mod base;
pub mod batches;
pub mod checkpoint;
pub mod corrections;
pub mod dataset;
pub mod export;
pub mod gradient_check;
pub mod language;
pub mod lines;
pub mod page_xml;
pub mod publish;
pub mod samples;
pub mod schedule;
pub mod step;
pub mod trainer;

use std::path::PathBuf;

pub use trainer::{TrainEvent, TrainOutcome, TrainRun, train};

/// What can stop a training run; each names what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{count} training lines cannot be used (fix or remove them): {}", first.join("; "))]
    BadSamples { count: usize, first: Vec<String> },
    #[error("no training lines: check the manifest and its split column")]
    NoSamples,
    #[error(
        "the model's alphabet cannot hold {}; the alphabet is fixed once a run started \
         (start a new run with another --out to learn these characters)",
        missing.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
    )]
    Alphabet { missing: Vec<char> },
    #[error("training run {dir} already exists: add --resume to continue it")]
    RunExists { dir: PathBuf },
    #[error("no training run to resume in {dir}")]
    NothingToResume { dir: PathBuf },
    /// A checkpoint (or a model card) could not be read or written; the reason is kept
    /// as the source.
    #[error(
        "checkpoint {path} cannot be read or written; the best model so far is kept in the store"
    )]
    Checkpoint {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot write the image {path}")]
    WriteImage {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "training from {base} is not supported yet: use easyocr-english-g2, a personal model, or scratch"
    )]
    UnsupportedBase { base: String },
    #[error(
        "this GPU computes convolution gradients wrongly (Burn 0.22.1 on wgpu; relative error \
         {error:.1e} on a test batch), so training on it would ruin the model: use --device cpu"
    )]
    WrongGradient { error: f32 },
    #[error(
        "{id} is not an installed personal model (see `inkread models list`): only models \
         trained with `inkread train recognizer` take a language model"
    )]
    NotPersonal { id: String },
    #[error("stopped; the last checkpoint is kept and --resume continues from it")]
    Cancelled,
    #[error(transparent)]
    Inkread(#[from] crate::Error),
}

impl TrainError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
