//! Choosing the recognizer and detector, installing missing models, and the device in use.

use eframe::egui;

use std::collections::HashMap;

use egui::RichText;

use super::settings::Settings;
use super::worker::{InstallProgress, ModelChoice, ModelKind};

/// What the user asked of the models panel.
pub enum ModelsAction {
    Install(String),
    /// Stop installing the model with this id.
    CancelInstall(String),
    /// Delete this personal model.
    Remove(String),
}

#[derive(Default)]
pub struct ModelsPanel {
    pub models: Vec<ModelChoice>,
    pub device: String,
    /// Downloads under way and how far they are.
    pub installing: HashMap<String, InstallProgress>,
}

impl ModelsPanel {
    /// The model of this kind with this id (`auto` names both a detector and a recognizer).
    pub fn find(&self, kind: ModelKind, id: &str) -> Option<&ModelChoice> {
        self.models.iter().find(|m| m.kind == kind && m.id == id)
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, settings: &mut Settings) -> Option<ModelsAction> {
        let Settings {
            recognizer,
            recognizer_chosen,
            detector,
            detector_chosen,
            ..
        } = settings;
        let mut action = None;
        ui.horizontal(|ui| {
            ui.label("Device:");
            ui.label(RichText::new(&self.device).strong());
        });
        let recognizers: Vec<&ModelChoice> = self
            .models
            .iter()
            .filter(|m| m.kind == ModelKind::Recognizer)
            .collect();
        let detectors: Vec<&ModelChoice> = self
            .models
            .iter()
            .filter(|m| m.kind == ModelKind::Detector)
            .collect();

        let shown = |kind, id: &str| {
            (self.find(kind, id))
                .map(label)
                .unwrap_or_else(|| "(none)".into())
        };
        let recognizer_label = ui.label("Recognizer");
        egui::ComboBox::from_id_salt("recognizer")
            .selected_text(shown(ModelKind::Recognizer, recognizer))
            .width(ui.available_width() - 8.0)
            .show_ui(ui, |ui| {
                for m in &recognizers {
                    if ui
                        .selectable_value(recognizer, m.id.clone(), label(m))
                        .clicked()
                    {
                        *recognizer_chosen = true;
                    }
                }
            })
            .response
            .labelled_by(recognizer_label.id);
        let detector_text = detector
            .as_deref()
            .map(|id| shown(ModelKind::Detector, id))
            .unwrap_or_else(|| "None: one line".into());
        let detector_label = ui.label("Detector");
        egui::ComboBox::from_id_salt("detector")
            .selected_text(detector_text)
            .width(ui.available_width() - 8.0)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_value(detector, None, "None: one line")
                    .clicked()
                {
                    *detector_chosen = true;
                }
                for m in &detectors {
                    if ui
                        .selectable_value(detector, Some(m.id.clone()), label(m))
                        .clicked()
                    {
                        *detector_chosen = true;
                    }
                }
            })
            .response
            .labelled_by(detector_label.id);
        let chosen = [
            (ModelKind::Recognizer, Some(recognizer.as_str())),
            (ModelKind::Detector, detector.as_deref()),
        ];
        for (kind, id) in chosen {
            if let Some(model) = id.and_then(|id| self.find(kind, id)) {
                ui.label(RichText::new(details(model)).small().weak());
                if let Some(why) = &model.damaged {
                    let warning = format!(
                        "{} cannot be used, its folder is damaged: {why}. Delete it and train it again.",
                        model.id
                    );
                    ui.label(RichText::new(warning).color(ui.visuals().warn_fg_color));
                }
            }
        }
        if !recognizers
            .iter()
            .any(|m| m.installed && m.reads_handwriting())
        {
            ui.label(RichText::new(NO_HANDWRITING).color(ui.visuals().warn_fg_color));
        }
        if let Some(model) = (self.find(ModelKind::Recognizer, recognizer)).filter(|m| m.personal)
            && ui
                .button(format!("Delete {}", model.id))
                .on_hover_text("Removes this personal model from the machine")
                .clicked()
        {
            action = Some(ModelsAction::Remove(model.id.clone()));
        }
        for (kind, id) in chosen {
            let Some((id, model)) = id.and_then(|id| Some((id, self.find(kind, id)?))) else {
                continue;
            };
            if let Some(progress) = self.installing.get(id) {
                ui.label(format!("Installing {}…", model.name));
                let bar = match progress.fraction() {
                    Some(f) => egui::ProgressBar::new(f).show_percentage(),
                    None => egui::ProgressBar::new(0.0).animate(true),
                };
                ui.add(bar.text(progress.message.clone()));
                if ui.button("Cancel download").clicked() {
                    action = Some(ModelsAction::CancelInstall(id.to_string()));
                }
            } else if !model.installed && model.damaged.is_none() {
                let size = model
                    .size_bytes
                    .map(|b| format!(" ({:.0} MB)", b as f64 / 1e6))
                    .unwrap_or_default();
                if ui.button(format!("Install {}{size}", model.name)).clicked() {
                    action = Some(ModelsAction::Install(model.id.clone()));
                }
            }
        }
        action
    }
}

/// What the user can do when no installed recognizer was made for handwriting.
pub const NO_HANDWRITING: &str = "No handwriting recognizer is installed: the installed ones \
were made for print and misread handwriting. To get one: correct a few recognized lines and \
use Learn from my corrections below; or train one (inkread train recognizer); or import TrOCR \
files (inkread models import FOLDER --id trocr-base-handwritten).";

/// "Reads print · 11 MB · PyPI rapidocr-onnxruntime==1.4.4 · Apache-2.0".
fn details(m: &ModelChoice) -> String {
    let mut parts = Vec::new();
    if !m.reads.is_empty() {
        parts.push(format!("Reads {}", m.reads));
    }
    if let Some(bytes) = m.size_bytes.filter(|b| *b > 0) {
        parts.push(format!("{:.0} MB", bytes as f64 / 1e6));
    }
    parts.extend(
        [m.source.clone(), m.licence.clone()]
            .into_iter()
            .filter(|s| !s.is_empty()),
    );
    parts.join(" · ")
}

fn label(m: &ModelChoice) -> String {
    if m.installed {
        m.name.clone()
    } else if m.damaged.is_some() {
        format!("{} (damaged)", m.name)
    } else {
        format!("{} (not installed)", m.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(id: &str, name: &str, kind: ModelKind) -> ModelChoice {
        ModelChoice {
            id: id.into(),
            name: name.into(),
            kind,
            installed: true,
            size_bytes: None,
            personal: false,
            reads: String::new(),
            source: String::new(),
            licence: String::new(),
            damaged: None,
        }
    }

    #[test]
    fn auto_is_found_as_the_detector_or_the_recognizer_asked_for() {
        // Both automatic choices are called `auto`; the recognizer list once showed the
        // detector's name.
        let panel = ModelsPanel {
            models: vec![
                choice("auto", "Automatic: kraken for pages", ModelKind::Detector),
                choice("auto", "Automatic: line by line", ModelKind::Recognizer),
            ],
            ..Default::default()
        };
        let name = |kind| panel.find(kind, "auto").map(|m| m.name.as_str());
        assert_eq!(name(ModelKind::Recognizer), Some("Automatic: line by line"));
        assert_eq!(
            name(ModelKind::Detector),
            Some("Automatic: kraken for pages")
        );
    }
}
