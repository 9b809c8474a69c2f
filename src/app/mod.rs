//! The desktop app (eframe + wgpu): a sketchpad and an image viewer on the left of the
//! text they contain. This is the only module that knows egui. The models live on a
//! worker thread ([`worker`]); images load on loader threads ([`inputs`]).

use eframe::egui;

pub mod catalog_factory;
pub mod clipboard;
pub mod inputs;
pub mod learning;
pub mod models_panel;
pub mod queue;
pub mod read_ahead;
pub mod results;
pub mod settings;
pub mod sketch_words;
pub mod sketchpad;
pub mod stroke;
pub mod url_fetch;
pub mod viewer;
pub mod worker;

mod main_window;

pub use clipboard::{Clipboard, ClipboardError, MemoryClipboard, SystemClipboard};
pub use main_window::{InkreadApp, View};
pub use worker::{DefaultChoice, InstallProgress, ModelChoice, ModelKind, PipelineFactory};

use crate::pipeline::{Pipeline, Stage};

/// The window title (and the name eframe stores settings under).
pub const APP_NAME: &str = "Inkread";

/// Opens the app with the models this build has. Blocks until the window closes.
pub fn run() -> anyhow::Result<()> {
    run_with(Box::new(UnwiredFactory))
}

/// Opens the app with the given source of models.
pub fn run_with(factory: Box<dyn PipelineFactory>) -> anyhow::Result<()> {
    run_opening(factory, Vec::new())
}

/// Opens the app with the given source of models and these image files queued.
pub fn run_opening(
    factory: Box<dyn PipelineFactory>,
    images: Vec<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title(APP_NAME)
        .with_app_id("io.github.inkread.Inkread")
        .with_inner_size([1280.0, 820.0])
        .with_min_inner_size([720.0, 480.0])
        .with_drag_and_drop(true);
    if let Some(icon) = app_icon() {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    eframe::run_native(
        APP_NAME,
        options,
        Box::new(move |cc| {
            let clipboard = Box::new(SystemClipboard::default());
            let mut app = InkreadApp::new(cc, factory, clipboard);
            app.open_paths(images);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window could not open: {e}"))
}

/// The window icon, drawn by `assets/make_icon.py`.
fn app_icon() -> Option<egui::IconData> {
    let bytes = include_bytes!("../../assets/icon-256.png");
    let image = image::load_from_memory(bytes).ok()?.to_rgba8();
    let (width, height) = image.dimensions();
    Some(egui::IconData {
        rgba: image.into_raw(),
        width,
        height,
    })
}

/// Stands in until the model catalog is wired in: lists nothing and says so when asked to read.
pub struct UnwiredFactory;

impl PipelineFactory for UnwiredFactory {
    fn build(
        &mut self,
        _detector_id: Option<&str>,
        _recognizer_id: &str,
        _progress: &mut dyn FnMut(Stage),
    ) -> anyhow::Result<Pipeline> {
        anyhow::bail!("this build of Inkread has no models wired in")
    }

    fn models(&self) -> Vec<ModelChoice> {
        Vec::new()
    }

    fn device_name(&self) -> String {
        "CPU".into()
    }
}
