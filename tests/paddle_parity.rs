//! PP-OCRv4 in Burn against onnxruntime: the reference outputs come from
//! scripts/make_paddle_fixtures.py (tests/fixtures/paddle). The model files come through
//! the installer, or from `$INKREAD_MODEL_DIR` (tests/support); the real page and line from
//! the shared eval set (`$INKREAD_SHARED_DIR/eval` or `<crate>/../shared/eval`). Missing
//! files skip.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::tensor::Device;
use image::{Rgb, RgbImage};
use inkread::models::paddle::{load_detector, load_recognizer};
use inkread::nn::paddle::{DbNet, SvtrRecognizer};
use inkread::pipeline::paddle::{
    DET_LIMIT_SIDE_LEN, det_input_size, rec_resize, resize_bilinear, to_network_input,
};
use support::model_file;

/// The parity requirement on probability maps and class probabilities.
const TOLERANCE: f32 = 1e-3;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/paddle")
}

fn eval_file(relative: &str) -> Option<PathBuf> {
    let shared = std::env::var_os("INKREAD_SHARED_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from,
    );
    let path = shared.join("eval").join(relative);
    if path.is_file() {
        Some(path)
    } else {
        support::skip(format!(
            "{} is missing (set INKREAD_SHARED_DIR)",
            path.display()
        ));
        None
    }
}

fn device() -> Device {
    Device::flex()
}

/// The networks are loaded once per test binary: the tests share them.
fn detector() -> Option<&'static DbNet> {
    static NET: OnceLock<Option<DbNet>> = OnceLock::new();
    NET.get_or_init(|| {
        let path = model_file("ppocr-v4-det", "ch_PP-OCRv4_det_infer.onnx")?;
        Some(load_detector(&path, &device()).expect("the detector loads"))
    })
    .as_ref()
}

fn recognizer() -> Option<&'static (SvtrRecognizer, Vec<String>)> {
    static NET: OnceLock<Option<(SvtrRecognizer, Vec<String>)>> = OnceLock::new();
    NET.get_or_init(|| {
        let path = model_file("ppocr-v4-rec", "ch_PP-OCRv4_rec_infer.onnx")?;
        Some(load_recognizer(&path, &device()).expect("the recognizer loads"))
    })
    .as_ref()
}

