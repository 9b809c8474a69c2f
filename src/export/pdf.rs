//! A searchable PDF: each page image with an invisible text layer (text render mode 3) at the
//! line positions, each line's text stretched to span its box, as OCRmyPDF writes them.
//!
//! The text uses a font without glyphs: a Type0 font with two-byte codes equal to the
//! characters' Unicode values (Basic Multilingual Plane) and a ToUnicode map, so any script
//! is copied and searched as read; every code is half an em wide, so stretching a line to its
//! box is one horizontal scale. Nothing is drawn with it, so no font program is embedded.

use std::collections::BTreeSet;
use std::io::Write as _;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use image::RgbImage;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, TextRenderingMode, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use crate::reading::{Line, Reading};

/// The resolution pages are laid out at: image pixels to PDF points.
pub const PAGE_DPI: f32 = 300.0;
/// Every code's advance, in thousandths of an em.
const CODE_WIDTH: f32 = 500.0;
const FONT_NAME: Name<'static> = Name(b"GlyphLessFont");
const FONT_KEY: Name<'static> = Name(b"F1");
const IMAGE_KEY: Name<'static> = Name(b"Im1");

/// One page: the image that was read and what was read on it.
pub struct PdfPage<'a> {
    pub image: &'a RgbImage,
    pub reading: &'a Reading,
}

#[derive(Debug, thiserror::Error)]
pub enum PdfWriteError {
    #[error("no pages to write")]
    NoPages,
    #[error("cannot compress a page image: {0}")]
    Compress(#[source] std::io::Error),
}

/// The PDF's bytes.
pub fn searchable_pdf(pages: &[PdfPage<'_>]) -> Result<Vec<u8>, PdfWriteError> {
    if pages.is_empty() {
        return Err(PdfWriteError::NoPages);
    }
    let mut ids = Ids::default();
    let mut pdf = Pdf::new();
    let catalog = ids.next();
    let tree = ids.next();
    let font = write_font(&mut pdf, &mut ids, pages);
    let mut kids = Vec::new();
    for page in pages {
        kids.push(write_page(&mut pdf, &mut ids, page, tree, font)?);
    }
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .count(kids.len() as i32)
        .kids(kids.iter().copied());
    Ok(pdf.finish())
}

#[derive(Default)]
struct Ids(i32);

impl Ids {
    fn next(&mut self) -> Ref {
        self.0 += 1;
        Ref::new(self.0)
    }
}

fn write_page(
    pdf: &mut Pdf,
    ids: &mut Ids,
    page: &PdfPage<'_>,
    tree: Ref,
    font: Ref,
) -> Result<Ref, PdfWriteError> {
    let (page_id, image_id, content_id) = (ids.next(), ids.next(), ids.next());
    let (w, h) = (points(page.image.width()), points(page.image.height()));
    let mut p = pdf.page(page_id);
    p.parent(tree)
        .media_box(Rect::new(0.0, 0.0, w, h))
        .contents(content_id);
    let mut resources = p.resources();
    resources.x_objects().pair(IMAGE_KEY, image_id);
    resources.fonts().pair(FONT_KEY, font);
    resources.finish();
    p.finish();

    let pixels = deflate(page.image.as_raw())?;
    let mut image = pdf.image_xobject(image_id, &pixels);
    image.filter(Filter::FlateDecode);
    image
        .width(page.image.width() as i32)
        .height(page.image.height() as i32)
        .bits_per_component(8);
    image.color_space().device_rgb();
    image.finish();

    let mut content = Content::new();
    content
        .save_state()
        .transform([w, 0.0, 0.0, h, 0.0, 0.0])
        .x_object(IMAGE_KEY)
        .restore_state();
    content
        .begin_text()
        .set_text_rendering_mode(TextRenderingMode::Invisible);
    for line in &page.reading.lines {
        text_line(&mut content, line, h);
    }
    content.end_text();
    pdf.stream(content_id, &content.finish());
    Ok(page_id)
}

/// The line's text from the left of its box, on a baseline a fifth of its height above the
/// bottom, scaled to the box's height and stretched to its width.
fn text_line(content: &mut Content, line: &Line, page_height: f32) {
    let codes = encode(&line.text);
    let count = codes.len() / 2;
    let [x0, y0, x1, y1] = line.bbox.map(|v| if v.is_finite() { v } else { 0.0 });
    let (box_w, box_h) = ((x1 - x0) * px_to_pt(), (y1 - y0) * px_to_pt());
    if count == 0 || box_w <= 0.0 || box_h <= 0.0 {
        return;
    }
    let size = box_h;
    let natural = count as f32 * CODE_WIDTH / 1000.0 * size;
    let x = x0 * px_to_pt();
    let baseline = page_height - y1 * px_to_pt() + box_h * 0.2;
    content
        .set_font(FONT_KEY, size)
        .set_horizontal_scaling(100.0 * box_w / natural)
        .set_text_matrix([1.0, 0.0, 0.0, 1.0, x, baseline])
        .show(Str(&codes));
}

/// Big-endian two-byte codes; characters beyond the Basic Multilingual Plane become U+FFFD.
fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| code(c).to_be_bytes())
        .collect()
}

fn code(c: char) -> u16 {
    u16::try_from(u32::from(c)).unwrap_or(0xFFFD)
}

/// The glyphless font, with a ToUnicode map of every character the pages use.
fn write_font(pdf: &mut Pdf, ids: &mut Ids, pages: &[PdfPage<'_>]) -> Ref {
    let (font, cid_font, descriptor, to_unicode) = (ids.next(), ids.next(), ids.next(), ids.next());
    let info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(font)
        .base_font(FONT_NAME)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_font)
        .to_unicode(to_unicode);
    pdf.cid_font(cid_font)
        .subtype(CidFontType::Type2)
        .base_font(FONT_NAME)
        .system_info(info)
        .font_descriptor(descriptor)
        .default_width(CODE_WIDTH)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    pdf.font_descriptor(descriptor)
        .name(FONT_NAME)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(0.0, 0.0, CODE_WIDTH, 1000.0))
        .italic_angle(0.0)
        .ascent(1000.0)
        .descent(0.0)
        .cap_height(1000.0)
        .stem_v(80.0);
    let mut cmap = UnicodeCmap::new(Name(b"Inkread-UTF16"), info);
    for c in used_chars(pages) {
        cmap.pair(code(c), if code(c) == 0xFFFD { '\u{FFFD}' } else { c });
    }
    pdf.cmap(to_unicode, &cmap.finish());
    font
}

fn used_chars(pages: &[PdfPage<'_>]) -> BTreeSet<char> {
    pages
        .iter()
        .flat_map(|p| &p.reading.lines)
        .flat_map(|l| l.text.chars())
        .filter(|c| !c.is_control())
        .collect()
}

fn deflate(bytes: &[u8]) -> Result<Vec<u8>, PdfWriteError> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).map_err(PdfWriteError::Compress)?;
    encoder.finish().map_err(PdfWriteError::Compress)
}

fn px_to_pt() -> f32 {
    72.0 / PAGE_DPI
}

fn points(pixels: u32) -> f32 {
    pixels as f32 * px_to_pt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_utf16_of_the_basic_plane() {
        assert_eq!(encode("Aé"), vec![0x00, 0x41, 0x00, 0xE9]);
        assert_eq!(encode("😀\n"), vec![0xFF, 0xFD]);
    }

    #[test]
    fn no_pages_is_an_error() {
        assert!(matches!(searchable_pdf(&[]), Err(PdfWriteError::NoPages)));
    }
}
