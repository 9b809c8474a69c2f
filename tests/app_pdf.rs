//! A scanned PDF dropped on the window: each page joins the queue and is read, and "Save
//! PDF" writes them back with their text layer. The detector and recognizer are the small
//! fakes of tests/support/fakes.rs (the recognizer reports each crop's size as its text);
//! the PDF is tests/fixtures/pdf/two_scans.pdf (scripts/make_pdf_fixtures.py).

mod support {
    pub mod fakes;
    pub mod harness;
}

use std::path::{Path, PathBuf};

use eframe::egui;
use egui::Vec2;
use egui_kittest::Harness;
use inkread::app::{InkreadApp, MemoryClipboard, View};
use support::fakes::*;
use support::harness::wait_for;

fn app_harness() -> Harness<'static, InkreadApp> {
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1280.0, 820.0))
        .build_eframe(move |cc| {
            InkreadApp::new(
                cc,
                Box::new(FakeFactory::default()),
                Box::new(MemoryClipboard::default()),
            )
        });
    harness.step();
    harness
}

/// A file as a native window hands it over when dropped.
#[derive(Debug)]
struct DroppedPath(PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pdf")
        .join(name)
}

#[test]
fn a_dropped_pdf_of_two_scans_becomes_two_read_pages_and_saves_as_a_searchable_pdf() {
    let mut harness = app_harness();
    let pdf = fixture("two_scans.pdf");
    harness
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(DroppedPath(pdf.clone())));
    harness.step();
    wait_for(&mut harness, "both pages read", |app| {
        app.queue.items.len() == 2
            && app.queue.items.iter().all(|i| i.reading.is_some())
            && !app.is_busy()
    });
    let app = harness.state();
    assert_eq!(app.view, View::Pages);
    assert!(app.error().is_none(), "{:?}", app.error());
    let pdf_name = pdf.display().to_string();
    for (n, item) in app.queue.items.iter().enumerate() {
        assert_eq!(item.source, format!("{pdf_name}#page={}", n + 1));
        assert_eq!(
            item.image.dimensions(),
            (1400, 480),
            "the scan's own pixels"
        );
        let reading = item.reading.as_ref().unwrap();
        // Three printed lines on each page, each reaching the recognizer as its own crop.
        assert_eq!(reading.lines.len(), 3, "page {}", n + 1);
        assert!(reading.lines.iter().all(|l| !l.text.is_empty()));
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("saved.pdf");
    harness.state_mut().save_pdf_to(&out);
    assert!(
        harness
            .state()
            .note()
            .is_some_and(|n| n.contains("2 pages")),
        "{:?} / {:?}",
        harness.state().note(),
        harness.state().error()
    );
    let back = inkread::image_file::open_pages(&out).unwrap();
    assert_eq!(back.len(), 2);
    let text = std::process::Command::new("pdftotext")
        .args([out.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext runs (poppler-utils: bash packaging/setup.sh)");
    let text = String::from_utf8_lossy(&text.stdout);
    for item in &harness.state().queue.items {
        for line in &item.reading.as_ref().unwrap().lines {
            assert!(text.contains(&line.text), "{:?} in {text:?}", line.text);
        }
    }
}

#[test]
fn an_encrypted_pdf_reports_a_clear_error_and_adds_nothing() {
    let mut harness = app_harness();
    harness
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(DroppedPath(fixture("encrypted.pdf"))));
    harness.step();
    wait_for(&mut harness, "the error", |app| app.error().is_some());
    let error = harness.state().error().unwrap();
    assert!(
        error.contains("encrypted.pdf") && error.contains("password"),
        "{error}"
    );
    assert!(harness.state().queue.items.is_empty());
}
