//! The training loop: epochs of bucketed, augmented batches; a checkpoint every few minutes
//! and after every epoch; validation CER after every epoch; the best weights published as a
//! personal model as soon as they are found; early stopping when validation stops improving.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::TrainError;
use super::alphabet::Alphabet;
use super::augment::augment;
use super::base::{SCRATCH, base_deslants, base_network};
use super::batches::{epoch_batches, rng_for};
use super::checkpoint::{self, EpochRecord, Progress, write_synced};
use super::dataset::{self, DataSet};
use super::publish::{now_utc, publish};
use super::schedule::learning_rate;
use super::step::{Batch, adamw, for_training, train_step};
use crate::cancel::CancelToken;
use crate::eval::metrics::{Errors, char_errors};
use crate::models::Installer;
use crate::models::personal::{CRNN_G2, ModelCard, PartialEpoch};
use crate::nn::easyocr::Crnn;
use crate::pipeline::calibration::Calibration;
use crate::pipeline::easyocr::CrnnRecognizer;

/// Everything that defines a run; stored with it, so `--resume` continues the same run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainRun {
    /// The personal model's id (`--out`).
    pub id: String,
    /// Catalog id of the model to fine-tune, or `scratch`.
    pub base: String,
    pub data: Vec<PathBuf>,
    /// Validation manifests; when empty, the `val` rows of the training manifests.
    pub val: Vec<PathBuf>,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub seed: u64,
    /// Epochs without a better validation CER before stopping.
    pub patience: usize,
    pub augment: bool,
    /// At most this many training (and validation) lines: for quick tries.
    pub limit: Option<usize>,
    /// Minutes between checkpoints within an epoch.
    pub checkpoint_minutes: f64,
    /// How many of the first convolutions stay as the base model has them.
    #[serde(default)]
    pub frozen_convolutions: usize,
    /// Lines deslanted before training (and so before reading with the result). A run
    /// from a personal model that was trained so is too.
    #[serde(default)]
    pub deslant: bool,
}

/// What the loop reports while it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainEvent {
    Loading {
        done: usize,
        total: usize,
    },
    LeftOut {
        count: usize,
        why: String,
        first: Vec<String>,
    },
    Started {
        train_lines: usize,
        val_lines: usize,
        classes: usize,
        added: usize,
        resumed_at: Option<(usize, usize)>,
    },
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f32,
        lines_per_second: f64,
        learning_rate: f64,
    },
    Validating {
        epoch: usize,
    },
    /// The starting weights read the validation lines with this CER.
    BaseValidated {
        cer: f64,
    },
    Epoch(EpochRecord),
    Published {
        dir: PathBuf,
        validation_cer: Option<f64>,
    },
    /// The epoch was the run's best, but a checkpoint of the run published earlier
    /// (`inkread train publish`) reads the validation lines better, so it stays.
    KeptPublished {
        validation_cer: Option<f64>,
    },
    Checkpointed,
    EarlyStop {
        epoch: usize,
    },
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutcome {
    pub model_dir: Option<PathBuf>,
    pub best_cer: Option<f64>,
    /// The starting weights' validation CER (see [`Progress::base_cer`]).
    pub base_cer: Option<f64>,
    pub epochs_done: usize,
    pub stopped_early: bool,
}

impl TrainOutcome {
    /// `(best, start)` validation CERs when no epoch read the validation lines better
    /// than the starting weights did.
    pub fn no_better_than_start(&self) -> Option<(f64, f64)> {
        let (best, start) = (self.best_cer?, self.base_cer?);
        (best >= start).then_some((best, start))
    }
}

/// The run's working folder: `$INKREAD_HOME/training/<id>`.
pub fn run_dir(installer: &Installer, id: &str) -> PathBuf {
    installer.config.home.join("training").join(id)
}

