//! kraken's segmenter end to end on the synthetic page of scripts/make_kraken_fixtures.py
//! (four lines of text and a ruled line under them, drawn with PIL): one baseline per text
//! line, left to right, inside a polygon that covers the text above it.

mod support;

use std::path::Path;

use burn::tensor::Device;

use inkread::cancel::CancelToken;
use inkread::models::kraken::{BLLA_FILE, BLLA_MODEL_ID};
use inkread::pipeline::blla::BllaDetector;

/// Where the script draws the text: line `i` starts at x = 24 + 6i, top y = 30 + 58i, in a
/// 30 px font (baseline about 23 px below the top).
const LINES: usize = 4;

fn inside(poly: &[[f32; 2]], p: [f32; 2]) -> bool {
    let mut inside = false;
    let n = poly.len();
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + n - 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1])
            && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
        {
            inside = !inside;
        }
    }
    inside
}

#[test]
fn finds_each_synthetic_line_with_its_baseline_and_polygon() {
    let Some(model) = support::model_file(BLLA_MODEL_ID, BLLA_FILE) else {
        return;
    };
    let page = image::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kraken/synthetic.png"),
    )
    .unwrap()
    .to_rgb8();
    let mut detector = BllaDetector::load(&model, &Device::flex()).unwrap();
    let mut lines = detector.lines(&page, &CancelToken::default()).unwrap();
    lines.sort_by(|a, b| a.baseline[0][1].total_cmp(&b.baseline[0][1]));
    for l in &lines {
        eprintln!("baseline {:?}", l.baseline);
    }
    for i in 0..LINES {
        let top = 30.0 + 58.0 * i as f32;
        let baseline_y = top + 23.0;
        let line = lines
            .iter()
            .find(|l| (l.baseline[0][1] - baseline_y).abs() < 12.0)
            .unwrap_or_else(|| panic!("no baseline near y = {baseline_y}"));
        let (start, end) = (line.baseline[0], line.baseline[line.baseline.len() - 1]);
        assert!(
            start[0] < end[0],
            "line {i} runs left to right: {:?}",
            line.baseline
        );
        assert!(
            (start[0] - (24.0 + 6.0 * i as f32)).abs() < 20.0,
            "line {i} start {start:?}"
        );
        assert!(
            end[0] - start[0] > 200.0,
            "line {i} too short: {:?}",
            line.baseline
        );
        // The polygon holds the text's middle, half a line above the baseline.
        let mid_x = (start[0] + end[0]) / 2.0;
        assert!(
            inside(&line.polygon, [mid_x, baseline_y - 10.0]),
            "line {i}: {:?}",
            line.polygon
        );
        assert!(
            !inside(&line.polygon, [mid_x, baseline_y - 45.0]),
            "line {i} reaches the line above"
        );
    }
    assert!(lines.len() <= LINES + 1, "{} lines", lines.len());
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
        eprintln!("SKIP: set KRAKEN_BENCH_PAGE");
        return;
    };
    let Some(model) = support::model_file(BLLA_MODEL_ID, BLLA_FILE) else {
        return;
    };
    let page = image::open(&page_path).unwrap().to_rgb8();
    let mut detector = BllaDetector::load(&model, &Device::flex()).unwrap();
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