/// One tensor of a .safetensors file: dtype, shape and raw little-endian bytes.
struct Stored {
    dtype: String,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Stored {
    fn f32s(&self) -> Vec<f32> {
        assert_eq!(self.dtype, "F32");
        self.bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// A stored `[h, w, 3]` BGR uint8 image as an RGB image.
    fn bgr_image(&self) -> RgbImage {
        assert_eq!(self.dtype, "U8");
        let [h, w, 3] = self.shape[..] else {
            panic!("not an HWC image: {:?}", self.shape)
        };
        RgbImage::from_fn(w as u32, h as u32, |x, y| {
            let i = (y as usize * w + x as usize) * 3;
            Rgb([self.bytes[i + 2], self.bytes[i + 1], self.bytes[i]])
        })
    }
}

struct Fixture {
    tensors: HashMap<String, Stored>,
    metadata: HashMap<String, String>,
}

fn read_fixture(name: &str) -> Fixture {
    let bytes = std::fs::read(fixtures().join(name)).expect("fixture exists");
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).expect("header");
    let data = &bytes[8 + len..];
    let mut tensors = HashMap::new();
    let mut metadata = HashMap::new();
    for (key, value) in header.as_object().expect("header object") {
        if key == "__metadata__" {
            for (k, v) in value.as_object().expect("metadata") {
                metadata.insert(k.clone(), v.as_str().unwrap_or_default().to_owned());
            }
            continue;
        }
        let offsets: Vec<usize> = value["data_offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        tensors.insert(
            key.clone(),
            Stored {
                dtype: value["dtype"].as_str().unwrap().to_owned(),
                shape: value["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as usize)
                    .collect(),
                bytes: data[offsets[0]..offsets[1]].to_vec(),
            },
        );
    }
    Fixture { tensors, metadata }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "output sizes differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn to_vec<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec().expect("f32 output")
}

/// Pixel (x, y) takes source ((2x+1)·W / 2w, (2y+1)·H / 2h): the script's resize.
fn nearest_resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (sw, sh) = (img.width() as u64, img.height() as u64);
    RgbImage::from_fn(w, h, |x, y| {
        let sx = (2 * x as u64 + 1) * sw / (2 * w as u64);
        let sy = (2 * y as u64 + 1) * sh / (2 * h as u64);
        *img.get_pixel(sx as u32, sy as u32)
    })
}

/// The script's checksum of the BGR input bytes.
fn checksum(img: &RgbImage) -> String {
    let sum: u64 = img
        .pixels()
        .flat_map(|p| [p.0[2], p.0[1], p.0[0]])
        .enumerate()
        .map(|(i, v)| v as u64 * ((i as u64 % 251) + 1))
        .sum();
    sum.to_string()
}

fn check_det(net: &DbNet, input: &RgbImage, want: &[f32], what: &str) {
    let never = inkread::cancel::CancelToken::new();
    let got = to_vec(
        net.forward(to_network_input(&[input], &device()), &never)
            .unwrap(),
    );
    let diff = max_abs_diff(&got, want);
    eprintln!("{what}: detector probability map max abs diff {diff:.2e}");
    assert!(diff <= TOLERANCE, "{what}: max abs diff {diff}");
}

fn check_rec(net: &SvtrRecognizer, input: &RgbImage, want: &[f32], what: &str) {
    let never = inkread::cancel::CancelToken::new();
    let got = to_vec(
        net.forward(to_network_input(&[input], &device()), &never)
            .unwrap(),
    );
    let diff = max_abs_diff(&got, want);
    eprintln!("{what}: recognizer probabilities max abs diff {diff:.2e}");
    assert!(diff <= TOLERANCE, "{what}: max abs diff {diff}");
}

#[test]
fn detector_matches_onnxruntime_on_the_synthetic_page() {
    let Some(net) = detector() else { return };
    let f = read_fixture("det_synthetic.safetensors");
    check_det(
        net,
        &f.tensors["input_bgr"].bgr_image(),
        &f.tensors["prob"].f32s(),
        "synthetic page",
    );
}

#[test]
fn detector_matches_onnxruntime_on_a_real_page() {
    let Some(net) = detector() else { return };
    let f = read_fixture("det_real.safetensors");
    let Some(path) = eval_file(&f.metadata["source"]) else {
        return;
    };
    let page = image::open(&path).expect("page decodes").to_rgb8();
    let [_, _, h, w] = f.tensors["prob"].shape[..] else {
        panic!("prob is NCHW")
    };
    let input = nearest_resize(&page, w as u32, h as u32);
    assert_eq!(
        checksum(&input),
        f.metadata["checksum"],
        "the eval page differs from the one the fixture was made from"
    );
    check_det(net, &input, &f.tensors["prob"].f32s(), "real page");
}

#[test]
fn recognizer_matches_onnxruntime_on_the_synthetic_line() {
    let Some((net, _)) = recognizer() else { return };
    let f = read_fixture("rec_synthetic.safetensors");
    check_rec(
        net,
        &f.tensors["input_bgr"].bgr_image(),
        &f.tensors["prob"].f32s(),
        "synthetic line",
    );
}

#[test]
fn recognizer_matches_onnxruntime_on_a_real_line() {
    let Some((net, _)) = recognizer() else { return };
    let f = read_fixture("rec_real.safetensors");
    let Some(path) = eval_file(&f.metadata["source"]) else {
        return;
    };
    let line = image::open(&path).expect("line decodes").to_rgb8();
    let [_, steps, _] = f.tensors["prob"].shape[..] else {
        panic!("prob is [1, T, C]")
    };
    let width = steps as u32 * 8;
    // The script keeps the left part of the line that fits `width` at height 48.
    let keep = line.width().min((line.height() * width).div_ceil(48));
    let left = image::imageops::crop_imm(&line, 0, 0, keep, line.height()).to_image();
    let input = nearest_resize(&left, width, 48);
    assert_eq!(
        checksum(&input),
        f.metadata["checksum"],
        "the eval line differs from the one the fixture was made from"
    );
    check_rec(net, &input, &f.tensors["prob"].f32s(), "real line");
}

/// Mean and worst absolute difference between two images of one size, in grey levels.
fn image_diff(a: &RgbImage, b: &RgbImage) -> (f64, u8) {
    assert_eq!(a.dimensions(), b.dimensions(), "sizes differ");
    let diffs: Vec<u8> = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .collect();
    let mean = diffs.iter().map(|&d| d as f64).sum::<f64>() / diffs.len() as f64;
    (mean, diffs.into_iter().max().unwrap_or(0))
}

#[test]
fn detector_preprocessing_matches_rapidocr() {
    let f = read_fixture("det_synthetic.safetensors");
    let page = image::open(fixtures().join("synthetic_page.png"))
        .expect("page")
        .to_rgb8();
    let limit: u32 = f.metadata["limit_side_len"].parse().unwrap();
    let want = f.tensors["rapid_preprocessed_bgr"].bgr_image();
    let (w, h) = det_input_size(page.width(), page.height(), limit);
    assert_eq!((w, h), want.dimensions(), "input size");
    let (mean, worst) = image_diff(&resize_bilinear(&page, w, h), &want);
    eprintln!("detector preprocessing vs cv2: mean {mean:.3}, worst {worst} grey levels");
    assert!(mean < 0.5 && worst <= 2, "mean {mean}, worst {worst}");
    // The product default, on a page that needs scaling up.
    assert_eq!(
        det_input_size(page.width(), page.height(), DET_LIMIT_SIDE_LEN),
        (992, 736)
    );
}

#[test]
fn recognizer_preprocessing_matches_rapidocr() {
    let f = read_fixture("rec_synthetic.safetensors");
    let line = image::open(fixtures().join("synthetic_line.png"))
        .expect("line")
        .to_rgb8();
    let want = f.tensors["rapid_preprocessed_bgr"].bgr_image();
    let got = rec_resize(&line, u32::MAX);
    assert_eq!(got.dimensions(), want.dimensions(), "input size");
    let (mean, worst) = image_diff(&got, &want);
    eprintln!("recognizer preprocessing vs cv2: mean {mean:.3}, worst {worst} grey levels");
    assert!(mean < 0.5 && worst <= 2, "mean {mean}, worst {worst}");
}

#[test]
fn the_charset_is_blank_then_the_characters_then_a_space() {
    let Some((net, charset)) = recognizer() else {
        return;
    };
    assert_eq!(charset.first().map(String::as_str), Some(""));
    assert_eq!(charset.last().map(String::as_str), Some(" "));
    assert_eq!(charset.len(), net.head.weight.dims()[1]);
}

/// Times one page end to end on Flex (run with `--ignored --nocapture`): the detector at
/// RapidOCR's size and the recognizer on the page's ground-truth line boxes.
#[test]
#[ignore = "timing, not a check"]
fn time_one_page_on_flex() {
    use inkread::cancel::CancelToken;
    use inkread::pipeline::paddle::{PaddleDetector, PaddleRecognizer};
    let page_rel = "pages/printed/fondue_05dracula_pdf_page_52.png";
    let (Some(det), Some(rec), Some(page_path)) = (
        model_file("ppocr-v4-det", "ch_PP-OCRv4_det_infer.onnx"),
        model_file("ppocr-v4-rec", "ch_PP-OCRv4_rec_infer.onnx"),
        eval_file(page_rel),
    ) else {
        return;
    };
    let page = image::open(&page_path).unwrap().to_rgb8();
    let detector = PaddleDetector::load(&det, device()).unwrap();
    let started = std::time::Instant::now();
    let map = detector
        .probability_map(&page, &inkread::cancel::CancelToken::new())
        .unwrap();
    eprintln!(
        "detector: {}x{} page, {}x{} map, {:.2} s",
        page.width(),
        page.height(),
        map.width,
        map.height,
        started.elapsed().as_secs_f64()
    );
    let boxes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(page_path.with_extension("lines.json")).unwrap())
            .unwrap();
    let crops: Vec<RgbImage> = boxes["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| {
            let b: Vec<u32> = l["bbox"]
                .as_array()?
                .iter()
                .map(|v| v.as_f64().unwrap_or(0.0) as u32)
                .collect();
            let (w, h) = (b[2].saturating_sub(b[0]), b[3].saturating_sub(b[1]));
            (w > 0 && h > 0).then(|| image::imageops::crop_imm(&page, b[0], b[1], w, h).to_image())
        })
        .collect();
    let mut recognizer = PaddleRecognizer::load(&rec, device()).unwrap();
    let started = std::time::Instant::now();
    let lines = inkread::pipeline::Recognizer::recognize(
        &mut recognizer,
        &crops,
        &CancelToken::new(),
        &mut |_| {},
    )
    .unwrap();
    eprintln!(
        "recognizer: {} lines, {:.2} s",
        lines.len(),
        started.elapsed().as_secs_f64()
    );
    for l in lines.iter().take(5) {
        eprintln!("  {:.3} {}", l.confidence, l.text);
    }
}

