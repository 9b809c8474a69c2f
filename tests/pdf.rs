//! Scanned PDFs and multi-page TIFFs in, searchable PDFs out. The fixtures come from
//! scripts/make_pdf_fixtures.py (pages drawn with a system font, PDFs written byte by byte).
//! `pdftotext` (poppler-utils, installed by packaging/setup.sh) reads the text layer back.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::RgbImage;
use inkread::export::pdf::{PdfPage, searchable_pdf};
use inkread::image_file::{ImageError, decode_pages, open_pages};
use inkread::pdf_pages::PdfError;
use inkread::reading::{Line, LineText, Reading};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pdf")
        .join(name)
}

fn png(name: &str) -> RgbImage {
    image::open(fixture(name)).unwrap().to_rgb8()
}

/// Mean absolute difference per channel, 0..=255.
fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

fn pdftotext(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext runs (poppler-utils: bash packaging/setup.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Whitespace-separated words, for comparing text laid out differently.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn each_jpeg_scan_page_is_its_own_image() {
    let pages = open_pages(&fixture("two_scans.pdf")).unwrap();
    assert_eq!(pages.len(), 2);
    for (page, original) in pages.iter().zip(["page1.png", "page2.png"]) {
        // Taken from the JPEG itself: the scan's own size, its pixels up to JPEG's loss.
        let diff = mean_difference(page, &png(original));
        assert!(diff < 3.0, "{original}: mean difference {diff}");
    }
}

#[test]
fn a_flate_scan_is_rendered_pixel_for_pixel() {
    let pages = open_pages(&fixture("flate_scan.pdf")).unwrap();
    assert_eq!(pages.len(), 1);
    let grey = image::DynamicImage::ImageLuma8(image::imageops::grayscale(&png("page1.png")));
    let diff = mean_difference(&pages[0], &grey.to_rgb8());
    assert!(diff < 3.0, "mean difference {diff}");
}

#[test]
fn every_page_of_a_tiff_is_read() {
    let pages = open_pages(&fixture("two_pages.tif")).unwrap();
    assert_eq!(pages.len(), 2);
    for (page, original) in pages.iter().zip(["page1.png", "page2.png"]) {
        // Bilevel pages: only the anti-aliased edges of the letters differ.
        let diff = mean_difference(page, &png(original));
        assert!(diff < 8.0, "{original}: mean difference {diff}");
    }
    assert!(
        mean_difference(&pages[0], &pages[1]) > 5.0,
        "two different pages"
    );
}

#[test]
fn bad_encrypted_and_empty_pdfs_are_typed_errors() {
    let pdf_error = |result: Result<Vec<RgbImage>, ImageError>| match result {
        Err(ImageError::Pdf { source, .. }) => source,
        other => panic!("expected a PDF error, got {:?}", other.map(|p| p.len())),
    };
    let encrypted = pdf_error(open_pages(&fixture("encrypted.pdf")));
    assert!(matches!(encrypted, PdfError::Encrypted), "{encrypted}");
    let empty = pdf_error(open_pages(&fixture("no_pages.pdf")));
    assert!(matches!(empty, PdfError::NoPages), "{empty}");
    let garbage = pdf_error(decode_pages(b"%PDF-1.7\nnot really".to_vec(), "x.pdf"));
    assert!(matches!(garbage, PdfError::Invalid), "{garbage}");
    let message = open_pages(&fixture("encrypted.pdf"))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("encrypted.pdf") && message.contains("password"),
        "{message}"
    );
    // Every prefix of a real PDF is an error or some pages, never a panic.
    let bytes = std::fs::read(fixture("two_scans.pdf")).unwrap();
    for cut in (0..bytes.len()).step_by(bytes.len() / 23) {
        let _ = decode_pages(bytes[..cut].to_vec(), "cut.pdf");
    }
}

/// A reading of page1.png with its three lines at their drawn places.
fn page1_reading() -> Reading {
    let texts = std::fs::read_to_string(fixture("pages.txt")).unwrap();
    let lines = texts
        .lines()
        .take(3)
        .enumerate()
        .map(|(i, text)| {
            let y = 90.0 + 110.0 * i as f32;
            let polygon = vec![[85.0, y], [1000.0, y], [1000.0, y + 70.0], [85.0, y + 70.0]];
            Line::placed(
                polygon,
                LineText {
                    text: text.to_owned(),
                    ..Default::default()
                },
            )
        })
        .collect();
    Reading {
        image: "page1.png".into(),
        width: 1400,
        height: 480,
        lines,
        ..Default::default()
    }
}

#[test]
fn a_searchable_pdf_has_the_text_at_the_lines_and_the_page_unchanged() {
    let image = png("page1.png");
    let reading = page1_reading();
    let bytes = searchable_pdf(&[PdfPage {
        image: &image,
        reading: &reading,
    }])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.pdf");
    std::fs::write(&path, &bytes).unwrap();

    // The text layer: every line, in order, as one line of text each.
    let text = pdftotext(&path);
    let got: Vec<String> = text.lines().map(words).filter(|l| !l.is_empty()).collect();
    let want: Vec<String> = reading.lines.iter().map(|l| words(&l.text)).collect();
    assert_eq!(got, want);

    // Each word sits inside its line's box: pdftotext's bounding boxes, in points.
    let bbox = Command::new("pdftotext")
        .args(["-bbox", path.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&bbox.stdout);
    let first = html
        .lines()
        .find(|l| l.contains(">Invoice<"))
        .expect("the first word with its box");
    let number = |key: &str| -> f32 {
        let at = first.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
        first[at..].split('"').next().unwrap().parse().unwrap()
    };
    let to_px = 300.0 / 72.0;
    assert!((number("xMin") * to_px - 85.0).abs() < 4.0, "{first}");
    let (y_min, y_max) = (number("yMin") * to_px, number("yMax") * to_px);
    assert!(y_min > 60.0 && y_max < 180.0, "{first}");

    // The page is the image: rendered back at 300 dpi, it is the same picture.
    let back = decode_pages(bytes, "out.pdf").unwrap();
    assert_eq!(back.len(), 1);
    let diff = mean_difference(&back[0], &image);
    assert!(diff < 2.0, "mean difference {diff}");
}

fn inkread(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inkread"))
        .args(args)
        .env_remove("INKREAD_TROCR_MODEL")
        .output()
        .expect("the inkread binary runs")
}

#[test]
fn read_writes_a_pdf_whose_text_layer_is_what_read_printed() {
    // The real default models: the text layer must carry what they read.
    let (Some(_), Some(_)) = (
        support::model_file("ppocr-v4-det", "ch_PP-OCRv4_det_infer.onnx"),
        support::model_file("ppocr-v4-rec", "ch_PP-OCRv4_rec_infer.onnx"),
    ) else {
        return;
    };
    let models = ["--detector", "ppocr-v4-det", "--recognizer", "ppocr-v4-rec"];
    let scans = fixture("two_scans.pdf");
    let scans = scans.to_str().unwrap();
    let printed = inkread(&[&["read", "--device", "cpu"], &models[..], &[scans]].concat());
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let printed = String::from_utf8(printed.stdout).unwrap();
    assert!(printed.contains("two_scans.pdf#page=2"), "{printed}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("searchable.pdf");
    let args = ["read", "--device", "cpu", "--format", "pdf", "-o"];
    let written = inkread(&[&args[..], &[out.to_str().unwrap()], &models[..], &[scans]].concat());
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    // `read` names each page before its text; the PDF's layer has only the text.
    let read_text: String = printed
        .lines()
        .map(|l| l.split_once(": ").map_or(l, |(_, text)| text))
        .collect::<Vec<_>>()
        .join("\n");
    let layer = pdftotext(&out);
    let cer = inkread::eval::metrics::cer(&words(&read_text), &words(&layer));
    eprintln!("read: {read_text:?}\nlayer: {layer:?}\nCER {cer:.4}");
    assert!(cer <= 0.05, "CER {cer}");
    let page_count = std::fs::read(&out).unwrap();
    assert_eq!(decode_pages(page_count, "searchable.pdf").unwrap().len(), 2);
}

#[test]
fn hocr_and_alto_of_a_pdf_are_one_document_with_numbered_pages() {
    let reading = page1_reading();
    let second = Reading {
        image: "scan.pdf#page=2".into(),
        ..reading.clone()
    };
    let readings = [reading, second];
    let hocr = inkread::export::export_pages(&readings, inkread::export::Format::Hocr);
    assert_eq!(hocr.matches("class=\"ocr_page\"").count(), 2);
    assert!(hocr.contains("id=\"page_2\"") && hocr.contains("ppageno 1"));
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let parsed = roxmltree::Document::parse_with_options(&hocr, options);
    assert!(parsed.is_ok(), "well-formed: {parsed:?}");
    let alto = inkread::export::export_pages(&readings, inkread::export::Format::Alto);
    assert!(alto.contains("PHYSICAL_IMG_NR=\"2\""));
    let doc = roxmltree::Document::parse(&alto).unwrap();
    let ids: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("ID"))
        .collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "ALTO ids are unique");
}
