//! The app's real source of models: the catalog, the installer and the Burn device.

use std::time::{Duration, Instant};

use burn::tensor::Device;

use super::worker::{DefaultChoice, InstallProgress, ModelChoice, ModelKind, PipelineFactory};
use crate::cancel::CancelToken;
use crate::models::catalog::Role;
use crate::models::{InstallEvent, Installer};
use crate::pipeline::build::PipelineBuilder;
use crate::pipeline::{Pipeline, Stage};

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
        let builder = PipelineBuilder {
            installer: &self.installer,
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
        self.installer
            .catalog
            .models()
            .iter()
            .map(|m| ModelChoice {
                id: m.id.clone(),
                name: m.name.clone(),
                kind: match m.role() {
                    Role::Detector => ModelKind::Detector,
                    Role::Recognizer => ModelKind::Recognizer,
                },
                installed: self.installer.installed_dir(&m.id).is_some(),
                size_bytes: Some(m.size_mb * 1_000_000),
            })
            .collect()
    }

    fn device_name(&self) -> String {
        self.device_name.clone()
    }

    fn default_models(&self) -> DefaultChoice {
        DefaultChoice {
            recognizer: Some(self.installer.recognizer_to_use().id.clone()),
            detector: Some(self.installer.detector_to_use().id.clone()),
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
        self.installer
            .install_cancellable(id, &mut on_event, cancel)?;
        Ok(())
    }
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
        InstallEvent::Done { model, source, .. } => format!("{model} installed from {source:?}"),
    })
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

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
