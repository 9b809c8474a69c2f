//! Turns files, bytes and URLs into page images on loader threads, so a large TIFF or a
//! slow server never freezes the window.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};

use image::RgbImage;

use super::url_fetch::{FetchLimits, fetch_image_bytes};
use crate::image_file::{ImageError, MAX_FILE_BYTES};

/// The formats the Open dialog offers (and the decoder accepts).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp", "gif"];

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{source_name} is not an image Inkread can read: {reason}")]
    Decode { source_name: String, reason: String },
    #[error("{0}")]
    Fetch(#[from] super::url_fetch::FetchError),
}

/// Decodes image bytes (format guessed from the content) into RGB: the library's loader,
/// with its limits, orientation and transparency on white.
pub fn decode_image(bytes: &[u8], source_name: &str) -> Result<RgbImage, InputError> {
    crate::image_file::decode(bytes, source_name).map_err(|e| InputError::Decode {
        source_name: source_name.into(),
        reason: describe(&e),
    })
}

/// Reads and decodes an image file.
pub fn load_image_file(path: &Path) -> Result<RgbImage, InputError> {
    crate::image_file::open(path).map_err(|e| match e {
        ImageError::Decode { .. } | ImageError::UnknownFormat { .. } => InputError::Decode {
            source_name: file_name(path),
            reason: describe(&e),
        },
        other => InputError::Io {
            path: path.display().to_string(),
            reason: describe(&other),
        },
    })
}

/// The error's own words after the file's name ("unknown format", the decoder's reason).
fn describe(e: &ImageError) -> String {
    match e {
        ImageError::Decode { source, .. } => source.to_string(),
        ImageError::UnknownFormat { .. } => "unknown image format".into(),
        ImageError::Io { source, .. } => source.to_string(),
        ImageError::Folder { .. } => "it is a folder".into(),
        ImageError::TooLarge { .. } => format!("larger than {} MB", MAX_FILE_BYTES / (1024 * 1024)),
    }
}

/// The last part of a path, for labels.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// What to load.
#[derive(Clone, Debug)]
pub enum Source {
    File(PathBuf),
    Url(String),
    Bytes {
        name: String,
        bytes: std::sync::Arc<[u8]>,
    },
}

impl Source {
    /// How the page is named in the queue and the reading's `image` field.
    pub fn label(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Url(u) => u.clone(),
            Source::Bytes { name, .. } => name.clone(),
        }
    }
}

/// A finished load.
pub struct Loaded {
    pub source: String,
    pub result: Result<RgbImage, InputError>,
}

/// Runs loads on short-lived threads and hands results back to the UI.
pub struct Loader {
    tx: Sender<Loaded>,
    rx: Receiver<Loaded>,
    pending: usize,
    pub limits: FetchLimits,
}

impl Default for Loader {
    fn default() -> Self {
        let (tx, rx) = channel();
        Self {
            tx,
            rx,
            pending: 0,
            limits: FetchLimits::default(),
        }
    }
}

impl Loader {
    /// Starts loading; `wake` runs when the result is ready (the app's repaint request).
    pub fn start(&mut self, source: Source, wake: impl Fn() + Send + 'static) {
        let tx = self.tx.clone();
        let limits = self.limits.clone();
        self.pending += 1;
        let label = source.label();
        let spawned = std::thread::Builder::new()
            .name("inkread-loader".into())
            .spawn(move || {
                let result = match &source {
                    Source::File(path) => load_image_file(path),
                    Source::Url(url) => fetch_image_bytes(url, &limits)
                        .map_err(InputError::from)
                        .and_then(|bytes| decode_image(&bytes, url)),
                    Source::Bytes { name, bytes } => decode_image(bytes, name),
                };
                let _ = tx.send(Loaded {
                    source: label,
                    result,
                });
                wake();
            });
        if let Err(e) = spawned {
            self.pending -= 1;
            let _ = self.tx.send(Loaded {
                source: source_label_fallback(),
                result: Err(InputError::Io {
                    path: "loader".into(),
                    reason: e.to_string(),
                }),
            });
        }
    }

    /// Loads that finished since the last call.
    pub fn poll(&mut self) -> Vec<Loaded> {
        let done: Vec<Loaded> = self.rx.try_iter().collect();
        self.pending = self.pending.saturating_sub(done.len());
        done
    }

    /// How many loads are still running.
    pub fn pending(&self) -> usize {
        self.pending
    }
}

fn source_label_fallback() -> String {
    "input".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_bytes_are_an_error_not_a_panic() {
        assert!(decode_image(b"definitely not an image", "x").is_err());
        assert!(decode_image(&[], "empty").is_err());
    }

    #[test]
    fn png_bytes_decode_and_alpha_becomes_white() {
        let img = image::RgbaImage::from_pixel(3, 2, image::Rgba([0, 0, 0, 0]));
        let mut bytes = Vec::new();
        img.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
        let rgb = decode_image(&bytes, "t.png").unwrap();
        assert_eq!(rgb.dimensions(), (3, 2));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
    }
}
