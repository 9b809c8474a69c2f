//! The worker thread that owns the models. The UI sends it requests and reads its reports;
//! it never blocks on the worker, and every job can be cancelled.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;

pub use super::read_ahead::Outcome;
use super::read_ahead::{self, JobEvent, Progress, ReadJob, panic_message};
use crate::cancel::CancelToken;
use crate::pipeline::{Pipeline, Stage};

/// Whether a model reads lines or finds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    Recognizer,
    Detector,
}

/// One model the user can pick in the models panel.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelChoice {
    pub id: String,
    /// What the user reads in the list, e.g. "TrOCR base (handwritten)".
    pub name: String,
    pub kind: ModelKind,
    pub installed: bool,
    /// Download size, when known, for the install button.
    pub size_bytes: Option<u64>,
    /// Trained on this machine (can be deleted from the app).
    pub personal: bool,
    /// What it was made for ("handwriting", "print", ...; empty when unknown).
    pub reads: String,
    /// Where it comes from and under which licence, for the user.
    pub source: String,
    pub licence: String,
    /// Why a personal model's folder cannot be used (a file missing or cut short).
    pub damaged: Option<String>,
}

impl ModelChoice {
    pub fn reads_handwriting(&self) -> bool {
        self.reads.contains("handwriting")
    }
}

/// The recognizer and detector a first start selects, by catalog id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefaultChoice {
    pub recognizer: Option<String>,
    pub detector: Option<String>,
    /// A handwriting recognizer a first start downloads when none is installed.
    pub handwriting: Option<String>,
}

/// Progress of a model download, as the installer reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct InstallProgress {
    pub done_bytes: u64,
    pub total_bytes: Option<u64>,
    pub message: String,
}

impl InstallProgress {
    /// Fraction done in 0..=1, when the total is known.
    pub fn fraction(&self) -> Option<f32> {
        self.total_bytes
            .filter(|t| *t > 0)
            .map(|t| (self.done_bytes as f64 / t as f64).clamp(0.0, 1.0) as f32)
    }
}

/// How far "Learn from my corrections" is.
#[derive(Clone, Debug, PartialEq)]
pub struct LearnProgress {
    pub message: String,
    pub fraction: Option<f32>,
}

/// A personal model made from the user's corrections.
#[derive(Clone, Debug, PartialEq)]
pub struct Learned {
    pub id: String,
    pub name: String,
    /// Character error rate on the corrected lines after training.
    pub cer: Option<f64>,
}

/// Where the app gets its models from. The product wires this to the model catalog and
/// installer; tests wire it to small fake models. It lives on the worker thread.
pub trait PipelineFactory: Send {
    /// Loads (or reuses) the networks for this choice. Report `Stage::Loading` while loading.
    fn build(
        &mut self,
        detector_id: Option<&str>,
        recognizer_id: &str,
        progress: &mut dyn FnMut(Stage),
    ) -> anyhow::Result<Pipeline>;

    /// Every model the user may choose, installed or not.
    fn models(&self) -> Vec<ModelChoice>;

    /// The device the networks run on, e.g. "NVIDIA RTX 3060 (wgpu)" or "CPU".
    fn device_name(&self) -> String;

    /// The models a first start should select (the installer's choice). `None` leaves it
    /// to the app: the first installed recognizer, the first detector.
    fn default_models(&self) -> DefaultChoice {
        DefaultChoice::default()
    }

    /// Downloads a model that is not installed yet. The default has nothing to install.
    fn install(
        &mut self,
        id: &str,
        progress: &mut dyn FnMut(InstallProgress),
        cancel: &CancelToken,
    ) -> anyhow::Result<()> {
        let _ = (id, progress, cancel);
        Ok(())
    }

    /// Keeps a line the user corrected (its image and the right text) for learning;
    /// returns how many corrections there are now.
    fn record_correction(&mut self, line: &image::RgbImage, text: &str) -> anyhow::Result<usize> {
        let _ = (line, text);
        anyhow::bail!("this build cannot keep corrections")
    }

    /// How many corrections are kept.
    fn corrections(&self) -> usize {
        0
    }

    /// Trains a personal recognizer on the corrections, starting from `base`.
    fn learn(
        &mut self,
        base: &str,
        progress: &mut dyn FnMut(LearnProgress),
        cancel: &CancelToken,
    ) -> anyhow::Result<Learned> {
        let _ = (base, progress, cancel);
        anyhow::bail!("this build cannot learn from corrections")
    }

    /// Deletes a personal model.
    fn remove(&mut self, id: &str) -> anyhow::Result<()> {
        anyhow::bail!("{id} cannot be removed here")
    }

    /// A second factory for long jobs (installs, learning, corrections, removals) on a
    /// thread of their own, so that a read never waits behind a download or a training run.
    /// `None` (the default) runs everything on the reading thread.
    fn background(&self) -> Option<Box<dyn PipelineFactory>> {
        None
    }
}

impl Request {
    /// Whether this request belongs on the background thread when there is one.
    fn is_long_job(&self) -> bool {
        !matches!(self, Request::Read(_))
    }
}

