//! `inkread train recognizer`: trains a personal CTC recognizer from line images and their
//! transcriptions, with a progress bar, checkpoints and `--resume`.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cancel::CancelToken;
use crate::device::{DeviceChoice, select};
use crate::models::Installer;
use crate::train::dataset::read_data;
use crate::train::export::export_lines;
use crate::train::trainer::publish_checkpoint;
use crate::train::{TrainEvent, TrainRun, train};

#[derive(Debug, clap::Subcommand)]
pub enum TrainCommand {
    /// Trains a line recognizer (CTC) and registers it as a personal model.
    Recognizer(RecognizerArgs),
    /// Publishes a run's latest checkpoint (taken inside an epoch) as its personal model,
    /// if it reads the validation lines better than the one published: a long run, stopped
    /// or still going, is usable before its epoch ends.
    Publish(PublishArgs),
    /// Writes the lines as training sees them (grey, 64 px high, cropped from their
    /// polygons) with a manifest --data reads: to look at them, or to take a compact copy
    /// of a data set to another machine.
    ExportLines(ExportArgs),
    /// Gives a personal recognizer a character language model learnt from transcriptions:
    /// it then reads by beam search, weighing each reading by how likely the text is.
    Lm(super::train_lm::LmArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Manifests, PAGE-XML / ALTO files or folders, as for `train recognizer --data`.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// The folder to write (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Keep one line in N (of the training lines and of the validation lines).
    #[arg(long, default_value_t = 1)]
    pub every: usize,
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The run (its --out id).
    pub id: String,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
}

#[derive(Debug, clap::Args)]
pub struct RecognizerArgs {
    /// The model to start from: easyocr-english-g2, a personal model, or `scratch`.
    #[arg(long, default_value = "easyocr-english-g2")]
    pub base: String,
    /// Manifests of line images and transcriptions (tab-separated: path, transcription,
    /// optional split train/val; rows marked `val` validate unless --val is given), or
    /// PAGE-XML / ALTO files or folders of them (every 20th page validates unless --val).
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Validation lines: manifests (every row), PAGE-XML / ALTO files or folders.
    #[arg(long, num_args = 1..)]
    pub val: Vec<PathBuf>,
    /// The new model's id.
    #[arg(long)]
    pub out: String,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Peak learning rate (AdamW; linear warm-up, then cosine).
    #[arg(long, default_value_t = 3e-4)]
    pub lr: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Epochs without a better validation CER before stopping early.
    #[arg(long, default_value_t = 3)]
    pub patience: usize,
    /// Train on the lines as they are (no random slant, blur, noise ...).
    #[arg(long)]
    pub no_augment: bool,
    /// Use at most this many training and validation lines (quick tries).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Keep the first N of the CRNN's 7 convolutions as the base has them: faster steps,
    /// and the low-level features the base learnt (print included) are kept.
    #[arg(long, default_value_t = 0)]
    pub freeze_convolutions: usize,
    /// Stand every line's strokes upright before training, and so before reading with the
    /// result (always so when --base is a personal model trained that way).
    #[arg(long)]
    pub deslant: bool,
    /// Minutes between checkpoints inside an epoch.
    #[arg(long, default_value_t = 10.0)]
    pub checkpoint_minutes: f64,
    /// Continue the run named by --out from its last checkpoint (its stored settings win;
    /// --epochs may raise the number of epochs).
    #[arg(long)]
    pub resume: bool,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
}

pub fn run(command: &TrainCommand) -> anyhow::Result<()> {
    match command {
        TrainCommand::Recognizer(args) => recognizer(args),
        TrainCommand::Publish(args) => publish(args),
        TrainCommand::ExportLines(args) => export(args),
        TrainCommand::Lm(args) => super::train_lm::run(args),
    }
}

fn publish(args: &PublishArgs) -> anyhow::Result<()> {
    let selected = select(args.device)?;
    let installer = Installer::from_env().context("cannot load the model catalog")?;
    let mut view = TrainView::default();
    let outcome = publish_checkpoint(
        &installer,
        &args.id,
        &selected.device,
        &CancelToken::new(),
        &mut |e| view.show(e),
    )?;
    view.finish();
    let cer = cer_text(outcome.best_cer);
    match outcome.model_dir {
        Some(dir) if !view.published => eprintln!(
            "{}: checkpoint {cer}, not better than the model published in {}",
            args.id,
            dir.display()
        ),
        Some(dir) => eprintln!(
            "{}: checkpoint {cer}; installed in {}",
            args.id,
            dir.display()
        ),
        None => eprintln!("{}: nothing published", args.id),
    }
    Ok(())
}

fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let (train_lines, val_lines) = read_data(&args.data, &[], None)?;
    let written = export_lines(
        &train_lines,
        &val_lines,
        args.every,
        &args.out,
        &CancelToken::new(),
    )?;
    eprintln!(
        "{written} lines written to {}",
        args.out.join("manifest.tsv").display()
    );
    Ok(())
}

