//! The app's real source of models: the catalog, the installer and the Burn device.

use std::time::{Duration, Instant};

use burn::tensor::Device;

use super::worker::{
    DefaultChoice, InstallProgress, LearnProgress, Learned, ModelChoice, ModelKind, PipelineFactory,
};
use crate::cancel::CancelToken;
use crate::models::catalog::{Role, Source};
use crate::models::easyocr::ENGLISH_G2_MODEL_ID;
use crate::models::install::AUTO;
use crate::models::personal::discover;
use crate::models::{InstallEvent, Installer};
use crate::pipeline::build::PipelineBuilder;
use crate::pipeline::{Pipeline, Stage};
use crate::train::corrections::{Corrections, corrections_dir};
use crate::train::trainer::run_dir;
use crate::train::{TrainEvent, TrainRun, train};

/// How often download progress reaches the UI.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Builds pipelines from catalog ids on one device, installing missing models first.
pub struct CatalogFactory {
    installer: Installer,
    device: Device,
    device_name: String,
}

impl CatalogFactory {
    pub fn new(installer: Installer, device: Device, device_name: String) -> Self {
        Self {
            installer,
            device,
            device_name,
        }
    }
}

impl PipelineFactory for CatalogFactory {
    fn build(
        &mut self,
        detector_id: Option<&str>,
        recognizer_id: &str,
        progress: &mut dyn FnMut(Stage),
    ) -> anyhow::Result<Pipeline> {
        let what = match detector_id {
            Some(d) => format!("{d} + {recognizer_id}"),
            None => recognizer_id.to_string(),
        };
        progress(Stage::Loading { what });
        let installer = self.current();
        let builder = PipelineBuilder {
            installer: &installer,
            device: self.device.clone(),
            trocr: Default::default(),
        };
        let mut on_event = |event: InstallEvent| {
            if let Some(what) = describe(&event) {
                progress(Stage::Loading { what });
            }
        };
        Ok(builder.build(detector_id, recognizer_id, &mut on_event)?)
    }

    fn models(&self) -> Vec<ModelChoice> {
        let installer = self.current();
        let damaged = installer.damaged_personal_models();
        let auto = auto_choice(&installer)
            .into_iter()
            .chain(auto_recognizer_choice(&installer, &damaged));
        let models = installer.catalog.models().iter().map(|m| ModelChoice {
            id: m.id.clone(),
            name: m.name.clone(),
            kind: match m.role() {
                Role::Detector => ModelKind::Detector,
                Role::Recognizer => ModelKind::Recognizer,
            },
            installed: installer.installed_dir(&m.id).is_some(),
            size_bytes: Some(m.size_mb * 1_000_000),
            personal: m
                .sources
                .iter()
                .any(|s| matches!(s, Source::Trained { .. })),
            reads: m.reads_label(),
            source: m.sources.first().map(Source::label).unwrap_or_default(),
            licence: m.licence.clone(),
            damaged: damaged
                .iter()
                .find(|(id, _)| *id == m.id)
                .map(|(_, why)| why.clone()),
        });
        auto.chain(models).collect()
    }

    fn device_name(&self) -> String {
        self.device_name.clone()
    }

    fn default_models(&self) -> DefaultChoice {
        DefaultChoice {
            recognizer: Some(self.installer.recognizer_id_for(None)),
            detector: Some(self.installer.detector_id_for(None)),
            handwriting: self.installer.handwriting_to_offer().map(|m| m.id.clone()),
        }
    }

    fn install(
        &mut self,
        id: &str,
        progress: &mut dyn FnMut(InstallProgress),
        cancel: &CancelToken,
    ) -> anyhow::Result<()> {
        // A cancel stops the download at its next chunk (or stops pip); the UI stops hearing
        // progress at once and is told the outcome when the installer returns.
        let mut last_progress: Option<Instant> = None;
        let mut on_event = |event: InstallEvent| {
            if cancel.is_cancelled() {
                return;
            }
            let (done_bytes, total_bytes) = match &event {
                InstallEvent::Progress { done, total, .. } => {
                    // Downloads report every chunk; the UI needs a few updates a second.
                    let finished = total.is_some_and(|t| *done >= t);
                    if last_progress.is_some_and(|t| t.elapsed() < PROGRESS_INTERVAL) && !finished {
                        return;
                    }
                    last_progress = Some(Instant::now());
                    (*done, *total)
                }
                _ => (0, None),
            };
            if let Some(message) = describe(&event) {
                progress(InstallProgress {
                    done_bytes,
                    total_bytes,
                    message,
                });
            }
        };
        for id in models_behind(&self.installer, id) {
            self.installer
                .install_cancellable(&id, &mut on_event, cancel)?;
        }
        Ok(())
    }

