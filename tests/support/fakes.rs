//! Small stand-in models for the app's tests and the `app` example: real behaviour of the
//! app's code around them, fake networks. The detector finds bands of dark rows; the
//! recognizer reports the size of each crop it was given, so a test can check what reached it.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use image::RgbImage;
use inkread::app::{DefaultChoice, InstallProgress, ModelChoice, ModelKind, PipelineFactory};
use inkread::cancel::CancelToken;
use inkread::pipeline::trocr::{TrocrOptions, TrocrRecognizer};
use inkread::pipeline::{Detector, Pipeline, Recognizer, Stage};
use inkread::reading::{LineText, Region};

pub const SIZE_RECOGNIZER: &str = "fake-size";
pub const SLOW_RECOGNIZER: &str = "fake-slow";
pub const ROWS_DETECTOR: &str = "fake-rows";
pub const MISSING_RECOGNIZER: &str = "fake-missing";
/// A real TrOCR network: the tiny random-weight fixture, on the Flex CPU device.
pub const TROCR_RECOGNIZER: &str = "fixture-trocr";

/// The committed tiny TrOCR (random weights: gibberish, but deterministic, output).
pub fn trocr_fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trocr/vit_bpe_tied")
}

/// Opens the fixture TrOCR the way the app's factory does.
pub fn open_fixture_trocr() -> anyhow::Result<TrocrRecognizer> {
    let cpu = inkread::device::select(inkread::device::DeviceChoice::Cpu)?;
    Ok(TrocrRecognizer::open(
        &trocr_fixture_dir(),
        &cpu.device,
        &TrocrOptions::default(),
    )?)
}

/// Rows with a pixel darker than this are ink.
const DARK: u8 = 128;
/// Bands closer than this many rows are one line.
const MAX_GAP: u32 = 6;

/// Finds horizontal bands of ink: each run of rows containing dark pixels is one region.
pub struct RowBandDetector;

impl Detector for RowBandDetector {
    fn name(&self) -> &str {
        ROWS_DETECTOR
    }

    fn detect(&mut self, page: &RgbImage, cancel: &CancelToken) -> inkread::Result<Vec<Region>> {
        cancel.check()?;
        let (w, h) = page.dimensions();
        let ink_span = |y: u32| {
            let xs: Vec<u32> = (0..w)
                .filter(|&x| page.get_pixel(x, y).0.iter().any(|&c| c < DARK))
                .collect();
            Some((*xs.first()?, *xs.last()?))
        };
        let mut regions = Vec::new();
        let mut band: Option<(u32, u32, u32, u32)> = None; // y0, y1, x0, x1
        let mut gap = 0;
        for y in 0..h {
            match (ink_span(y), band.as_mut()) {
                (Some((x0, x1)), Some(b)) => {
                    b.1 = y;
                    b.2 = b.2.min(x0);
                    b.3 = b.3.max(x1);
                    gap = 0;
                }
                (Some((x0, x1)), None) => {
                    band = Some((y, y, x0, x1));
                    gap = 0;
                }
                (None, Some(_)) => {
                    gap += 1;
                    if gap > MAX_GAP {
                        regions.extend(band.take().map(band_region));
                    }
                }
                (None, None) => {}
            }
        }
        regions.extend(band.map(band_region));
        Ok(regions)
    }
}

fn band_region((y0, y1, x0, x1): (u32, u32, u32, u32)) -> Region {
    let (x0, y0, x1, y1) = (x0 as f32, y0 as f32, x1 as f32 + 1.0, y1 as f32 + 1.0);
    Region {
        polygon: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
        score: 0.9,
    }
}

/// "Reads" a line as its crop size, e.g. "212x61", with a confidence from its ink share.
pub struct CropSizeRecognizer;

impl Recognizer for CropSizeRecognizer {
    fn name(&self) -> &str {
        SIZE_RECOGNIZER
    }

    fn recognize(
        &mut self,
        lines: &[RgbImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> inkread::Result<Vec<LineText>> {
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            cancel.check()?;
            let text = format!("{}x{}", line.width(), line.height());
            out.push(LineText {
                text,
                confidence: 0.9,
                words: Vec::new(),
            });
            on_line(i + 1);
        }
        Ok(out)
    }
}

/// Never finishes by itself: waits (at most 20 s) until its job is cancelled.
pub struct WaitForCancelRecognizer;

impl Recognizer for WaitForCancelRecognizer {
    fn name(&self) -> &str {
        SLOW_RECOGNIZER
    }

