//! The evaluation tool: metrics with known values, a tiny manifest read by a fake pipeline,
//! and the shared evaluation data read by the oracle detector and a recognizer that returns
//! the ground truth (CER must then be 0).

mod support;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use inkread::cancel::CancelToken;
use inkread::cli::eval_cmd::{EvalArgs, EvalKind, ReportFormat, run};
use inkread::eval::metrics::{Detection, cer, match_polygons, wer};
use inkread::eval::{Options, evaluate_lines, evaluate_pages, manifest};
use inkread::pipeline::{Detector, Pipeline, Recognizer};
use inkread::reading::{LineText, Region};

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn cer_and_wer_of_known_pairs() {
    assert_eq!(cer("kitten", "sitting"), 0.5); // 3 edits / 6
    assert_eq!(wer("the cat sat", "the cat sat down"), 1.0 / 3.0);
    assert_eq!(cer("same  text ", " same text"), 0.0); // whitespace is normalized
    assert_eq!(cer("", ""), 0.0);
    assert_eq!(cer("", "x"), 1.0);
}

#[test]
fn detection_matching_is_one_to_one() {
    let sq = |x: f32| vec![[x, 0.0], [x + 10.0, 0.0], [x + 10.0, 10.0], [x, 10.0]];
    // Two detections on the same truth: only the better one counts.
    let m = match_polygons(&[sq(0.0), sq(50.0)], &[sq(1.0), sq(0.0), sq(100.0)], 0.5);
    assert_eq!(m, vec![Some(1), None]);
    let d = Detection {
        matched: 1,
        detected: 3,
        truth: 2,
    };
    assert!(close(d.precision(), 1.0 / 3.0) && close(d.recall(), 0.5) && close(d.f1(), 0.4));
}

/// Returns fixed boxes, whatever the page.
struct FixedDetector(Vec<Region>);

impl Detector for FixedDetector {
    fn name(&self) -> &str {
        "fixed"
    }
    fn detect(&mut self, _: &RgbImage, _: &CancelToken) -> inkread::Result<Vec<Region>> {
        Ok(self.0.clone())
    }
}

/// Reads a crop's dominant colour: red "hello world", green "second lime", else nothing.
struct ColourRecognizer;