    fn background(&self) -> Option<Box<dyn PipelineFactory>> {
        Some(Box::new(CatalogFactory::new(
            self.installer.clone(),
            self.device.clone(),
            self.device_name.clone(),
        )))
    }

    fn record_correction(&mut self, line: &image::RgbImage, text: &str) -> anyhow::Result<usize> {
        let store = self.corrections_store();
        store.record(line, text)?;
        Ok(store.count())
    }

    fn corrections(&self) -> usize {
        self.corrections_store().count()
    }

    fn learn(
        &mut self,
        base: &str,
        progress: &mut dyn FnMut(LearnProgress),
        cancel: &CancelToken,
    ) -> anyhow::Result<Learned> {
        let store = self.corrections_store();
        let lines = store.count();
        anyhow::ensure!(lines > 0, "no corrections yet: fix a recognized line first");
        let batch = 8;
        let run = TrainRun {
            id: self.fresh_personal_id(),
            base: trainable_base(&self.current(), base),
            data: vec![store.manifest()],
            // Validated on the corrections kept apart (the manifest marks them); with too
            // few for that, on the corrections themselves.
            val: if store.validates_apart() {
                Vec::new()
            } else {
                vec![store.manifest()]
            },
            epochs: epochs_for(lines, batch),
            batch,
            // At 1e-3, 40 lines of one hand made the model read the hand's other pages
            // worse; at 1e-4 slightly better (docs/TRAIN.md, the adaptation curve).
            learning_rate: 1e-4,
            seed: 1,
            patience: 5,
            augment: true,
            limit: None,
            checkpoint_minutes: 5.0,
            frozen_convolutions: 0,
            // A personal base trained on deslanted lines passes that on (`base_deslants`).
            deslant: false,
        };
        let epochs = run.epochs;
        let mut on_event = |event: TrainEvent| {
            let (message, fraction) = match event {
                TrainEvent::Loading { .. } => ("Preparing your corrected lines…".to_string(), None),
                TrainEvent::Step {
                    epoch, step, steps, ..
                } => (
                    format!("Learning: pass {} of {epochs}", epoch + 1),
                    Some((epoch as f32 + step as f32 / steps.max(1) as f32) / epochs as f32),
                ),
                TrainEvent::Validating { epoch } => (
                    format!("Checking pass {} of {epochs}", epoch + 1),
                    Some((epoch + 1) as f32 / epochs as f32),
                ),
                _ => return,
            };
            progress(LearnProgress { message, fraction });
        };
        let outcome = train(
            &self.installer,
            &run,
            false,
            &self.device,
            cancel,
            &mut on_event,
        )?;
        if let Some((best, before)) = outcome.no_better_than_start() {
            // The trainer published nothing; its run folder (checkpoints) goes too.
            let _ = std::fs::remove_dir_all(run_dir(&self.installer, &run.id));
            anyhow::bail!(
                "the new model read your checking lines no better than {base} (CER {:.1} % \
                 against {:.1} %), so it was not kept; more corrections give it more to learn from",
                100.0 * best,
                100.0 * before,
                base = run.base,
            );
        }
        let name = self
            .current()
            .catalog
            .get(&run.id)
            .map_or(run.id.clone(), |m| m.name.clone());
        Ok(Learned {
            id: run.id,
            name,
            cer: outcome.best_cer,
        })
    }