    fn recognize(
        &mut self,
        _lines: &[RgbImage],
        cancel: &CancelToken,
        _on_line: &mut dyn FnMut(usize),
    ) -> inkread::Result<Vec<LineText>> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            cancel.check()?;
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(inkread::Error::Other(
            "the slow recognizer was never cancelled".into(),
        ))
    }
}

/// The factory the tests hand to the app.
#[derive(Default)]
pub struct FakeFactory {
    installed_missing: bool,
    /// A first start offers [`MISSING_RECOGNIZER`] as its handwriting download; `Some(false)`
    /// makes that download fail as an unreachable Hub does.
    first_handwriting: Option<bool>,
}

impl FakeFactory {
    /// A factory whose first start downloads a handwriting recognizer, from a Hub that
    /// answers or not.
    pub fn with_first_handwriting(hub_answers: bool) -> FakeFactory {
        FakeFactory {
            first_handwriting: Some(hub_answers),
            ..FakeFactory::default()
        }
    }
}

impl PipelineFactory for FakeFactory {
    fn build(
        &mut self,
        detector_id: Option<&str>,
        recognizer_id: &str,
        progress: &mut dyn FnMut(Stage),
    ) -> anyhow::Result<Pipeline> {
        progress(Stage::Loading {
            what: recognizer_id.to_owned(),
        });
        let recognizer: Box<dyn Recognizer> = match recognizer_id {
            SIZE_RECOGNIZER => Box::new(CropSizeRecognizer),
            SLOW_RECOGNIZER => Box::new(WaitForCancelRecognizer),
            TROCR_RECOGNIZER => Box::new(open_fixture_trocr()?),
            MISSING_RECOGNIZER if self.installed_missing => Box::new(CropSizeRecognizer),
            other => anyhow::bail!("model {other} is not installed"),
        };
        let detector: Option<Box<dyn Detector>> = match detector_id {
            Some(ROWS_DETECTOR) => Some(Box::new(RowBandDetector)),
            Some(other) => anyhow::bail!("unknown detector {other}"),
            None => None,
        };
        Ok(Pipeline {
            detector,
            recognizer,
        })
    }

    fn models(&self) -> Vec<ModelChoice> {
        let model = |id: &str, name: &str, kind, installed| ModelChoice {
            id: id.into(),
            name: name.into(),
            kind,
            installed,
            size_bytes: Some(12_000_000),
            personal: false,
            reads: String::new(),
            source: "test".into(),
            licence: "test".into(),
            damaged: None,
        };
        vec![
            model(
                SIZE_RECOGNIZER,
                "Crop size (test)",
                ModelKind::Recognizer,
                true,
            ),
            model(
                SLOW_RECOGNIZER,
                "Waits for cancel (test)",
                ModelKind::Recognizer,
                true,
            ),
            model(
                MISSING_RECOGNIZER,
                "Not installed (test)",
                ModelKind::Recognizer,
                self.installed_missing,
            ),
            model(
                TROCR_RECOGNIZER,
                "Tiny TrOCR (test fixture)",
                ModelKind::Recognizer,
                true,
            ),
            model(ROWS_DETECTOR, "Dark rows (test)", ModelKind::Detector, true),
        ]
    }

    fn device_name(&self) -> String {
        "Test CPU".into()
    }

    fn default_models(&self) -> DefaultChoice {
        DefaultChoice {
            handwriting: self
                .first_handwriting
                .map(|_| MISSING_RECOGNIZER.to_owned()),
            ..DefaultChoice::default()
        }
    }

    fn install(
        &mut self,
        id: &str,
        progress: &mut dyn FnMut(InstallProgress),
        cancel: &CancelToken,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(id == MISSING_RECOGNIZER, "nothing to install for {id}");
        anyhow::ensure!(
            self.first_handwriting != Some(false),
            "huggingface.co cannot be reached"
        );
        for step in 1..=4u64 {
            cancel.check()?;
            progress(InstallProgress {
                done_bytes: step * 3_000_000,
                total_bytes: Some(12_000_000),
                message: format!("{step}/4"),
            });
            std::thread::sleep(Duration::from_millis(10));
        }
        self.installed_missing = true;
        Ok(())
    }
}

/// A white page with dark bars where text lines would be: `(x0, y0, x1, y1)` each.
pub fn page_with_bars(w: u32, h: u32, bars: &[(u32, u32, u32, u32)]) -> RgbImage {
    let mut img = RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
    for &(x0, y0, x1, y1) in bars {
        for y in y0..y1.min(h) {
            for x in x0..x1.min(w) {
                img.put_pixel(x, y, image::Rgb([20, 20, 20]));
            }
        }
    }
    img
}
