//! `inkread eval lines|pages MANIFEST.tsv`: scores a detector × recognizer pair on a manifest
//! of real documents and prints a table or JSON (see docs/EVAL.md).

use std::path::PathBuf;

use anyhow::Context as _;

use crate::eval::{self, Options};
use crate::pipeline::Pipeline;

/// What a manifest lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalKind {
    /// One text line per image: recognition only.
    Lines,
    /// Whole pages with line polygons: detection, reading order and recognition.
    Pages,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReportFormat {
    #[default]
    Table,
    Json,
}

/// The detector id that reads the ground-truth polygons instead of detecting.
pub const ORACLE_DETECTOR: &str = "gt";
/// The detector id passed to the pipeline builder when no detector is needed.
pub const NO_DETECTOR: &str = "none";

#[derive(Clone, Debug, clap::Args)]
pub struct EvalArgs {
    /// `lines` or `pages`.
    #[arg(value_enum)]
    pub kind: EvalKind,
    /// The manifest (e.g. ../shared/eval/pages/manifest.tsv); item paths are relative to it.
    pub manifest: PathBuf,
    /// Detector model id, or `gt` to read the ground-truth polygons (recognition alone).
    #[arg(long, default_value = "ppocr-v4-det")]
    pub detector: String,
    /// Recognizer model id.
    #[arg(long, default_value = "ppocr-v4-rec")]
    pub recognizer: String,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Only this set (the first path component in the manifest).
    #[arg(long)]
    pub set: Option<String>,
    /// At most this many items.
    #[arg(long)]
    pub limit: Option<usize>,
    /// One line per item on stderr.
    #[arg(long, short)]
    pub verbose: bool,
    /// Where the networks run.
    #[arg(long, value_enum, default_value_t)]
    pub device: crate::device::DeviceChoice,
}

/// Runs the evaluation. `build_pipeline(detector_id, recognizer_id)` loads the models; it is
/// given [`NO_DETECTOR`] ("none") when no detector runs (`eval lines`, or `--detector gt`)
/// and should then return a pipeline with `detector: None`.
pub fn run(
    args: EvalArgs,
    build_pipeline: impl Fn(&str, &str) -> anyhow::Result<Pipeline>,
) -> anyhow::Result<()> {
    let oracle = args.detector == ORACLE_DETECTOR;
    let detector = if oracle || args.kind == EvalKind::Lines {
        NO_DETECTOR
    } else {
        &args.detector
    };
    let mut pipeline = build_pipeline(detector, &args.recognizer).with_context(|| {
        format!(
            "loading detector {detector} and recognizer {}",
            args.recognizer
        )
    })?;
    let options = Options {
        oracle_detector: oracle,
        set: args.set.clone(),
        limit: args.limit,
        verbose: args.verbose,
    };
    let report = match args.kind {
        EvalKind::Lines => eval::evaluate_lines(&args.manifest, &mut pipeline, &options),
        EvalKind::Pages => eval::evaluate_pages(&args.manifest, &mut pipeline, &options),
    }
    .with_context(|| format!("evaluating {}", args.manifest.display()))?;
    match args.format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Table => {
            println!(
                "{} · detector {} · recognizer {}",
                args.manifest.display(),
                args.detector,
                args.recognizer
            );
            print!("{}", eval::format_table(&report));
        }
    }
    Ok(())
}
