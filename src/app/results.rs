//! The results panel: the text in reading order, one editable field per line, with copy
//! and save. Edits are kept here and applied to what is copied and saved.

use eframe::egui;

use std::path::Path;

use egui::{Color32, RichText};

use crate::reading::Reading;

use super::viewer::Highlight;

/// What the user asked for in the panel this frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultsAction {
    CopyAll,
    CopyLine(usize),
    Save(SaveFormat),
    /// The read pages as a searchable PDF.
    SavePdf,
    /// The user finished editing line `i` and it differs from what was recognized.
    Corrected(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveFormat {
    Text,
    Json,
}

impl SaveFormat {
    pub fn extension(self) -> &'static str {
        match self {
            SaveFormat::Text => "txt",
            SaveFormat::Json => "json",
        }
    }
}

#[derive(Default)]
pub struct Results {
    /// The editable text of each line of the reading shown.
    pub lines: Vec<String>,
    /// What the recognizer read, to tell a correction from an unchanged line.
    recognized: Vec<String>,
    /// Which reading the lines came from, so a new reading replaces them and a repaint doesn't.
    shown: Option<u64>,
}

impl Results {
    /// Loads a reading's lines unless they are already shown (keeping the user's edits).
    /// Returns true when the shown reading changed.
    pub fn show_reading(&mut self, key: u64, reading: Option<&Reading>) -> bool {
        if self.shown == Some(key) {
            return false;
        }
        self.shown = Some(key);
        self.lines = reading
            .map(|r| r.lines.iter().map(|l| l.text.clone()).collect())
            .unwrap_or_default();
        self.recognized = self.lines.clone();
        true
    }

    /// All lines, edited, one per line.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The reading with the user's edits in place of the recognized text.
    pub fn edited(&self, reading: &Reading) -> Reading {
        let mut out = reading.clone();
        for (line, text) in out.lines.iter_mut().zip(&self.lines) {
            if line.text != *text {
                line.text = text.clone();
                line.words.clear(); // word splits no longer match edited text
            }
        }
        out
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        highlight: &mut Highlight,
        busy: bool,
    ) -> Option<ResultsAction> {
        let mut action = None;
        let has_text = !self.lines.is_empty();
        ui.horizontal(|ui| {
            ui.heading("Text");
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .add_enabled(has_text, egui::Button::new("Copy all"))
                    .on_hover_text("Ctrl+C")
                    .clicked()
                {
                    action = Some(ResultsAction::CopyAll);
                }
            });
        });
        // The save buttons on a row of their own: with the heading they do not fit the panel.
        ui.horizontal(|ui| {
            if ui
                .add_enabled(has_text, egui::Button::new("Save TXT…"))
                .clicked()
            {
                action = Some(ResultsAction::Save(SaveFormat::Text));
            }
            if ui
                .add_enabled(has_text, egui::Button::new("Save JSON…"))
                .clicked()
            {
                action = Some(ResultsAction::Save(SaveFormat::Json));
            }
            if ui
                .add_enabled(has_text, egui::Button::new("Save PDF…"))
                .on_hover_text("The read pages with their text, searchable and copyable")
                .clicked()
            {
                action = Some(ResultsAction::SavePdf);
            }
        });
        ui.separator();
        if self.lines.is_empty() {
            let hint = if busy {
                "Reading…"
            } else {
                "Draw, open, drop or paste an image to read it."
            };
            ui.label(RichText::new(hint).weak());
            return action;
        }
        let mut hovered_now = None;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for (i, text) in self.lines.iter_mut().enumerate() {
                    let lit = highlight.hovered == Some(i) || highlight.selected == Some(i);
                    let fill = if lit {
                        ui.visuals().selection.bg_fill.gamma_multiply(0.35)
                    } else {
                        Color32::TRANSPARENT
                    };
                    let row = egui::Frame::new()
                        .fill(fill)
                        .inner_margin(2.0)
                        .corner_radius(3.0)
                        .show(ui, |ui| {
                            ui.horizontal(|ui| {
                                ui.label(RichText::new(format!("{:>2}", i + 1)).monospace().weak());
                                if ui
                                    .small_button("Copy")
                                    .on_hover_text(format!("Copy line {}", i + 1))
                                    .clicked()
                                {
                                    action = Some(ResultsAction::CopyLine(i));
                                }
                                // Multiline only so that long lines wrap instead of hiding
                                // their end; a line stays one line of the reading.
                                let edit = egui::TextEdit::multiline(text)
                                    .desired_rows(1)
                                    .desired_width(f32::INFINITY)
                                    .id_salt(("line", i));
                                let r = ui.add(edit);
                                if r.changed() && text.contains(['\n', '\r']) {
                                    *text = text.replace(['\n', '\r'], " ");
                                }
                                if r.gained_focus() || r.clicked() {
                                    highlight.selected = Some(i);
                                }
                                if r.lost_focus() && self.recognized.get(i) != Some(text) {
                                    action = Some(ResultsAction::Corrected(i));
                                }
                            });
                        });
                    if row.response.contains_pointer() {
                        hovered_now = Some(i);
                    }
                }
            });
        if ui.ui_contains_pointer() {
            highlight.hovered = hovered_now;
        }
        action
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot turn the reading into JSON: {0}")]
    Json(String),
}

/// Writes the reading as plain text (one line per line) or as JSON.
pub fn save_reading(path: &Path, reading: &Reading, format: SaveFormat) -> Result<(), SaveError> {
    let body = match format {
        SaveFormat::Text => {
            let mut t = reading.text();
            t.push('\n');
            t
        }
        SaveFormat::Json => {
            serde_json::to_string_pretty(reading).map_err(|e| SaveError::Json(e.to_string()))?
        }
    };
    std::fs::write(path, body).map_err(|e| SaveError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}
