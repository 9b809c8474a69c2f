//! The desktop app driven through egui_kittest: drawing, dropping, pasting a URL, copying,
//! cancelling, installing a model, and snapshots of the main states.
//! Models are small fakes (tests/support/fakes.rs) and, for the sketch, the tiny TrOCR
//! fixture network; everything around them is the real app.

mod support {
    pub mod fakes;
    pub mod harness;
    pub mod skip;
}

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use eframe::egui;
use egui::{Event, Key, Modifiers, PointerButton, Pos2, Vec2};
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use inkread::app::sketchpad::Stroke;
use inkread::app::{InkreadApp, MemoryClipboard, ModelKind, View};
use inkread::cancel::CancelToken;
use inkread::pipeline::Recognizer;
use support::fakes::*;
use support::harness::wait_for;

fn app_harness(clipboard: MemoryClipboard) -> Harness<'static, InkreadApp> {
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1280.0, 820.0))
        .build_eframe(move |cc| {
            InkreadApp::new(cc, Box::new(FakeFactory::default()), Box::new(clipboard))
        });
    harness.step();
    harness
}

#[test]
fn a_first_start_downloads_a_handwriting_recognizer_or_says_plainly_why_not() {
    for hub_answers in [false, true] {
        let mut harness = Harness::builder()
            .with_size(Vec2::new(1280.0, 820.0))
            .build_eframe(move |cc| {
                let factory = FakeFactory::with_first_handwriting(hub_answers);
                InkreadApp::new(cc, Box::new(factory), Box::new(MemoryClipboard::default()))
            });
        harness.step();
        wait_for(&mut harness, "the handwriting download to end", |app| {
            app.note().is_some_and(|n| n.contains("handwriting"))
        });
        let note = harness.state().note().unwrap_or_default().to_owned();
        assert!(harness.state().error().is_none(), "not an error: {note}");
        if hub_answers {
            assert!(note.contains("handwriting is read with it now"), "{note}");
            assert!(harness.state().settings.handwriting_installed);
        } else {
            assert!(
                note.contains("No handwriting recognizer installed"),
                "{note}"
            );
            assert!(note.contains("cannot be reached"), "{note}");
            assert!(!harness.state().settings.handwriting_installed);
        }
    }
}

