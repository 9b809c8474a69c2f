//! `inkread bench conv`: one 2-D convolution with random weights, timed, as one JSON line.
//! The smallest reproduction of where the CPU time of the convolutional networks goes
//! (CRAFT, kraken, the CRNN): `scripts/bench_conv_torch.py` times the same layer in
//! PyTorch, so the two can be set side by side layer shape by layer shape.

use std::time::Instant;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Tensor};
use serde::Serialize;

use crate::device::{self, DeviceChoice};
use crate::nn::conv_gemm;

#[derive(Debug, clap::Args)]
pub struct ConvBenchArgs {
    /// Input channels.
    #[arg(long = "in", default_value_t = 64)]
    pub in_channels: usize,
    /// Output channels.
    #[arg(long = "out", default_value_t = 64)]
    pub out_channels: usize,
    /// Square kernel size (padding keeps the size at stride 1: kernel / 2).
    #[arg(long, default_value_t = 3)]
    pub kernel: usize,
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    #[arg(long, default_value_t = 320)]
    pub height: usize,
    #[arg(long, default_value_t = 240)]
    pub width: usize,
    #[arg(long, value_enum, default_value_t)]
    pub device: DeviceChoice,
    /// Whose convolution: Burn's own, or Inkread's (`nn::conv_gemm`, which hands what it
    /// does not take to Burn's) as the networks run it, or by one of its kernels: one
    /// product per tap, Winograd's, or the AVX-512 shifted products.
    #[arg(long = "conv", value_enum, default_value_t = ConvEngine::Inkread)]
    pub engine: ConvEngine,
    /// Timed repeats (after one untimed warm-up run).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeats: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ConvEngine {
    Burn,
    Inkread,
    InkreadTaps,
    InkreadWinograd,
    InkreadShifted,
}

impl ConvEngine {
    /// Inkread's kernel, `None` for Burn's convolution.
    fn kernel(self) -> Option<conv_gemm::Kernel> {
        match self {
            Self::Burn => None,
            Self::Inkread => Some(conv_gemm::Kernel::Auto),
            Self::InkreadTaps => Some(conv_gemm::Kernel::Taps),
            Self::InkreadWinograd => Some(conv_gemm::Kernel::Winograd),
            Self::InkreadShifted => Some(conv_gemm::Kernel::Shifted),
        }
    }
}

#[derive(Debug, Serialize)]
struct ConvTimes {
    conv: ConvEngine,
    device: String,
    threads: usize,
    shape: [usize; 4],
    out_channels: usize,
    kernel: usize,
    stride: usize,
    gmacs: f64,
    seconds: Vec<f64>,
    seconds_median: f64,
    gmacs_per_second: f64,
}

pub fn run(args: &ConvBenchArgs) -> anyhow::Result<()> {
    let selected = device::select(args.device)?;
    let dev = &selected.device;
    let shape = [1, args.in_channels, args.height, args.width];
    let x = Tensor::<4>::random(shape, Distribution::Default, dev);
    let weight_shape = [
        args.out_channels,
        args.in_channels,
        args.kernel,
        args.kernel,
    ];
    let weight = Tensor::<4>::random(weight_shape, Distribution::Default, dev);
    let bias = Tensor::<1>::random([args.out_channels], Distribution::Default, dev);
    let pad = args.kernel / 2;
    let options = ConvOptions::new([args.stride; 2], [pad; 2], [1, 1], 1);
    let once = || {
        let started = Instant::now();
        let (x, weight, bias) = (x.clone(), weight.clone(), Some(bias.clone()));
        let y = match args.engine.kernel() {
            None => conv2d(x, weight, bias, options.clone()),
            Some(kernel) => conv_gemm::conv2d_by(x, weight, bias, options.clone(), kernel),
        };
        // Reading one value back waits for the work on every backend.
        let _ = y.slice([0..1, 0..1, 0..1, 0..1]).into_scalar::<f32>();
        started.elapsed().as_secs_f64()
    };
    once();
    let seconds: Vec<f64> = (0..args.repeats).map(|_| once()).collect();
    let out_h = (args.height + 2 * pad - args.kernel) / args.stride + 1;
    let out_w = (args.width + 2 * pad - args.kernel) / args.stride + 1;
    let macs = out_h * out_w * args.out_channels * args.in_channels * args.kernel * args.kernel;
    let gmacs = macs as f64 / 1e9;
    let seconds_median = super::bench::median(&seconds);
    let times = ConvTimes {
        conv: args.engine,
        device: selected.description,
        threads: rayon::current_num_threads(),
        shape,
        out_channels: args.out_channels,
        kernel: args.kernel,
        stride: args.stride,
        gmacs,
        seconds,
        seconds_median,
        gmacs_per_second: gmacs / seconds_median,
    };
    println!("{}", serde_json::to_string(&times)?);
    Ok(())
}
