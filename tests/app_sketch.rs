//! The sketchpad's word spacing and its Copy: "Hi ok" drawn with a word gap reads "Hi ok"
//! even from a recognizer that runs the words together, and the text reaches the clipboard
//! right after recognition by the toolbar's button and by Ctrl+C. The recognizer here is a
//! stand-in that always answers "Hiok" (what print recognizers make of the drawing).

mod support {
    pub mod harness;
}

use eframe::egui;
use egui::{Event, Modifiers, PointerButton, Pos2, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use image::RgbImage;
use inkread::app::{InkreadApp, MemoryClipboard, ModelChoice, ModelKind, PipelineFactory, View};
use inkread::cancel::CancelToken;
use inkread::pipeline::{Detector, Pipeline, Recognizer, Stage};
use inkread::reading::{LineText, Region};
use support::harness::wait_for;

const MERGED: &str = "merged-words";
const WHOLE: &str = "whole-image";

/// Reads every line as "Hiok": the words of the drawing run together.
struct MergedRecognizer;

impl Recognizer for MergedRecognizer {
    fn name(&self) -> &str {
        MERGED
    }
    fn recognize(
        &mut self,
        lines: &[RgbImage],
        _cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> inkread::Result<Vec<LineText>> {
        Ok((0..lines.len())
            .map(|i| {
                on_line(i);
                LineText {
                    text: "Hiok".into(),
                    confidence: 0.9,
                    words: Vec::new(),
                }
            })
            .collect())
    }
}

/// The whole image is one line.
struct WholeImage;

impl Detector for WholeImage {
    fn name(&self) -> &str {
        WHOLE
    }
    fn detect(&mut self, page: &RgbImage, _cancel: &CancelToken) -> inkread::Result<Vec<Region>> {
        let (w, h) = (page.width() as f32, page.height() as f32);
        Ok(vec![Region {
            polygon: vec![[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]],
            score: 1.0,
        }])
    }
}

struct MergedFactory;

impl PipelineFactory for MergedFactory {
    fn build(
        &mut self,
        detector_id: Option<&str>,
        _recognizer_id: &str,
        _progress: &mut dyn FnMut(Stage),
    ) -> anyhow::Result<Pipeline> {
        Ok(Pipeline {
            detector: detector_id.map(|_| Box::new(WholeImage) as Box<dyn Detector>),
            recognizer: Box::new(MergedRecognizer),
        })
    }

    fn models(&self) -> Vec<ModelChoice> {
        let model = |id: &str, kind| ModelChoice {
            id: id.into(),
            name: id.into(),
            kind,
            installed: true,
            size_bytes: None,
            personal: false,
            reads: "handwriting".into(),
            source: "test".into(),
            licence: "test".into(),
            damaged: None,
        };
        vec![
            model(MERGED, ModelKind::Recognizer),
            model(WHOLE, ModelKind::Detector),
        ]
    }

    fn device_name(&self) -> String {
        "CPU".into()
    }
}

fn stroke(harness: &mut Harness<'static, InkreadApp>, points: &[Pos2]) {
    harness.event(Event::PointerMoved(points[0]));
    harness.event(Event::PointerButton {
        pos: points[0],
        button: PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    for p in &points[1..] {
        harness.event(Event::PointerMoved(*p));
    }
    harness.event(Event::PointerButton {
        pos: points[points.len() - 1],
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    harness.step();
}

/// Points along a straight segment, as a pen samples it.
fn segment(from: Pos2, to: Pos2) -> Vec<Pos2> {
    (0..=12).map(|i| from.lerp(to, i as f32 / 12.0)).collect()
}

/// "Hi ok" with letters 60 px tall, letters of a word 12 px apart, the words 70 px apart.
fn draw_hi_ok(harness: &mut Harness<'static, InkreadApp>, at: Pos2) {
    let p = |x: f32, y: f32| at + Vec2::new(x, y);
    for (a, b) in [
        ((0.0, 0.0), (0.0, 60.0)),      // H
        ((30.0, 0.0), (30.0, 60.0)),    // H
        ((0.0, 30.0), (30.0, 30.0)),    // H
        ((42.0, 20.0), (42.0, 60.0)),   // i
        ((112.0, 20.0), (112.0, 60.0)), // o, its left side
        ((112.0, 60.0), (140.0, 40.0)), // o, closing
        ((152.0, 0.0), (152.0, 60.0)),  // k
        ((152.0, 40.0), (175.0, 20.0)), // k
        ((158.0, 36.0), (175.0, 60.0)), // k
    ] {
        stroke(harness, &segment(p(a.0, a.1), p(b.0, b.1)));
    }
    // The dot of the i: a tap.
    stroke(harness, &[p(42.0, 8.0)]);
}

#[test]
fn a_drawn_hi_ok_reads_hi_ok_and_copies_right_away() {
    let clipboard = MemoryClipboard::default();
    let clip = clipboard.clone();
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1280.0, 820.0))
        .build_eframe(move |cc| InkreadApp::new(cc, Box::new(MergedFactory), Box::new(clip)));
    harness.step();
    assert_eq!(harness.state().view, View::Draw);
    let rect = harness
        .state()
        .sketch
        .last_rect
        .expect("sketchpad laid out");
    draw_hi_ok(&mut harness, rect.min + Vec2::new(80.0, 80.0));
    assert_eq!(harness.state().sketch.strokes.len(), 10);

    harness.get_by_label("Recognize").click();
    harness.step();
    wait_for(&mut harness, "the sketch's reading", |app| {
        !app.is_busy() && app.shown_reading().is_some()
    });
    let reading = harness.state().shown_reading().unwrap();
    assert_eq!(reading.text(), "Hi ok");
    let words: Vec<&str> = reading.lines[0]
        .words
        .iter()
        .map(|w| w.text.as_str())
        .collect();
    assert_eq!(words, ["Hi", "ok"]);

    // The mouse: the toolbar's Copy, right after recognition.
    harness.get_by_label("Copy text").click();
    harness.step();
    assert_eq!(clipboard.text.lock().unwrap().as_deref(), Some("Hi ok"));

    // The keyboard: Ctrl+C, with nothing else to do first.
    *clipboard.text.lock().unwrap() = None;
    harness.event(Event::Copy);
    harness.step();
    assert_eq!(clipboard.text.lock().unwrap().as_deref(), Some("Hi ok"));
}
