//! kraken's segmenter end to end on the synthetic page of scripts/make_kraken_fixtures.py,
//! against kraken 7.1.1's own segmentation of it (`synthetic.lines.json`): the same lines,
//! baseline ends within a few pixels, polygons overlapping kraken's.
//!
//! The page is drawn small and kraken scales it up six times to 1800 rows, so the network
//! sees huge letters and (in kraken too) breaks most lines at the word gaps.

mod support;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde_json::Value;

use inkread::cancel::CancelToken;
use inkread::eval::metrics::match_polygons;
use inkread::models::kraken::{BLLA_FILE, BLLA_MODEL_ID};
use inkread::pipeline::blla::BllaDetector;
use inkread::reading::{Point, bbox_of};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kraken")
}

fn points(v: &Value) -> Vec<Point> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| [p[0].as_f64().unwrap() as f32, p[1].as_f64().unwrap() as f32])
        .collect()
}

fn distance(a: Point, b: Point) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

#[test]
fn segments_the_synthetic_page_as_kraken_does() {
    let Some(model) = support::model_file(BLLA_MODEL_ID, BLLA_FILE) else {
        return;
    };
    let page = image::open(fixtures().join("synthetic.png"))
        .unwrap()
        .to_rgb8();
    let text = std::fs::read_to_string(fixtures().join("synthetic.lines.json")).unwrap();
    let theirs: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut detector = BllaDetector::load(&model, &Device::flex()).unwrap();
    let ours = detector.lines(&page, &CancelToken::default()).unwrap();
    assert_eq!(ours.len(), theirs.len(), "line count");
    // Every kraken baseline has one of ours with both ends within 3 px, one to one.
    let mut used = vec![false; ours.len()];
    for t in &theirs {
        let tb = points(&t["baseline"]);
        let (t0, t1) = (tb[0], tb[tb.len() - 1]);
        let found = (0..ours.len()).find(|&d| {
            let ob = &ours[d].baseline;
            !used[d] && distance(t0, ob[0]) <= 3.0 && distance(t1, ob[ob.len() - 1]) <= 3.0
        });
        let d = found.unwrap_or_else(|| panic!("no baseline like kraken's {tb:?}"));
        used[d] = true;
    }
    // Polygons: most overlap kraken's closely (the seams are carved in a different frame).
    let their_polys: Vec<Vec<Point>> = theirs.iter().map(|t| points(&t["boundary"])).collect();
    let our_polys: Vec<Vec<Point>> = ours.iter().map(|l| l.polygon.clone()).collect();
    let close = match_polygons(&their_polys, &our_polys, 0.7)
        .iter()
        .flatten()
        .count();
    let loose = match_polygons(&their_polys, &our_polys, 0.5)
        .iter()
        .flatten()
        .count();
    eprintln!(
        "polygons: {close} of {} at IoU >= 0.7, {loose} at 0.5",
        theirs.len()
    );
    // Measured when written: 15 of 17 at both thresholds (two short word pieces differ).
    assert!(
        loose * 100 >= theirs.len() * 85,
        "IoU >= 0.5 for only {loose}"
    );
    assert!(
        close * 100 >= theirs.len() * 80,
        "IoU >= 0.7 for only {close}"
    );
    // Reading order: kraken's is a partial order with cycles on this page (word pieces of
    // two rows), broken by the order the lines were found in, which differs between the
    // two; kraken's own output reads one piece before a piece above it. Check the part that
    // is fixed, as kraken manages it: of two lines that share columns, the upper one first.
    let misordered = |lines: &[Vec<Point>]| {
        let mut count = 0;
        for (a, la) in lines.iter().enumerate() {
            for lb in &lines[a + 1..] {
                let (ba, bb) = (bbox_of(la), bbox_of(lb));
                if ba[0] < bb[2] && bb[0] < ba[2] && ba[1] > bb[1] {
                    count += 1;
                }
            }
        }
        count
    };
    let their_baselines: Vec<Vec<Point>> = theirs.iter().map(|t| points(&t["baseline"])).collect();
    let our_baselines: Vec<Vec<Point>> = ours.iter().map(|l| l.baseline.clone()).collect();
    let (theirs_wrong, ours_wrong) = (misordered(&their_baselines), misordered(&our_baselines));
    eprintln!("reading order: {ours_wrong} pairs read lower first (kraken: {theirs_wrong})");
    assert!(
        ours_wrong <= theirs_wrong,
        "{ours_wrong} pairs misordered, kraken {theirs_wrong}"
    );
}

