//! Parity of the Burn port of kraken's segmenter (blla) with kraken 7.1.1's own torch model
//! and input transforms, on fixtures that scripts/make_kraken_fixtures.py writes. The model
//! comes through the installer (the `kraken` wheel on PyPI) or `$INKREAD_MODEL_DIR`; the real
//! page is read from the shared eval set (`$INKREAD_SHARED_DIR/eval` or
//! `<crate>/../shared/eval`), never from the repository. Anything missing skips, loudly.

mod support;

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use serde_json::Value;

use inkread::cancel::CancelToken;
use inkread::models::kraken::{BLLA_FILE, BLLA_MODEL_ID, load_segmenter};
use inkread::pipeline::blla::{input_size, prepare_input, resize_lanczos_pil};
use support::model_file;

const NETWORK_TOLERANCE: f32 = 1e-3;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kraken")
}

fn meta(case: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(format!("{case}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn shape(v: &Value, key: &str) -> Vec<usize> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

fn floats(v: &Value, key: &str) -> Vec<f32> {
    std::fs::read(fixtures().join(v[key].as_str().unwrap()))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn eval_dir() -> Option<PathBuf> {
    let shared = std::env::var_os("INKREAD_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let eval = shared.join("eval");
    if eval.is_dir() {
        Some(eval)
    } else {
        support::skip(format!(
            "kraken parity on real pages: eval set {} is missing",
            eval.display()
        ));
        None
    }
}

/// The script's checksum: a position-weighted sum of the bytes.
fn checksum(bytes: &[u8]) -> String {
    let sum: u64 = bytes
        .iter()
        .enumerate()
        .map(|(i, &v)| u64::from(v) * ((i as u64 % 251) + 1))
        .sum();
    sum.to_string()
}

fn synthetic_image(v: &Value) -> RgbImage {
    image::open(fixtures().join(v["image"].as_str().unwrap()))
        .unwrap()
        .to_rgb8()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The heatmaps kraken uses (sigmoid of the logits) within the tolerance, and the logits
/// within it relative to their size: on a full page the last layers see sums of a quarter
/// million f32 terms, and a logit of -6 (a probability of 0.002) may differ by 2.5e-3.
fn check_logits(case: &str, ours: &[f32], expected: &[f32]) {
    assert_eq!(ours.len(), expected.len(), "{case}: lengths differ");
    let maps = ours
        .iter()
        .zip(expected)
        .map(|(a, b)| (sigmoid(*a) - sigmoid(*b)).abs())
        .fold(0.0f32, f32::max);
    let relative = ours
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max);
    let absolute = max_abs_diff(ours, expected);
    eprintln!(
        "{case}: heatmaps max |diff| {maps:.2e}; logits max |diff| {absolute:.2e}, \
         relative to max(1, |x|) {relative:.2e}"
    );
    assert!(maps <= NETWORK_TOLERANCE, "{case}: heatmaps off by {maps}");
    assert!(
        relative <= NETWORK_TOLERANCE,
        "{case}: logits off by {relative} (relative)"
    );
}

#[test]
fn preparation_matches_krakens_transforms() {
    let v = meta("synthetic");
    let img = synthetic_image(&v);
    let height = v["pre_height"].as_u64().unwrap() as u32;
    let ours = prepare_input(&img, height);
    let s = shape(&v, "pre_shape");
    assert_eq!([3, ours.height, ours.width], [s[0], s[1], s[2]]);
    let diff = max_abs_diff(&ours.data, &floats(&v, "pre"));
    eprintln!("synthetic preparation: max |diff| {diff:.2e}");
    // Pillow's fixed-point Lanczos reproduced bit for bit: the same bytes, the same floats.
    assert!(diff <= 1e-6, "preparation off by {diff}");
}

#[test]
fn lanczos_upscale_keeps_size_and_flat_areas() {
    let v = meta("synthetic");
    let img = synthetic_image(&v);
    let up = resize_lanczos_pil(&img, img.width() * 3, img.height() * 3);
    assert_eq!(up.dimensions(), (img.width() * 3, img.height() * 3));
    // The top-left corner is plain paper in the drawing: it stays that colour.
    assert_eq!(up.get_pixel(2, 2), img.get_pixel(0, 0));
}

#[test]
fn network_matches_kraken_on_synthetic_input() {
    let Some(model) = model_file(BLLA_MODEL_ID, BLLA_FILE) else {
        return;
    };
    let device = Device::flex();
    let (net, _) = load_segmenter(&model, &device).unwrap();
    let v = meta("synthetic");
    let s = shape(&v, "pre_shape");
    let x = Tensor::<4>::from_data(
        TensorData::new(floats(&v, "pre"), [1, s[0], s[1], s[2]]),
        &device,
    );
    let out = net.forward(x, &CancelToken::new()).unwrap();
    let o = shape(&v, "out_shape");
    assert_eq!(out.dims(), [1, o[0], o[1], o[2]]);
    let ours = out.into_data().try_into_vec::<f32>().unwrap();
    check_logits("synthetic", &ours, &floats(&v, "out"));
}

#[test]
fn whole_chain_matches_kraken_on_a_real_page() {
    let Some(model) = model_file(BLLA_MODEL_ID, BLLA_FILE) else {
        return;
    };
    let Some(eval) = eval_dir() else { return };
    let device = Device::flex();
    let (net, km) = load_segmenter(&model, &device).unwrap();
    for case in ["printed_page"] {
        let v = meta(case);
        let path = eval.join(v["source"].as_str().unwrap());
        let page = match image::open(&path) {
            Ok(img) => img.to_rgb8(),
            Err(e) => {
                support::skip(format!(
                    "kraken parity: cannot open {}: {e}",
                    path.display()
                ));
                continue;
            }
        };
        assert_eq!(
            checksum(page.as_raw()),
            v["checksum"].as_str().unwrap(),
            "{case}: the eval page differs from the one the fixture was made from"
        );
        let (sw, sh) = input_size(page.width(), page.height(), km.spec.height as u32);
        assert_eq!(
            checksum(resize_lanczos_pil(&page, sw, sh).as_raw()),
            v["scaled_checksum"].as_str().unwrap(),
            "{case}: the Lanczos-scaled page differs from Pillow's"
        );
        let input = prepare_input(&page, km.spec.height as u32);
        let s = shape(&v, "pre_shape");
        assert_eq!([3, input.height, input.width], [s[0], s[1], s[2]]);
        let sum: f64 = input.data.iter().map(|&x| f64::from(x)).sum();
        let expected_sum = v["pre_sum"].as_f64().unwrap();
        assert!(
            (sum - expected_sum).abs() <= 1e-6 * expected_sum.abs().max(1.0),
            "{case}: input sum {sum} vs kraken's {expected_sum}"
        );
        let x = Tensor::<4>::from_data(
            TensorData::new(input.data, [1, 3, input.height, input.width]),
            &device,
        );
        let out = net.forward(x, &CancelToken::new()).unwrap();
        let o = shape(&v, "out_shape");
        assert_eq!(out.dims(), [1, o[0], o[1], o[2]]);
        let sub = v["sub"].as_u64().unwrap() as usize;
        let [_, c, h, w] = out.dims();
        let all = out.into_data().try_into_vec::<f32>().unwrap();
        let mut ours = Vec::new();
        for ch in 0..c {
            for y in (0..h).step_by(sub) {
                for x in (0..w).step_by(sub) {
                    ours.push(all[(ch * h + y) * w + x]);
                }
            }
        }
        let expected = floats(&v, "out");
        check_logits(case, &ours, &expected);
    }
}
