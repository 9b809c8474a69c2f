//! "Learn from my corrections": how many corrected lines are kept, the button that trains a
//! personal recognizer from them on the worker, its progress and Cancel, and the offer to
//! read with the new model once it is ready.

use eframe::egui;
use egui::RichText;

use super::worker::{LearnProgress, Learned};

/// What the user asked of the panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LearningAction {
    Learn,
    Cancel,
    /// Read with this personal model from now on.
    Use(String),
}

#[derive(Default)]
pub struct Learning {
    /// Corrected lines kept for learning.
    pub corrections: usize,
    /// Set while a model is being trained.
    pub progress: Option<LearnProgress>,
    /// The last model learned, until the user takes it or learns again.
    pub learned: Option<Learned>,
}

impl Learning {
    pub fn is_running(&self) -> bool {
        self.progress.is_some()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<LearningAction> {
        let mut action = None;
        let kept = match self.corrections {
            0 => "No corrections yet: fix a recognized line in the text panel to keep it.".into(),
            1 => "1 corrected line kept.".to_string(),
            n => format!("{n} corrected lines kept."),
        };
        ui.label(RichText::new(kept).weak());
        if let Some(progress) = &self.progress {
            let bar = match progress.fraction {
                Some(f) => egui::ProgressBar::new(f).show_percentage(),
                None => egui::ProgressBar::new(0.0).animate(true),
            };
            ui.add(bar.text(progress.message.clone()));
            if ui.button("Cancel learning").clicked() {
                action = Some(LearningAction::Cancel);
            }
            return action;
        }
        let learn = ui
            .add_enabled(
                self.corrections > 0,
                egui::Button::new("Learn from my corrections"),
            )
            .on_hover_text("Trains a personal recognizer on your corrected lines, on this machine");
        if learn.clicked() {
            action = Some(LearningAction::Learn);
        }
        if let Some(learned) = &self.learned {
            let cer = learned.cer.map_or(String::new(), |c| {
                format!(" (CER {:.1} % on your lines)", 100.0 * c)
            });
            ui.label(format!("{} is ready{cer}.", learned.id));
            if ui.button(format!("Read with {}", learned.id)).clicked() {
                action = Some(LearningAction::Use(learned.id.clone()));
            }
        }
        action
    }
}