/// Presses, moves through `points`, releases: one stroke as a mouse, pen or finger makes it.
fn draw(harness: &mut Harness<'static, InkreadApp>, points: &[Pos2]) {
    let (first, last) = (points[0], points[points.len() - 1]);
    harness.event(Event::PointerMoved(first));
    harness.event(Event::PointerButton {
        pos: first,
        button: PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    for p in &points[1..] {
        harness.event(Event::PointerMoved(*p));
    }
    harness.event(Event::PointerButton {
        pos: last,
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    harness.step();
}

/// A wavy handwriting-like stroke from `start`, `len` pixels long.
fn wave(start: Pos2, len: f32) -> Vec<Pos2> {
    (0..=40)
        .map(|i| {
            let t = i as f32 / 40.0;
            start + Vec2::new(t * len, (t * 18.0).sin() * 14.0)
        })
        .collect()
}

/// A file as a native window hands it over when dropped.
#[derive(Debug)]
struct DroppedPath(std::path::PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn dropped(path: &Path) -> egui::DroppedFileHandle {
    std::sync::Arc::new(DroppedPath(path.to_path_buf()))
}

fn write_png(path: &Path, image: &image::RgbImage) {
    image.save(path).expect("write test PNG");
}

/// The three-line fixture page and the crop sizes its lines must reach the recognizer with:
/// each bar's size plus the pipeline's padding of a tenth of the line height on every side.
fn three_line_page() -> (image::RgbImage, Vec<String>) {
    let bars = [(50, 50, 500, 80), (50, 150, 400, 185), (50, 260, 300, 300)];
    let page = page_with_bars(600, 400, &bars);
    let sizes = bars
        .iter()
        .map(|&(x0, y0, x1, y1)| {
            let pad = (0.1 * (y1 - y0) as f32).round() as u32;
            format!("{}x{}", x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)
        })
        .collect();
    (page, sizes)
}

#[test]
fn strokes_on_the_sketchpad_are_drawn_undone_and_recognized() {
    let mut harness = app_harness(MemoryClipboard::default());
    assert_eq!(harness.state().view, View::Draw);
    let rect = harness
        .state()
        .sketch
        .last_rect
        .expect("sketchpad laid out");
    let origin = rect.min + Vec2::new(60.0, 70.0);

    draw(&mut harness, &wave(origin, 260.0));
    draw(&mut harness, &wave(origin + Vec2::new(300.0, 0.0), 120.0));
    assert_eq!(harness.state().sketch.strokes.len(), 2, "two strokes drawn");
    assert!(
        harness
            .state()
            .sketch
            .strokes
            .iter()
            .all(|s| s.points.len() > 5),
        "strokes keep their samples"
    );

    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.step();
    assert_eq!(
        harness.state().sketch.strokes.len(),
        1,
        "Ctrl+Z undoes a stroke"
    );
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    harness.step();
    assert_eq!(
        harness.state().sketch.strokes.len(),
        2,
        "Ctrl+Shift+Z redoes it"
    );

    // One written line: a wide strip, read as a single line by a real (tiny) TrOCR network.
    // Its weights are random, so the text is gibberish, but the same raster read directly
    // must give the same text: the app really ran the network on what was drawn.
    let raster = harness
        .state()
        .sketch
        .rasterize()
        .expect("ink to rasterise");
    // A line read whole reaches the recognizer as it is (no crop, no padding).
    let expected = open_fixture_trocr()
        .expect("the TrOCR fixture opens")
        .recognize(
            std::slice::from_ref(&raster.image),
            &CancelToken::new(),
            &mut |_| {},
        )
        .expect("the fixture reads the raster")
        .remove(0)
        .text;
    harness.state_mut().settings.recognizer = TROCR_RECOGNIZER.into();
    harness.get_by_label("Recognize").click();
    harness.step();
    wait_for(&mut harness, "the sketch to be read", |app| {
        !app.is_busy() && app.shown_reading().is_some()
    });
    let reading = harness.state().shown_reading().unwrap();
    assert_eq!(reading.lines.len(), 1);
    // The two strokes are 40 px apart, more than half their height: two written words, so
    // the app puts the space the recognizer left out back between them.
    let text = &reading.lines[0].text;
    assert_eq!(text.replace(' ', ""), expected.replace(' ', ""));
    assert_eq!(
        text.matches(' ').count(),
        expected.matches(' ').count().max(1)
    );
    assert_eq!(
        reading.width,
        raster.image.width(),
        "the whole raster was read"
    );
    assert_eq!(harness.state().results.lines, vec![text.clone()]);

    // The crop-size recognizer shows what reached the recognizer for each line.
    harness.state_mut().settings.recognizer = SIZE_RECOGNIZER.into();
    // A second line written well below: now the detector splits the drawing into two lines.
    draw(&mut harness, &wave(origin + Vec2::new(0.0, 160.0), 200.0));
    harness.get_by_label("Recognize").click();
    harness.step();
    assert_eq!(
        harness.state().sketch.strokes.len(),
        3,
        "third stroke drawn"
    );
    let tall = harness.state().sketch.rasterize().unwrap();
    wait_for(&mut harness, "the new reading", |app| {
        !app.is_busy()
            && app
                .shown_reading()
                .is_some_and(|r| r.height == tall.image.height())
    });
    assert_eq!(
        harness.state().shown_reading().unwrap().lines.len(),
        2,
        "{:?}",
        harness.state().shown_reading()
    );
    let reading = harness.state().shown_reading().unwrap();
    assert!(
        reading.lines[0].bbox[1] < reading.lines[1].bbox[1],
        "reading order is top to bottom"
    );
    for line in &reading.lines {
        // The first line's two words are spaced apart: the size is read without the space.
        let size = line.text.replace(' ', "");
        let (_, h) = size.split_once('x').expect("crop size text");
        let h: u32 = h.parse().unwrap();
        assert!(
            h < reading.height / 2,
            "each crop holds one line, not the page ({h} of {})",
            reading.height
        );
    }
}

#[test]
fn dropped_files_are_queued_and_read_and_bad_ones_report_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (page, expected) = three_line_page();
    let good = dir.path().join("page.png");
    write_png(&good, &page);
    let second = dir.path().join("second.bmp");
    page_with_bars(300, 60, &[(10, 10, 290, 50)])
        .save(&second)
        .unwrap();
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"this is not a PNG").unwrap();

    let mut harness = app_harness(MemoryClipboard::default());
    for path in [&good, &second] {
        harness.input_mut().dropped_files.push(dropped(path));
    }
    harness.step();
    wait_for(&mut harness, "both pages read", |app| {
        app.queue.items.len() == 2
            && app.queue.items.iter().all(|i| i.reading.is_some())
            && !app.is_busy()
    });
    let app = harness.state();
    assert_eq!(app.view, View::Pages);
    let first = app
        .queue
        .items
        .iter()
        .find(|i| i.source.ends_with("page.png"))
        .unwrap();
    let texts: Vec<&str> = first
        .reading
        .as_ref()
        .unwrap()
        .lines
        .iter()
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(texts, expected);
    let strip = app
        .queue
        .items
        .iter()
        .find(|i| i.source.ends_with("second.bmp"))
        .unwrap();
    assert_eq!(
        strip.reading.as_ref().unwrap().lines.len(),
        1,
        "a short wide strip is one line"
    );

    harness.input_mut().dropped_files.push(dropped(&bad));
    harness.step();
    wait_for(&mut harness, "the bad file's error", |app| {
        app.error().is_some()
    });
    let error = harness.state().error().unwrap().to_owned();
    assert!(
        error.contains("broken.png") && error.contains("not an image"),
        "clear message: {error}"
    );
    assert_eq!(
        harness.state().queue.items.len(),
        2,
        "nothing added for a bad file"
    );
}

/// Serves a few fixed responses on 127.0.0.1 for at most `connections` requests or 20 s.
fn serve(png: Vec<u8>, connections: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut served = 0;
        while served < connections && Instant::now() < deadline {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            served += 1;
            stream.set_nonblocking(false).ok();
            stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_owned();
            let (status, extra, content_type, body): (&str, String, &str, Vec<u8>) =
                match path.as_str() {
                    "/page.png" => ("200 OK", String::new(), "image/png", png.clone()),
                    "/moved" => (
                        "302 Found",
                        "Location: /page.png\r\n".into(),
                        "text/plain",
                        Vec::new(),
                    ),
                    "/page.html" => (
                        "200 OK",
                        String::new(),
                        "text/html",
                        b"<html>no</html>".to_vec(),
                    ),
                    _ => (
                        "404 Not Found",
                        String::new(),
                        "text/plain",
                        b"missing".to_vec(),
                    ),
                };
            let mut stream = stream;
            let head = format!(
                "HTTP/1.1 {status}\r\n{extra}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(&body));
        }
    });
    base
}

#[test]
fn a_pasted_url_is_fetched_off_the_ui_thread_and_bad_urls_explain_themselves() {
    let (page, expected) = three_line_page();
    let mut png = Vec::new();
    page.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let base = serve(png, 6);
    let mut harness = app_harness(MemoryClipboard::default());

    // Ctrl+V of an address with no text field focused.
    harness.event(Event::Paste(format!("{base}/moved")));
    harness.step();
    wait_for(&mut harness, "the fetched page to be read", |app| {
        app.queue.items.first().is_some_and(|i| i.reading.is_some()) && !app.is_busy()
    });
    let item = &harness.state().queue.items[0];
    assert_eq!(item.source, format!("{base}/moved"));
    let texts: Vec<&str> = item
        .reading
        .as_ref()
        .unwrap()
        .lines
        .iter()
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(texts, expected);

    // Typed into the address field and fetched with the button: not an image.
    harness.state_mut().url_input = format!("{base}/page.html");
    harness.get_by_label("Fetch").click();
    harness.step();
    wait_for(&mut harness, "the content-type error", |app| {
        app.error().is_some()
    });
    let error = harness.state().error().unwrap().to_owned();
    assert!(
        error.contains("not an image") && error.contains("text/html"),
        "{error}"
    );

    harness.state_mut().url_input = "file:///etc/passwd".into();
    harness.get_by_label("Fetch").click();
    harness.step();
    assert!(
        harness
            .state()
            .error()
            .unwrap()
            .contains("only http and https"),
        "{:?}",
        harness.state().error()
    );
    assert_eq!(harness.state().queue.items.len(), 1);
}

#[test]
fn copy_all_copy_line_and_ctrl_c_go_through_the_clipboard() {
    let clipboard = MemoryClipboard::default();
    let mut harness = app_harness(clipboard.clone());
    let dir = tempfile::tempdir().unwrap();
    let (page, expected) = three_line_page();
    let path = dir.path().join("page.png");
    write_png(&path, &page);
    harness.state_mut().open_paths([path]);
    wait_for(&mut harness, "the page to be read", |app| {
        app.shown_reading().is_some() && !app.is_busy()
    });

    harness.get_by_label("Copy all").click();
    harness.step();
    assert_eq!(
        clipboard.text.lock().unwrap().as_deref(),
        Some(expected.join("\n").as_str())
    );

    harness
        .get_all_by_label("Copy")
        .nth(1)
        .expect("a copy button per line")
        .click();
    harness.step();
    assert_eq!(
        clipboard.text.lock().unwrap().as_deref(),
        Some(expected[1].as_str())
    );

    // Edits are what gets copied; Ctrl+C with nothing focused copies everything.
    harness.state_mut().results.lines[0] = "edited first line".into();
    harness.event(Event::Copy);
    harness.step();
    let copied = clipboard.text.lock().unwrap().clone().unwrap();
    assert_eq!(
        copied,
        format!("edited first line\n{}\n{}", expected[1], expected[2])
    );
}

#[test]
fn cancel_stops_a_running_job() {
    let mut harness = app_harness(MemoryClipboard::default());
    harness.state_mut().settings.recognizer = SLOW_RECOGNIZER.into();
    harness.state_mut().sketch.push_stroke(Stroke::new(
        (0..50)
            .map(|i| Pos2::new(100.0 + i as f32 * 6.0, 100.0 + (i % 5) as f32 * 4.0))
            .collect(),
        4.0,
    ));
    harness.step();
    harness.get_by_label("Recognize").click();
    harness.step();
    let started = Instant::now();
    while harness.query_by_label_contains("Reading line").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the job never reached the recognizer"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(harness.state().is_busy());
    harness.get_by_label("Cancel").click();
    harness.step();
    wait_for(&mut harness, "the job to stop", |app| !app.is_busy());
    assert_eq!(harness.state().note(), Some("Cancelled"));
    assert!(
        harness.state().error().is_none(),
        "cancelling is not an error"
    );
    assert!(harness.state().shown_reading().is_none());
}

#[test]
fn a_missing_model_fails_clearly_then_installs_with_progress() {
    let mut harness = app_harness(MemoryClipboard::default());
    harness.state_mut().settings.recognizer = MISSING_RECOGNIZER.into();
    harness.state_mut().sketch.push_stroke(Stroke::new(
        vec![Pos2::new(50.0, 50.0), Pos2::new(300.0, 60.0)],
        5.0,
    ));
    harness.step();
    harness.state_mut().recognize_sketch();
    wait_for(&mut harness, "the failure", |app| !app.is_busy());
    let error = harness
        .state()
        .error()
        .expect("an error for a missing model")
        .to_owned();
    assert!(error.contains("not installed"), "{error}");

    harness
        .get_by_label_contains("Install Not installed (test)")
        .click();
    harness.step();
    wait_for(&mut harness, "the install", |app| {
        app.models.installing.is_empty()
            && app
                .models
                .find(ModelKind::Recognizer, MISSING_RECOGNIZER)
                .is_some_and(|m| m.installed)
    });
    harness.state_mut().recognize_sketch();
    wait_for(&mut harness, "a reading", |app| {
        !app.is_busy() && app.shown_reading().is_some()
    });
    assert_eq!(harness.state().shown_reading().unwrap().lines.len(), 1);
    assert!(harness.state().error().is_none());
}

#[test]
fn settings_persist_through_eframe_storage() {
    #[derive(Default)]
    struct MemoryStorage(std::collections::HashMap<String, String>);
    impl eframe::Storage for MemoryStorage {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, key: &str, value: String) {
            self.0.insert(key.into(), value);
        }
        fn remove_string(&mut self, key: &str) {
            self.0.remove(key);
        }
        fn flush(&mut self) {}
    }
    let mut harness = app_harness(MemoryClipboard::default());
    harness.state_mut().settings.theme = inkread::app::settings::Theme::Dark;
    harness.state_mut().settings.recognizer = SLOW_RECOGNIZER.into();
    harness.state_mut().settings.low_confidence = 0.3;
    let mut storage = MemoryStorage::default();
    eframe::App::save(harness.state_mut(), &mut storage);
    let restored: inkread::app::settings::Settings =
        eframe::get_value(&storage, inkread::app::settings::STORAGE_KEY).expect("settings stored");
    assert_eq!(restored, harness.state().settings);
}

/// Renders the main states; skips with a message where no wgpu adapter exists.
#[test]
fn snapshots_of_the_main_states() {
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1100.0, 700.0))
        .build_eframe(|cc| {
            InkreadApp::new(
                cc,
                Box::new(FakeFactory::default()),
                Box::new(MemoryClipboard::default()),
            )
        });
    harness.state_mut().settings.theme = inkread::app::settings::Theme::Light;
    harness.step();
    harness.step();
    let render = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness.render()));
    match render {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return support::skip::skip(format!("cannot render with wgpu: {e}")),
        Err(_) => {
            return support::skip::skip(
                "no wgpu adapter (install mesa-vulkan-drivers for lavapipe)",
            );
        }
    }
    // Software and hardware rasterisers differ in antialiasing: allow small per-pixel
    // differences on a small share of pixels, but not a changed layout.
    let options = SnapshotOptions::new()
        .threshold(2.0)
        .max_failed_pixels(3000);
    harness.snapshot_options("draw_empty", &options);

    let rect = harness.state().sketch.last_rect.unwrap();
    let origin = rect.min + Vec2::new(60.0, 60.0);
    draw_in(&mut harness, &wave(origin, 240.0));
    harness.state_mut().recognize_sketch();
    wait_for(&mut harness, "the sketch reading", |app| {
        !app.is_busy() && app.shown_reading().is_some()
    });
    harness.remove_cursor();
    harness.step();
    harness.snapshot_options("draw_recognized", &options);

    let (page, _) = three_line_page();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.png");
    write_png(&path, &page);
    harness.state_mut().open_paths([path]);
    wait_for(&mut harness, "the page reading", |app| {
        !app.is_busy() && app.shown_reading().is_some()
    });
    harness.step();
    harness.snapshot_options("page_read", &options);
}

fn draw_in(harness: &mut Harness<'static, InkreadApp>, points: &[Pos2]) {
    draw(harness, points);
}