impl Recognizer for ColourRecognizer {
    fn name(&self) -> &str {
        "colour"
    }
    fn recognize(
        &mut self,
        lines: &[RgbImage],
        _: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> inkread::Result<Vec<LineText>> {
        let texts = lines
            .iter()
            .map(|img| {
                let n = img.pixels().len().max(1) as f64;
                let mean = |c: usize| img.pixels().map(|p| p[c] as f64).sum::<f64>() / n;
                let (r, g, b) = (mean(0), mean(1), mean(2));
                let text = if r > g + 60.0 && r > b + 60.0 {
                    "hello world"
                } else if g > r + 60.0 && g > b + 60.0 {
                    "second lime"
                } else {
                    ""
                };
                LineText {
                    text: text.into(),
                    confidence: 0.9,
                    words: Vec::new(),
                }
            })
            .collect();
        on_line(lines.len());
        Ok(texts)
    }
}

fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<[f32; 2]> {
    vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
}

/// A page with a red and a green bar (the two lines) and its manifests, in a temp dir.
fn tiny_data(dir: &Path) {
    std::fs::create_dir_all(dir.join("pages/toy")).unwrap();
    std::fs::create_dir_all(dir.join("lines/toy")).unwrap();
    let page = RgbImage::from_fn(400, 200, |x, y| match (x, y) {
        (20..380, 20..60) => Rgb([230, 10, 10]),
        (20..300, 100..140) => Rgb([10, 230, 10]),
        _ => Rgb([255, 255, 255]),
    });
    page.save(dir.join("pages/toy/page.png")).unwrap();
    let truth = serde_json::json!({"image": "page.png", "width": 400, "height": 200, "lines": [
        {"id": "l1", "text": "hello world", "polygon": rect(20.0, 20.0, 380.0, 60.0), "bbox": [20, 20, 380, 60]},
        {"id": "l2", "text": "second line", "polygon": rect(20.0, 100.0, 300.0, 140.0), "bbox": [20, 100, 300, 140]},
    ]});
    std::fs::write(dir.join("pages/toy/page.lines.json"), truth.to_string()).unwrap();
    std::fs::write(
        dir.join("pages/manifest.tsv"),
        "path\tgt_path\tlines_json\tn_lines\ntoy/page.png\ttoy/page.xml\ttoy/page.lines.json\t2\n",
    )
    .unwrap();
    RgbImage::from_pixel(120, 30, Rgb([230, 10, 10]))
        .save(dir.join("lines/toy/a.png"))
        .unwrap();
    RgbImage::from_pixel(120, 30, Rgb([10, 230, 10]))
        .save(dir.join("lines/toy/b.png"))
        .unwrap();
    std::fs::write(
        dir.join("lines/manifest.tsv"),
        "path\ttranscription\tnote\ntoy/a.png\thello world\t\ntoy/b.png\tSecond line!\t\n",
    )
    .unwrap();
}

fn fake_pipeline() -> Pipeline {
    // The true boxes shrunk a little (IoU > 0.5) and one false positive on white paper,
    // listed bottom-up so reading order has work to do.
    let detector = FixedDetector(vec![
        Region {
            polygon: rect(25.0, 160.0, 120.0, 190.0),
            score: 0.6,
        },
        Region {
            polygon: rect(24.0, 104.0, 296.0, 136.0),
            score: 0.9,
        },
        Region {
            polygon: rect(22.0, 22.0, 378.0, 58.0),
            score: 0.9,
        },
    ]);
    Pipeline {
        detector: Some(Box::new(detector)),
        recognizer: Box::new(ColourRecognizer),
    }
}

#[test]
fn pages_eval_with_a_fake_pipeline_gives_the_expected_scores() {
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let report = evaluate_pages(
        &dir.path().join("pages/manifest.tsv"),
        &mut fake_pipeline(),
        &Options::default(),
    )
    .unwrap();
    let toy = &report.sets["toy"];
    assert_eq!(toy.n, 1);
    assert!(
        close(toy.precision, 2.0 / 3.0) && close(toy.recall, 1.0) && close(toy.f1, 0.8),
        "{toy:?}"
    );
    // "second line" read as "second lime": 1 of 22 characters, 1 of 4 words.
    assert!(
        close(toy.cer, 1.0 / 22.0) && close(toy.wer, 0.25),
        "{toy:?}"
    );
    // Page text "hello world\nsecond lime\n" against "hello world\nsecond line": 2 / 23.
    assert!(close(toy.page_cer, 2.0 / 23.0), "{toy:?}");
    assert_eq!(report.overall, *toy);

    let oracle = Options {
        oracle_detector: true,
        ..Options::default()
    };
    let report = evaluate_pages(
        &dir.path().join("pages/manifest.tsv"),
        &mut fake_pipeline(),
        &oracle,
    )
    .unwrap();
    let toy = &report.sets["toy"];
    assert!(
        close(toy.f1, 1.0) && close(toy.page_cer, 1.0 / 23.0),
        "{toy:?}"
    );
}

#[test]
fn lines_eval_reports_strict_and_loose_rates() {
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let report = evaluate_lines(
        &dir.path().join("lines/manifest.tsv"),
        &mut fake_pipeline(),
        &Options::default(),
    )
    .unwrap();
    let toy = &report.sets["toy"];
    assert_eq!(toy.n, 2);
    // "Second line!" vs "second lime": S→s, n→m, ! deleted = 3 of 23 characters.
    assert!(close(toy.cer, 3.0 / 23.0), "{toy:?}");
    // Ignoring case and punctuation only n→m is left: 1 of 22.
    assert!(close(toy.cer_nocase, 1.0 / 22.0), "{toy:?}");
    assert!(close(toy.wer_nocase, 0.25), "{toy:?}");
    assert!(toy.precision.is_none() && toy.page_cer.is_none());
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["sets"]["toy"]["cer"].is_number() && json["overall"]["f1"].is_null());
}