/// Trains (or, with `resume`, continues) `run`. `run.epochs` may grow on resume.
pub fn train(
    installer: &Installer,
    run: &TrainRun,
    resume: bool,
    device: &Device,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
    super::gradient_check::ensure_conv_gradient(device)?;
    let dir = run_dir(installer, &run.id);
    let (run, alphabet, net, added) = start_or_resume(installer, run, resume, &dir, device)?;
    let (train_samples, val_samples) = dataset::read_samples(&run)?;
    let data = dataset::load(
        &train_samples,
        &val_samples,
        &alphabet,
        run.deslant,
        cancel,
        on_event,
    )?;
    let ad = device.clone().autodiff();
    let (net, optim, progress) = match checkpoint::load(&dir, net.clone(), optimizer(), &ad)? {
        Some(state) => state,
        None => (for_training(net, &ad), optimizer(), Progress::default()),
    };
    let net = net.with_frozen_convolutions(run.frozen_convolutions);
    on_event(TrainEvent::Started {
        train_lines: data.train_lines.len(),
        val_lines: data.val_lines.len(),
        classes: alphabet.classes(),
        added,
        resumed_at: (progress.global_step > 0).then_some((progress.epoch, progress.step)),
    });
    let mut state = LoopState {
        run: &run,
        dir: &dir,
        data: &data,
        alphabet: &alphabet,
        net,
        optim,
        progress,
        device,
        ad,
    };
    if state.progress.global_step == 0 && state.progress.base_cer.is_none() {
        state.progress.base_cer = state.validate(cancel)?.cer;
        if let Some(cer) = state.progress.base_cer {
            on_event(TrainEvent::BaseValidated { cer });
        }
    }
    state.run_epochs(installer, cancel, on_event)
}

