//! `inkread train lm`: gives a personal recognizer a character language model learnt from
//! transcriptions (the training rows of manifests, PAGE-XML or ALTO), which its reading then
//! uses in a beam search; `--remove` takes it away again.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::models::Installer;
use crate::models::personal::ModelCard;
use crate::pipeline::ctc_beam::BeamSettings;
use crate::pipeline::language_model::{FILE, LanguageModelFile};
use crate::train::dataset::read_data;

#[derive(Debug, clap::Args)]
pub struct LmArgs {
    /// The personal model (from `inkread train recognizer`) to give the language model.
    #[arg(long)]
    pub model: String,
    /// Transcriptions to learn from: manifests (their training rows), PAGE-XML / ALTO files
    /// or folders. Required unless --remove.
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
}

pub fn run(args: &LmArgs) -> anyhow::Result<()> {
    let installer = Installer::from_env().context("cannot load the model catalog")?;
    let dir = installer
        .installed_dir(&args.model)
        .filter(|dir| ModelCard::read(dir).is_some())
        .with_context(|| {
            format!(
                "{} is not an installed personal model (see `inkread models list`): only models \
                 trained with `inkread train recognizer` take a language model",
                args.model
            )
        })?;
    let path = dir.join(FILE);
    if args.remove {
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
        eprintln!("{}: reads without a language model", args.model);
        return Ok(());
    }
    if args.data.is_empty() {
        bail!("give the transcriptions to learn from with --data");
    }
    let (rows, _validation_rows) = read_data(&args.data, &[], None)?;
    let file = LanguageModelFile {
        order: args.order.clamp(1, 12),
        settings: BeamSettings {
            beam: args.beam.max(1),
            weight: args.weight,
            bonus: args.bonus,
        },
        sources: args.data.iter().map(|p| p.display().to_string()).collect(),
        texts: rows.into_iter().map(|s| s.text).collect(),
    };
    file.save(&dir)?;
    eprintln!(
        "{}: language model of {} lines ({}-grams, beam {}, weight {}, bonus {}) in {}",
        args.model,
        file.texts.len(),
        file.order,
        file.settings.beam,
        file.settings.weight,
        file.settings.bonus,
        path.display()
    );
    Ok(())
}
