//! Where PP-OCRv4's networks spend their time on the CPU, layer by layer, with the real
//! weights (measurements, not checks: both tests are ignored):
//! `RAYON_NUM_THREADS=2 cargo test --test paddle_layer_timing -- --ignored --nocapture
//! --test-threads=1` (one network at a time).
//! `PPOCR_REC` and `PPOCR_DET` name the ONNX files (default: the pulled models); `BATCH`
//! and `WIDTH` the recognizer's batch (default 6 lines, RapidOCR's batch, 640 wide);
//! `PAGE_HEIGHT` and `PAGE_WIDTH` the detector's input (default 2016 × 1408, an A4 scan
//! shrunk to 2000 pixels as RapidOCR does); `ROUNDS` the passes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};

use inkread::nn::paddle::db::DbNet;
use inkread::nn::paddle::layers::{SqueezeExcite, swish};
use inkread::nn::paddle::lcnet::{LcNetV3, RepLayer};
use inkread::nn::paddle::svtr::SvtrBlock;
use inkread::nn::{conv_gemm, host_linear, nearest};

mod support;
use support::env_usize;

/// Seconds per label, summed over a pass.
#[derive(Default)]
struct Clock(BTreeMap<String, f64>);

impl Clock {
    /// Runs `f` and adds its time to `label`; Flex runs each operator when it is called,
    /// so the time is the operator's.
    fn time<T>(&mut self, label: &str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        *self.0.entry(label.to_string()).or_default() += start.elapsed().as_secs_f64();
        out
    }
}

fn model_path() -> PathBuf {
    std::env::var_os("PPOCR_REC")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            inkread::models::StoreConfig::from_env()
                .model_dir("ppocr-v4-rec")
                .join("ch_PP-OCRv4_rec_infer.onnx")
        })
}

fn rep_layer(clock: &mut Clock, kind: &str, layer: &RepLayer, x: Tensor<4>) -> Tensor<4> {
    let [_, c_in, h, w] = x.dims();
    let [c_out, _, kh, _] = layer.conv.weight.dims();
    let stride = layer.conv.stride;
    let label = format!("{kind} {kh}x{kh}/{stride:?} {c_in}->{c_out} on {h}x{w}");
    clock.time(&format!("{label} conv+act"), || layer.forward(x))
}

fn squeeze(clock: &mut Clock, se: &SqueezeExcite, x: Tensor<4>) -> Tensor<4> {
    let [_, c, _, _] = x.dims();
    clock.time(&format!("se {c}"), || se.forward(x))
}

fn svtr_block(clock: &mut Clock, block: &SvtrBlock, x: Tensor<3>) -> Tensor<3> {
    let normed = clock.time("svtr norm1", || block.norm1.forward(x.clone()));
    let attended = clock.time("svtr attention", || block.attention(normed));
    let x = clock.time("svtr residual", || x.add(attended));
    let normed = clock.time("svtr norm2", || block.norm2.forward(x.clone()));
    let hidden = clock.time("svtr fc1", || host_linear::forward(&block.fc1, normed));
    let hidden = clock.time("svtr swish", || swish(hidden));
    clock.time("svtr fc2+residual", || {
        host_linear::forward_plus(&block.fc2, hidden, x)
    })
}

/// The backbone's tapped outputs and its last.
fn backbone(clock: &mut Clock, net: &LcNetV3, x: Tensor<4>) -> (Vec<Tensor<4>>, Tensor<4>) {
    let mut x = clock.time("stem", || net.stem(x));
    let mut taps = Vec::new();
    for (i, block) in net.blocks.iter().enumerate() {
        x = rep_layer(clock, "dw", &block.depthwise, x);
        if let Some(se) = &block.se {
            x = squeeze(clock, se, x);
        }
        x = rep_layer(clock, "pw", &block.pointwise, x);
        if net.taps.contains(&i) {
            taps.push(x.clone());
        }
    }
    (taps, x)
}

fn pass(clock: &mut Clock, net: &inkread::nn::paddle::SvtrRecognizer, x: Tensor<4>) -> Vec<f32> {
    let (_, x) = backbone(clock, &net.backbone, x);
    let x = clock.time("pool", || avg_pool2d(x, AvgPoolOptions::new(net.pool)));
    let neck = &net.neck;
    let z = clock.time("neck conv1+swish", || {
        swish(conv_gemm::forward(&neck.conv1, x.clone()))
    });
    let z = clock.time("neck conv2+swish", || {
        swish(conv_gemm::forward(&neck.conv2, z))
    });
    let [b, c, h, w] = z.dims();
    let mut tokens = z.reshape([b, c, h * w]).swap_dims(1, 2);
    for block in &neck.blocks {
        tokens = svtr_block(clock, block, tokens);
    }
    let z = clock.time("neck norm", || {
        neck.norm
            .forward(tokens)
            .reshape([b, h, w, c])
            .permute([0, 3, 1, 2])
    });
    let z = clock.time("neck conv3+swish", || {
        swish(conv_gemm::forward(&neck.conv3, z))
    });
    let z = clock.time("neck conv4+swish", || {
        swish(conv_gemm::forward(&neck.conv4, Tensor::cat(vec![x, z], 1)))
    });
    let z = clock.time("neck conv1x1+swish", || {
        swish(conv_gemm::forward(&neck.conv1x1, z))
    });
    let [b, c, h, w] = z.dims();
    let logits = clock.time("head", || {
        host_linear::forward(&net.head, z.reshape([b, c, h * w]).swap_dims(1, 2))
    });
    clock.time("to host", || inkread::nn::into_f32_vec(logits).unwrap())
}

