//! `InkreadApp`: owns the panels' state, routes input to them and the worker's reports back.

use eframe::egui;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use egui::{Color32, Key, Modifiers, RichText};

use crate::cancel::CancelToken;
use crate::export::pdf::{PdfPage, searchable_pdf};
use crate::models::install::AUTO;
use crate::pipeline::Stage;
use crate::reading::{Page, Reading};

use super::clipboard::Clipboard;
use super::inputs::{IMAGE_EXTENSIONS, Loader, Source};
use super::learning::{Learning, LearningAction};
use super::models_panel::{ModelsAction, ModelsPanel};
use super::queue::{ItemState, Queue, QueueAction, QueueItem};
use super::read_ahead::ReadJob;
use super::results::{Results, ResultsAction, SaveFormat, save_reading};
use super::settings::{STORAGE_KEY, Settings};
use super::sketch_words::respace_lines;
use super::sketchpad::{Raster, Sketchpad, Tool};
use super::url_fetch::looks_like_url;
use super::viewer::{Confidence, Highlight, Labels, Viewer, paint_regions};
use super::worker::{
    Learned, ModelChoice, ModelKind, Outcome, PipelineFactory, Report, Request, Worker,
    describe_stage,
};

/// The two work areas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Draw,
    Pages,
}

/// What a job reads, so its result lands in the right place.
enum Target {
    Sketch {
        origin: egui::Pos2,
        scale: f32,
        image: Arc<image::RgbImage>,
    },
    Item(u64),
}

struct Job {
    target: Target,
    cancel: CancelToken,
}

/// The sketch's last reading, with the raster placement to draw its regions on the page.
struct SketchReading {
    job: u64,
    reading: Reading,
    /// The raster that was read, for cropping corrected lines.
    image: Arc<image::RgbImage>,
    origin: egui::Pos2,
    scale: f32,
}

pub struct InkreadApp {
    pub settings: Settings,
    pub view: View,
    pub sketch: Sketchpad,
    pub queue: Queue,
    pub results: Results,
    pub models: ModelsPanel,
    /// What the user typed in the address field.
    pub url_input: String,
    viewer: Viewer,
    highlight: Highlight,
    worker: Worker,
    loader: Loader,
    clipboard: Box<dyn Clipboard>,
    jobs: HashMap<u64, Job>,
    progress: Option<(u64, Stage)>,
    sketch_reading: Option<SketchReading>,
    item_jobs: HashMap<u64, u64>,
    /// One cancel token per model being installed.
    install_cancel: HashMap<String, CancelToken>,
    /// The handwriting recognizer a first start is downloading, if any: its failure is a
    /// note (the Hub may be out of reach), not an error.
    first_handwriting: Option<String>,
    pub learning: Learning,
    learn_cancel: Option<CancelToken>,
    error: Option<String>,
    note: Option<String>,
    next_id: u64,
    applied_theme: Option<super::settings::Theme>,
    ctx: egui::Context,
}

