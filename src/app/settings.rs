//! What the app remembers between runs (eframe storage), and the small settings UI.

use eframe::egui;

use serde::{Deserialize, Serialize};

use crate::pipeline::Mode;

use super::worker::{DefaultChoice, ModelChoice, ModelKind};

/// The key under which eframe stores [`Settings`].
pub const STORAGE_KEY: &str = "inkread-settings";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    pub fn preference(self) -> egui::ThemePreference {
        match self {
            Theme::System => egui::ThemePreference::System,
            Theme::Light => egui::ThemePreference::Light,
            Theme::Dark => egui::ThemePreference::Dark,
        }
    }
}

/// How the user wants pages read: the `Mode` of the pipeline, stored by name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadMode {
    #[default]
    Auto,
    Page,
    Line,
}

impl ReadMode {
    pub fn mode(self) -> Mode {
        match self {
            ReadMode::Auto => Mode::Auto,
            ReadMode::Page => Mode::Page,
            ReadMode::Line => Mode::Line,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Last recognizer chosen; empty until the user (or the first run) picks one.
    pub recognizer: String,
    /// False until the user picked a recognizer, so the installer's choice (which prefers
    /// a TrOCR once one is installed) applies until then.
    pub recognizer_chosen: bool,
    /// Last detector chosen; `None` reads every image as one line.
    pub detector: Option<String>,
    /// False until a detector choice was made, so the first run can pick a default.
    pub detector_chosen: bool,
    /// True once a first start installed a handwriting recognizer, so one the user deleted
    /// later is not downloaded again.
    pub handwriting_installed: bool,
    pub mode: ReadMode,
    pub theme: Theme,
    /// Lines below this confidence are drawn red.
    pub low_confidence: f32,
    /// Lines at or above this confidence are drawn green (between: amber).
    pub high_confidence: f32,
    /// Recognize the sketch by itself after a pause in drawing.
    pub live_recognize: bool,
    pub live_pause_ms: u64,
    /// Read pages as soon as they are added.
    pub auto_read: bool,
    pub show_text_on_regions: bool,
    pub pen_width: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            recognizer: String::new(),
            recognizer_chosen: false,
            detector: None,
            detector_chosen: false,
            handwriting_installed: false,
            mode: ReadMode::Auto,
            theme: Theme::System,
            low_confidence: 0.5,
            high_confidence: 0.8,
            live_recognize: false,
            live_pause_ms: 900,
            auto_read: true,
            show_text_on_regions: true,
            pen_width: 4.0,
        }
    }
}

impl Settings {
    /// Replaces choices that the model list no longer offers (or that were never made)
    /// with `defaults` when the list has them, else with the first installed model.
    pub fn fit_to(&mut self, models: &[ModelChoice], defaults: &DefaultChoice) {
        let has = |id: &str, kind| models.iter().any(|m| m.id == id && m.kind == kind);
        let offered = |id: &Option<String>, kind| id.clone().filter(|id| has(id, kind));
        if !self.recognizer_chosen || !has(&self.recognizer, ModelKind::Recognizer) {
            if let Some(id) = offered(&defaults.recognizer, ModelKind::Recognizer) {
                self.recognizer = id;
            } else {
                self.recognizer = first_recognizer(models);
            }
        }
        let detector_gone = self
            .detector
            .as_deref()
            .is_some_and(|d| !has(d, ModelKind::Detector));
        if !self.detector_chosen || detector_gone {
            self.detector = offered(&defaults.detector, ModelKind::Detector).or_else(|| {
                models
                    .iter()
                    .find(|m| m.kind == ModelKind::Detector)
                    .map(|m| m.id.clone())
            });
        }
        self.low_confidence = self.low_confidence.clamp(0.0, 1.0);
        self.high_confidence = self.high_confidence.clamp(self.low_confidence, 1.0);
        self.pen_width = self.pen_width.clamp(1.0, 40.0);
    }

    /// Confidence thresholds, live recognition and theme.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label("Theme");
            ui.selectable_value(&mut self.theme, Theme::System, "System");
            ui.selectable_value(&mut self.theme, Theme::Light, "Light");
            ui.selectable_value(&mut self.theme, Theme::Dark, "Dark");
        });
        ui.horizontal(|ui| {
            ui.label("Read as");
            ui.selectable_value(&mut self.mode, ReadMode::Auto, "Auto");
            ui.selectable_value(&mut self.mode, ReadMode::Page, "Page");
            ui.selectable_value(&mut self.mode, ReadMode::Line, "One line");
        });
        ui.add(egui::Slider::new(&mut self.low_confidence, 0.0..=1.0).text("low confidence"));
        ui.add(egui::Slider::new(&mut self.high_confidence, 0.0..=1.0).text("high confidence"));
        self.high_confidence = self.high_confidence.max(self.low_confidence);
        ui.checkbox(&mut self.auto_read, "Read new images right away");
        ui.checkbox(
            &mut self.live_recognize,
            "Recognize the sketch while drawing",
        );
        if self.live_recognize {
            ui.add(egui::Slider::new(&mut self.live_pause_ms, 300..=3000).text("pause (ms)"));
        }
    }
}

/// The first installed recognizer, else the first one listed, else none.
fn first_recognizer(models: &[ModelChoice]) -> String {
    let mut recognizers: Vec<_> = models
        .iter()
        .filter(|m| m.kind == ModelKind::Recognizer)
        .collect();
    recognizers.sort_by_key(|m| !m.installed);
    recognizers
        .first()
        .map(|m| m.id.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str, kind: ModelKind, installed: bool) -> ModelChoice {
        ModelChoice {
            id: id.into(),
            name: id.into(),
            kind,
            installed,
            size_bytes: None,
            personal: false,
            reads: String::new(),
            source: String::new(),
            licence: String::new(),
            damaged: None,
        }
    }

    fn catalog() -> Vec<ModelChoice> {
        vec![
            model("trocr", ModelKind::Recognizer, false),
            model("crnn", ModelKind::Recognizer, true),
            model("paddle-rec", ModelKind::Recognizer, true),
            model("craft", ModelKind::Detector, false),
            model("dbnet", ModelKind::Detector, true),
        ]
    }

    fn defaults() -> DefaultChoice {
        DefaultChoice {
            recognizer: Some("paddle-rec".into()),
            detector: Some("dbnet".into()),
            handwriting: None,
        }
    }

    #[test]
    fn a_first_start_selects_the_factory_defaults() {
        let mut settings = Settings::default();
        settings.fit_to(&catalog(), &defaults());
        assert_eq!(settings.recognizer, "paddle-rec");
        assert_eq!(settings.detector.as_deref(), Some("dbnet"));
    }

    #[test]
    fn choices_the_user_made_survive_unless_the_model_is_gone() {
        let mut settings = Settings {
            recognizer: "crnn".into(),
            recognizer_chosen: true,
            detector: None,
            detector_chosen: true,
            ..Settings::default()
        };
        settings.fit_to(&catalog(), &defaults());
        assert_eq!(settings.recognizer, "crnn");
        assert_eq!(settings.detector, None);

        settings.recognizer = "removed-model".into();
        settings.fit_to(&catalog(), &defaults());
        assert_eq!(settings.recognizer, "paddle-rec");
    }

    #[test]
    fn without_defaults_the_first_installed_recognizer_is_used() {
        let mut settings = Settings::default();
        settings.fit_to(&catalog(), &DefaultChoice::default());
        assert_eq!(settings.recognizer, "crnn");
        assert_eq!(settings.detector.as_deref(), Some("craft"));
    }
}
