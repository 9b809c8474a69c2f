//! Turns files, bytes and URLs into page images on loader threads, so a large TIFF or a
//! slow server never freezes the window.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};

use image::RgbImage;

use super::url_fetch::{FetchLimits, fetch_image_bytes};
use crate::image_file::{ImageError, MAX_FILE_BYTES};

/// The formats the Open dialog offers (and the decoder accepts).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp", "gif", "pdf",
];

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    /// The loader's own message names the file and what is wrong with it.
    #[error("{0}")]
    Pages(#[source] ImageError),
    #[error("{0}")]
    Fetch(#[from] super::url_fetch::FetchError),
}

/// Every page of a file, PDF or image, with its label in the queue.
pub fn load_pages_file(path: &Path) -> Result<Vec<(String, RgbImage)>, InputError> {
    let images = crate::image_file::open_pages(path).map_err(|e| match e {
        ImageError::Io { .. } | ImageError::Folder { .. } => InputError::Io {
            path: path.display().to_string(),
            reason: describe(&e),
        },
        other => InputError::Pages(other),
    })?;
    Ok(label_pages(&path.display().to_string(), images))
}

/// Every page of bytes (a PDF, a multi-page TIFF or one image), with their labels.
pub fn decode_pages(bytes: &[u8], name: &str) -> Result<Vec<(String, RgbImage)>, InputError> {
    let images =
        crate::image_file::decode_pages(bytes.to_vec(), name).map_err(InputError::Pages)?;
    Ok(label_pages(name, images))
}

/// One page keeps the source's name; pages of a longer file are `NAME#page=N`.
fn label_pages(name: &str, images: Vec<RgbImage>) -> Vec<(String, RgbImage)> {
    let several = images.len() > 1;
    images
        .into_iter()
        .enumerate()
        .map(|(i, image)| match several {
            true => (format!("{name}#page={}", i + 1), image),
            false => (name.to_string(), image),
        })
        .collect()
}

/// The error's own words after the file's name ("unknown format", the decoder's reason).
fn describe(e: &ImageError) -> String {
    match e {
        ImageError::Decode { source, .. } => source.to_string(),
        ImageError::UnknownFormat { .. } => "unknown image format".into(),
        ImageError::Io { source, .. } => source.to_string(),
        ImageError::Folder { .. } => "it is a folder".into(),
        ImageError::TooLarge { .. } => format!("larger than {} MB", MAX_FILE_BYTES / (1024 * 1024)),
        ImageError::Pdf { source, .. } => source.to_string(),
        ImageError::Page { source, .. } => describe(source),
    }
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

/// A finished load: its pages, each with its label, in order.
pub struct Loaded {
    pub source: String,
    pub result: Result<Vec<(String, RgbImage)>, InputError>,
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
                    Source::File(path) => load_pages_file(path),
                    Source::Url(url) => fetch_image_bytes(url, &limits)
                        .map_err(InputError::from)
                        .and_then(|bytes| decode_pages(&bytes, url)),
                    Source::Bytes { name, bytes } => decode_pages(bytes, name),
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
        assert!(decode_pages(b"definitely not an image", "x").is_err());
        assert!(decode_pages(&[], "empty").is_err());
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
        let (label, rgb) = decode_pages(&bytes, "t.png").unwrap().remove(0);
        assert_eq!(label, "t.png");
        assert_eq!(rgb.dimensions(), (3, 2));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
    }
}
