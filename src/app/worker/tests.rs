//! The worker reads queued pages in order, the next page's lines found while the page
//! before is recognized. Fake networks that wait for each other show the overlap without
//! measuring any time (the waits' timeouts only keep a broken build from hanging).

use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use image::RgbImage;

use super::*;
use crate::pipeline::{Detector, Mode, Recognizer};
use crate::reading::{LineText, Page, Region};

const WAIT: Duration = Duration::from_secs(10);

/// Finds one line across the page; says which page (by width) it started on, and waits for
/// the test's go-ahead on the first page so that the rest of the queue is in place.
struct SignallingDetector {
    started: Sender<u32>,
    go: Receiver<()>,
}

impl Detector for SignallingDetector {
    fn name(&self) -> &str {
        "signalling"
    }

    fn detect(&mut self, page: &RgbImage, _: &CancelToken) -> crate::Result<Vec<Region>> {
        let width = page.width();
        let _ = self.started.send(width);
        if width == 100 {
            let _ = self.go.recv_timeout(WAIT);
        }
        let w = width as f32 - 10.0;
        Ok(vec![Region {
            polygon: vec![[10.0, 10.0], [w, 10.0], [w, 30.0], [10.0, 30.0]],
            score: 1.0,
        }])
    }
}

/// Reads the first page's line only once the second page's detection has begun, and says
/// whether it did ("overlapped") or gave up waiting ("alone").
struct WaitingRecognizer {
    detections: Receiver<u32>,
}

impl Recognizer for WaitingRecognizer {
    fn name(&self) -> &str {
        "waiting"
    }

    fn recognize(
        &mut self,
        lines: &[RgbImage],
        _: &CancelToken,
        _: &mut dyn FnMut(usize),
    ) -> crate::Result<Vec<LineText>> {
        let first_page = lines.first().is_some_and(|l| l.width() < 150);
        let text = if !first_page {
            "second page".to_string()
        } else {
            let deadline = Instant::now() + WAIT;
            let mut overlapped = false;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if self.detections.recv_timeout(left) == Ok(200) {
                    overlapped = true;
                    break;
                }
            }
            if overlapped { "overlapped" } else { "alone" }.to_string()
        };
        Ok(lines
            .iter()
            .map(|_| LineText {
                text: text.clone(),
                confidence: 1.0,
                words: vec![],
            })
            .collect())
    }
}

/// Builds the two networks above for recognizer "waiting"; any other is not installed.
struct Factory {
    parts: Option<(SignallingDetector, WaitingRecognizer)>,
}

impl PipelineFactory for Factory {
    fn build(
        &mut self,
        _: Option<&str>,
        recognizer: &str,
        _: &mut dyn FnMut(Stage),
    ) -> anyhow::Result<Pipeline> {
        if recognizer != "waiting" {
            anyhow::bail!("model {recognizer} is not installed");
        }
        let (detector, recognizer) = self.parts.take().context("built twice")?;
        Ok(Pipeline {
            detector: Some(Box::new(detector)),
            recognizer: Box::new(recognizer),
        })
    }

    fn models(&self) -> Vec<ModelChoice> {
        vec![]
    }

    fn device_name(&self) -> String {
        "test".into()
    }
}

fn read(job: u64, width: u32, recognizer: &str) -> Request {
    Request::Read(ReadJob {
        job,
        page: Page {
            image: RgbImage::from_pixel(width, 40, image::Rgb([255, 255, 255])),
            source: format!("page {job}"),
        },
        detector: Some("signalling".into()),
        recognizer: recognizer.into(),
        mode: Mode::Page,
        cancel: CancelToken::new(),
    })
}

/// Every job's outcome, in the order the jobs finished.
fn finished(worker: &Worker, jobs: usize) -> Vec<(u64, Outcome)> {
    let deadline = Instant::now() + 3 * WAIT;
    let mut out = Vec::new();
    while out.len() < jobs && Instant::now() < deadline {
        for report in worker.poll() {
            if let Report::Finished { job, outcome } = report {
                out.push((job, outcome));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    out
}

fn text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Read(reading) => reading.text(),
        other => format!("{other:?}"),
    }
}

#[test]
fn the_next_page_is_detected_while_a_page_is_recognized_and_pages_finish_in_order() {
    let (started, detections) = channel();
    let (go, gate) = channel();
    let factory = Factory {
        parts: Some((
            SignallingDetector { started, go: gate },
            WaitingRecognizer { detections },
        )),
    };
    let worker = Worker::spawn(Box::new(factory), Arc::new(|| {}));
    assert!(worker.send(read(1, 100, "waiting")));
    assert!(worker.send(read(2, 200, "waiting")));
    // Another model behind them: read after them, with its own (failing) pipeline.
    assert!(worker.send(read(3, 100, "missing")));
    go.send(()).unwrap();
    let done = finished(&worker, 3);
    let order: Vec<u64> = done.iter().map(|(job, _)| *job).collect();
    assert_eq!(order, [1, 2, 3]);
    assert_eq!(text(&done[0].1), "overlapped");
    assert_eq!(text(&done[1].1), "second page");
    assert!(
        matches!(&done[2].1, Outcome::Failed(why) if why.contains("not installed")),
        "{:?}",
        done[2].1
    );
}
