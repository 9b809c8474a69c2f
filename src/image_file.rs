//! The one image loader: files and bytes from the app (open, drop, paste, URLs), the command
//! line, evaluation and training all come through here, with the same limits and the same
//! treatment: EXIF orientation applied, transparency laid on white paper (drawing apps export
//! black ink on a transparent background, which would otherwise read as all black).
//! Files with pages (PDF, multi-page TIFF) come in through [`open_pages`] / [`decode_pages`],
//! which hand PDFs to [`crate::pdf_pages`] and TIFF pages to [`crate::tiff_pages`].

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

pub use crate::pdf_pages::PageOf;
use crate::pdf_pages::Stopped;

/// Files larger than this are refused before they are read.
pub const MAX_FILE_BYTES: u64 = 200 * 1024 * 1024;
/// Images larger than this many pixels on a side are refused before they are decoded.
pub const MAX_SIDE: u32 = 20_000;
/// The most the decoder may allocate.
const MAX_ALLOC: u64 = 1024 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is a folder, not an image")]
    Folder { path: PathBuf },
    #[error("{name} is larger than {} MB", MAX_FILE_BYTES / (1024 * 1024))]
    TooLarge { name: String },
    #[error("{name} is not an image Inkread can read: unknown format")]
    UnknownFormat { name: String },
    #[error("{name} is not an image Inkread can read: {source}")]
    Decode {
        name: String,
        #[source]
        source: image::ImageError,
    },
    #[error("{name} is a PDF Inkread cannot read: {source}")]
    Pdf {
        name: String,
        #[source]
        source: crate::pdf_pages::PdfError,
    },
    #[error("page {page} of {name}: {source}")]
    Page {
        name: String,
        page: usize,
        #[source]
        source: Box<ImageError>,
    },
}

/// Reads a file as its pages: every page of a PDF or a multi-page TIFF, else the one image.
pub fn open_pages(path: &Path) -> Result<Vec<RgbImage>, ImageError> {
    let (bytes, name) = read_file(path)?;
    decode_pages(bytes, &name)
}

/// Decodes bytes as their pages (see [`open_pages`]); `name` is for messages.
pub fn decode_pages(bytes: Vec<u8>, name: &str) -> Result<Vec<RgbImage>, ImageError> {
    let mut all = Vec::new();
    each_page(bytes, name, |_, image| {
        all.push(image);
        Ok::<(), ImageError>(())
    })?;
    Ok(all)
}

/// [`each_page`] of a file.
pub fn each_page_of_file<E: From<ImageError>>(
    path: &Path,
    visit: impl FnMut(PageOf, RgbImage) -> Result<(), E>,
) -> Result<(), E> {
    let (bytes, name) = read_file(path)?;
    each_page(bytes, &name, visit)
}

/// Decodes the pages of a PDF, a multi-page TIFF or any one image, handing each to `visit`
/// before the next is decoded: a long document is never held in memory whole.
pub fn each_page<E: From<ImageError>>(
    bytes: Vec<u8>,
    name: &str,
    mut visit: impl FnMut(PageOf, RgbImage) -> Result<(), E>,
) -> Result<(), E> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ImageError::TooLarge { name: name.into() }.into());
    }
    if is_pdf(&bytes) {
        return crate::pdf_pages::each_page(bytes, MAX_SIDE, visit).map_err(|stop| match stop {
            Stopped::Visit(e) => e,
            Stopped::Pdf(source) => ImageError::Pdf {
                name: name.into(),
                source,
            }
            .into(),
        });
    }
    let directories = crate::tiff_pages::directory_offsets(&bytes);
    if directories.len() < 2 {
        let image = decode(&bytes, name)?;
        return visit(PageOf::ONLY, image);
    }
    let count = directories.len();
    for (i, &offset) in directories.iter().enumerate() {
        let page = crate::tiff_pages::page_file(&bytes, offset);
        let image = decode(&page, name).map_err(|e| ImageError::Page {
            name: name.into(),
            page: i + 1,
            source: Box::new(e),
        })?;
        visit(
            PageOf {
                number: i + 1,
                count,
            },
            image,
        )?;
    }
    Ok(())
}

/// PDF readers accept the header anywhere in the first kilobyte.
pub fn is_pdf(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
}

/// Reads and decodes an image file.
pub fn open(path: &Path) -> Result<RgbImage, ImageError> {
    let (bytes, name) = read_file(path)?;
    decode(&bytes, &name)
}

/// The file's bytes and its name for messages, refusing folders and oversized files.
fn read_file(path: &Path) -> Result<(Vec<u8>, String), ImageError> {
    let io = |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(ImageError::Folder {
            path: path.to_path_buf(),
        });
    }
    let name = path.display().to_string();
    if meta.len() > MAX_FILE_BYTES {
        return Err(ImageError::TooLarge { name });
    }
    Ok((std::fs::read(path).map_err(io)?, name))
}

/// Decodes image bytes (the format is guessed from the content); `name` is for messages.
pub fn decode(bytes: &[u8], name: &str) -> Result<RgbImage, ImageError> {
    let decode_error = |source| ImageError::Decode {
        name: name.to_string(),
        source,
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ImageError::TooLarge {
            name: name.to_string(),
        });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_error(e.into()))?;
    if reader.format().is_none() {
        return Err(ImageError::UnknownFormat {
            name: name.to_string(),
        });
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    Ok(flatten_on_white(image))
}

/// Transparent pixels become white paper instead of black.
fn flatten_on_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(src[3]);
        let over = |c: u8| ((u32::from(c) * a + 255 * (255 - a)) / 255) as u8;
        dst.0 = [over(src[0]), over(src[1]), over(src[2])];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(image: DynamicImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn transparent_paper_is_white_and_ink_stays_black() {
        // Black everywhere, opaque only where the ink is.
        let rgba = image::RgbaImage::from_fn(4, 2, |x, _| {
            image::Rgba([0, 0, 0, if x == 0 { 255 } else { 0 }])
        });
        let rgb = decode(&png(DynamicImage::ImageRgba8(rgba)), "ink.png").unwrap();
        assert_eq!(rgb.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(rgb.get_pixel(3, 1).0, [255, 255, 255]);
    }

    #[test]
    fn sixteen_bit_grey_is_read() {
        let grey =
            image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(3, 3, image::Luma([65535]));
        let rgb = decode(&png(DynamicImage::ImageLuma16(grey)), "g16.png").unwrap();
        assert_eq!(rgb.get_pixel(1, 1).0, [255, 255, 255]);
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let err = decode(b"definitely not an image", "x.bin").unwrap_err();
        assert!(matches!(err, ImageError::UnknownFormat { .. }), "{err}");
        let mut truncated = png(DynamicImage::new_rgb8(64, 64));
        truncated.truncate(truncated.len() / 2);
        let err = decode(&truncated, "cut.png").unwrap_err().to_string();
        assert!(err.contains("cut.png"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(open(dir.path()), Err(ImageError::Folder { .. })));
        assert!(matches!(
            open(&dir.path().join("none.png")),
            Err(ImageError::Io { .. })
        ));
    }
}