    fn remove(&mut self, id: &str) -> anyhow::Result<()> {
        let installer = self.current();
        let entry = installer
            .catalog
            .get(id)
            .ok_or_else(|| anyhow::anyhow!("no model {id}"))?;
        anyhow::ensure!(
            entry
                .sources
                .iter()
                .any(|s| matches!(s, Source::Trained { .. })),
            "only personal models can be deleted here"
        );
        installer.remove(id)?;
        let _ = std::fs::remove_dir_all(run_dir(&installer, id));
        Ok(())
    }
}

impl CatalogFactory {
    fn corrections_store(&self) -> Corrections {
        Corrections::new(corrections_dir(&self.installer.config.home))
    }

    /// The installer with the personal models as they are on disk now: the background
    /// thread may have trained or deleted one since this factory was made.
    fn current(&self) -> Installer {
        let mut installer = self.installer.clone();
        let keep: Vec<_> = installer
            .catalog
            .models()
            .iter()
            .filter(|m| {
                !m.sources
                    .iter()
                    .any(|s| matches!(s, Source::Trained { .. }))
            })
            .cloned()
            .collect();
        let personal = discover(&installer.config.models_dir());
        installer.catalog = installer.catalog.only(keep).with_models(personal);
        installer
    }

    /// `my-handwriting-N` for the first N not taken by a model or a training run.
    fn fresh_personal_id(&self) -> String {
        (1..)
            .map(|n| format!("my-handwriting-{n}"))
            .find(|id| {
                self.installer.catalog.get(id).is_none() && !run_dir(&self.installer, id).exists()
            })
            .unwrap_or_else(|| "my-handwriting".into())
    }
}

/// The detector choice `auto`, when the catalog has a page detector: PP-OCRv4's detector
/// decides per image, kraken's segmenter reads document pages (`pipeline::auto_detect`).
fn auto_choice(installer: &Installer) -> Option<ModelChoice> {
    let catalog = &installer.catalog;
    let pages = catalog.page_detector()?;
    let scout = catalog.default_detector();
    let parts = [scout, pages];
    Some(ModelChoice {
        id: AUTO.to_owned(),
        name: format!("Automatic: {} for pages, else {}", pages.name, scout.name),
        kind: ModelKind::Detector,
        installed: parts
            .iter()
            .all(|m| installer.installed_dir(&m.id).is_some()),
        size_bytes: Some(parts.iter().map(|m| m.size_mb * 1_000_000).sum()),
        personal: false,
        reads: pages.reads_label(),
        source: parts
            .iter()
            .filter_map(|m| m.sources.first().map(Source::label))
            .collect::<Vec<_>>()
            .join(" + "),
        licence: format!("{} + {}", pages.licence, scout.licence),
        damaged: None,
    })
}

/// The recognizer choice `auto`, once a handwriting recognizer is installed: each line goes
/// to it or to the default print recognizer, whichever is surer (`pipeline::auto_recognize`).
/// With only a damaged personal model it is offered too (it is the default then), reading
/// with print and saying in the loading status why the user's model is not used.
fn auto_recognizer_choice(
    installer: &Installer,
    damaged: &[(String, String)],
) -> Option<ModelChoice> {
    let print = installer.catalog.default_recognizer();
    let name = match (installer.handwriting_recognizer(), damaged.first()) {
        (Some(handwriting), _) => format!(
            "Automatic: line by line, {} or {}",
            handwriting.name, print.name
        ),
        (None, Some((id, _))) => format!("Automatic: {} ({id} is damaged)", print.name),
        (None, None) => return None,
    };
    Some(ModelChoice {
        id: AUTO.to_owned(),
        name,
        kind: ModelKind::Recognizer,
        installed: installer.installed_dir(&print.id).is_some(),
        size_bytes: None,
        personal: false,
        reads: "print and handwriting, line by line".into(),
        source: String::new(),
        licence: String::new(),
        damaged: None,
    })
}

/// The catalog models an install of `id` means (`auto` is two).
fn models_behind(installer: &Installer, id: &str) -> Vec<String> {
    let catalog = &installer.catalog;
    match catalog.page_detector() {
        Some(pages) if id == AUTO => vec![catalog.default_detector().id.clone(), pages.id.clone()],
        _ => vec![id.to_owned()],
    }
}

