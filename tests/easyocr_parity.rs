//! Parity of the Burn CRAFT and CRNN with EasyOCR's PyTorch models, on fixtures that
//! scripts/make_easyocr_fixtures.py writes. The model files come through the installer, or
//! from `$INKREAD_MODEL_DIR` (tests/support); the real-image cases read their page and line
//! from the shared eval set (`$INKREAD_SHARED_DIR/eval` or `<crate>/../shared/eval`): only
//! the reference outputs are committed, never eval pixels. Anything missing skips.

mod support;

use std::path::{Path, PathBuf};

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use image::{GrayImage, RgbImage};
use inkread::cancel::CancelToken;
use serde_json::Value;

use inkread::models::easyocr::{
    CRAFT_FILE, CRAFT_MODEL_ID, ENGLISH_G2_FILE, ENGLISH_G2_MODEL_ID, load_craft, load_english_g2,
};
use inkread::pipeline::easyocr::{batch_width, craft_input, line_batch, scale_line};

const NETWORK_TOLERANCE: f32 = 1e-3;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/easyocr")
}

use support::model_file;

fn eval_dir() -> Option<PathBuf> {
    let shared = std::env::var_os("INKREAD_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let eval = shared.join("eval");
    if eval.is_dir() {
        Some(eval)
    } else {
        support::skip(format!("eval set {} is missing", eval.display()));
        None
    }
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

fn bytes(v: &Value, key: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(v[key].as_str().unwrap())).unwrap()
}

fn floats(v: &Value, key: &str) -> Vec<f32> {
    bytes(v, key)
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

fn mean_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

/// The synthetic page: the image inside the fixture's padded canvas (H×W×3 bytes).
fn synthetic_page(v: &Value) -> RgbImage {
    let s = shape(v, "input_shape");
    let canvas = RgbImage::from_raw(s[1] as u32, s[0] as u32, bytes(v, "input")).unwrap();
    let img = shape(v, "image");
    image::imageops::crop_imm(&canvas, 0, 0, img[1] as u32, img[0] as u32).to_image()
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

/// The script's page reduction: the mean of each k×k block, rounded half up in integers;
/// a partial last row or column of blocks is dropped.
fn box_average(img: &RgbImage, k: u32) -> RgbImage {
    let area = k * k;
    RgbImage::from_fn(img.width() / k, img.height() / k, |bx, by| {
        let mut sum = [0u32; 3];
        for y in by * k..(by + 1) * k {
            for x in bx * k..(bx + 1) * k {
                for (s, v) in sum.iter_mut().zip(img.get_pixel(x, y).0) {
                    *s += u32::from(v);
                }
            }
        }
        image::Rgb(sum.map(|s| ((s + area / 2) / area) as u8))
    })
}

/// The script's line reduction: nearest sampling to the CRNN's 64 rows (pixel (x, y)
/// takes source ((2x+1)·W / 2w, (2y+1)·H / 2h)), width ⌊w·64/h⌋, then an integer grey.
fn reduce_line(img: &RgbImage) -> GrayImage {
    const HEIGHT: u64 = 64;
    let (sw, sh) = (u64::from(img.width()), u64::from(img.height()));
    let width = (sw * HEIGHT / sh).max(1);
    GrayImage::from_fn(width as u32, HEIGHT as u32, |x, y| {
        let sx = (2 * u64::from(x) + 1) * sw / (2 * width);
        let sy = (2 * u64::from(y) + 1) * sh / (2 * HEIGHT);
        let [r, g, b] = img.get_pixel(sx as u32, sy as u32).0.map(u32::from);
        image::Luma([((299 * r + 587 * g + 114 * b + 500) / 1000) as u8])
    })
}

/// An eval image named by a fixture's `source`, or `None` (after `support::skip`).
fn eval_image(v: &Value) -> Option<RgbImage> {
    let path = eval_dir()?.join(v["source"].as_str().unwrap());
    match image::open(&path) {
        Ok(img) => Some(img.to_rgb8()),
        Err(e) => {
            support::skip(format!("cannot open {}: {e}", path.display()));
            None
        }
    }
}

/// The real page as the script reduced it, checked against the stored checksum.
fn real_page(v: &Value) -> Option<RgbImage> {
    let k = v["box"].as_u64().unwrap() as u32;
    let page = box_average(&eval_image(v)?, k);
    let s = shape(v, "image");
    assert_eq!([page.height(), page.width()], [s[0] as u32, s[1] as u32]);
    assert_eq!(
        checksum(page.as_raw()),
        v["checksum"].as_str().unwrap(),
        "the eval page differs from the one the fixture was made from"
    );
    Some(page)
}

/// The real line as the script reduced it, checked against the stored checksum.
fn real_line(v: &Value) -> Option<GrayImage> {
    let line = reduce_line(&eval_image(v)?);
    let s = shape(v, "grey_shape");
    assert_eq!([line.height(), line.width()], [s[0] as u32, s[1] as u32]);
    assert_eq!(
        checksum(line.as_raw()),
        v["checksum"].as_str().unwrap(),
        "the eval line differs from the one the fixture was made from"
    );
    Some(line)
}

#[test]
fn craft_maps_match_pytorch() {
    let Some(model) = model_file(CRAFT_MODEL_ID, CRAFT_FILE) else {
        return;
    };
    let device = Device::flex();
    let net = load_craft(&model, &device).unwrap();
    for case in ["craft_synthetic", "craft_real"] {
        let v = meta(case);
        let page = if case == "craft_real" {
            let Some(page) = real_page(&v) else { continue };
            page
        } else {
            synthetic_page(&v)
        };
        // At this size nothing is resized: the input is the fixture's canvas, normalised.
        let input = craft_input(&page, 2560, 1.0);
        let s = shape(&v, "input_shape");
        assert_eq!(
            [input.height, input.width],
            [s[0], s[1]],
            "{case}: canvas size"
        );
        let x = Tensor::<4>::from_data(
            TensorData::new(input.data, [1, 3, input.height, input.width]),
            &device,
        );
        let maps = net.forward(x, &CancelToken::new()).unwrap();
        let expected = floats(&v, "output");
        let plane = expected.len() / 2;
        let text = max_abs_diff(&to_vec(maps.text), &expected[..plane]);
        let link = max_abs_diff(&to_vec(maps.link), &expected[plane..]);
        eprintln!("{case}: text max |diff| {text:.2e}, link max |diff| {link:.2e}");
        assert!(text <= NETWORK_TOLERANCE, "{case}: text map off by {text}");
        assert!(link <= NETWORK_TOLERANCE, "{case}: link map off by {link}");
    }
}

#[test]
fn craft_preprocessing_matches_easyocr() {
    // Synthetic only: a reference for a real page would be eval pixels in the repository.
    let v = meta("craft_synthetic");
    let page = synthetic_page(&v);
    let canvas_size = v["pre_canvas_size"].as_u64().unwrap() as u32;
    let input = craft_input(&page, canvas_size, 1.0);
    let s = shape(&v, "pre_shape");
    assert_eq!([3, input.height, input.width], [s[0], s[1], s[2]]);
    let ratio = v["pre_ratio"].as_f64().unwrap() as f32;
    assert!((input.ratio - ratio).abs() < 1e-6, "ratio {}", input.ratio);
    let expected = floats(&v, "pre");
    // OpenCV rounds in fixed point: one grey level is 1 / (0.225 * 255) ≈ 0.017 here.
    let max = max_abs_diff(&input.data, &expected);
    let mean = mean_abs_diff(&input.data, &expected);
    eprintln!("craft_synthetic: preprocessing max |diff| {max:.3}, mean {mean:.5}");
    assert!(max < 0.04, "preprocessing off by {max}");
    assert!(mean < 0.002, "preprocessing mean diff {mean}");
}

#[test]
fn crnn_logits_match_pytorch() {
    let Some(model) = model_file(ENGLISH_G2_MODEL_ID, ENGLISH_G2_FILE) else {
        return;
    };
    let device = Device::flex();
    let net = load_english_g2(&model, &device).unwrap();
    for case in ["crnn_synthetic", "crnn_real"] {
        let v = meta(case);
        let s = shape(&v, "input_shape");
        let input = if case == "crnn_real" {
            // The script fed the reduced line, already 64 rows high, padded as EasyOCR pads.
            let Some(line) = real_line(&v) else { continue };
            line_batch(&[line], s[2])
        } else {
            floats(&v, "input")
        };
        let x = Tensor::<4>::from_data(TensorData::new(input, [1, s[0], s[1], s[2]]), &device);
        let logits = net.forward(x);
        let [_, steps, classes] = logits.dims();
        assert_eq!(vec![steps, classes], shape(&v, "output_shape"), "{case}");
        let expected = floats(&v, "output");
        let probs = to_vec(softmax(logits.clone(), 2));
        let expected_t = Tensor::<3>::from_data(
            TensorData::new(expected.clone(), [1, steps, classes]),
            &device,
        );
        let expected_probs = to_vec(softmax(expected_t, 2));
        let diff = max_abs_diff(&to_vec(logits), &expected);
        let prob_diff = max_abs_diff(&probs, &expected_probs);
        eprintln!("{case}: logits max |diff| {diff:.2e}, probabilities {prob_diff:.2e}");
        assert!(diff <= NETWORK_TOLERANCE, "{case}: logits off by {diff}");
        assert!(
            prob_diff <= NETWORK_TOLERANCE,
            "{case}: probabilities off by {prob_diff}"
        );
    }
}

/// Our line preprocessing against EasyOCR's (OpenCV bilinear, then PIL bicubic): close,
/// not equal, so the tolerance is loose; the network parity above uses EasyOCR's tensor.
fn check_line_preprocessing(case: &str, grey: &GrayImage) {
    let v = meta(case);
    let s = shape(&v, "input_shape");
    let scaled = scale_line(grey);
    let width = batch_width([scaled.width()]);
    assert_eq!(width, s[2], "{case}: batch width");
    let ours = line_batch(&[scaled], width);
    let expected = floats(&v, "input");
    let mean = mean_abs_diff(&ours, &expected);
    let max = max_abs_diff(&ours, &expected);
    eprintln!("{case}: line preprocessing mean |diff| {mean:.4}, max {max:.3}");
    assert!(mean < 0.02, "{case}: preprocessing mean diff {mean}");
}

#[test]
fn crnn_preprocessing_matches_easyocr_synthetic() {
    let v = meta("crnn_synthetic");
    let s = shape(&v, "grey_shape");
    let grey = GrayImage::from_raw(s[1] as u32, s[0] as u32, bytes(&v, "grey")).unwrap();
    check_line_preprocessing("crnn_synthetic", &grey);
}

/// Timing of a whole real page on the CPU (Flex): `cargo test --test easyocr_parity --
/// --ignored --nocapture page_timing`. Debug-profile figures; prints, asserts only sanity.
#[test]
#[ignore = "slow: times a full page on the CPU"]
fn page_timing_on_cpu() {
    use inkread::pipeline::easyocr::CraftDetector;
    use std::time::Instant;
    let (Some(model), Some(eval)) = (model_file(CRAFT_MODEL_ID, CRAFT_FILE), eval_dir()) else {
        return;
    };
    let device = Device::flex();
    let started = Instant::now();
    let detector = CraftDetector::load(&model, &device).unwrap();
    eprintln!("CRAFT load: {:.2} s", started.elapsed().as_secs_f64());
    let page = image::open(eval.join(meta("craft_real")["source"].as_str().unwrap()))
        .unwrap()
        .to_rgb8();
    let started = Instant::now();
    let (text, link) = detector.score_maps(&page, &CancelToken::new()).unwrap();
    eprintln!(
        "CRAFT {}x{} page: {:.2} s, maps {}x{}",
        page.width(),
        page.height(),
        started.elapsed().as_secs_f64(),
        text.width,
        text.height
    );
    assert_eq!(text.data.len(), link.data.len());
    assert!(
        text.data.iter().any(|&v| v > 0.7),
        "no text found on a printed page"
    );
}

fn grey_to_rgb(grey: &GrayImage) -> RgbImage {
    image::DynamicImage::ImageLuma8(grey.clone()).to_rgb8()
}

#[test]
fn crnn_recognizer_reads_what_easyocr_reads() {
    use inkread::cancel::CancelToken;
    use inkread::pipeline::Recognizer;
    use inkread::pipeline::easyocr::CrnnRecognizer;
    let Some(model) = model_file(ENGLISH_G2_MODEL_ID, ENGLISH_G2_FILE) else {
        return;
    };
    let mut recognizer = CrnnRecognizer::load(&model, &Device::flex()).unwrap();
    assert_eq!(recognizer.charset().len(), 97);
    let v = meta("crnn_synthetic");
    let s = shape(&v, "grey_shape");
    let grey = GrayImage::from_raw(s[1] as u32, s[0] as u32, bytes(&v, "grey")).unwrap();
    let mut cases = vec![(
        grey_to_rgb(&grey),
        v["greedy"].as_str().unwrap().to_string(),
    )];
    if let Some(eval) = eval_dir() {
        let real = meta("crnn_real");
        if let Ok(img) = image::open(eval.join(real["source"].as_str().unwrap())) {
            cases.push((img.to_rgb8(), real["greedy"].as_str().unwrap().to_string()));
        }
    }
    let images: Vec<RgbImage> = cases.iter().map(|c| c.0.clone()).collect();
    let mut progress = Vec::new();
    let read = recognizer
        .recognize(&images, &CancelToken::new(), &mut |n| progress.push(n))
        .unwrap();
    assert_eq!(progress.last(), Some(&images.len()));
    for ((_, expected), line) in cases.iter().zip(&read) {
        eprintln!("read {:?} (confidence {:.3})", line.text, line.confidence);
        assert_eq!(&line.text, expected);
        assert!(line.confidence > 0.5 && line.confidence <= 1.0);
    }
}

#[test]
fn craft_detector_finds_the_words_of_the_synthetic_page() {
    use inkread::cancel::CancelToken;
    use inkread::pipeline::Detector;
    use inkread::pipeline::easyocr::CraftDetector;
    let Some(model) = model_file(CRAFT_MODEL_ID, CRAFT_FILE) else {
        return;
    };
    let mut detector = CraftDetector::load(&model, &Device::flex()).unwrap();
    let page = synthetic_page(&meta("craft_synthetic"));
    let regions = detector.detect(&page, &CancelToken::new()).unwrap();
    eprintln!("{} regions on the synthetic page", regions.len());
    // Four lines of two to four words each.
    assert!(
        (4..=16).contains(&regions.len()),
        "{} regions",
        regions.len()
    );
    for r in &regions {
        for p in &r.polygon {
            assert!(p[0] >= -2.0 && p[0] <= page.width() as f32 + 2.0, "{p:?}");
            assert!(p[1] >= -2.0 && p[1] <= page.height() as f32 + 2.0, "{p:?}");
        }
    }
}

#[test]
fn weight_errors_name_the_tensor() {
    use inkread::models::easyocr::PthWeights;
    use inkread::nn::easyocr::TensorSource;
    let Some(model) = model_file(ENGLISH_G2_MODEL_ID, ENGLISH_G2_FILE) else {
        return;
    };
    let mut weights = PthWeights::open(&model).unwrap();
    // DataParallel's `module.` prefix is gone from every name.
    assert!(weights.names().iter().all(|n| !n.starts_with("module.")));
    let ok = weights.tensor("Prediction.bias", &[97]).unwrap();
    assert_eq!(ok.shape().to_vec(), vec![97]);
    let missing = weights.tensor("Prediction.nothing", &[97]).unwrap_err();
    assert!(
        missing.to_string().contains("Prediction.nothing"),
        "{missing}"
    );
    let misshapen = weights.tensor("Prediction.bias", &[96]).unwrap_err();
    let message = misshapen.to_string();
    assert!(
        message.contains("Prediction.bias") && message.contains("[97]"),
        "{message}"
    );
}
