//! The pages waiting to be read or already read, each with a thumbnail.

use eframe::egui;

use std::sync::Arc;

use egui::{RichText, TextureHandle, TextureOptions};
use image::RgbImage;

use crate::reading::Reading;

/// Longest side of a thumbnail, in pixels.
const THUMB_SIDE: u32 = 96;

#[derive(Clone, Debug, PartialEq)]
pub enum ItemState {
    Waiting,
    Reading,
    Done,
    Cancelled,
    Failed(String),
}

pub struct QueueItem {
    /// Unique for the app's life; also the key of the item's reading job.
    pub id: u64,
    pub source: String,
    pub image: Arc<RgbImage>,
    pub reading: Option<Reading>,
    pub state: ItemState,
    thumbnail: Option<TextureHandle>,
    texture: Option<TextureHandle>,
}

impl QueueItem {
    pub fn new(id: u64, source: String, image: RgbImage) -> Self {
        Self {
            id,
            source,
            image: Arc::new(image),
            reading: None,
            state: ItemState::Waiting,
            thumbnail: None,
            texture: None,
        }
    }

    /// The short name shown under the thumbnail.
    pub fn short_name(&self) -> String {
        let tail = self
            .source
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&self.source);
        let tail = if tail.is_empty() { &self.source } else { tail };
        if tail.chars().count() > 28 {
            format!("{}…", tail.chars().take(27).collect::<String>())
        } else {
            tail.to_owned()
        }
    }

    /// The full-size texture for the viewer, uploaded on first use.
    pub fn texture(&mut self, ctx: &egui::Context) -> &TextureHandle {
        let image = &self.image;
        let id = self.id;
        self.texture.get_or_insert_with(|| {
            ctx.load_texture(
                format!("page-{id}"),
                to_color_image(image),
                TextureOptions::LINEAR,
            )
        })
    }

    fn thumbnail(&mut self, ctx: &egui::Context) -> &TextureHandle {
        let image = &self.image;
        let id = self.id;
        self.thumbnail.get_or_insert_with(|| {
            let (w, h) = image.dimensions();
            let s = (THUMB_SIDE as f32 / w.max(h).max(1) as f32).min(1.0);
            let (tw, th) = (
                ((w as f32 * s) as u32).max(1),
                ((h as f32 * s) as u32).max(1),
            );
            let thumb = image::imageops::thumbnail(image.as_ref(), tw, th);
            ctx.load_texture(
                format!("thumb-{id}"),
                to_color_image(&thumb),
                TextureOptions::LINEAR,
            )
        })
    }
}

pub fn to_color_image(image: &RgbImage) -> egui::ColorImage {
    egui::ColorImage::from_rgb(
        [image.width() as usize, image.height() as usize],
        image.as_raw(),
    )
}

/// What the user did in the queue strip.
pub enum QueueAction {
    Select(usize),
    Remove(usize),
    Reread(usize),
}

#[derive(Default)]
pub struct Queue {
    pub items: Vec<QueueItem>,
    pub selected: Option<usize>,
}

impl Queue {
    pub fn index_of(&self, id: u64) -> Option<usize> {
        self.items.iter().position(|i| i.id == id)
    }

    pub fn remove(&mut self, index: usize) -> Option<QueueItem> {
        if index >= self.items.len() {
            return None;
        }
        let item = self.items.remove(index);
        self.selected = match self.selected {
            Some(s) if s == index => {
                (!self.items.is_empty()).then(|| index.min(self.items.len() - 1))
            }
            Some(s) if s > index => Some(s - 1),
            other => other,
        };
        Some(item)
    }

    /// A vertical list of thumbnails with names and states.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<QueueAction> {
        let mut action = None;
        let ctx = ui.ctx().clone();
        egui::ScrollArea::vertical()
            .id_salt("queue")
            .auto_shrink([false, true])
            .max_height(ui.available_height())
            .show(ui, |ui| {
                for (index, item) in self.items.iter_mut().enumerate() {
                    let selected = self.selected == Some(index);
                    let frame = egui::Frame::group(ui.style()).fill(if selected {
                        ui.visuals().selection.bg_fill.gamma_multiply(0.4)
                    } else {
                        ui.visuals().faint_bg_color
                    });
                    let r = frame.show(ui, |ui| {
                        ui.horizontal(|ui| {
                            let thumb = item.thumbnail(&ctx);
                            let img = egui::Image::new(thumb)
                                .max_size(egui::vec2(64.0, 64.0))
                                .sense(egui::Sense::click());
                            if ui.add(img).clicked() {
                                action = Some(QueueAction::Select(index));
                            }
                            ui.vertical(|ui| {
                                if ui
                                    .selectable_label(selected, item.short_name())
                                    .on_hover_text(&item.source)
                                    .clicked()
                                {
                                    action = Some(QueueAction::Select(index));
                                }
                                ui.label(state_text(&item.state));
                                ui.horizontal(|ui| {
                                    if ui.small_button("Read again").clicked() {
                                        action = Some(QueueAction::Reread(index));
                                    }
                                    if ui.small_button("Remove").clicked() {
                                        action = Some(QueueAction::Remove(index));
                                    }
                                });
                            });
                        });
                    });
                    if r.response.interact(egui::Sense::click()).clicked() && action.is_none() {
                        action = Some(QueueAction::Select(index));
                    }
                }
            });
        action
    }
}

fn state_text(state: &ItemState) -> RichText {
    match state {
        ItemState::Waiting => RichText::new("waiting").weak(),
        ItemState::Reading => RichText::new("reading…").italics(),
        ItemState::Done => RichText::new("read"),
        ItemState::Cancelled => RichText::new("cancelled").weak(),
        ItemState::Failed(_) => RichText::new("failed").color(egui::Color32::from_rgb(200, 60, 50)),
    }
}