fn recognizer(args: &RecognizerArgs) -> anyhow::Result<()> {
    let selected = select(args.device)?;
    eprintln!("inkread: training on {}", selected.description);
    let installer = Installer::from_env().context("cannot load the model catalog")?;
    let run = TrainRun {
        id: args.out.clone(),
        base: args.base.clone(),
        data: args.data.iter().map(|p| absolute(p)).collect(),
        val: args.val.iter().map(|p| absolute(p)).collect(),
        epochs: args.epochs,
        batch: args.batch,
        learning_rate: args.lr,
        seed: args.seed,
        patience: args.patience,
        augment: !args.no_augment,
        limit: args.limit,
        checkpoint_minutes: args.checkpoint_minutes,
        frozen_convolutions: args.freeze_convolutions,
        deslant: args.deslant,
    };
    let mut view = TrainView::default();
    let outcome = train(
        &installer,
        &run,
        args.resume,
        &selected.device,
        &CancelToken::new(),
        &mut |e| view.show(e),
    )?;
    view.finish();
    let cer = cer_text(outcome.best_cer);
    match &outcome.model_dir {
        Some(dir) => eprintln!(
            "{}: {} epochs, {cer}{}; installed in {} (use --recognizer {})",
            run.id,
            outcome.epochs_done,
            if outcome.stopped_early {
                ", stopped early"
            } else {
                ""
            },
            dir.display(),
            run.id
        ),
        None => eprintln!(
            "{}: {} epochs, nothing published",
            run.id, outcome.epochs_done
        ),
    }
    let has_language_model = outcome
        .model_dir
        .as_deref()
        .is_some_and(crate::train::language::has_language_model);
    if outcome.model_dir.is_some() && !has_language_model {
        eprintln!(
            "tip: `inkread train lm --model {} --data MANIFEST` reads with a language model of \
             your transcriptions (docs/TRAIN.md)",
            run.id
        );
    }
    if let Some((best, before)) = outcome.no_better_than_start() {
        eprintln!(
            "note: no epoch read the validation lines better than the starting weights \
             ({:.2} % against {:.2} %), so none was published; {} serves you better",
            100.0 * best,
            100.0 * before,
            run.base
        );
    }
    Ok(())
}

/// "validation CER 12.34 %", or why there is none.
fn cer_text(cer: Option<f64>) -> String {
    cer.map_or("no validation lines".into(), |c| {
        format!("validation CER {:.2} %", 100.0 * c)
    })
}

/// " (CER 12.34 %)", or nothing without validation lines.
fn cer_in_brackets(cer: Option<f64>) -> String {
    cer.map_or(String::new(), |c| format!(" (CER {:.2} %)", 100.0 * c))
}

/// Stored runs must find their data from any working directory.
fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The progress bar: one per epoch, with the loss and speed; epochs end in a summary line.
#[derive(Default)]
struct TrainView {
    bar: Option<ProgressBar>,
    published: bool,
}

impl TrainView {
    fn show(&mut self, event: TrainEvent) {
        match event {
            TrainEvent::Loading { done, total } => {
                let bar = self.bar_for(total as u64, "loading lines");
                bar.set_position(done as u64);
            }
            TrainEvent::LeftOut { count, why, first } => {
                self.println(format!(
                    "left out {count} lines: {why} (e.g. {})",
                    first.join(", ")
                ));
            }
            TrainEvent::Started {
                train_lines,
                val_lines,
                classes,
                added,
                resumed_at,
            } => {
                self.finish();
                let resumed = resumed_at.map_or(String::new(), |(e, s)| {
                    format!(", resuming at epoch {} batch {s}", e + 1)
                });
                eprintln!(
                    "{train_lines} training lines, {val_lines} validation lines, {classes} classes ({added} added){resumed}"
                );
            }
            TrainEvent::Step {
                epoch,
                step,
                steps,
                loss,
                lines_per_second,
                learning_rate,
            } => {
                let message = format!(
                    "loss {loss:.3}  {lines_per_second:.1} lines/s  lr {learning_rate:.1e}"
                );
                // Without a terminal the bar draws nothing: a line now and then, for logs.
                if !std::io::stderr().is_terminal() {
                    if step % 50 == 0 || step == steps {
                        eprintln!("epoch {} batch {step}/{steps}: {message}", epoch + 1);
                    }
                    return;
                }
                let bar = self.bar_for(steps as u64, &format!("epoch {}", epoch + 1));
                bar.set_position(step as u64);
                bar.set_message(message);
            }
            TrainEvent::Validating { epoch } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("validating epoch {}", epoch + 1));
                }
            }
            TrainEvent::BaseValidated { cer } => {
                self.finish();
                eprintln!("the starting weights: validation CER {:.2} %", 100.0 * cer);
            }
            TrainEvent::Epoch(r) => {
                self.finish();
                let cer = r
                    .validation_cer
                    .map_or("-".into(), |c| format!("{:.2} %", 100.0 * c));
                eprintln!(
                    "epoch {}: mean loss {:.3}, validation CER {cer}, {:.0} s, {:.1} lines/s",
                    r.epoch + 1,
                    r.mean_loss,
                    r.seconds,
                    r.lines_per_second
                );
            }
            TrainEvent::Published {
                dir,
                validation_cer,
            } => {
                self.published = true;
                let cer = cer_in_brackets(validation_cer);
                eprintln!("best so far{cer}: saved to {}", dir.display());
            }
            TrainEvent::KeptPublished { validation_cer } => {
                let cer = cer_in_brackets(validation_cer);
                eprintln!("the checkpoint published earlier reads validation better{cer}: kept");
            }
            TrainEvent::Checkpointed => {}
            TrainEvent::EarlyStop { epoch } => {
                eprintln!("no better validation CER for a while: stopping after epoch {epoch}");
            }
        }
    }

    fn bar_for(&mut self, len: u64, prefix: &str) -> &ProgressBar {
        let stale = self
            .bar
            .as_ref()
            .is_none_or(|b| b.length() != Some(len) || b.prefix() != prefix);
        if stale {
            self.finish();
            let bar = ProgressBar::new(len);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(prefix.to_string());
            self.bar = Some(bar);
        }
        self.bar.get_or_insert_with(|| ProgressBar::new(len))
    }

    fn println(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
