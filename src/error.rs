//! The crate's error type: every fallible library call returns [`Error`], and the
//! CLI and app turn it into one clear line for the user.

use std::path::PathBuf;

/// Everything that can go wrong between an input and a [`crate::reading::Reading`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an image Inkread can read: {reason}")]
    NotAnImage { path: PathBuf, reason: String },
    #[error("model: {0}")]
    Model(String),
    /// A model could not be loaded or used, with the typed error underneath kept as the
    /// source (the CLI and the app print the whole chain).
    #[error("model: {what}")]
    ModelBecause {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A recognizer gave more or fewer results than it was given lines: pairing them up
    /// anyway would put every later text on the wrong line.
    #[error("model {model} returned {got} results for {expected} lines")]
    ResultCount {
        model: String,
        expected: usize,
        got: usize,
    },
    /// A network's output could not be copied back to the host as the expected numbers.
    #[error("{what}: cannot read the network's output")]
    TensorData {
        what: String,
        #[source]
        source: burn::tensor::DataError,
    },
    #[error("the job was cancelled")]
    Cancelled,
    /// An input (a line, a page) that cannot be prepared for a network, the typed reason
    /// kept as the source.
    #[error("{what}")]
    Input {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// [`Error::ModelBecause`]: `what` failed, because of `source`.
    pub fn model_because(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::ModelBecause {
            what: what.into(),
            source: Box::new(source),
        }
    }
}
