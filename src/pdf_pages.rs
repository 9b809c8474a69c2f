//! The pages of a PDF as images, for the loader in [`crate::image_file`].
//!
//! A scanner's PDF holds one image per page; taking that image as it is keeps the scan's own
//! pixels. A page whose content is one JPEG (DCTDecode) drawn upright is decoded from its own
//! bytes; a page that is one image in another encoding (Flate, CCITT fax, JBIG2, JPEG 2000,
//! LZW, run length) is rendered by hayro at that image's own resolution, so its pixels come
//! through one to one; any other page is rendered at [`RENDER_DPI`]. hayro is pure Rust: no
//! system PDF library is needed at run time.

use std::panic::{AssertUnwindSafe, catch_unwind};

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_syntax::content::ops::TypedInstruction;
use hayro::hayro_syntax::object::{Name, Stream};
use hayro::hayro_syntax::page::{Page, Rotation};
use hayro::hayro_syntax::{DecryptionError, Filter, LoadPdfError, Pdf};
use hayro::kurbo::Affine;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::{Pixmap, RasterizerSettings, RenderContext, Resources, TargetInit};
use hayro::{RenderCache, RenderSettings};
use image::RgbImage;

/// Resolution of pages that are not one scanned image.
pub const RENDER_DPI: f32 = 300.0;
/// PDF user space is 72 points to the inch.
const POINTS_PER_INCH: f32 = 72.0;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("it is protected by a password")]
    Encrypted,
    #[error("its encryption cannot be opened ({0})")]
    Encryption(String),
    #[error("it is not a valid PDF")]
    Invalid,
    #[error("it has no pages")]
    NoPages,
    #[error("page {page} has no area")]
    EmptyPage { page: usize },
    #[error("page {page} could not be rendered")]
    Render { page: usize },
    #[error("page {page}'s JPEG cannot be decoded: {source}")]
    Jpeg {
        page: usize,
        #[source]
        source: image::ImageError,
    },
}

/// Every page of the PDF in `bytes`, in order; pages are numbered from 1 in errors.
/// `max_side` bounds each image's longer side (a larger page is rendered smaller).
pub fn pages(bytes: Vec<u8>, max_side: u32) -> Result<Vec<RgbImage>, PdfError> {
    let mut all = Vec::new();
    each_page(bytes, max_side, |_, image| {
        all.push(image);
        Ok::<(), PdfError>(())
    })
    .map_err(|stop| match stop {
        Stopped::Pdf(e) | Stopped::Visit(e) => e,
    })?;
    Ok(all)
}

/// Why [`each_page`] stopped early: the PDF failed, or the visitor did.
#[derive(Debug)]
pub enum Stopped<E> {
    Pdf(PdfError),
    Visit(E),
}

/// Hands each page to `visit` (with the page count) as soon as it is rendered, so a long
/// document never lies in memory whole: a 300 dpi page is about 25 MB of pixels.
pub fn each_page<E>(
    bytes: Vec<u8>,
    max_side: u32,
    mut visit: impl FnMut(PageOf, RgbImage) -> Result<(), E>,
) -> Result<(), Stopped<E>> {
    let pdf = Pdf::new(bytes).map_err(|e| Stopped::Pdf(load_error(e)))?;
    let pages = pdf.pages();
    if pages.is_empty() {
        return Err(Stopped::Pdf(PdfError::NoPages));
    }
    let cache = RenderCache::new();
    let settings = InterpreterSettings::default();
    let count = pages.len();
    for (i, page) in pages.iter().enumerate() {
        let image = page_image(page, i + 1, &cache, &settings, max_side).map_err(Stopped::Pdf)?;
        visit(
            PageOf {
                number: i + 1,
                count,
            },
            image,
        )
        .map_err(Stopped::Visit)?;
    }
    Ok(())
}

/// Which page of how many (numbered from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageOf {
    pub number: usize,
    pub count: usize,
}

impl PageOf {
    /// The page of a file that has one.
    pub const ONLY: PageOf = PageOf {
        number: 1,
        count: 1,
    };

    /// How a page of the file `name` is named: the name alone for a file of one page, else
    /// `NAME#page=N` (the PDF convention for a page of a file).
    pub fn label(&self, name: &str) -> String {
        match self.count {
            1 => name.to_owned(),
            _ => format!("{name}#page={}", self.number),
        }
    }
}

fn load_error(e: LoadPdfError) -> PdfError {
    use DecryptionError as D;
    match e {
        LoadPdfError::Decryption(D::PasswordProtected) => PdfError::Encrypted,
        LoadPdfError::Decryption(other) => PdfError::Encryption(format!("{other:?}")),
        LoadPdfError::Invalid => PdfError::Invalid,
    }
}

fn page_image<'a>(
    page: &'a Page<'a>,
    number: usize,
    cache: &RenderCache<'a>,
    settings: &InterpreterSettings,
    max_side: u32,
) -> Result<RgbImage, PdfError> {
    let scan = single_image(page);
    if let Some(scan) = &scan
        && let Some(jpeg) = scan.upright_jpeg()
    {
        return decode_jpeg(&jpeg, max_side).map_err(|source| PdfError::Jpeg {
            page: number,
            source,
        });
    }
    let scale = match &scan {
        Some(scan) => scan.pixels_per_point(),
        None => RENDER_DPI / POINTS_PER_INCH,
    };
    render(
        page,
        number,
        cache,
        settings,
        fit_scale(page, scale, max_side),
    )
}

/// The JPEG, within the loader's limits on size and memory.
fn decode_jpeg(bytes: &[u8], max_side: u32) -> Result<RgbImage, image::ImageError> {
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Jpeg);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(max_side);
    limits.max_image_height = Some(max_side);
    reader.limits(limits);
    Ok(reader.decode()?.to_rgb8())
}

