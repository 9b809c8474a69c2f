//! The app's real source of models: the catalog, the installer and the Burn device.

use burn::tensor::Device;

use super::worker::{DefaultChoice, InstallProgress, ModelChoice, ModelKind, PipelineFactory};
use crate::cancel::CancelToken;
use crate::models::catalog::Role;
use crate::models::{InstallEvent, Installer};
use crate::pipeline::build::PipelineBuilder;
use crate::pipeline::{Pipeline, Stage};

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
        // The installer finishes the file it is on; a cancel is honoured between files.
        let mut on_event = |event: InstallEvent| {
            if cancel.is_cancelled() {
                return;
            }
            let (done_bytes, total_bytes) = match &event {
                InstallEvent::Progress { done, total, .. } => (*done, *total),
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
        self.installer.ensure_installed(id, &mut on_event)?;
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
        InstallEvent::Progress { model, file, .. } => format!("{model}: {file}"),
        InstallEvent::Verified { file, .. } => format!("{file}: checksum verified"),
        InstallEvent::Failed { source, error, .. } => format!("{source} failed: {error}"),
        InstallEvent::Done { model, source, .. } => format!("{model} installed from {source:?}"),
    })
}
