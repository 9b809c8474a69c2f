//! `inkread train lm`: gives a personal recognizer a character language model learnt from
//! transcriptions (the training rows of manifests, PAGE-XML or ALTO), which its reading then
//! uses in a beam search; the validation rows show whether it helps. `--remove` takes it away.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::cancel::CancelToken;
use crate::device::{DeviceChoice, select};
use crate::models::Installer;
use crate::pipeline::ctc_beam::BeamSettings;
use crate::train::language::{LanguageReport, attach_language_model, remove_language_model};

#[derive(Debug, clap::Args)]
pub struct LmArgs {
    /// The personal model (from `inkread train recognizer`) to give the language model.
    #[arg(long)]
    pub model: String,
    /// Transcriptions to learn from: manifests (their training rows; their validation rows
    /// check it), PAGE-XML / ALTO files or folders. Required unless --remove.
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Characters per n-gram (the one predicted included).
    #[arg(long, default_value_t = 8)]
    pub order: usize,
    /// Readings followed at once.
    #[arg(long, default_value_t = BeamSettings::default().beam)]
    pub beam: usize,
    /// How much the language model counts against the network.
    #[arg(long, default_value_t = BeamSettings::default().weight)]
    pub weight: f32,
    /// Added for every character read (offsets the model's pull to shorter readings).
    #[arg(long, default_value_t = BeamSettings::default().bonus)]
    pub bonus: f32,
    /// Remove the model's language model: it reads greedily again.
    #[arg(long)]
    pub remove: bool,
    /// Where the validation lines are read.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
}

pub fn run(args: &LmArgs) -> anyhow::Result<()> {
    let installer = Installer::from_env().context("cannot load the model catalog")?;
    if args.remove {
        remove_language_model(&installer, &args.model)?;
        eprintln!("{}: reads without a language model", args.model);
        return Ok(());
    }
    if args.data.is_empty() {
        bail!("give the transcriptions to learn from with --data");
    }
    let selected = select(args.device)?;
    let settings = BeamSettings {
        beam: args.beam.max(1),
        weight: args.weight,
        bonus: args.bonus,
    };
    let report = attach_language_model(
        &installer,
        &args.model,
        &args.data,
        args.order,
        settings,
        &selected.device,
        &CancelToken::new(),
    )?;
    show(&args.model, args.order, &settings, &report);
    Ok(())
}

fn show(model: &str, order: usize, settings: &BeamSettings, report: &LanguageReport) {
    eprintln!(
        "{model}: language model of {} lines ({order}-grams, beam {}, weight {}, bonus {}) in {}",
        report.texts,
        settings.beam,
        settings.weight,
        settings.bonus,
        report.path.display()
    );
    if !report.languages.is_empty() {
        eprintln!(
            "one model per language ({}); each line is read in the one it reads best in",
            report.languages.join(", ")
        );
    }
    let (Some(greedy), Some(with_model)) = (report.greedy_cer, report.with_model_cer) else {
        eprintln!("no validation rows in --data: not checked (mark some rows `val`)");
        return;
    };
    eprintln!(
        "{} validation lines: CER {:.2} % without it, {:.2} % with it",
        report.validation_lines,
        100.0 * greedy,
        100.0 * with_model
    );
    if with_model >= greedy {
        eprintln!(
            "note: it does not help on these lines; `inkread train lm --model {model} --remove` \
             takes it away"
        );
    }
}
