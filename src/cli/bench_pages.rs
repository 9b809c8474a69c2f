//! `inkread bench pages`: where the time of reading your own pages goes, one JSON line a
//! page (decode, detect, group, recognize, in milliseconds), then one line of totals.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::cancel::CancelToken;
use crate::device::{self, DeviceChoice};
use crate::models::Installer;
use crate::pipeline::build::PipelineBuilder;
use crate::pipeline::{Mode, Pipeline};
use crate::reading::Page;

#[derive(Debug, clap::Args)]
pub struct PagesBenchArgs {
    /// Images, PDFs or TIFFs, or `.tsv` manifests whose `path` column names them (paths
    /// relative to the manifest, as in ../shared/eval/pages/manifest.tsv).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub detector: String,
    #[arg(long, default_value = "auto")]
    pub recognizer: String,
    #[arg(long, value_enum, default_value_t)]
    pub device: DeviceChoice,
}

/// The stage times of one page.
#[derive(Debug, Default, Serialize)]
struct PageTimes {
    page: String,
    width: u32,
    height: u32,
    lines: usize,
    decode_ms: f64,
    detect_ms: f64,
    group_ms: f64,
    recognize_ms: f64,
    total_ms: f64,
}

#[derive(Debug, Default, Serialize)]
struct Totals {
    pages: usize,
    detector: String,
    recognizer: String,
    device: String,
    threads: usize,
    decode_ms: f64,
    detect_ms: f64,
    group_ms: f64,
    recognize_ms: f64,
    total_ms: f64,
}

pub fn run(args: &PagesBenchArgs) -> anyhow::Result<()> {
    let files = files_of(&args.inputs)?;
    let selected = device::select(args.device)?;
    let installer = Installer::from_env()?;
    let builder = PipelineBuilder {
        installer: &installer,
        device: selected.device,
        trocr: Default::default(),
    };
    let detector = installer.detector_id_for(Some(&args.detector));
    let recognizer = installer.recognizer_id_for(Some(&args.recognizer));
    let mut pipeline = builder.build(Some(&detector), &recognizer, &mut |_| {})?;
    let mut totals = Totals {
        detector,
        recognizer,
        device: selected.description,
        threads: rayon::current_num_threads(),
        ..Totals::default()
    };
    for file in files {
        bench_file(&file, &mut pipeline, &mut totals)
            .with_context(|| format!("reading {}", file.display()))?;
    }
    println!("{}", serde_json::to_string(&totals)?);
    Ok(())
}

/// Every page of one file, timed: decoding a page is the time from the previous page's
/// end (or the file's opening) to the page being handed over.
fn bench_file(path: &Path, pipeline: &mut Pipeline, totals: &mut Totals) -> anyhow::Result<()> {
    let cancel = CancelToken::new();
    let mut decoding = Instant::now();
    let name = path.display().to_string();
    crate::image_file::each_page_of_file(path, |page_of, image| -> anyhow::Result<()> {
        let decode_ms = ms_since(decoding);
        let page = Page {
            source: page_of.label(&name),
            image,
        };
        let started = Instant::now();
        let reading = pipeline.read(&page, Mode::Page, &cancel, &mut |_| {})?;
        let stage = |name: &str| reading.timings_ms.get(name).copied().unwrap_or(0.0);
        let times = PageTimes {
            page: page.source.clone(),
            width: reading.width,
            height: reading.height,
            lines: reading.lines.len(),
            decode_ms,
            detect_ms: stage("detect"),
            group_ms: stage("group"),
            recognize_ms: stage("recognize"),
            total_ms: decode_ms + ms_since(started),
        };
        println!("{}", serde_json::to_string(&times)?);
        totals.add(&times);
        decoding = Instant::now();
        Ok(())
    })
}

impl Totals {
    fn add(&mut self, t: &PageTimes) {
        self.pages += 1;
        self.decode_ms += t.decode_ms;
        self.detect_ms += t.detect_ms;
        self.group_ms += t.group_ms;
        self.recognize_ms += t.recognize_ms;
        self.total_ms += t.total_ms;
    }
}

/// The files named, with manifests replaced by the files they list.
fn files_of(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.extension().is_some_and(|e| e == "tsv") {
            files.extend(crate::eval::manifest::read_paths(input)?);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
