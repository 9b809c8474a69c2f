//! Agreement of Inkread's blla port with kraken's own segmentation on the shared eval pages
//! (issue 9's bar: at least 95 % of kraken's lines matched one-to-one by one of ours at
//! polygon IoU ≥ 0.8 with both baseline ends within 10 px). kraken's lines come from
//! scripts/kraken_segment_reference.py (coordinates only) in `$KRAKEN_REFERENCE_DIR`.
//!
//! A measurement over every page (minutes on a CPU), so it is ignored by default:
//!     KRAKEN_REFERENCE_DIR=/tmp/kraken-ref cargo test --test kraken_agreement -- --ignored --nocapture

mod support;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde_json::Value;

use inkread::cancel::CancelToken;
use inkread::eval::metrics::match_polygons;
use inkread::models::kraken::{BLLA_FILE, BLLA_MODEL_ID};
use inkread::pipeline::blla::BllaDetector;
use inkread::reading::Point;

const IOU: f32 = 0.8;
const END_TOLERANCE: f32 = 10.0;

fn points(v: &Value) -> Vec<Point> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some([p[0].as_f64()? as f32, p[1].as_f64()? as f32]))
                .collect()
        })
        .unwrap_or_default()
}

fn close(a: Point, b: Point) -> bool {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt() <= END_TOLERANCE
}

#[test]
#[ignore = "measurement over the eval pages; run with --ignored"]
fn lines_agree_with_kraken() {
    let Some(reference) = std::env::var_os("KRAKEN_REFERENCE_DIR").map(PathBuf::from) else {
        support::skip("kraken agreement not measured: set KRAKEN_REFERENCE_DIR");
        return;
    };
    let Some(model) = support::model_file(BLLA_MODEL_ID, BLLA_FILE) else {
        return;
    };
    let eval = std::env::var_os("INKREAD_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
        .join("eval/pages");
    let mut detector = BllaDetector::load(&model, &Device::flex()).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&reference)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut theirs_total, mut ours_total, mut agreed_total, mut iou_total) = (0, 0, 0, 0);
    for file in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let page_path = eval.join(v["source"].as_str().unwrap());
        let Ok(page) = image::open(&page_path) else {
            support::skip(format!("{}: cannot open", page_path.display()));
            continue;
        };
        let ours = detector
            .lines(&page.to_rgb8(), &CancelToken::default())
            .unwrap();
        let theirs = v["lines"].as_array().unwrap();
        let their_polys: Vec<Vec<Point>> = theirs.iter().map(|l| points(&l["boundary"])).collect();
        let our_polys: Vec<Vec<Point>> = ours.iter().map(|l| l.polygon.clone()).collect();
        let matched = match_polygons(&their_polys, &our_polys, IOU);
        let mut agreed = 0;
        for (t, m) in matched.iter().enumerate() {
            let Some(d) = m else { continue };
            let tb = points(&theirs[t]["baseline"]);
            let ob = &ours[*d].baseline;
            if let (Some(&t0), Some(&t1), Some(&o0), Some(&o1)) =
                (tb.first(), tb.last(), ob.first(), ob.last())
                && close(t0, o0)
                && close(t1, o1)
            {
                agreed += 1;
            }
        }
        let iou_matched = matched.iter().flatten().count();
        eprintln!(
            "{}: kraken {} lines, ours {}, IoU≥{IOU} {}, and ends within {END_TOLERANCE} px {}",
            v["source"].as_str().unwrap(),
            theirs.len(),
            ours.len(),
            iou_matched,
            agreed
        );
        theirs_total += theirs.len();
        ours_total += ours.len();
        agreed_total += agreed;
        iou_total += iou_matched;
    }
    let share = agreed_total as f64 / theirs_total.max(1) as f64;
    eprintln!(
        "all pages: kraken {theirs_total} lines, ours {ours_total}, IoU-matched {iou_total}, agreed {agreed_total} ({:.1} %)",
        100.0 * share
    );
    assert!(
        share >= 0.95,
        "only {:.1} % of kraken's lines agree",
        100.0 * share
    );
}