/// The scale, made smaller where the page would exceed `max_side` pixels.
fn fit_scale(page: &Page<'_>, scale: f32, max_side: u32) -> f32 {
    let (w, h) = page.render_dimensions();
    let longest = w.max(h) * scale;
    let limit = max_side.min(u32::from(u16::MAX)) as f32;
    if longest > limit {
        scale * limit / longest
    } else {
        scale
    }
}

fn render<'a>(
    page: &'a Page<'a>,
    number: usize,
    cache: &RenderCache<'a>,
    settings: &InterpreterSettings,
    scale: f32,
) -> Result<RgbImage, PdfError> {
    let (w, h) = page.render_dimensions();
    if !(w * scale >= 1.0 && h * scale >= 1.0) {
        return Err(PdfError::EmptyPage { page: number });
    }
    // The size is rounded, not truncated as `hayro::render` does: a page drawn from a scan
    // must come back with the scan's own size even when its points are rounded in the file.
    let (pw, ph) = ((w * scale).round() as u16, (h * scale).round() as u16);
    let transform = Affine::scale(f64::from(scale)) * page.initial_transform(true).to_kurbo();
    // hayro is built to survive malformed files, but a page is untrusted input: a panic in
    // the renderer must become this page's error, not take the app down.
    let pixmap = catch_unwind(AssertUnwindSafe(|| {
        let mut ctx = RenderContext::new(pw, ph);
        hayro::render_into(
            page,
            cache,
            settings,
            &RenderSettings::default(),
            &mut ctx,
            transform,
        );
        ctx.flush();
        let mut pixmap = Pixmap::new(pw, ph);
        ctx.render_with(
            &mut pixmap,
            &mut Resources::default(),
            RasterizerSettings {
                target_init: TargetInit::Clear(WHITE),
                ..Default::default()
            },
        );
        pixmap
    }))
    .map_err(|_| PdfError::Render { page: number })?;
    let (pw, ph) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
    // The background is opaque white, so the premultiplied colour is the colour.
    let rgb: Vec<u8> = pixmap.data().iter().flat_map(|p| [p.r, p.g, p.b]).collect();
    RgbImage::from_raw(pw, ph, rgb).ok_or(PdfError::Render { page: number })
}

/// A page whose whole content is one image drawn by one transform.
struct SingleImage<'a> {
    stream: Stream<'a>,
    /// The image's placement: [a b c d e f] of the composed `cm` matrices.
    matrix: [f32; 6],
    upright_page: bool,
}

impl SingleImage<'_> {
    /// The image's own JPEG bytes when they can stand for the page as they are: the only
    /// filter is DCTDecode, the colours are plain RGB or grey (hayro renders CMYK and ICC
    /// colours right), no decode array or mask alters them, and the image is drawn upright
    /// without rotation or mirroring.
    fn upright_jpeg(&self) -> Option<Vec<u8>> {
        let dict = self.stream.dict();
        let colours = dict.get::<Name<'_>>(b"ColorSpace");
        let plain_colours =
            colours.is_some_and(|c| matches!(&*c, b"DeviceRGB" | b"DeviceGray" | b"RGB" | b"G"));
        let plain = plain_colours
            && !(dict.contains_key(b"Decode")
                || dict.contains_key(b"SMask")
                || dict.contains_key(b"Mask"));
        let [a, b, c, d, _, _] = self.matrix;
        let upright = self.upright_page && a > 0.0 && d > 0.0 && b == 0.0 && c == 0.0;
        let only_dct = self.stream.filters().as_slice() == [Filter::DctDecode];
        (plain && upright && only_dct).then(|| self.stream.raw_data().into_owned())
    }

    /// Render scale that gives the image's own pixel width across its drawn width.
    fn pixels_per_point(&self) -> f32 {
        let width_px = self.stream.dict().get::<f32>(b"Width").unwrap_or(0.0);
        let [a, b, ..] = self.matrix;
        let drawn = a.hypot(b);
        let scale = width_px / drawn;
        if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            RENDER_DPI / POINTS_PER_INCH
        }
    }
}

/// The page's one image, when its content is nothing but state saves, transforms, graphics
/// states and a single image XObject.
fn single_image<'a>(page: &Page<'a>) -> Option<SingleImage<'a>> {
    let mut stack = Vec::new();
    let mut matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
    let mut image = None;
    // A lending iterator: each instruction borrows from it.
    let mut ops = page.typed_operations();
    while let Some(op) = ops.next() {
        match op {
            TypedInstruction::SaveState(_) => stack.push(matrix),
            TypedInstruction::RestoreState(_) => matrix = stack.pop()?,
            TypedInstruction::Transform(t) => {
                let m = [t.0, t.1, t.2, t.3, t.4, t.5].map(|n| n.as_f32());
                matrix = multiply(m, matrix);
            }
            TypedInstruction::SetGraphicsState(_) => {}
            TypedInstruction::XObject(x) if image.is_none() => {
                let stream = page.resources().get_x_object(x.0)?;
                let subtype = stream.dict().get::<Name<'_>>(b"Subtype")?;
                if &*subtype != b"Image" {
                    return None;
                }
                image = Some((stream, matrix));
            }
            _ => return None,
        }
    }
    let (stream, matrix) = image?;
    Some(SingleImage {
        stream,
        matrix,
        upright_page: matches!(page.rotation(), Rotation::None),
    })
}

/// `m` applied before `n` (PDF's row-vector convention: `cm` premultiplies the CTM).
fn multiply(m: [f32; 6], n: [f32; 6]) -> [f32; 6] {
    [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]
}