/// What the UI asks the worker to do.
pub enum Request {
    Read(ReadJob),
    Install {
        id: String,
        cancel: CancelToken,
    },
    /// Keep this corrected line for learning.
    Correct {
        line: image::RgbImage,
        text: String,
    },
    Learn {
        base: String,
        cancel: CancelToken,
    },
    Remove {
        id: String,
    },
}

/// What the worker tells the UI.
#[derive(Debug)]
pub enum Report {
    Progress {
        job: u64,
        stage: Stage,
    },
    Finished {
        job: u64,
        outcome: Outcome,
    },
    InstallProgress {
        id: String,
        progress: InstallProgress,
    },
    Installed {
        id: String,
        error: Option<String>,
        models: Vec<ModelChoice>,
    },
    /// How many corrections are kept (after one was recorded, or at start).
    Corrections(Result<usize, String>),
    LearnProgress(LearnProgress),
    /// Learning ended: the new model, or why not (`Err("")` when cancelled).
    Learned {
        result: Result<Learned, String>,
        models: Vec<ModelChoice>,
    },
    /// A model was removed (or could not be).
    Removed {
        id: String,
        error: Option<String>,
        models: Vec<ModelChoice>,
    },
}

/// The UI's handle on the worker thread. Dropping it ends the thread once its job is done.
pub struct Worker {
    requests: Option<Sender<Request>>,
    /// Long jobs' queue, when the factory has a background twin.
    background: Option<Sender<Request>>,
    reports: Receiver<Report>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread. `wake` is called after every report (the app passes
    /// `ctx.request_repaint`) so the UI repaints while a job runs.
    pub fn spawn(factory: Box<dyn PipelineFactory>, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        let (report_tx, report_rx) = channel();
        let background = factory.background().and_then(|twin| {
            let (tx, rx) = channel();
            let (reports, wake) = (report_tx.clone(), wake.clone());
            std::thread::Builder::new()
                .name("inkread-background".into())
                .spawn(move || WorkerLoop::new(twin, reports, wake).run(rx))
                .ok()
                .map(|_| tx)
        });
        let (request_tx, request_rx) = channel();
        let thread = std::thread::Builder::new()
            .name("inkread-worker".into())
            .spawn(move || WorkerLoop::new(factory, report_tx, wake).run(request_rx))
            .ok();
        Self {
            requests: Some(request_tx),
            background,
            reports: report_rx,
            thread,
        }
    }

    /// Queues a request; returns false when the thread it belongs to is gone.
    pub fn send(&self, request: Request) -> bool {
        let queue = match &self.background {
            Some(tx) if request.is_long_job() => Some(tx),
            _ => self.requests.as_ref(),
        };
        queue.is_some_and(|tx| tx.send(request).is_ok())
    }

    /// Reports that arrived since the last call, without blocking.
    pub fn poll(&self) -> Vec<Report> {
        let mut out = Vec::new();
        loop {
            match self.reports.try_recv() {
                Ok(r) => out.push(r),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return out,
            }
        }
    }

    pub fn is_alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channels ends the loops; we don't join, a long job must not hang the exit.
        self.requests.take();
        self.background.take();
    }
}

