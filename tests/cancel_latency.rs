//! How long Cancel takes to bite inside each network's forward pass on the CPU: a pass is
//! started on a thread, cancelled after a delay, and the time from `cancel()` to the pass
//! returning `Cancelled` is the latency (docs/BENCH.md). A measurement, not a check run by
//! default (each network runs for seconds):
//!
//!     cargo test --test cancel_latency -- --ignored --nocapture --test-threads 1
//!
//! CRAFT and TrOCR run with made-up weights of the real shapes (the same arithmetic as the
//! real ones); the others use the installed models.

mod support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use inkread::cancel::CancelToken;
use inkread::nn::easyocr::fresh::FreshWeights;
use inkread::nn::trocr::TrocrModel;
use inkread::nn::trocr::generate::{GenerateOptions, SpecialTokens, generate};
use inkread::pipeline::easyocr::{CraftDetector, CrnnRecognizer};
use inkread::pipeline::paddle::{PaddleDetector, PaddleRecognizer};
use inkread::pipeline::{Detector, Recognizer};

/// The promise: Cancel takes effect within this, on this CPU.
const BOUND: Duration = Duration::from_millis(250);

/// Runs `job` with a token cancelled `delay` after the start; `None` when the job finished
/// first, else the time from the cancel to the job returning (which must be `Cancelled`).
fn latency_after(
    delay: Duration,
    job: impl FnOnce(&CancelToken) -> inkread::Result<()> + Send + 'static,
) -> Option<Duration> {
    let cancel = CancelToken::new();
    let (send, receive) = mpsc::channel();
    let token = cancel.clone();
    let worker = std::thread::spawn(move || {
        let result = job(&token);
        let _ = send.send((result, Instant::now()));
    });
    if let Ok((result, _)) = receive.recv_timeout(delay) {
        worker.join().unwrap();
        result.unwrap();
        return None;
    }
    let cancelled_at = Instant::now();
    cancel.cancel();
    let (result, ended) = receive.recv().unwrap();
    worker.join().unwrap();
    assert!(
        matches!(result, Err(inkread::Error::Cancelled)),
        "{result:?}"
    );
    Some(ended.duration_since(cancelled_at))
}

/// Where in a pass the cancel lands, as fractions of an uncancelled pass: spread over the
/// whole pass so that every kind of layer is hit somewhere.
const CANCEL_POINTS: [f64; 8] = [0.03, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.93];

