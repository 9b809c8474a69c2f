//! The system clipboard behind a small trait, so tests can use a double.

use std::sync::{Arc, Mutex};

use image::RgbImage;

#[derive(Debug, thiserror::Error)]
pub enum ClipboardError {
    #[error("the clipboard is not available: {0}")]
    Unavailable(String),
    #[error("the clipboard image could not be read: {0}")]
    BadImage(String),
}

/// What the app needs from a clipboard.
pub trait Clipboard {
    fn set_text(&mut self, text: &str) -> Result<(), ClipboardError>;
    /// The image on the clipboard, or `None` when there is none.
    fn get_image(&mut self) -> Result<Option<RgbImage>, ClipboardError>;
}

/// The real clipboard through arboard, opened on first use (a headless session has none).
#[derive(Default)]
pub struct SystemClipboard {
    inner: Option<arboard::Clipboard>,
}

impl SystemClipboard {
    fn open(&mut self) -> Result<&mut arboard::Clipboard, ClipboardError> {
        if self.inner.is_none() {
            let cb = arboard::Clipboard::new()
                .map_err(|e| ClipboardError::Unavailable(e.to_string()))?;
            self.inner = Some(cb);
        }
        self.inner
            .as_mut()
            .ok_or_else(|| ClipboardError::Unavailable("not opened".into()))
    }
}

impl Clipboard for SystemClipboard {
    fn set_text(&mut self, text: &str) -> Result<(), ClipboardError> {
        self.open()?
            .set_text(text.to_owned())
            .map_err(|e| ClipboardError::Unavailable(e.to_string()))
    }

    fn get_image(&mut self) -> Result<Option<RgbImage>, ClipboardError> {
        match self.open()?.get_image() {
            Ok(img) => rgba_bytes_to_rgb(img.width, img.height, &img.bytes).map(Some),
            Err(arboard::Error::ContentNotAvailable) => Ok(None),
            Err(e) => Err(ClipboardError::Unavailable(e.to_string())),
        }
    }
}

/// RGBA rows as the clipboard hands them to an RGB image on white (transparent becomes paper).
pub fn rgba_bytes_to_rgb(
    width: usize,
    height: usize,
    bytes: &[u8],
) -> Result<RgbImage, ClipboardError> {
    let expected = width.checked_mul(height).and_then(|n| n.checked_mul(4));
    if expected != Some(bytes.len()) || width == 0 || height == 0 {
        return Err(ClipboardError::BadImage(format!(
            "{width}×{height} image with {} bytes",
            bytes.len()
        )));
    }
    let (w, h) = (u32::try_from(width), u32::try_from(height));
    let (Ok(w), Ok(h)) = (w, h) else {
        return Err(ClipboardError::BadImage("image too large".into()));
    };
    let mut out = RgbImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(bytes.chunks_exact(4)) {
        let a = src[3] as u32;
        let over_white = |c: u8| ((c as u32 * a + 255 * (255 - a)) / 255) as u8;
        dst.0 = [over_white(src[0]), over_white(src[1]), over_white(src[2])];
    }
    Ok(out)
}

/// A clipboard in memory, shared with the test that made it.
#[derive(Clone, Default)]
pub struct MemoryClipboard {
    pub text: Arc<Mutex<Option<String>>>,
    pub image: Arc<Mutex<Option<RgbImage>>>,
}

impl Clipboard for MemoryClipboard {
    fn set_text(&mut self, text: &str) -> Result<(), ClipboardError> {
        let mut slot = self
            .text
            .lock()
            .map_err(|e| ClipboardError::Unavailable(e.to_string()))?;
        *slot = Some(text.to_owned());
        Ok(())
    }

    fn get_image(&mut self) -> Result<Option<RgbImage>, ClipboardError> {
        let slot = self
            .image
            .lock()
            .map_err(|e| ClipboardError::Unavailable(e.to_string()))?;
        Ok(slot.clone())
    }
}
