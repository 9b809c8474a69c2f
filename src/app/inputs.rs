//! Turns files, bytes and URLs into page images on loader threads, so a large TIFF or a
//! slow server never freezes the window.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};

use image::{ImageReader, RgbImage};

use super::url_fetch::{FetchLimits, fetch_image_bytes};

/// The formats the Open dialog offers (and the decoder accepts).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp", "gif"];

/// Files larger than this are refused before reading.
const MAX_FILE_BYTES: u64 = 200 * 1024 * 1024;
/// Decoded images larger than this many pixels per side are refused.
const MAX_SIDE: u32 = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{source_name} is not an image Inkread can read: {reason}")]
    Decode { source_name: String, reason: String },
    #[error("{0}")]
    Fetch(#[from] super::url_fetch::FetchError),
}

/// Decodes image bytes (format guessed from the content) into RGB, with size limits.
pub fn decode_image(bytes: &[u8], source_name: &str) -> Result<RgbImage, InputError> {
    let decode_err = |reason: String| InputError::Decode {
        source_name: source_name.into(),
        reason,
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(1024 * 1024 * 1024);
    reader.limits(limits);
    if reader.format().is_none() {
        return Err(decode_err("unknown image format".into()));
    }
    let image = reader.decode().map_err(|e| decode_err(e.to_string()))?;
    Ok(flatten_on_white(image))
}

/// Transparent pixels become white paper instead of black.
fn flatten_on_white(image: image::DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = src[3] as u32;
        let over = |c: u8| ((c as u32 * a + 255 * (255 - a)) / 255) as u8;
        dst.0 = [over(src[0]), over(src[1]), over(src[2])];
    }
    out
}

/// Reads and decodes an image file.
pub fn load_image_file(path: &Path) -> Result<RgbImage, InputError> {
    let shown = path.display().to_string();
    let io_err = |reason: String| InputError::Io {
        path: shown.clone(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| io_err(e.to_string()))?;
    if meta.is_dir() {
        return Err(io_err("it is a folder".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(io_err(format!(
            "larger than {} MB",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| io_err(e.to_string()))?;
    decode_image(&bytes, &file_name(path))
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
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        let rgb = decode_image(&bytes, "t.png").unwrap();
        assert_eq!(rgb.dimensions(), (3, 2));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
    }
}
