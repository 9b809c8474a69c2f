//! Reading queued pages two at a time: while one page's lines are recognized, the lines of
//! the page queued behind it are found on a second thread. The detector and the recognizer
//! are separate networks, so each works while the other does (the CLI does the same with
//! `pipeline::overlap`). Pages still finish in the order they were queued.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cancel::CancelToken;
use crate::pipeline::{Detected, Detector, Mode, Pipeline, Recognizer, Stage};
use crate::pipeline::{detect_page, recognize_page};
use crate::reading::{Page, Reading};

/// One page to read, as the UI asked for it.
pub struct ReadJob {
    pub job: u64,
    pub page: Page,
    pub detector: Option<String>,
    pub recognizer: String,
    pub mode: Mode,
    pub cancel: CancelToken,
}

impl ReadJob {
    /// Whether `other` reads with the same networks (and can share this job's pipeline).
    pub fn same_models(&self, other: &ReadJob) -> bool {
        self.detector == other.detector && self.recognizer == other.recognizer
    }
}

/// How a reading job ended.
#[derive(Debug)]
pub enum Outcome {
    Read(Reading),
    Cancelled,
    Failed(String),
}

/// What a job tells the UI on its way.
pub enum JobEvent {
    Stage(Stage),
    Finished(Outcome),
}

/// A page's lines found, or how its job already ended (failed, cancelled).
pub type Found = Result<Detected, Outcome>;

/// Where jobs' progress and ends go, from either thread; remembers whether a model crashed
/// (the pipeline must then not be used again).
pub struct Progress {
    send: Box<dyn Fn(u64, JobEvent) + Send + Sync>,
    crashed: AtomicBool,
}

impl Progress {
    pub fn new(send: impl Fn(u64, JobEvent) + Send + Sync + 'static) -> Self {
        Self {
            send: Box::new(send),
            crashed: AtomicBool::new(false),
        }
    }

    pub fn stage(&self, job: u64, stage: Stage) {
        (self.send)(job, JobEvent::Stage(stage));
    }

    pub fn finish(&self, job: u64, outcome: Outcome) {
        (self.send)(job, JobEvent::Finished(outcome));
    }

    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::Relaxed)
    }

    /// What a model's panic becomes: a failed job, and a pipeline not to reuse.
    pub fn crash(&self, panic: &Box<dyn std::any::Any + Send>) -> Outcome {
        self.crashed.store(true, Ordering::Relaxed);
        Outcome::Failed(format!("the model crashed: {}", panic_message(panic)))
    }

    /// What an error becomes: cancelled when the user asked for it, else failed.
    pub fn failed(&self, error: anyhow::Error, cancel: &CancelToken) -> Outcome {
        if cancel.is_cancelled() {
            Outcome::Cancelled
        } else {
            Outcome::Failed(format!("{error:#}"))
        }
    }
}

/// Finds `job`'s lines.
pub fn detect(
    detector: Option<&mut (dyn Detector + 'static)>,
    job: &ReadJob,
    progress: &Progress,
) -> Found {
    if job.cancel.is_cancelled() {
        return Err(Outcome::Cancelled);
    }
    let mut on_stage = |stage| progress.stage(job.job, stage);
    match catch_unwind(AssertUnwindSafe(|| {
        detect_page(detector, &job.page, job.mode, &job.cancel, &mut on_stage)
    })) {
        Ok(Ok(detected)) => Ok(detected),
        Ok(Err(e)) => Err(progress.failed(e.into(), &job.cancel)),
        Err(panic) => Err(progress.crash(&panic)),
    }
}

/// Reads `job`'s found lines.
pub fn recognize(
    recognizer: &mut dyn Recognizer,
    job: &ReadJob,
    found: Found,
    progress: &Progress,
) -> Outcome {
    let detected = match found {
        Ok(detected) if !job.cancel.is_cancelled() => detected,
        Ok(_) => return Outcome::Cancelled,
        Err(outcome) => return outcome,
    };
    let mut on_stage = |stage| progress.stage(job.job, stage);
    match catch_unwind(AssertUnwindSafe(|| {
        recognize_page(recognizer, &job.page, detected, &job.cancel, &mut on_stage)
    })) {
        Ok(Ok(reading)) => Outcome::Read(reading),
        Ok(Err(e)) => progress.failed(e.into(), &job.cancel),
        Err(panic) => progress.crash(&panic),
    }
}

/// Reads `current` while `next`'s lines are found on a second thread.
pub fn recognize_while_detecting(
    pipeline: &mut Pipeline,
    (current, found): (&ReadJob, Found),
    next: &ReadJob,
    progress: &Progress,
) -> (Outcome, Found) {
    let Pipeline {
        detector,
        recognizer,
    } = pipeline;
    std::thread::scope(|scope| {
        let finder = scope.spawn(|| detect(detector.as_deref_mut(), next, progress));
        let outcome = recognize(recognizer.as_mut(), current, found, progress);
        // `detect` catches the model's panics; a join error would be one of ours.
        let found_next = finder
            .join()
            .unwrap_or_else(|panic| Err(progress.crash(&panic)));
        (outcome, found_next)
    })
}

/// The message a panic carried, for the user.
pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