#[test]
fn the_command_asks_for_no_detector_in_oracle_mode() {
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let asked = std::sync::Mutex::new(Vec::new());
    let args = EvalArgs {
        kind: EvalKind::Pages,
        manifest: dir.path().join("pages/manifest.tsv"),
        detector: "gt".into(),
        recognizer: "colour".into(),
        format: ReportFormat::Json,
        set: None,
        limit: None,
        verbose: false,
        device: Default::default(),
    };
    run(args, |d, r| {
        asked.lock().unwrap().push((d.to_string(), r.to_string()));
        Ok(Pipeline {
            detector: None,
            recognizer: Box::new(ColourRecognizer),
        })
    })
    .unwrap();
    assert_eq!(
        *asked.lock().unwrap(),
        vec![("none".to_string(), "colour".to_string())]
    );
}

/// Hands out the transcriptions in order, one per line image it is given.
struct Parrot(VecDeque<String>);

impl Recognizer for Parrot {
    fn name(&self) -> &str {
        "parrot"
    }
    fn recognize(
        &mut self,
        lines: &[RgbImage],
        _: &CancelToken,
        _: &mut dyn FnMut(usize),
    ) -> inkread::Result<Vec<LineText>> {
        Ok(lines
            .iter()
            .map(|_| LineText {
                text: self.0.pop_front().unwrap_or_default(),
                ..LineText::default()
            })
            .collect())
    }
}

fn shared_eval_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("INKREAD_SHARED_DIR") {
        Some(d) => PathBuf::from(d).join("eval"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval"),
    };
    dir.join("pages/manifest.tsv").is_file().then_some(dir)
}

#[test]
fn oracle_detection_and_true_text_give_zero_error_on_the_shared_data() {
    let Some(dir) = shared_eval_dir() else {
        support::skip("no shared eval data (set INKREAD_SHARED_DIR to the folder holding eval/)");
        return;
    };
    let pages = dir.join("pages/manifest.tsv");
    let mut texts = VecDeque::new();
    for item in manifest::read_pages_manifest(&pages).unwrap() {
        texts.extend(
            manifest::read_truth_lines(&item.lines_json)
                .unwrap()
                .into_iter()
                .map(|l| l.text),
        );
    }
    let mut pipeline = Pipeline {
        detector: None,
        recognizer: Box::new(Parrot(texts)),
    };
    let oracle = Options {
        oracle_detector: true,
        ..Options::default()
    };
    let report = evaluate_pages(&pages, &mut pipeline, &oracle).unwrap();
    assert!(report.sets.len() >= 4, "{:?}", report.sets.keys());
    let all = &report.overall;
    assert!(
        close(all.cer, 0.0) && close(all.page_cer, 0.0) && close(all.f1, 1.0),
        "{all:?}"
    );

    let lines = dir.join("lines/manifest.tsv");
    let texts = manifest::read_lines_manifest(&lines)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    let mut pipeline = Pipeline {
        detector: None,
        recognizer: Box::new(Parrot(texts)),
    };
    let report = evaluate_lines(&lines, &mut pipeline, &Options::default()).unwrap();
    assert_eq!(report.overall.n, 128);
    assert!(
        close(report.overall.cer, 0.0) && close(report.overall.wer, 0.0),
        "{:?}",
        report.overall
    );
}

/// Reads every line but the first: a recognizer that lost a result.
struct DropsFirst;

impl Recognizer for DropsFirst {
    fn name(&self) -> &str {
        "drops-first"
    }
    fn recognize(
        &mut self,
        lines: &[RgbImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> inkread::Result<Vec<LineText>> {
        let mut texts = ColourRecognizer.recognize(lines, cancel, on_line)?;
        texts.remove(0);
        Ok(texts)
    }
}

#[test]
fn a_recognizer_losing_a_line_is_an_error_naming_it_not_a_shifted_reading() {
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let mut pipeline = fake_pipeline();
    pipeline.recognizer = Box::new(DropsFirst);
    let page = inkread::reading::Page {
        image: image::open(dir.path().join("pages/toy/page.png"))
            .unwrap()
            .to_rgb8(),
        source: "page.png".into(),
    };
    let result = pipeline.read(
        &page,
        inkread::pipeline::Mode::Page,
        &CancelToken::new(),
        &mut |_| {},
    );
    match result {
        Err(inkread::Error::ResultCount {
            model,
            expected: 3,
            got: 2,
        }) => assert_eq!(model, "drops-first"),
        other => panic!("expected ResultCount, got {other:?}"),
    }
}