fn detector_pass(clock: &mut Clock, net: &DbNet, x: Tensor<4>) -> Vec<f32> {
    let (features, _) = backbone(clock, &net.backbone, x);
    let mut levels = Vec::new();
    for ((f, lateral), input) in features.into_iter().zip(&net.lateral).zip(&net.inputs) {
        let [_, c, h, w] = f.dims();
        let f = clock.time(&format!("lateral {c} on {h}x{w}"), || {
            conv_gemm::forward(lateral, f)
        });
        levels.push(clock.time(&format!("rse in on {h}x{w}"), || input.forward(f)));
    }
    for i in (0..levels.len().saturating_sub(1)).rev() {
        let above = levels[i + 1].clone();
        levels[i] = clock.time("top-down add", || {
            nearest::add_upsampled(levels[i].clone(), above, 2)
        });
    }
    let mut fused = Vec::new();
    for (i, (level, out)) in levels.into_iter().zip(&net.outputs).enumerate() {
        let [_, _, h, w] = level.dims();
        fused.push((
            clock.time(&format!("rse out on {h}x{w}"), || out.forward(level)),
            1 << i,
        ));
    }
    fused.reverse();
    let cat = clock.time("upsample+cat", || nearest::cat_upsampled(fused));
    let head = &net.head;
    let y = clock.time("head conv+relu", || {
        burn::tensor::activation::relu(conv_gemm::forward(&head.conv, cat))
    });
    let y = clock.time("head up1, up2", || head.upsample(y));
    clock.time("to host", || inkread::nn::into_f32_vec(y).unwrap())
}

/// A page-sized detector input (`PAGE_HEIGHT` × `PAGE_WIDTH`).
#[test]
#[ignore = "measurement with the pulled ppocr-v4-det; run with --ignored --nocapture"]
fn time_detector_layers() {
    let device = Device::flex();
    let path = std::env::var_os("PPOCR_DET")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            inkread::models::StoreConfig::from_env()
                .model_dir("ppocr-v4-det")
                .join("ch_PP-OCRv4_det_infer.onnx")
        });
    let net = inkread::models::paddle::load_detector(&path, &device).unwrap();
    let (height, width) = (
        env_usize("PAGE_HEIGHT", 2016),
        env_usize("PAGE_WIDTH", 1408),
    );
    let values: Vec<f32> = (0..3 * height * width)
        .map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0)
        .collect();
    let input = Tensor::<4>::from_data(TensorData::new(values, [1, 3, height, width]), &device);
    let cancel = inkread::cancel::CancelToken::new();
    drop(net.forward(input.clone(), &cancel).unwrap());
    report(&format!("page 3 x {height} x {width}"), |clock| {
        detector_pass(clock, &net, input.clone());
    });
}

/// Runs `pass` `ROUNDS` times (default 3) and prints each label's mean time, largest first.
fn report(what: &str, mut pass: impl FnMut(&mut Clock)) {
    let mut clock = Clock::default();
    let rounds = env_usize("ROUNDS", 3);
    let start = Instant::now();
    for _ in 0..rounds {
        pass(&mut clock);
    }
    let total = start.elapsed().as_secs_f64() / rounds as f64;
    let mut rows: Vec<_> = clock.0.into_iter().collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    eprintln!("{what}: {:.1} ms a pass", total * 1e3);
    for (label, s) in rows {
        let s = s / rounds as f64;
        eprintln!("{:>8.2} ms {:>5.1} %  {label}", s * 1e3, 100.0 * s / total);
    }
}

#[test]
#[ignore = "measurement with the pulled ppocr-v4-rec; run with --ignored --nocapture"]
fn time_recognizer_layers() {
    let device = Device::flex();
    let (net, _) = inkread::models::paddle::load_recognizer(&model_path(), &device).unwrap();
    let (batch, width) = (env_usize("BATCH", 6), env_usize("WIDTH", 640));
    let values: Vec<f32> = (0..batch * 3 * 48 * width)
        .map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0)
        .collect();
    let input = Tensor::<4>::from_data(TensorData::new(values, [batch, 3, 48, width]), &device);
    drop(
        net.forward(input.clone(), &inkread::cancel::CancelToken::new())
            .unwrap(),
    );
    report(&format!("batch {batch} x 48 x {width}"), |clock| {
        pass(clock, &net, input.clone());
    });
}
