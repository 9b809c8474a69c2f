//! What the app remembers between runs (eframe storage), and the small settings UI.

use eframe::egui;

use serde::{Deserialize, Serialize};

use crate::pipeline::Mode;

use super::worker::{ModelChoice, ModelKind};

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
    /// Last detector chosen; `None` reads every image as one line.
    pub detector: Option<String>,
    /// False until a detector choice was made, so the first run can pick a default.
    pub detector_chosen: bool,
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
            detector: None,
            detector_chosen: false,
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
    /// Replaces choices that the model list no longer offers with sensible defaults.
    pub fn fit_to(&mut self, models: &[ModelChoice]) {
        let has = |id: &str, kind| models.iter().any(|m| m.id == id && m.kind == kind);
        if !has(&self.recognizer, ModelKind::Recognizer) {
            let recognizers = models.iter().filter(|m| m.kind == ModelKind::Recognizer);
            let mut ordered: Vec<_> = recognizers.collect();
            ordered.sort_by_key(|m| !m.installed);
            self.recognizer = ordered.first().map(|m| m.id.clone()).unwrap_or_default();
        }
        let detector_gone = self
            .detector
            .as_deref()
            .is_some_and(|d| !has(d, ModelKind::Detector));
        if !self.detector_chosen || detector_gone {
            self.detector = models
                .iter()
                .find(|m| m.kind == ModelKind::Detector)
                .map(|m| m.id.clone());
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