/// Where a page's time goes (network, baselines, polygons), as one JSON line per run; a
/// benchmark, not a check (never fails on time). Set `KRAKEN_BENCH_PAGE` to an image and
/// `RAYON_NUM_THREADS` to the thread count:
///     KRAKEN_BENCH_PAGE=../shared/eval/pages/kraken_spanish/170025120000003_0074.jpg \
///     RAYON_NUM_THREADS=2 cargo test --test kraken_detect -- --ignored --nocapture
#[test]
#[ignore = "benchmark; run with --ignored"]
fn bench_stages_on_a_page() {
    let Some(page_path) = std::env::var_os("KRAKEN_BENCH_PAGE") else {
        support::skip("set KRAKEN_BENCH_PAGE");
        return;
    };
    let Some(model) = support::model_file(BLLA_MODEL_ID, BLLA_FILE) else {
        return;
    };
    let page = image::open(&page_path).unwrap().to_rgb8();
    let device = Device::flex();
    let (net, km) = inkread::models::kraken::load_segmenter(&model, &device).unwrap();
    let input = inkread::pipeline::blla::prepare_input(&page, km.spec.height as u32);
    let x = burn::tensor::Tensor::<4>::from_data(
        burn::tensor::TensorData::new(input.data, [1, 3, input.height, input.width]),
        &device,
    );
    let (_, layers) = net.forward_profiled(x).unwrap();
    let layers: Vec<String> = layers
        .iter()
        .map(|(k, s)| format!("[\"{k}\", {s:.2}]"))
        .collect();
    println!("{{\"layers_s\": [{}]}}", layers.join(", "));
    let mut detector = BllaDetector::load(&model, &device).unwrap();
    for run in 0..2 {
        let started = std::time::Instant::now();
        let lines = detector.lines(&page, &CancelToken::default()).unwrap();
        let t = detector.last_times;
        println!(
            "{{\"run\": {run}, \"lines\": {}, \"total_s\": {:.2}, \"network_s\": {:.2}, \"baselines_s\": {:.2}, \"polygons_s\": {:.2}}}",
            lines.len(),
            started.elapsed().as_secs_f64(),
            t.network,
            t.baselines,
            t.polygons
        );
        if let Some(dump) = std::env::var_os("KRAKEN_DUMP") {
            let lines: Vec<_> = lines
                .iter()
                .map(|l| serde_json::json!({"baseline": l.baseline, "polygon": l.polygon}))
                .collect();
            std::fs::write(dump, serde_json::to_string(&lines).unwrap()).unwrap();
        }
    }
}

/// A line's baseline reaches the JSON, PAGE-XML (`Baseline`) and ALTO (`BASELINE`) outputs;
/// lines without one write none.
#[test]
fn baselines_are_exported() {
    use inkread::export::{Format, export};
    use inkread::reading::{Line, LineText, Reading};
    let text = LineText {
        text: "Dear friend".into(),
        confidence: 0.9,
        words: vec![],
    };
    let with = Line {
        baseline: Some(vec![[10.0, 40.0], [120.0, 42.0]]),
        ..Line::placed(
            vec![[10.0, 20.0], [120.0, 20.0], [120.0, 45.0], [10.0, 45.0]],
            text.clone(),
        )
    };
    let without = Line::placed(
        vec![[10.0, 60.0], [120.0, 60.0], [120.0, 85.0], [10.0, 85.0]],
        text,
    );
    let reading = Reading {
        image: "page.png".into(),
        width: 200,
        height: 100,
        lines: vec![with, without],
        ..Default::default()
    };
    let page = export(&reading, Format::PageXml);
    assert_eq!(
        page.matches("<Baseline points=\"10,40 120,42\"/>").count(),
        1,
        "{page}"
    );
    let alto = export(&reading, Format::Alto);
    assert_eq!(
        alto.matches("BASELINE=\"10,40 120,42\"").count(),
        1,
        "{alto}"
    );
    let json = serde_json::to_value(&reading).unwrap();
    assert_eq!(json["lines"][0]["baseline"][1][0], 120.0);
    assert!(json["lines"][1].get("baseline").is_none());
}
