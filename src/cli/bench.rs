//! `inkread bench trocr`: times a TrOCR model with random weights, printing one JSON line
//! (`inkread bench pages` is in `bench_pages`, `inkread bench conv` in `bench_conv`).
//!
//! Two figures per repeat: the encoder alone, and the whole job (encoder + exactly N
//! decoder steps, i.e. `generate` with min_new_tokens = max_new_tokens = N, greedy), so
//! the decoder's share is their difference.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use burn::tensor::{Device, Distribution, Tensor};

use crate::device::{self, DeviceChoice};
use crate::models::trocr::config::TrocrConfig;
use crate::nn::trocr::TrocrModel;
use crate::nn::trocr::generate::{GenerateOptions, SpecialTokens, generate};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Time the TrOCR encoder and N decoder steps with random weights.
    Trocr(TrocrBenchArgs),
    /// Time reading your own pages, stage by stage (JSON Lines: one a page, then totals).
    Pages(super::bench_pages::PagesBenchArgs),
    /// Time one convolution with random weights (where the CNNs' time goes).
    Conv(super::bench_conv::ConvBenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct TrocrBenchArgs {
    /// A Hugging Face TrOCR config.json (VisionEncoderDecoder layout).
    #[arg(long, value_name = "CONFIG_JSON")]
    pub config: PathBuf,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub batch: u32,
    /// Decoder steps per image (generation is forced to exactly this many).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=512))]
    pub tokens: u32,
    #[arg(long, value_enum, default_value_t)]
    pub device: DeviceChoice,
    /// Timed repeats (after one untimed warm-up run).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeats: u32,
}

pub fn run(cmd: &BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Trocr(args) => bench_trocr(args),
        BenchCommand::Pages(args) => super::bench_pages::run(args),
        BenchCommand::Conv(args) => super::bench_conv::run(args),
    }
}

fn bench_trocr(args: &TrocrBenchArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let config = TrocrConfig::from_json_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a TrOCR config: {e}", args.config.display()))?;
    let selected = device::select(args.device)?;
    let dev = &selected.device;
    let model = TrocrModel::init(&config, dev);
    let [h, w] = config.encoder.image_size;
    let shape = [args.batch as usize, config.encoder.num_channels, h, w];
    let tokens = args.tokens as usize;
    if tokens + 2 > model.max_positions() {
        anyhow::bail!(
            "--tokens {tokens} exceeds the decoder's {} positions",
            model.max_positions()
        );
    }
    let special = SpecialTokens {
        decoder_start: config.decoder.decoder_start_token_id,
        eos: config.decoder.eos_token_id,
        pad: config.decoder.pad_token_id,
    };
    let options = GenerateOptions {
        num_beams: 1,
        max_new_tokens: tokens,
        min_new_tokens: tokens,
        length_penalty: 1.0,
        early_stopping: false,
    };
    let pixels = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), dev);

    let never = crate::cancel::CancelToken::new();
    let run_once = || -> anyhow::Result<(f64, f64)> {
        let started = Instant::now();
        let states = model.encode(pixels.clone(), &never)?;
        sync(dev)?;
        let encoder_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let states2 = model.encode(pixels.clone(), &never)?;
        let out = generate(&model, states2, &options, &special, &never)?;
        let generate_s = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            out.iter().all(|g| g.ids.len() == tokens + 1),
            "generation did not run exactly {tokens} steps"
        );
        drop(states);
        Ok((encoder_s, generate_s))
    };
    run_once()?; // warm-up: kernel compilation, allocator pools
    let mut encoder = Vec::new();
    let mut total = Vec::new();
    for _ in 0..args.repeats {
        let (e, g) = run_once()?;
        encoder.push(e);
        total.push(g);
    }
    let report = serde_json::json!({
        "config": args.config.display().to_string(),
        "device": selected.description,
        "params": model.num_params(),
        "batch": args.batch,
        "tokens": tokens,
        "repeats": args.repeats,
        "threads": rayon_threads(),
        "encoder_s_median": median(&encoder),
        "generate_s_median": median(&total),
        "encoder_s": encoder,
        "generate_s": total,
    });
    println!("{report}");
    Ok(())
}

fn sync(device: &Device) -> anyhow::Result<()> {
    device
        .sync()
        .map_err(|e| anyhow::anyhow!("device failed: {e:?}"))
}

/// Threads the CPU backends may use (`--threads`, else RAYON_NUM_THREADS, else the cores).
fn rayon_threads() -> usize {
    rayon::current_num_threads()
}

pub(super) fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