/// The worker side: keeps the last pipeline so repeated reads don't reload the networks.
struct WorkerLoop {
    factory: Box<dyn PipelineFactory>,
    cached: Option<(Option<String>, String, Pipeline)>,
    reports: Sender<Report>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl WorkerLoop {
    fn new(
        factory: Box<dyn PipelineFactory>,
        reports: Sender<Report>,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        Self {
            factory,
            cached: None,
            reports,
            wake,
        }
    }

    fn run(mut self, requests: Receiver<Request>) {
        self.report(Report::Corrections(Ok(self.factory.corrections())));
        let mut taken: Option<Request> = None;
        let next = |taken: &mut Option<Request>| {
            taken.take().or_else(|| {
                // Idle until the next request: the last job's freed memory goes back.
                crate::memory::give_back_freed_memory();
                requests.recv().ok()
            })
        };
        while let Some(request) = next(&mut taken) {
            match request {
                Request::Read(job) => taken = self.read_queued(job, &requests),
                Request::Install { id, cancel } => self.install(id, &cancel),
                Request::Correct { line, text } => {
                    let count = self
                        .factory
                        .record_correction(&line, &text)
                        .map_err(|e| format!("{e:#}"));
                    self.report(Report::Corrections(count));
                }
                Request::Learn { base, cancel } => self.learn(&base, &cancel),
                Request::Remove { id } => {
                    // A pipeline holding the removed model must not be reused.
                    self.cached = None;
                    let error = self.factory.remove(&id).err().map(|e| format!("{e:#}"));
                    let models = self.factory.models();
                    self.report(Report::Removed { id, error, models });
                }
            }
        }
    }

    fn report(&self, report: Report) {
        let _ = self.reports.send(report);
        (self.wake)();
    }

    /// Reads `first` and the reads queued behind it with the same models, each page's lines
    /// found while the page before is recognized ([`read_ahead`]). Returns the first other
    /// request it took from the queue, for the loop to handle next.
    fn read_queued(&mut self, first: ReadJob, requests: &Receiver<Request>) -> Option<Request> {
        let progress = self.progress();
        let pipeline = match self.pipeline_for(&first, &progress) {
            Ok(pipeline) => pipeline,
            Err(outcome) => {
                progress.finish(first.job, outcome);
                return None;
            }
        };
        let mut found = read_ahead::detect(pipeline.detector.as_deref_mut(), &first, &progress);
        let mut current = first;
        let other = loop {
            // After a crash the pipeline is dropped: the queue waits for a fresh one.
            let taken = if progress.crashed() {
                None
            } else {
                requests.try_recv().ok()
            };
            let next = match taken {
                Some(Request::Read(next)) if next.same_models(&current) => next,
                other => {
                    let recognizer = pipeline.recognizer.as_mut();
                    let outcome = read_ahead::recognize(recognizer, &current, found, &progress);
                    progress.finish(current.job, outcome);
                    break other;
                }
            };
            let (outcome, found_next) = read_ahead::recognize_while_detecting(
                pipeline,
                (&current, found),
                &next,
                &progress,
            );
            progress.finish(current.job, outcome);
            (current, found) = (next, found_next);
        };
        if progress.crashed() {
            self.cached = None;
        }
        other
    }

    /// Where reading jobs report, as the UI expects it.
    fn progress(&self) -> Progress {
        let (reports, wake) = (self.reports.clone(), self.wake.clone());
        Progress::new(move |job, event| {
            let _ = reports.send(match event {
                JobEvent::Stage(stage) => Report::Progress { job, stage },
                JobEvent::Finished(outcome) => Report::Finished { job, outcome },
            });
            wake();
        })
    }

    /// The pipeline `job` reads with: the last one when its models are the same, else a new
    /// one. A failure to build it is the job's outcome.
    fn pipeline_for(
        &mut self,
        job: &ReadJob,
        progress: &Progress,
    ) -> Result<&mut Pipeline, Outcome> {
        if job.cancel.is_cancelled() {
            return Err(Outcome::Cancelled);
        }
        let reuse =
            matches!(&self.cached, Some((d, r, _)) if *d == job.detector && *r == job.recognizer);
        if !reuse {
            self.cached = None;
            let mut on_stage = |stage| progress.stage(job.job, stage);
            let built = catch_unwind(AssertUnwindSafe(|| {
                self.factory
                    .build(job.detector.as_deref(), &job.recognizer, &mut on_stage)
            }));
            let pipeline = match built {
                Ok(Ok(pipeline)) => pipeline,
                Ok(Err(e)) => return Err(progress.failed(e, &job.cancel)),
                Err(panic) => return Err(progress.crash(&panic)),
            };
            self.cached = Some((job.detector.clone(), job.recognizer.clone(), pipeline));
        }
        match self.cached.as_mut() {
            Some((_, _, pipeline)) => Ok(pipeline),
            None => Err(Outcome::Failed("no pipeline loaded".into())),
        }
    }

    fn install(&mut self, id: String, cancel: &CancelToken) {
        let reports = self.reports.clone();
        let wake = &self.wake;
        let progress_id = id.clone();
        let mut on_progress = |progress: InstallProgress| {
            let _ = reports.send(Report::InstallProgress {
                id: progress_id.clone(),
                progress,
            });
            wake();
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.factory.install(&id, &mut on_progress, cancel)
        }));
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(panic) => Some(format!("the installer crashed: {}", panic_message(&panic))),
        };
        let models = self.factory.models();
        self.report(Report::Installed { id, error, models });
    }
}

impl WorkerLoop {
    fn learn(&mut self, base: &str, cancel: &CancelToken) {
        let reports = self.reports.clone();
        let wake = &self.wake;
        let mut on_progress = |progress: LearnProgress| {
            let _ = reports.send(Report::LearnProgress(progress));
            wake();
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.factory.learn(base, &mut on_progress, cancel)
        }));
        let result = match result {
            Ok(Ok(learned)) => Ok(learned),
            Ok(Err(_)) if cancel.is_cancelled() => Err(String::new()),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(panic) => Err(format!("training crashed: {}", panic_message(&panic))),
        };
        let models = self.factory.models();
        self.report(Report::Learned { result, models });
    }
}

/// Turns a stage into the words the status bar shows, and a fraction for its bar.
pub fn describe_stage(stage: &Stage) -> (String, Option<f32>) {
    match stage {
        Stage::Loading { what } => (format!("Loading {what}…"), None),
        Stage::Detecting => ("Finding text lines…".into(), None),
        Stage::Recognizing { done, total } => (
            format!(
                "Reading line {} of {total}…",
                (*done + 1).min(*total).max(1)
            ),
            Some(if *total == 0 {
                0.0
            } else {
                *done as f32 / *total as f32
            }),
        ),
        Stage::Done => ("Done".into(), Some(1.0)),
    }
}

#[cfg(test)]
mod tests;