/// Validates the run's latest checkpoint and publishes it when it reads the validation
/// lines better than the model published so far, as the end of an epoch would. For a long
/// run stopped (or still going) inside an epoch: what it has learned is usable now. The
/// run itself is untouched; its next epoch's end publishes only weights that read the
/// validation lines better than this checkpoint (`published_checkpoint_is_better`).
pub fn publish_checkpoint(
    installer: &Installer,
    id: &str,
    device: &Device,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
    let dir = run_dir(installer, id);
    let stored: TrainRun = std::fs::read_to_string(dir.join("run.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| TrainError::NothingToResume { dir: dir.clone() })?;
    let (run, alphabet, net, _) = start_or_resume(installer, &stored, true, &dir, device)?;
    let (train_samples, val_samples) = dataset::read_samples(&run)?;
    let data = dataset::load_validation(&val_samples, run.deslant, cancel, on_event)?;
    let ad = device.clone().autodiff();
    let (net, optim, progress) = checkpoint::load(&dir, net, optimizer(), &ad)?
        .ok_or_else(|| TrainError::NothingToResume { dir: dir.clone() })?;
    let state = LoopState {
        run: &run,
        dir: &dir,
        data: &data,
        alphabet: &alphabet,
        net,
        optim,
        progress,
        device,
        ad,
    };
    on_event(TrainEvent::Validating {
        epoch: state.progress.epoch,
    });
    let validation = state.validate(cancel)?;
    let cer = validation.cer;
    let published = installer
        .installed_dir(id)
        .and_then(|d| ModelCard::read(&d))
        .and_then(|card| card.validation_cer);
    let outcome = |model_dir| TrainOutcome {
        model_dir,
        best_cer: cer,
        base_cer: state.progress.base_cer,
        epochs_done: state.progress.epoch,
        stopped_early: false,
    };
    let beaten = matches!((cer, published), (Some(new), Some(old)) if new >= old);
    if beaten || !beats_start(cer, state.progress.base_cer) {
        return Ok(outcome(installer.installed_dir(id)));
    }
    let mut card = state.card();
    card.training_lines = train_samples.len();
    card.validation_cer = cer;
    card.best_epoch = state.progress.epoch + 1;
    let batches = train_samples.len().div_ceil(run.batch.max(1));
    card.partial_epoch = (state.progress.step > 0).then_some(PartialEpoch {
        batches_done: state.progress.step,
        batches,
    });
    let dir = publish(installer, &state.net, card, validation.calibration.as_ref())?;
    on_event(TrainEvent::Published {
        dir: dir.clone(),
        validation_cer: cer,
    });
    Ok(outcome(Some(dir)))
}

/// Whether the model already published under the run's id is a checkpoint of this same run
/// (`inkread train publish`: same base, data, seed and validation lines) that reads the
/// validation lines better than `candidate`: the end of an epoch must not replace it, or
/// the run would not keep its best.
fn published_checkpoint_is_better(published: Option<&ModelCard>, candidate: &ModelCard) -> bool {
    let Some(old) = published.filter(|old| old.partial_epoch.is_some()) else {
        return false;
    };
    let same_run = old.base == candidate.base
        && old.data == candidate.data
        && old.seed == candidate.seed
        && old.validation_lines == candidate.validation_lines;
    let better = matches!(
        (old.validation_cer, candidate.validation_cer),
        (Some(old), Some(new)) if old <= new
    );
    same_run && better
}

/// Whether weights that read the validation lines with `cer` may be published: never when
/// the weights the run started from read them at least as well (a model worse than the one
/// it came from would only mislead whoever picks it).
fn beats_start(cer: Option<f64>, base_cer: Option<f64>) -> bool {
    match (cer, base_cer) {
        (Some(c), Some(base)) => c < base,
        _ => true,
    }
}

/// The stored run, alphabet and starting network, or a new run's (written to `dir`).
fn start_or_resume(
    installer: &Installer,
    run: &TrainRun,
    resume: bool,
    dir: &Path,
    plain: &Device,
) -> Result<(TrainRun, Alphabet, Crnn, usize), TrainError> {
    let run_file = dir.join("run.json");
    if resume {
        let read = |name: &str| -> Result<String, TrainError> {
            std::fs::read_to_string(dir.join(name)).map_err(|_| TrainError::NothingToResume {
                dir: dir.to_path_buf(),
            })
        };
        let bad = |e: serde_json::Error| TrainError::Checkpoint {
            path: dir.to_path_buf(),
            source: e.into(),
        };
        let mut stored: TrainRun = serde_json::from_str(&read("run.json")?).map_err(bad)?;
        let alphabet: Alphabet = serde_json::from_str(&read("alphabet.json")?).map_err(bad)?;
        stored.epochs = run.epochs.max(stored.epochs);
        let start = dir.join("start.bpk");
        let net = Crnn::fresh(alphabet.classes(), stored.seed, plain)?
            .try_load_file(&start)
            .map_err(|e| TrainError::Checkpoint {
                path: start,
                source: e.into(),
            })?;
        return Ok((stored, alphabet, net, 0));
    }
    if run_file.exists() {
        return Err(TrainError::RunExists {
            dir: dir.to_path_buf(),
        });
    }
    let (train_samples, _) = dataset::read_samples(run)?;
    let (base_net, base_alphabet) = base_network(installer, &run.base, run.seed, plain)?;
    let run = &TrainRun {
        deslant: run.deslant || base_deslants(installer, &run.base),
        ..run.clone()
    };
    let (alphabet, added) =
        base_alphabet.extended_for(train_samples.iter().map(|s| s.text.as_str()));
    let net = if run.base == SCRATCH {
        Crnn::fresh(alphabet.classes(), run.seed, plain)?
    } else {
        let copies: Vec<usize> = added.iter().map(|a| a.copy_of_class).collect();
        base_net.with_classes_copied(&copies)?
    };
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    write_synced(&dir.join("alphabet.json"), to_json(&alphabet)?.as_bytes())?;
    // The starting weights are part of the run: a resume before the first checkpoint
    // must start from them, not from fresh ones.
    let start = dir.join("start.bpk");
    net.clone()
        .save_file(&start)
        .map_err(|e| TrainError::Checkpoint {
            path: start.clone(),
            source: e.into(),
        })?;
    write_synced(&run_file, to_json(run)?.as_bytes())?;
    Ok((run.clone(), alphabet, net, added.len()))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, TrainError> {
    serde_json::to_string_pretty(value).map_err(|e| TrainError::Checkpoint {
        path: PathBuf::from("run.json"),
        source: e.into(),
    })
}

/// The run's optimiser.
fn optimizer() -> ModuleOptimizer {
    adamw(Some(5.0))
}

struct LoopState<'a> {
    run: &'a TrainRun,
    dir: &'a Path,
    data: &'a DataSet,
    alphabet: &'a Alphabet,
    net: Crnn,
    optim: ModuleOptimizer,
    progress: Progress,
    /// Validation runs here; training on its autodiff twin `ad`.
    device: &'a Device,
    ad: Device,
}

/// What one pass over the validation lines measured.
#[derive(Default)]
struct Validation {
    cer: Option<f64>,
    calibration: Option<Calibration>,
}

impl LoopState<'_> {
    fn run_epochs(
        &mut self,
        installer: &Installer,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<TrainOutcome, TrainError> {
        let mut model_dir = None;
        let mut stopped_early = false;
        while self.progress.epoch < self.run.epochs {
            self.train_epoch(cancel, on_event)?;
            on_event(TrainEvent::Validating {
                epoch: self.progress.epoch,
            });
            let validation = self.validate(cancel)?;
            let cer = validation.cer;
            let improved = self.finish_epoch(cer);
            if let Some(record) = self.progress.history.last() {
                on_event(TrainEvent::Epoch(record.clone()));
            }
            if improved {
                let card = self.card();
                let published = installer
                    .installed_dir(&self.run.id)
                    .and_then(|d| ModelCard::read(&d));
                if published_checkpoint_is_better(published.as_ref(), &card) {
                    on_event(TrainEvent::KeptPublished {
                        validation_cer: published.and_then(|c| c.validation_cer),
                    });
                } else {
                    let calibration = validation.calibration.as_ref();
                    let dir = publish(installer, &self.net, card, calibration)?;
                    on_event(TrainEvent::Published {
                        dir: dir.clone(),
                        validation_cer: cer,
                    });
                    model_dir = Some(dir);
                }
            }
            checkpoint::save(self.dir, &self.net, &self.optim, &self.progress)?;
            on_event(TrainEvent::Checkpointed);
            if self.progress.epochs_without_improvement >= self.run.patience.max(1) {
                on_event(TrainEvent::EarlyStop {
                    epoch: self.progress.epoch,
                });
                stopped_early = true;
                break;
            }
        }
        Ok(TrainOutcome {
            model_dir: model_dir.or_else(|| installer.installed_dir(&self.run.id)),
            best_cer: self.progress.best_cer,
            base_cer: self.progress.base_cer,
            epochs_done: self.progress.epoch,
            stopped_early,
        })
    }

    fn train_epoch(
        &mut self,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<(), TrainError> {
        let widths: Vec<u32> = self.data.train_lines.iter().map(|l| l.width()).collect();
        let batches = epoch_batches(&widths, self.run.batch, self.run.seed, self.progress.epoch);
        let total_steps = batches.len() * self.run.epochs;
        let mut last_checkpoint = Instant::now();
        let mut window = (Instant::now(), 0usize);
        for step in self.progress.step..batches.len() {
            if cancel.is_cancelled() {
                checkpoint::save(self.dir, &self.net, &self.optim, &self.progress)?;
                return Err(TrainError::Cancelled);
            }
            let started = Instant::now();
            let batch = self.batch(&batches[step], step);
            let lr = learning_rate(
                self.run.learning_rate,
                self.progress.global_step,
                total_steps,
            );
            let (net, loss) = train_step(self.net.clone(), &mut self.optim, &batch, lr)?;
            self.net = net;
            let p = &mut self.progress;
            p.step = step + 1;
            p.global_step += 1;
            p.epoch_batches += 1;
            p.epoch_loss_sum += f64::from(loss);
            p.epoch_seconds += started.elapsed().as_secs_f64();
            window.1 += batches[step].len();
            let lines_per_second = window.1 as f64 / window.0.elapsed().as_secs_f64().max(1e-9);
            on_event(TrainEvent::Step {
                epoch: p.epoch,
                step: p.step,
                steps: batches.len(),
                loss,
                lines_per_second,
                learning_rate: lr,
            });
            if last_checkpoint.elapsed().as_secs_f64() > self.run.checkpoint_minutes * 60.0 {
                checkpoint::save(self.dir, &self.net, &self.optim, &self.progress)?;
                on_event(TrainEvent::Checkpointed);
                last_checkpoint = Instant::now();
            }
        }
        Ok(())
    }

    /// The lines of one batch, augmented from a generator of their own (so a resumed run
    /// draws the same changes), and their classes.
    fn batch(&self, indices: &[usize], step: usize) -> Batch {
        let mut rng = rng_for(self.run.seed, self.progress.epoch, 1000 + step as u64);
        let lines: Vec<_> = indices
            .iter()
            .map(|&i| {
                let line = &self.data.train_lines[i];
                if self.run.augment {
                    augment(line, &mut rng)
                } else {
                    line.clone()
                }
            })
            .collect();
        let classes: Vec<Vec<usize>> = indices
            .iter()
            .map(|&i| self.data.train_classes[i].clone())
            .collect();
        Batch::new(&lines, &classes, &self.ad)
    }

    /// Character error rate on the validation lines (`None` without any), and how the
    /// confidences of the readings relate to their accuracy (the model's calibration, for
    /// the `auto` recognizer).
    fn validate(&self, cancel: &CancelToken) -> Result<Validation, TrainError> {
        if self.data.val_lines.is_empty() {
            return Ok(Validation::default());
        }
        let net = self.net.clone().valid();
        let labels = self.alphabet.labels();
        let reader = CrnnRecognizer::from_network(&self.run.id, net, labels, self.device);
        let texts = reader
            .read_scaled(&self.data.val_lines, cancel, &mut |_| {})
            .map_err(|e| match e {
                crate::Error::Cancelled => TrainError::Cancelled,
                other => other.into(),
            })?;
        let mut errors = Errors::default();
        let mut measured = Vec::with_capacity(texts.len());
        for (reference, hypothesis) in self.data.val_texts.iter().zip(&texts) {
            let line = char_errors(reference, &hypothesis.text);
            errors.add(line);
            let accuracy = 1.0 - line.rate().unwrap_or(0.0).min(1.0);
            measured.push((hypothesis.confidence, accuracy as f32));
        }
        Ok(Validation {
            cer: errors.rate(),
            calibration: Calibration::fit(&measured),
        })
    }

    /// Records the epoch; says whether its weights are to be published: the best so far and
    /// better than the starting weights (always, without validation data: the latest is then
    /// the best we know).
    fn finish_epoch(&mut self, cer: Option<f64>) -> bool {
        let p = &mut self.progress;
        let lines: usize = self.data.train_lines.len();
        p.history.push(EpochRecord {
            epoch: p.epoch,
            mean_loss: p.epoch_loss_sum / p.epoch_batches.max(1) as f64,
            validation_cer: cer,
            seconds: p.epoch_seconds,
            lines_per_second: lines as f64 / p.epoch_seconds.max(1e-9),
        });
        let improved = match (cer, p.best_cer) {
            (Some(c), Some(best)) => c < best,
            _ => true,
        };
        if improved {
            p.best_cer = cer;
            p.best_epoch = p.epoch;
            p.epochs_without_improvement = 0;
        } else {
            p.epochs_without_improvement += 1;
        }
        p.epoch += 1;
        p.step = 0;
        p.epoch_batches = 0;
        p.epoch_loss_sum = 0.0;
        p.epoch_seconds = 0.0;
        improved && beats_start(cer, p.base_cer)
    }

    fn card(&self) -> ModelCard {
        let p = &self.progress;
        ModelCard {
            id: self.run.id.clone(),
            architecture: CRNN_G2.into(),
            alphabet: self.alphabet.chars.iter().collect(),
            base: (self.run.base != SCRATCH).then(|| self.run.base.clone()),
            data: self
                .run
                .data
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            training_lines: self.data.train_lines.len(),
            validation_lines: self.data.val_lines.len(),
            epochs: p.epoch,
            best_epoch: p.best_epoch + 1,
            validation_cer: p.best_cer,
            seed: self.run.seed,
            deslant: self.run.deslant,
            created: now_utc(),
            weights_sha256: String::new(),
            partial_epoch: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::personal::sample_card;

    fn card(cer: f64, partial: bool) -> ModelCard {
        let mut card = sample_card("mine", "2026-12-02T00:45:00Z");
        card.validation_cer = Some(cer);
        card.partial_epoch = partial.then_some(PartialEpoch {
            batches_done: 730,
            batches: 1146,
        });
        card
    }

    #[test]
    fn an_epoch_end_keeps_a_better_checkpoint_of_its_run_published() {
        let checkpoint = card(0.2420, true);
        assert!(published_checkpoint_is_better(
            Some(&checkpoint),
            &card(0.2450, false)
        ));
        assert!(!published_checkpoint_is_better(
            Some(&checkpoint),
            &card(0.2300, false)
        ));
        // An epoch's own publication, or none, is replaced as before.
        assert!(!published_checkpoint_is_better(
            Some(&card(0.2000, false)),
            &card(0.2450, false)
        ));
        assert!(!published_checkpoint_is_better(None, &card(0.2450, false)));
        // A checkpoint of another run under the same name (other data) is not comparable.
        let mut other = checkpoint.clone();
        other.data = vec!["elsewhere.tsv".into()];
        assert!(!published_checkpoint_is_better(
            Some(&other),
            &card(0.2450, false)
        ));
    }
}