impl InkreadApp {
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        factory: Box<dyn PipelineFactory>,
        clipboard: Box<dyn Clipboard>,
    ) -> Self {
        let mut settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, STORAGE_KEY))
            .unwrap_or_default();
        let models = ModelsPanel {
            models: factory.models(),
            device: factory.device_name(),
            ..Default::default()
        };
        let defaults = factory.default_models();
        settings.fit_to(&models.models, &defaults);
        let ctx = cc.egui_ctx.clone();
        let wake_ctx = ctx.clone();
        let worker = Worker::spawn(factory, Arc::new(move || wake_ctx.request_repaint()));
        let mut sketch = Sketchpad::default();
        sketch.pen_width = settings.pen_width;
        let mut app = Self {
            settings,
            view: View::Draw,
            sketch,
            queue: Queue::default(),
            results: Results::default(),
            models,
            url_input: String::new(),
            viewer: Viewer::default(),
            highlight: Highlight::default(),
            worker,
            loader: Loader::default(),
            clipboard,
            jobs: HashMap::new(),
            progress: None,
            sketch_reading: None,
            item_jobs: HashMap::new(),
            install_cancel: HashMap::new(),
            first_handwriting: None,
            learning: Learning::default(),
            learn_cancel: None,
            error: None,
            note: None,
            next_id: 1,
            applied_theme: None,
            ctx,
        };
        app.install_missing_models(defaults.handwriting);
        app
    }

    /// First run: the chosen recognizer and detector start downloading at once, with
    /// progress in the models panel, so the first reading need not wait for them; so does
    /// a handwriting recognizer until one was installed once (one the user deleted later
    /// stays deleted).
    fn install_missing_models(&mut self, handwriting: Option<String>) {
        let chosen = [
            (
                ModelKind::Recognizer,
                Some(self.settings.recognizer.clone()),
            ),
            (ModelKind::Detector, self.settings.detector.clone()),
        ];
        for (kind, id) in chosen {
            if let Some(id) =
                id.filter(|id| self.models.find(kind, id).is_some_and(|m| !m.installed))
            {
                self.start_install(id);
            }
        }
        let handwriting = handwriting.filter(|_| !self.settings.handwriting_installed);
        if let Some(id) = handwriting.filter(|id| {
            (self.models.find(ModelKind::Recognizer, id)).is_some_and(|m| !m.installed)
        }) {
            self.first_handwriting = Some(id.clone());
            self.start_install(id);
        }
    }

    /// A first start's handwriting download ended: on success reading switches to `auto`
    /// (unless the user chose a recognizer); on failure the app says so and reads on.
    fn first_handwriting_done(&mut self, id: &str, error: Option<String>) {
        match error {
            Some(e) => {
                self.note = Some(format!(
                    "No handwriting recognizer installed: {id} could not be downloaded ({e}). \
                     Print reads well; see Models for other ways to read handwriting."
                ))
            }
            None => {
                self.settings.handwriting_installed = true;
                self.note = Some(format!("Installed {id}: handwriting is read with it now"));
                let auto =
                    (self.models.find(ModelKind::Recognizer, AUTO)).is_some_and(|m| m.installed);
                if !self.settings.recognizer_chosen && auto {
                    self.settings.recognizer = AUTO.to_owned();
                }
            }
        }
    }

    fn start_install(&mut self, id: String) {
        let cancel = CancelToken::new();
        self.install_cancel.insert(id.clone(), cancel.clone());
        self.models.installing.insert(
            id.clone(),
            super::worker::InstallProgress {
                done_bytes: 0,
                total_bytes: None,
                message: "starting".into(),
            },
        );
        self.worker.send(Request::Install { id, cancel });
    }

    // ---- what tests and shortcuts call ----

    /// Queues image files; they load off the UI thread and are read when loaded.
    pub fn open_paths(&mut self, paths: impl IntoIterator<Item = PathBuf>) {
        for path in paths {
            self.start_load(Source::File(path));
        }
    }

    /// Fetches an image URL off the UI thread (http and https only).
    pub fn fetch_url(&mut self, url: &str) {
        let url = url.trim();
        if let Err(e) = super::url_fetch::check_url(url) {
            self.error = Some(e.to_string());
            return;
        }
        self.note = Some(format!("Fetching {url}…"));
        self.start_load(Source::Url(url.to_owned()));
    }

    /// Adds the clipboard's image to the queue.
    pub fn paste_image_from_clipboard(&mut self) {
        match self.clipboard.get_image() {
            Ok(Some(image)) => self.add_page("clipboard".into(), image),
            Ok(None) => self.note = Some("There is no image on the clipboard.".into()),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Reads the drawing now.
    pub fn recognize_sketch(&mut self) {
        let Some(raster) = self.sketch.rasterize() else {
            self.note = Some("Nothing drawn yet.".into());
            return;
        };
        // Only the newest drawing matters: drop an older sketch job still running.
        for job in self.jobs.values() {
            if matches!(job.target, Target::Sketch { .. }) {
                job.cancel.cancel();
            }
        }
        self.sketch.dirty_since = None;
        let Raster {
            image,
            origin,
            scale,
        } = raster;
        let page = Page {
            image,
            source: "sketchpad".into(),
        };
        let image = Arc::new(page.image.clone());
        self.submit(
            Target::Sketch {
                origin,
                scale,
                image,
            },
            page,
        );
    }

    /// Cancels every running and waiting job.
    pub fn cancel_all(&mut self) {
        for job in self.jobs.values() {
            job.cancel.cancel();
        }
        if !self.jobs.is_empty() {
            self.note = Some("Cancelling…".into());
        }
    }

    /// True while a page is being read or an image is loading.
    pub fn is_busy(&self) -> bool {
        !self.jobs.is_empty() || self.loader.pending() > 0
    }

    /// The reading shown in the current view, if any.
    pub fn shown_reading(&self) -> Option<&Reading> {
        match self.view {
            View::Draw => self.sketch_reading.as_ref().map(|s| &s.reading),
            View::Pages => self
                .queue
                .selected
                .and_then(|i| self.queue.items.get(i)?.reading.as_ref()),
        }
    }

    /// The error the status bar shows, if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The status bar's last note ("Copied 3 lines", "Cancelled", ...).
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// Puts all (edited) text of the shown reading on the clipboard.
    pub fn copy_all(&mut self) {
        let text = self.results.text();
        if text.is_empty() {
            self.note = Some("Nothing to copy yet.".into());
            return;
        }
        let count = self.results.lines.len();
        self.copy_text(
            &text,
            format!("Copied {count} line{}", if count == 1 { "" } else { "s" }),
        );
    }

    fn copy_text(&mut self, text: &str, done: String) {
        match self.clipboard.set_text(text) {
            Ok(()) => self.note = Some(done),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    // ---- jobs ----

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn start_load(&mut self, source: Source) {
        let ctx = self.ctx.clone();
        self.loader.start(source, move || ctx.request_repaint());
    }

    fn add_page(&mut self, source: String, image: image::RgbImage) {
        let id = self.next_id();
        self.queue.items.push(QueueItem::new(id, source, image));
        self.queue.selected = Some(self.queue.items.len() - 1);
        self.view = View::Pages;
        self.viewer.fit = true;
        if self.settings.auto_read {
            self.read_item(id);
        }
    }

    fn read_item(&mut self, id: u64) {
        let Some(index) = self.queue.index_of(id) else {
            return;
        };
        let item = &mut self.queue.items[index];
        item.state = ItemState::Waiting;
        let page = Page {
            image: item.image.as_ref().clone(),
            source: item.source.clone(),
        };
        self.submit(Target::Item(id), page);
    }

    /// The sketchpad is handwriting by nature: it reads with the chosen recognizer when that
    /// one reads handwriting, else with the first installed one that does (never the
    /// line-by-line `auto`, which would also try print), else the chosen.
    fn recognizer_for(&self, target: &Target) -> String {
        let chosen = &self.settings.recognizer;
        let handwriting = |m: &ModelChoice| m.reads_handwriting() && m.id != AUTO;
        if !matches!(target, Target::Sketch { .. })
            || (self.models.find(ModelKind::Recognizer, chosen)).is_some_and(handwriting)
        {
            return chosen.clone();
        }
        self.models
            .models
            .iter()
            .find(|m| m.kind == ModelKind::Recognizer && m.installed && handwriting(m))
            .map_or_else(|| chosen.clone(), |m| m.id.clone())
    }

    fn submit(&mut self, target: Target, page: Page) {
        if self.settings.recognizer.is_empty() {
            self.error =
                Some("No recognizer is available: choose or install one in Models.".into());
            self.mark_failed(&target, "no recognizer");
            return;
        }
        let job = self.next_id();
        let cancel = CancelToken::new();
        let request = Request::Read(ReadJob {
            job,
            page,
            detector: self.settings.detector.clone(),
            recognizer: self.recognizer_for(&target),
            mode: self.settings.mode.mode(),
            cancel: cancel.clone(),
        });
        if !self.worker.send(request) {
            self.error = Some("The reader stopped working; please restart Inkread.".into());
            self.mark_failed(&target, "reader stopped");
            return;
        }
        self.error = None;
        self.jobs.insert(job, Job { target, cancel });
    }

    fn mark_failed(&mut self, target: &Target, why: &str) {
        if let Target::Item(id) = target
            && let Some(i) = self.queue.index_of(*id)
        {
            self.queue.items[i].state = ItemState::Failed(why.into());
        }
    }

    fn handle_reports(&mut self) {
        for report in self.worker.poll() {
            match report {
                Report::Progress { job, stage } => {
                    if let Some(Job {
                        target: Target::Item(id),
                        ..
                    }) = self.jobs.get(&job)
                        && let Some(i) = self.queue.index_of(*id)
                    {
                        self.queue.items[i].state = ItemState::Reading;
                    }
                    if self.jobs.contains_key(&job) {
                        self.progress = Some((job, stage));
                    }
                }
                Report::Finished { job, outcome } => self.finish(job, outcome),
                Report::InstallProgress { id, progress } => {
                    self.models.installing.insert(id, progress);
                }
                Report::Installed { id, error, models } => {
                    self.models.installing.remove(&id);
                    self.models.models = models;
                    let cancelled = self
                        .install_cancel
                        .remove(&id)
                        .is_some_and(|c| c.is_cancelled());
                    if self.first_handwriting.as_deref() == Some(&id) && !cancelled {
                        self.first_handwriting = None;
                        self.first_handwriting_done(&id, error);
                        continue;
                    }
                    match error {
                        Some(_) if cancelled => {
                            self.note = Some(format!("Stopped installing {id}"))
                        }
                        Some(e) => self.error = Some(format!("Could not install {id}: {e}")),
                        None => self.note = Some(format!("Installed {id}")),
                    }
                }
                Report::Corrections(Ok(count)) => self.learning.corrections = count,
                Report::Corrections(Err(e)) => {
                    self.error = Some(format!("Could not keep the correction: {e}"))
                }
                Report::LearnProgress(progress) => self.learning.progress = Some(progress),
                Report::Learned { result, models } => self.finish_learning(result, models),
                Report::Removed { id, error, models } => {
                    self.models.models = models;
                    match error {
                        Some(e) => self.error = Some(format!("Could not delete {id}: {e}")),
                        None => {
                            self.note = Some(format!("Deleted {id}"));
                            if self.settings.recognizer == id {
                                // Read on with another installed recognizer.
                                self.settings.recognizer = self
                                    .models
                                    .models
                                    .iter()
                                    .find(|m| m.kind == ModelKind::Recognizer && m.installed)
                                    .map_or(String::new(), |m| m.id.clone());
                                self.settings.recognizer_chosen = false;
                            }
                        }
                    }
                }
            }
        }
    }

    fn finish(&mut self, job: u64, outcome: Outcome) {
        if self.progress.as_ref().is_some_and(|(j, _)| *j == job) {
            self.progress = None;
        }
        let Some(Job { target, .. }) = self.jobs.remove(&job) else {
            return;
        };
        match (target, outcome) {
            (
                Target::Sketch {
                    origin,
                    scale,
                    image,
                },
                Outcome::Read(mut reading),
            ) => {
                if let Some(height) = self.sketch.letter_height() {
                    let to_page = |p: [f32; 2]| {
                        egui::Pos2::new(origin.x + p[0] / scale, origin.y + p[1] / scale)
                    };
                    respace_lines(&mut reading.lines, &self.sketch.strokes, height, to_page);
                }
                self.note = Some(lines_found(reading.lines.len(), "the sketch"));
                self.sketch_reading = Some(SketchReading {
                    job,
                    reading,
                    image,
                    origin,
                    scale,
                });
            }
            (Target::Item(id), outcome) => self.finish_item(job, id, outcome),
            (Target::Sketch { .. }, Outcome::Cancelled) => self.note = Some("Cancelled".into()),
            (Target::Sketch { .. }, Outcome::Failed(e)) => {
                self.error = Some(format!("Could not read the sketch: {e}"));
            }
        }
    }

    fn finish_item(&mut self, job: u64, id: u64, outcome: Outcome) {
        let Some(index) = self.queue.index_of(id) else {
            return;
        };
        let item = &mut self.queue.items[index];
        match outcome {
            Outcome::Read(reading) => {
                self.note = Some(lines_found(reading.lines.len(), &item.short_name()));
                // One line a page on the terminal too (packaging/test-deb.sh waits for it).
                eprintln!(
                    "inkread: read {}: {} lines",
                    item.short_name(),
                    reading.lines.len()
                );
                item.reading = Some(reading);
                item.state = ItemState::Done;
                self.item_jobs.insert(id, job);
            }
            Outcome::Cancelled => {
                item.state = ItemState::Cancelled;
                self.note = Some("Cancelled".into());
            }
            Outcome::Failed(e) => {
                self.error = Some(format!("Could not read {}: {e}", item.short_name()));
                eprintln!("inkread: could not read {}: {e}", item.short_name());
                item.state = ItemState::Failed(e);
            }
        }
    }

    fn handle_loads(&mut self) {
        for loaded in self.loader.poll() {
            match loaded.result {
                Ok(pages) => {
                    self.note = None;
                    for (label, image) in pages {
                        self.add_page(label, image);
                    }
                }
                Err(e) => self.error = Some(e.to_string()),
            }
        }
    }

    // ---- input that is not tied to one widget ----

    fn handle_global_input(&mut self, ctx: &egui::Context) {
        // Native drops always carry a path; the file is read on a loader thread.
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        self.open_paths(dropped);

        // Shortcuts belong to a text field while one has focus (its own undo, copy, paste).
        let typing = ctx.text_edit_focused();
        let events = ctx.input(|i| i.events.clone());
        for event in events {
            match event {
                egui::Event::Paste(text) if !typing => {
                    if looks_like_url(&text) {
                        self.url_input = text.trim().to_owned();
                        self.fetch_url(&text);
                    } else {
                        self.note =
                            Some("Paste an image or an image address (http or https).".into());
                    }
                }
                egui::Event::PasteImage(image) => {
                    self.add_page("clipboard".into(), color_image_to_rgb(&image))
                }
                egui::Event::Copy if !typing => self.copy_all(),
                _ => {}
            }
        }
        if typing {
            return;
        }
        let busy = !self.jobs.is_empty();
        let (redo, undo, open, escape) = ctx.input_mut(|i| {
            let redo = i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z)
                || i.consume_key(Modifiers::COMMAND, Key::Y);
            let undo = i.consume_key(Modifiers::COMMAND, Key::Z);
            let open = i.consume_key(Modifiers::COMMAND, Key::O);
            // Escape cancels only while something runs; otherwise it closes popups as usual.
            let escape = busy && i.consume_key(Modifiers::NONE, Key::Escape);
            (redo, undo, open, escape)
        });
        if self.view == View::Draw && (undo || redo) {
            let changed = if redo {
                self.sketch.redo()
            } else {
                self.sketch.undo()
            };
            if changed {
                self.sketch.dirty_since = Some(ctx.input(|i| i.time));
            }
        }
        if open {
            self.open_dialog();
        }
        if escape {
            self.cancel_all();
        }
    }

    fn open_dialog(&mut self) {
        let picked = rfd::FileDialog::new()
            .add_filter("Images", IMAGE_EXTENSIONS)
            .pick_files();
        if let Some(paths) = picked {
            self.open_paths(paths);
        }
    }

    fn save_dialog(&mut self, format: SaveFormat) {
        let Some(reading) = self.shown_reading().map(|r| self.results.edited(r)) else {
            return;
        };
        let stem = std::path::Path::new(&reading.image)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "reading".into());
        let ext = format.extension();
        let picked = rfd::FileDialog::new()
            .set_file_name(format!("{stem}.{ext}"))
            .add_filter(ext.to_uppercase(), &[ext])
            .save_file();
        if let Some(path) = picked {
            match save_reading(&path, &reading, format) {
                Ok(()) => self.note = Some(format!("Saved {}", path.display())),
                Err(e) => self.error = Some(e.to_string()),
            }
        }
    }

    fn save_pdf_dialog(&mut self) {
        let stem = self
            .shown_reading()
            .and_then(|r| {
                let name = r.image.split('#').next().unwrap_or_default();
                Some(
                    std::path::Path::new(name)
                        .file_stem()?
                        .to_string_lossy()
                        .into_owned(),
                )
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "reading".into());
        let picked = rfd::FileDialog::new()
            .set_file_name(format!("{stem}.pdf"))
            .add_filter("PDF", &["pdf"])
            .save_file();
        if let Some(path) = picked {
            self.save_pdf_to(&path);
        }
    }

    /// Writes the read pages (the sketch in the sketchpad view; every read page of the queue,
    /// in its order, in the pages view) as a searchable PDF; the outcome is in the status bar.
    pub fn save_pdf_to(&mut self, path: &std::path::Path) {
        let pages = self.pdf_pages();
        let refs: Vec<PdfPage<'_>> = pages
            .iter()
            .map(|(image, reading)| PdfPage { image, reading })
            .collect();
        let written = searchable_pdf(&refs)
            .map_err(|e| e.to_string())
            .and_then(|bytes| std::fs::write(path, bytes).map_err(|e| e.to_string()));
        match written {
            Ok(()) => {
                let n = pages.len();
                let s = if n == 1 { "" } else { "s" };
                self.note = Some(format!("Saved {n} page{s} to {}", path.display()));
            }
            Err(e) => self.error = Some(format!("cannot save {}: {e}", path.display())),
        }
    }

    /// The images and readings a saved PDF holds; the shown page's text as edited.
    fn pdf_pages(&self) -> Vec<(Arc<image::RgbImage>, Reading)> {
        if self.view == View::Draw {
            return self
                .sketch_reading
                .iter()
                .map(|s| (s.image.clone(), self.results.edited(&s.reading)))
                .collect();
        }
        self.queue
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let reading = item.reading.as_ref()?;
                let reading = match self.queue.selected == Some(i) {
                    true => self.results.edited(reading),
                    false => reading.clone(),
                };
                Some((item.image.clone(), reading))
            })
            .collect()
    }

    fn maybe_live_recognize(&mut self, now: f64) {
        if !self.settings.live_recognize || self.sketch.is_drawing() || self.sketch.is_empty() {
            return;
        }
        let Some(since) = self.sketch.dirty_since else {
            return;
        };
        let pause = self.settings.live_pause_ms as f64 / 1000.0;
        if now - since >= pause {
            self.recognize_sketch();
        } else {
            self.ctx
                .request_repaint_after(std::time::Duration::from_secs_f64(
                    pause - (now - since) + 0.01,
                ));
        }
    }

    // ---- panels ----

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Inkread").heading().strong());
            ui.separator();
            ui.selectable_value(&mut self.view, View::Draw, "Draw");
            let pages = format!("Pages ({})", self.queue.items.len());
            ui.selectable_value(&mut self.view, View::Pages, pages);
            ui.separator();
            if ui
                .button("Open…")
                .on_hover_text("Ctrl+O: PNG, JPEG, WebP, TIFF, BMP, GIF")
                .clicked()
            {
                self.open_dialog();
            }
            if ui.button("Paste image").on_hover_text("Ctrl+V").clicked() {
                self.paste_image_from_clipboard();
            }
            let field = egui::TextEdit::singleline(&mut self.url_input)
                .hint_text("https://… image address")
                .desired_width(260.0);
            let response = ui.add(field);
            let entered = response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            if ui.button("Fetch").clicked() || entered {
                let url = self.url_input.clone();
                self.fetch_url(&url);
            }
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(error) = &self.error {
                ui.label(
                    RichText::new(format!("Error: {error}")).color(Color32::from_rgb(210, 60, 50)),
                );
                if ui.small_button("Dismiss").clicked() {
                    self.error = None;
                }
                ui.separator();
            }
            if !self.jobs.is_empty() {
                ui.spinner();
                let (text, fraction) = match &self.progress {
                    Some((_, stage)) => describe_stage(stage),
                    None => ("Waiting for the reader…".into(), None),
                };
                ui.label(text);
                if let Some(f) = fraction {
                    ui.add(
                        egui::ProgressBar::new(f)
                            .desired_width(160.0)
                            .show_percentage(),
                    );
                }
                if self.jobs.len() > 1 {
                    ui.label(format!("{} jobs", self.jobs.len()));
                }
                if ui.button("Cancel").on_hover_text("Esc").clicked() {
                    self.cancel_all();
                }
            } else if self.loader.pending() > 0 {
                ui.spinner();
                ui.label("Loading image…");
            } else if let Some(note) = &self.note {
                ui.label(RichText::new(note).weak());
            }
        });
    }

    fn side_panel(&mut self, ui: &mut egui::Ui) {
        egui::CollapsingHeader::new("Models")
            .default_open(true)
            .show(ui, |ui| {
                let action = self.models.ui(ui, &mut self.settings);
                match action {
                    Some(ModelsAction::Install(id)) => self.start_install(id),
                    Some(ModelsAction::CancelInstall(id)) => {
                        if let Some(c) = self.install_cancel.get(&id) {
                            c.cancel();
                        }
                    }
                    Some(ModelsAction::Remove(id)) => {
                        self.worker.send(Request::Remove { id });
                    }
                    None => {}
                }
            });
        egui::CollapsingHeader::new("Learn your handwriting")
            .default_open(true)
            .show(ui, |ui| match self.learning.ui(ui) {
                Some(LearningAction::Learn) => self.start_learning(),
                Some(LearningAction::Cancel) => {
                    if let Some(c) = &self.learn_cancel {
                        c.cancel();
                    }
                }
                Some(LearningAction::Use(id)) => {
                    self.settings.recognizer = id.clone();
                    self.settings.recognizer_chosen = true;
                    self.learning.learned = None;
                    self.note = Some(format!("Reading with {id}"));
                }
                None => {}
            });
        egui::CollapsingHeader::new("Settings")
            .default_open(false)
            .show(ui, |ui| self.settings.ui(ui));
        ui.separator();
        ui.label(RichText::new("Pages").strong());
        if self.queue.items.is_empty() {
            ui.label(RichText::new("Drop images or PDFs anywhere in the window.").weak());
        }
        match self.queue.ui(ui) {
            Some(QueueAction::Select(i)) => {
                self.queue.selected = Some(i);
                self.view = View::Pages;
                self.viewer.fit = true;
                self.highlight = Highlight::default();
            }
            Some(QueueAction::Remove(i)) => {
                if let Some(item) = self.queue.remove(i) {
                    self.cancel_item(item.id);
                }
            }
            Some(QueueAction::Reread(i)) => {
                if let Some(id) = self.queue.items.get(i).map(|it| it.id) {
                    self.read_item(id);
                }
            }
            None => {}
        }
    }

    fn cancel_item(&mut self, id: u64) {
        for job in self.jobs.values() {
            if matches!(job.target, Target::Item(j) if j == id) {
                job.cancel.cancel();
            }
        }
    }

    fn results_panel(&mut self, ui: &mut egui::Ui) {
        let key = match self.view {
            View::Draw => self.sketch_reading.as_ref().map(|s| s.job),
            View::Pages => self
                .queue
                .selected
                .and_then(|i| self.queue.items.get(i))
                .and_then(|it| self.item_jobs.get(&it.id).copied()),
        };
        let reading = self.shown_reading().cloned();
        if self
            .results
            .show_reading(key.unwrap_or(0), reading.as_ref())
        {
            // Line numbers of the old reading mean nothing in the new one.
            self.highlight = Highlight::default();
        }
        let busy = !self.jobs.is_empty();
        match self.results.ui(ui, &mut self.highlight, busy) {
            Some(ResultsAction::CopyAll) => self.copy_all(),
            Some(ResultsAction::CopyLine(i)) => {
                if let Some(text) = self.results.lines.get(i).cloned() {
                    self.copy_text(&text, format!("Copied line {}", i + 1));
                }
            }
            Some(ResultsAction::Save(format)) => self.save_dialog(format),
            Some(ResultsAction::SavePdf) => self.save_pdf_dialog(),
            Some(ResultsAction::Corrected(i)) => self.keep_correction(i),
            None => {}
        }
    }

    /// Sends the corrected line's image and text to be kept for learning.
    fn keep_correction(&mut self, i: usize) {
        let image = match self.view {
            View::Draw => self.sketch_reading.as_ref().map(|s| s.image.clone()),
            View::Pages => self
                .queue
                .selected
                .and_then(|s| self.queue.items.get(s))
                .map(|it| it.image.clone()),
        };
        let (Some(image), Some(line), Some(text)) = (
            image,
            self.shown_reading().and_then(|r| r.lines.get(i)),
            self.results.lines.get(i),
        ) else {
            return;
        };
        let crop = crate::pipeline::lines::crop_line(&image, &line.polygon);
        self.worker.send(Request::Correct {
            line: crop,
            text: text.clone(),
        });
    }

    /// Trains a personal model from the corrections, starting from the recognizer in use.
    pub fn start_learning(&mut self) {
        if self.learning.is_running() {
            return;
        }
        let cancel = CancelToken::new();
        let request = Request::Learn {
            base: self.settings.recognizer.clone(),
            cancel: cancel.clone(),
        };
        if self.worker.send(request) {
            self.learn_cancel = Some(cancel);
            self.learning.learned = None;
            self.learning.progress = Some(super::worker::LearnProgress {
                message: "Waiting for the reader…".into(),
                fraction: None,
            });
        }
    }

    fn finish_learning(&mut self, result: Result<Learned, String>, models: Vec<ModelChoice>) {
        self.learning.progress = None;
        self.learn_cancel = None;
        self.models.models = models;
        match result {
            Ok(learned) => {
                self.note = Some(format!("Learned {} from your corrections", learned.id));
                self.learning.learned = Some(learned);
            }
            Err(e) if e.is_empty() => self.note = Some("Stopped learning".into()),
            Err(e) => self.error = Some(format!("Could not learn from the corrections: {e}")),
        }
    }

    fn draw_view(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.selectable_value(&mut self.sketch.tool, Tool::Pen, "Pen");
            ui.selectable_value(&mut self.sketch.tool, Tool::Eraser, "Eraser");
            ui.add(egui::Slider::new(&mut self.settings.pen_width, 1.0..=16.0).text("width"));
            self.sketch.pen_width = self.settings.pen_width;
            ui.separator();
            let now = ui.input(|i| i.time);
            if ui
                .add_enabled(self.sketch.can_undo(), egui::Button::new("Undo"))
                .on_hover_text("Ctrl+Z")
                .clicked()
                && self.sketch.undo()
            {
                self.sketch.dirty_since = Some(now);
            }
            if ui
                .add_enabled(self.sketch.can_redo(), egui::Button::new("Redo"))
                .on_hover_text("Ctrl+Shift+Z")
                .clicked()
                && self.sketch.redo()
            {
                self.sketch.dirty_since = Some(now);
            }
            if ui
                .add_enabled(!self.sketch.is_empty(), egui::Button::new("Clear"))
                .clicked()
            {
                self.sketch.clear();
                self.sketch_reading = None;
            }
            ui.separator();
            let recognize = egui::Button::new(RichText::new("Recognize").strong());
            if ui.add_enabled(!self.sketch.is_empty(), recognize).clicked() {
                self.recognize_sketch();
            }
            ui.checkbox(&mut self.settings.live_recognize, "Live");
            let read = self.sketch_reading.is_some();
            if ui
                .add_enabled(read, egui::Button::new("Copy text"))
                .on_hover_text("Copy the recognized text (Ctrl+C)")
                .clicked()
            {
                self.copy_all();
            }
        });
        ui.add_space(4.0);
        let now = ui.input(|i| i.time);
        let pointer = ui.ctx().pointer_hover_pos();
        let highlight = self.highlight;
        let colours = self.confidence();
        let show_text = self.settings.show_text_on_regions;
        let sketch_reading = self.sketch_reading.as_ref();
        let mut hovered = None;
        egui::ScrollArea::vertical()
            .id_salt("sketch")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                self.sketch.ui(ui, now, |painter, to_screen| {
                    if let Some(s) = sketch_reading {
                        let map = |p: [f32; 2]| {
                            to_screen(egui::Pos2::new(
                                s.origin.x + p[0] / s.scale,
                                s.origin.y + p[1] / s.scale,
                            ))
                        };
                        // Below the writing, not over it: the strokes stay in view.
                        let labels = match show_text {
                            true => Labels::Below,
                            false => Labels::Hidden,
                        };
                        hovered = paint_regions(
                            painter, &s.reading, &map, pointer, highlight, colours, labels,
                        );
                    }
                });
            });
        if pointer.is_some_and(|p| self.sketch.last_rect.is_some_and(|r| r.contains(p))) {
            self.highlight.hovered = hovered;
        }
    }

    fn pages_view(&mut self, ui: &mut egui::Ui) {
        let colours = self.confidence();
        let highlight = self.highlight;
        let Some(index) = self.queue.selected.filter(|i| *i < self.queue.items.len()) else {
            ui.centered_and_justified(|ui| {
                ui.label(
                    RichText::new(
                        "Drop images or PDFs here, press Ctrl+V to paste one, or use Open…",
                    )
                    .size(18.0)
                    .weak(),
                );
            });
            return;
        };
        self.viewer
            .toolbar(ui, &mut self.settings.show_text_on_regions);
        let show_text = self.settings.show_text_on_regions;
        let ctx = ui.ctx().clone();
        let item = &mut self.queue.items[index];
        let size = [item.image.width(), item.image.height()];
        let texture = item.texture(&ctx).clone();
        let events = self.viewer.ui(
            ui,
            &texture,
            size,
            item.reading.as_ref(),
            highlight,
            colours,
            show_text,
        );
        if ui.ui_contains_pointer() {
            self.highlight.hovered = events.hovered;
        }
        if let Some(clicked) = events.clicked {
            self.highlight.selected = clicked;
        }
    }

    fn confidence(&self) -> Confidence {
        Confidence {
            low: self.settings.low_confidence,
            high: self.settings.high_confidence,
        }
    }

    fn drop_overlay(&self, ctx: &egui::Context) {
        let hovering = ctx.input(|i| !i.raw.hovered_files.is_empty());
        if !hovering {
            return;
        }
        let layer = egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("drop-overlay"));
        let painter = ctx.layer_painter(layer);
        let rect = ctx.content_rect();
        painter.rect_filled(rect, 0.0, Color32::from_black_alpha(150));
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "Drop to read",
            egui::FontId::proportional(32.0),
            Color32::WHITE,
        );
    }

    fn apply_theme(&mut self, ctx: &egui::Context) {
        if self.applied_theme != Some(self.settings.theme) {
            ctx.set_theme(self.settings.theme.preference());
            self.applied_theme = Some(self.settings.theme);
        }
    }
}