#[test]
fn the_pipeline_finds_and_reads_the_synthetic_text() {
    use inkread::cancel::CancelToken;
    use inkread::pipeline::paddle::{PaddleDetector, PaddleRecognizer};
    use inkread::pipeline::{Detector, Recognizer};
    let (Some(det), Some(rec)) = (
        model_file("ppocr-v4-det", "ch_PP-OCRv4_det_infer.onnx"),
        model_file("ppocr-v4-rec", "ch_PP-OCRv4_rec_infer.onnx"),
    ) else {
        return;
    };
    let cancel = CancelToken::new();
    let page = image::open(fixtures().join("synthetic_page.png"))
        .unwrap()
        .to_rgb8();
    let mut detector = PaddleDetector::load(&det, device()).unwrap();
    let regions = detector.detect(&page, &cancel).unwrap();
    // The script draws five lines of text, 42 px apart.
    assert_eq!(regions.len(), 5, "{regions:?}");
    let line = image::open(fixtures().join("synthetic_line.png"))
        .unwrap()
        .to_rgb8();
    let mut recognizer = PaddleRecognizer::load(&rec, device()).unwrap();
    let read = recognizer.recognize(&[line], &cancel, &mut |_| {}).unwrap();
    assert_eq!(read[0].text, "Ink 42");
    assert!(read[0].confidence > 0.8, "{:?}", read[0]);
}