/// Learning from corrections trains from the recognizer in use when it is a CRNN Inkread can
/// train (EasyOCR's or a personal one), else from EasyOCR's English CRNN.
fn trainable_base(installer: &Installer, current: &str) -> String {
    let trainable = installer.catalog.get(current).is_some_and(|m| {
        m.id == ENGLISH_G2_MODEL_ID
            || m.sources
                .iter()
                .any(|s| matches!(s, Source::Trained { .. }))
    });
    if trainable {
        current
    } else {
        ENGLISH_G2_MODEL_ID
    }
    .to_string()
}

/// Few lines need many passes: about 300 steps in all, between 10 and 150 epochs.
fn epochs_for(lines: usize, batch: usize) -> usize {
    (300 / lines.div_ceil(batch).max(1)).clamp(10, 150)
}

/// One line for the user about an install step, or `None` for steps not worth showing.
fn describe(event: &InstallEvent) -> Option<String> {
    Some(match event {
        InstallEvent::SourceTried { model, source, .. } => format!("{model}: trying {source}"),
        InstallEvent::Waiting { what, .. } => what.clone(),
        InstallEvent::Started { model, file, .. } => format!("{model}: downloading {file}"),
        InstallEvent::Resumed { file, from, .. } => format!("resuming {file} at {from} bytes"),
        InstallEvent::Progress {
            file, done, total, ..
        } => match total {
            Some(total) => format!("{file}: {} of {}", megabytes(*done), megabytes(*total)),
            None => format!("{file}: {}", megabytes(*done)),
        },
        InstallEvent::Verified { file, .. } => format!("{file}: checksum verified"),
        InstallEvent::Failed { source, error, .. } => format!("{source} failed: {error}"),
        InstallEvent::Skipped { model, why } => {
            format!("{model} is not used, its folder is damaged: {why}")
        }
        InstallEvent::Done { model, source, .. } => format!("{model} installed from {source:?}"),
    })
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::settings::Settings;
    use crate::models::StoreConfig;
    use crate::models::catalog::Catalog;
    use crate::models::personal::{CARD_FILE, WEIGHTS_FILE, sample_card};

    #[test]
    fn a_damaged_personal_model_keeps_auto_and_is_shown_with_why() {
        // Its folder was cut short (no completion marker): the app used to fall back to the
        // first recognizer without a word, as `auto` was not offered.
        let root = tempfile::tempdir().unwrap();
        let config = StoreConfig::rooted(root.path(), "http://127.0.0.1:9");
        let dir = config.model_dir("mine");
        std::fs::create_dir_all(&dir).unwrap();
        let card = serde_json::to_string(&sample_card("mine", "2026-12-01T10:00:00Z")).unwrap();
        std::fs::write(dir.join(CARD_FILE), card).unwrap();
        std::fs::write(dir.join(WEIGHTS_FILE), [7u8; 10]).unwrap();
        let catalog = Catalog::builtin().with_models(discover(&config.models_dir()));
        let factory = CatalogFactory::new(
            Installer::new(config, catalog),
            Device::flex(),
            "CPU (test)".into(),
        );

        let models = factory.models();
        let mine = models.iter().find(|m| m.id == "mine").unwrap();
        assert!(!mine.installed);
        assert!(mine.damaged.is_some(), "{mine:?}");
        let auto = models
            .iter()
            .find(|m| m.id == AUTO && m.kind == ModelKind::Recognizer);
        assert!(
            auto.is_some_and(|m| m.name.contains("mine is damaged")),
            "{auto:?}"
        );
        let mut settings = Settings::default();
        settings.fit_to(&models, &factory.default_models());
        assert_eq!(settings.recognizer, AUTO);
    }

    #[test]
    fn download_progress_reads_in_megabytes() {
        let event = InstallEvent::Progress {
            model: "ppocr-v4-rec".into(),
            file: "rec.onnx".into(),
            done: 2_500_000,
            total: Some(10_000_000),
        };
        assert_eq!(
            describe(&event).as_deref(),
            Some("rec.onnx: 2.5 MB of 10.0 MB")
        );
    }
}
