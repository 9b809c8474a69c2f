//! Where CRAFT spends its time on the CPU, step by step (docs/BENCH.md): a measurement, not a
//! check, so the test is ignored:
//! `RAYON_NUM_THREADS=2 cargo test --test craft_layer_timing -- --ignored --nocapture`.
//! Made-up weights of the real shapes (the same arithmetic as EasyOCR's), on a canvas of
//! `CANVAS_HEIGHT` × `CANVAS_WIDTH` (default 1280 × 992: an A4 page at EasyOCR's canvas of
//! 1280, what `bench_all.sh` runs), `ROUNDS` passes (default 2) after one to warm up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Distribution, Tensor};
use inkread::cancel::CancelToken;
use inkread::nn::easyocr::craft::Craft;
use inkread::nn::easyocr::fresh::FreshWeights;

mod support;
use support::env_usize;

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn craft_steps() {
    let device = Device::flex();
    let net = Craft::load(&mut FreshWeights::new(1), &device).expect("made-up weights load");
    let (h, w) = (
        env_usize("CANVAS_HEIGHT", 1280),
        env_usize("CANVAS_WIDTH", 992),
    );
    let rounds = env_usize("ROUNDS", 2);
    let input = || Tensor::<4>::random([1, 3, h, w], Distribution::Uniform(-2.0, 2.0), &device);
    let never = CancelToken::new();
    net.forward(input(), &never).expect("warm-up pass");
    // Steps in the order they first ran, seconds summed over the rounds.
    let mut order: Vec<String> = Vec::new();
    let mut totals: BTreeMap<String, Duration> = BTreeMap::new();
    let mut whole = Duration::ZERO;
    for _ in 0..rounds {
        let started = Instant::now();
        let mut clock = |label: &str, took: Duration| {
            if !totals.contains_key(label) {
                order.push(label.to_string());
            }
            *totals.entry(label.to_string()).or_default() += took;
        };
        net.forward_timed(input(), &never, &mut clock)
            .expect("timed pass");
        whole += started.elapsed();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3 / rounds as f64;
    eprintln!("CRAFT on {h} x {w}, mean of {rounds} passes, ms:");
    for label in &order {
        eprintln!("{label:>32} {:8.1}", ms(totals[label]));
    }
    eprintln!("{:>32} {:8.1}", "whole pass", ms(whole));
    assert_eq!(order.len(), totals.len());
}