/// Cancels `job` at [`CANCEL_POINTS`] of its pass; prints and returns the worst latency.
fn measure(
    network: &str,
    job: impl Fn(&CancelToken) -> inkread::Result<()> + Send + Sync + Clone + 'static,
) -> Duration {
    let probed = CancelToken::probed();
    let started = Instant::now();
    job(&probed).unwrap();
    let whole = started.elapsed();
    if let Some((gap, place)) = probed.longest_gap() {
        // The innermost of Inkread's own source lines say which stretch had no check.
        let ours: Vec<&str> = place
            .lines()
            .filter_map(|l| l.trim().strip_prefix("at "))
            .filter(|at| at.contains("src/") && !at.contains("/.cargo/") && !at.contains("/rustc/"))
            .filter(|at| !at.contains("src/cancel.rs"))
            .map(|at| at.rsplit_once("src/").map_or(at, |(_, file)| file))
            .filter(|at| !at.starts_with("nn/banded.rs"))
            .take(4)
            .collect();
        println!(
            "{network}: longest stretch between two checks {:.0} ms, ended at {}",
            gap.as_secs_f64() * 1e3,
            ours.join(" <- ")
        );
    }
    let mut latencies = Vec::new();
    for fraction in CANCEL_POINTS {
        let job = job.clone();
        let delay = whole.mul_f64(fraction);
        if let Some(latency) = latency_after(delay, move |c| job(c)) {
            latencies.push(latency);
        }
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    let worst = latencies.iter().max().copied().unwrap_or_default();
    let median = {
        let mut sorted = latencies.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    };
    let all: Vec<String> = latencies.iter().map(|d| format!("{:.0}", ms(d))).collect();
    println!(
        "{network}: whole pass {:.2} s; {} cancels landed; latency ms: median {:.0}, worst {:.0} [{}]",
        whole.as_secs_f64(),
        latencies.len(),
        ms(&median),
        ms(&worst),
        all.join(", ")
    );
    assert!(
        latencies.len() >= CANCEL_POINTS.len() / 2,
        "{network}: most passes ended before the cancel"
    );
    worst
}

fn sample_page() -> RgbImage {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-page.png");
    image::open(path).unwrap().to_rgb8()
}

/// Line-sized strips of the sample page, for the recognizers.
fn strips(count: usize) -> Vec<RgbImage> {
    let page = sample_page();
    (0..count)
        .map(|i| {
            let y = (i as u32 * 37) % (page.height() - 48);
            image::imageops::crop_imm(&page, 40, y, 600, 48).to_image()
        })
        .collect()
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn craft_detector() {
    let device = Device::flex();
    let net = inkread::nn::easyocr::craft::Craft::load(&mut FreshWeights::new(1), &device).unwrap();
    let worst = measure_detector("CRAFT (1 page)", CraftDetector::new(net, device));
    assert!(worst < BOUND, "CRAFT: {worst:?}");
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn dbnet_detector() {
    let Some(model) = support::model_file("ppocr-v4-det", "ch_PP-OCRv4_det_infer.onnx") else {
        return;
    };
    let detector = PaddleDetector::load(&model, Device::flex()).unwrap();
    let worst = measure_detector("DBNet (PP-OCRv4 det, 1 page)", detector);
    assert!(worst < BOUND, "DBNet: {worst:?}");
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn kraken_segmenter() {
    let Some(model) = support::model_file("kraken-blla", "blla.mlmodel") else {
        return;
    };
    let device = Device::flex();
    let (net, km) = inkread::models::kraken::load_segmenter(&model, &device).unwrap();
    let input = inkread::pipeline::blla::prepare_input(&sample_page(), km.spec.height as u32);
    let shape = [1, 3, input.height, input.width];
    let data = std::sync::Arc::new(input.data);
    let net = std::sync::Arc::new(net);
    let worst = measure("kraken blla segmenter (1 page)", move |c| {
        let x = Tensor::<4>::from_data(TensorData::new(data.to_vec(), shape), &device);
        let out = net.forward(x, c)?;
        inkread::nn::into_f32_vec(out).map(|_| ())
    });
    assert!(worst < BOUND, "kraken: {worst:?}");
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn trocr_base_encoder_and_decoding() {
    let shared = std::env::var_os("INKREAD_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let config_path = shared.join("models/trocr-base-handwritten/config.json");
    let Ok(text) = std::fs::read_to_string(&config_path) else {
        return support::skip(format!("{} missing", config_path.display()));
    };
    let config = inkread::models::trocr::config::TrocrConfig::from_json_str(&text).unwrap();
    let device = Device::flex();
    let model = std::sync::Arc::new(TrocrModel::init(&config, &device));
    let options = GenerateOptions {
        num_beams: 1,
        max_new_tokens: 24,
        // Made-up weights may say eos at once: suppress it so every step runs.
        min_new_tokens: 24,
        ..GenerateOptions::default()
    };
    let tokens = SpecialTokens {
        decoder_start: 2,
        eos: 2,
        pad: 1,
    };
    let batch = 4;
    let worst = measure(
        "TrOCR-base (4 lines: encoder, then 24 greedy steps)",
        move |c| {
            let pixels = Tensor::<4>::zeros([batch, 3, 384, 384], &device);
            let states = model.encode(pixels, c)?;
            generate(&model, states, &options, &tokens, c).map(|_| ())
        },
    );
    assert!(worst < BOUND, "TrOCR: {worst:?}");
}

/// Cancels a detector on the sample page; prints and returns the worst latency.
fn measure_detector<D: Detector + Send + 'static>(network: &str, detector: D) -> Duration {
    let detector = std::sync::Arc::new(std::sync::Mutex::new(detector));
    let page = std::sync::Arc::new(sample_page());
    measure(network, move |c| {
        detector.lock().unwrap().detect(&page, c).map(|_| ())
    })
}

/// Cancels a recognizer reading 48 line strips; prints and returns the worst latency.
fn measure_recognizer<R: Recognizer + Send + 'static>(network: &str, recognizer: R) -> Duration {
    let recognizer = std::sync::Arc::new(std::sync::Mutex::new(recognizer));
    let lines = std::sync::Arc::new(strips(48));
    measure(network, move |c| {
        recognizer
            .lock()
            .unwrap()
            .recognize(&lines, c, &mut |_| {})
            .map(|_| ())
    })
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn ppocr_recognizer() {
    let Some(model) = support::model_file("ppocr-v4-rec", "ch_PP-OCRv4_rec_infer.onnx") else {
        return;
    };
    let recognizer = PaddleRecognizer::load(&model, Device::flex()).unwrap();
    let worst = measure_recognizer("PP-OCRv4 rec (48 lines)", recognizer);
    assert!(worst < BOUND, "PP-OCR rec: {worst:?}");
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn crnn_recognizer() {
    let Some(model) = support::model_file("easyocr-english-g2", "english_g2.pth") else {
        return;
    };
    let recognizer = CrnnRecognizer::load(&model, &Device::flex()).unwrap();
    let worst = measure_recognizer("EasyOCR english_g2 CRNN (48 lines)", recognizer);
    assert!(worst < BOUND, "CRNN: {worst:?}");
}
