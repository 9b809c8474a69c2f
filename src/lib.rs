//! Inkread: finds text lines in an image and reads them with networks written in Burn.
//!
//! Data flows one way: an input becomes a [`reading::Page`], a detector finds regions,
//! [`pipeline`] groups and crops them into lines, a recognizer reads them, and the
//! resulting [`reading::Reading`] goes to the exporters, the CLI or the app.

pub mod app;
pub mod cancel;
pub mod cli;
pub mod device;
pub mod error;
pub mod eval;
pub mod export;
pub mod image_file;
pub mod memory;
pub mod models;
pub mod nn;
pub mod pdf_pages;
pub mod pipeline;
pub mod reader;
pub mod reading;
pub mod tiff_pages;
pub mod train;

pub use error::{Error, Result};

/// The tests' skip rule (see the file), shared with the integration tests.
#[cfg(test)]
#[path = "../tests/support/skip.rs"]
pub(crate) mod test_skip;