impl eframe::App for InkreadApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.apply_theme(&ctx);
        self.handle_reports();
        self.handle_loads();
        self.handle_global_input(&ctx);

        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("side")
            .resizable(true)
            .default_size(280.0)
            .show(ui, |ui| self.side_panel(ui));
        egui::Panel::right("results")
            .resizable(true)
            .default_size(340.0)
            .show(ui, |ui| self.results_panel(ui));
        egui::CentralPanel::default().show(ui, |ui| match self.view {
            View::Draw => self.draw_view(ui),
            View::Pages => self.pages_view(ui),
        });
        self.drop_overlay(&ctx);
        let now = ctx.input(|i| i.time);
        self.maybe_live_recognize(now);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.settings);
    }
}

/// The status line after a reading; "0 lines" would read like a failure of the app.
fn lines_found(count: usize, source: &str) -> String {
    match count {
        0 => format!("No text found in {source}"),
        1 => format!("Read 1 line from {source}"),
        n => format!("Read {n} lines from {source}"),
    }
}

fn color_image_to_rgb(image: &egui::ColorImage) -> image::RgbImage {
    let [w, h] = image.size;
    let mut out = image::RgbImage::new(w as u32, h as u32);
    for (dst, src) in out.pixels_mut().zip(&image.pixels) {
        let [r, g, b, a] = src.to_srgba_unmultiplied();
        let a = a as u32;
        let over = |c: u8| ((c as u32 * a + 255 * (255 - a)) / 255) as u8;
        dst.0 = [over(r), over(g), over(b)];
    }
    out
}
