//! Bad input, every surface: a corpus of broken files and hostile servers that this file
//! generates itself (plus two seeds from `scripts/make_robustness_fixtures.py`), and property
//! tests that feed random and mutated bytes to every decoder and parser.
//!
//! Each case must end in a value or a clear error: no panic, no hang (a watchdog bounds every
//! corpus case), no memory blow-up (the process's peak resident memory is checked). The
//! counts per surface are printed, past the test harness's capture, and go in
//! docs/RELIABILITY.md. `INKREAD_PROPTEST_CASES` sets the random cases per surface (default
//! 10 000, as CI runs them).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, Rgba};
use inkread::app::url_fetch::{FetchError, FetchLimits, fetch_image_bytes};
use inkread::image_file;
use inkread::models::catalog::Catalog;
use inkread::models::easyocr::PthWeights;
use inkread::models::kraken::KrakenModel;
use inkread::models::onnx::OnnxModel;
use inkread::models::trocr::config::{TrocrConfig, TrocrModelDir};
use inkread::models::trocr::weights::load_model;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// No single corpus case may take longer than this.
const CASE_LIMIT: Duration = Duration::from_secs(20);
/// The test process's peak resident memory must stay under this.
const MEMORY_LIMIT_KB: u64 = 3 * 1024 * 1024;

// ------------------------------------------------------------------------------------------
// Running cases

#[derive(Default)]
struct Tally {
    cases: usize,
    values: usize,
    errors: usize,
    failures: Vec<String>,
}

impl Tally {
    /// Runs one case on its own thread: `Ok`/`Err` are counted, a panic or a case still
    /// running after [`CASE_LIMIT`] is a failure (the stuck thread is left behind).
    fn run<T: 'static, E: std::fmt::Display + 'static>(
        &mut self,
        label: impl Into<String>,
        case: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Option<Result<(), String>> {
        let label = label.into();
        self.cases += 1;
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(case))
                .map(|r| r.map(|_| ()).map_err(|e| e.to_string()));
            let _ = send.send(outcome);
        });
        match receive.recv_timeout(CASE_LIMIT) {
            Ok(Ok(Ok(()))) => {
                self.values += 1;
                Some(Ok(()))
            }
            Ok(Ok(Err(message))) => {
                self.errors += 1;
                if message.trim().is_empty() {
                    self.failures
                        .push(format!("{label}: an error with no message"));
                }
                Some(Err(message))
            }
            Ok(Err(_)) => {
                self.failures.push(format!("{label}: panicked"));
                None
            }
            Err(_) => {
                self.failures
                    .push(format!("{label}: still running after {CASE_LIMIT:?}"));
                None
            }
        }
    }

    /// Like [`Tally::run`], and the case must be an error.
    fn must_fail<T: 'static, E: std::fmt::Display + 'static>(
        &mut self,
        label: impl Into<String>,
        case: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) {
        let label = label.into();
        if let Some(Ok(())) = self.run(label.clone(), case) {
            self.failures
                .push(format!("{label}: accepted, should be an error"));
        }
    }

    /// Like [`Tally::run`], and the case must succeed.
    fn must_pass<T: 'static, E: std::fmt::Display + 'static>(
        &mut self,
        label: impl Into<String>,
        case: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) {
        let label = label.into();
        if let Some(Err(e)) = self.run(label.clone(), case) {
            self.failures.push(format!("{label}: refused: {e}"));
        }
    }

    /// Prints the counts (past libtest's capture) and fails on any failure.
    fn finish(self, surface: &str) {
        report(&format!(
            "robustness corpus, {surface}: {} cases, {} read, {} clear errors, {} failures",
            self.cases,
            self.values,
            self.errors,
            self.failures.len()
        ));
        assert!(
            self.failures.is_empty(),
            "{surface}:\n{}",
            self.failures.join("\n")
        );
        check_memory();
    }
}

fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Peak resident memory of this test process (Linux), against [`MEMORY_LIMIT_KB`].
fn check_memory() {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    let peak_kb: Option<u64> = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
    if let Some(kb) = peak_kb {
        assert!(kb < MEMORY_LIMIT_KB, "peak memory {kb} kB");
    }
}

fn proptest_cases() -> u32 {
    std::env::var("INKREAD_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// Runs `check` on `cases` inputs from `strategy`; a panic inside is a failure (proptest
/// catches it and shrinks the input), as is a case slower than [`CASE_LIMIT`].
fn fuzz<S: Strategy>(surface: &str, strategy: S, check: impl Fn(S::Value) -> bool)
where
    S::Value: std::fmt::Debug,
{
    let cases = proptest_cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let started = Instant::now();
    let accepted = std::cell::Cell::new(0usize);
    let result = runner.run(&strategy, |input| {
        let begun = Instant::now();
        if check(input) {
            accepted.set(accepted.get() + 1);
        }
        prop_assert!(begun.elapsed() < CASE_LIMIT, "slower than {CASE_LIMIT:?}");
        Ok(())
    });
    report(&format!(
        "proptest, {surface}: {cases} cases in {:.1} s, {} accepted, the rest clear errors, panics {}",
        started.elapsed().as_secs_f64(),
        accepted.get(),
        if result.is_ok() { 0 } else { 1 }
    ));
    if let Err(e) = result {
        panic!("{surface}: {e}");
    }
    check_memory();
}

/// Random bytes, or one of `seeds` cut short and with some bytes changed.
fn bytes_from(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let random = proptest::collection::vec(any::<u8>(), 0..4096);
    let mutated = (
        0..seeds.len(),
        any::<prop::sample::Index>(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    )
        .prop_map(move |(seed, cut, edits)| {
            let mut bytes = seeds[seed].clone();
            let keep = if cut.index(4) == 0 {
                cut.index(bytes.len() + 1)
            } else {
                bytes.len()
            };
            bytes.truncate(keep);
            for (at, value) in edits {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] = value;
                }
            }
            bytes
        });
    prop_oneof![1 => random, 3 => mutated]
}

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

fn read_fixture(relative: &str) -> Vec<u8> {
    std::fs::read(fixture(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

// ------------------------------------------------------------------------------------------
// Image seeds

const FORMATS: [(ImageFormat, &str); 6] = [
    (ImageFormat::Png, "png"),
    (ImageFormat::Jpeg, "jpg"),
    (ImageFormat::Tiff, "tiff"),
    (ImageFormat::WebP, "webp"),
    (ImageFormat::Gif, "gif"),
    (ImageFormat::Bmp, "bmp"),
];

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encoding a seed");
    out.into_inner()
}

fn small_page(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(width, height, |x, y| {
        Rgb([(x * 7) as u8, (y * 11) as u8, ((x ^ y) * 5) as u8])
    }))
}

/// A small image in each format the loader reads.
fn image_seeds() -> Vec<(String, Vec<u8>)> {
    let page = small_page(37, 23);
    FORMATS
        .iter()
        .map(|&(format, ext)| {
            let image = match format {
                // GIF's encoder wants RGBA.
                ImageFormat::Gif => DynamicImage::ImageRgba8(page.to_rgba8()),
                _ => page.clone(),
            };
            (ext.to_string(), encode(&image, format))
        })
        .chain(std::iter::once((
            "cmyk.jpg".into(),
            read_fixture("robustness/cmyk.jpg"),
        )))
        .collect()
}

/// A simple deterministic generator, so the corpus is the same every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header declares `width` × `height` (CRC fixed, so only the size is wrong).
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = encode(&small_page(4, 4), ImageFormat::Png);
    // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4) ... CRC after 13 bytes.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn bmp_declaring(width: i32, height: i32) -> Vec<u8> {
    let mut bmp = encode(&small_page(4, 4), ImageFormat::Bmp);
    bmp[18..22].copy_from_slice(&width.to_le_bytes());
    bmp[22..26].copy_from_slice(&height.to_le_bytes());
    bmp
}

fn gif_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut gif = encode(
        &DynamicImage::ImageRgba8(small_page(4, 4).to_rgba8()),
        ImageFormat::Gif,
    );
    gif[6..8].copy_from_slice(&width.to_le_bytes());
    gif[8..10].copy_from_slice(&height.to_le_bytes());
    // The first image descriptor (0x2C) carries the frame's size too.
    if let Some(at) = gif.iter().skip(13).position(|&b| b == 0x2C).map(|p| p + 13)
        && at + 9 <= gif.len()
    {
        gif[at + 5..at + 7].copy_from_slice(&width.to_le_bytes());
        gif[at + 7..at + 9].copy_from_slice(&height.to_le_bytes());
    }
    gif
}

fn jpeg_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = encode(&small_page(8, 8), ImageFormat::Jpeg);
    let sof = jpeg
        .windows(2)
        .position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2))
        .expect("a start-of-frame marker");
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

/// A TIFF whose ImageWidth and ImageLength tags say `size` (as LONGs).
fn tiff_declaring(size: u32) -> Vec<u8> {
    let mut tiff = encode(&small_page(4, 4), ImageFormat::Tiff);
    assert_eq!(&tiff[..2], b"II", "the encoder writes little-endian TIFF");
    let ifd = u32::from_le_bytes([tiff[4], tiff[5], tiff[6], tiff[7]]) as usize;
    let count = u16::from_le_bytes([tiff[ifd], tiff[ifd + 1]]) as usize;
    for entry in 0..count {
        let at = ifd + 2 + entry * 12;
        let tag = u16::from_le_bytes([tiff[at], tiff[at + 1]]);
        if tag == 256 || tag == 257 {
            tiff[at + 2..at + 4].copy_from_slice(&4u16.to_le_bytes());
            tiff[at + 4..at + 8].copy_from_slice(&1u32.to_le_bytes());
            tiff[at + 8..at + 12].copy_from_slice(&size.to_le_bytes());
        }
    }
    tiff
}

/// A WebP (VP8X) whose canvas says 16 777 216 × 16 777 216.
fn webp_declaring_huge() -> Vec<u8> {
    let mut webp = b"RIFF\0\0\0\0WEBPVP8X".to_vec();
    webp.extend(10u32.to_le_bytes());
    webp.extend([0u8; 4]); // flags
    webp.extend([0xFF, 0xFF, 0xFF]); // width - 1
    webp.extend([0xFF, 0xFF, 0xFF]); // height - 1
    let size = (webp.len() - 8) as u32;
    webp[4..8].copy_from_slice(&size.to_le_bytes());
    webp
}

// ------------------------------------------------------------------------------------------
// Images: the one loader every input goes through

fn decode(bytes: Vec<u8>) -> impl FnOnce() -> Result<(u32, u32), image_file::ImageError> {
    move || image_file::decode(&bytes, "case").map(|i| i.dimensions())
}

#[test]
fn image_corpus_ends_in_images_or_clear_errors() {
    let mut tally = Tally::default();
    let mut lcg = Lcg(11);
    for (name, seed) in image_seeds() {
        tally.must_pass(format!("{name} whole"), decode(seed.clone()));
        let n = seed.len();
        let mut cuts: Vec<usize> = vec![0, 1, 2, 4, 8, 12, 16, 24, 32, 64, n / 4, n / 2];
        cuts.extend([n * 3 / 4, n.saturating_sub(16), n.saturating_sub(2)]);
        cuts.extend([n.saturating_sub(1)]);
        for cut in cuts.into_iter().filter(|&c| c < n) {
            tally.run(format!("{name} cut at {cut}"), decode(seed[..cut].to_vec()));
        }
        for flip in 0..64 {
            let mut bytes = seed.clone();
            let at = lcg.next() as usize % n;
            bytes[at] ^= 1 << (lcg.next() % 8);
            if flip % 2 == 0 {
                let other = lcg.next() as usize % n;
                bytes[other] = lcg.next() as u8;
            }
            tally.run(format!("{name} flip {flip} at {at}"), decode(bytes));
        }
    }
    for (label, bytes) in [
        ("png 100000 x 100000", png_declaring(100_000, 100_000)),
        ("png 4294967295 x 1", png_declaring(u32::MAX, 1)),
        ("bmp 100000 x 100000", bmp_declaring(100_000, 100_000)),
        ("bmp 100000 x -100000", bmp_declaring(100_000, -100_000)),
        ("gif 65535 x 65535", gif_declaring(65_535, 65_535)),
        ("jpeg 65535 x 65535", jpeg_declaring(65_535, 65_535)),
        ("tiff 100000 x 100000", tiff_declaring(100_000)),
        ("webp 16777216 x 16777216", webp_declaring_huge()),
        ("png 0 x 0", png_declaring(0, 0)),
        ("png 0 x 5", png_declaring(0, 5)),
        ("bmp 0 x 0", bmp_declaring(0, 0)),
        ("gif 0 x 0", gif_declaring(0, 0)),
        ("jpeg 0 x 0", jpeg_declaring(0, 0)),
        ("empty", Vec::new()),
        ("text", b"these are words, not pixels\n".to_vec()),
    ] {
        tally.must_fail(label, decode(bytes));
    }
    for &(format, ext) in &FORMATS {
        let one = match format {
            ImageFormat::Gif => DynamicImage::ImageRgba8(small_page(1, 1).to_rgba8()),
            _ => small_page(1, 1),
        };
        tally.must_pass(format!("{ext} 1 x 1"), decode(encode(&one, format)));
    }
    let deep: [(&str, DynamicImage, ImageFormat); 6] = [
        (
            "png rgb16",
            DynamicImage::ImageRgb16(ImageBuffer::from_fn(9, 5, |x, _| Rgb([x as u16 * 7000; 3]))),
            ImageFormat::Png,
        ),
        (
            "png rgba16",
            DynamicImage::ImageRgba16(ImageBuffer::from_pixel(9, 5, Rgba([40000, 0, 0, 30000]))),
            ImageFormat::Png,
        ),
        (
            "png luma16",
            DynamicImage::ImageLuma16(ImageBuffer::from_pixel(9, 5, Luma([60000]))),
            ImageFormat::Png,
        ),
        (
            "png lumaa16",
            DynamicImage::ImageLumaA16(ImageBuffer::from_pixel(9, 5, LumaA([60000, 0]))),
            ImageFormat::Png,
        ),
        (
            "tiff rgb16",
            DynamicImage::ImageRgb16(ImageBuffer::from_pixel(9, 5, Rgb([1, 50000, 65535]))),
            ImageFormat::Tiff,
        ),
        (
            "tiff luma16",
            DynamicImage::ImageLuma16(ImageBuffer::from_pixel(9, 5, Luma([65535]))),
            ImageFormat::Tiff,
        ),
    ];
    for (label, image, format) in deep {
        tally.must_pass(label, decode(encode(&image, format)));
    }
    tally.must_pass("cmyk jpeg", decode(read_fixture("robustness/cmyk.jpg")));
    tally.finish("images");
}

#[test]
fn image_decoder_survives_random_and_mutated_bytes() {
    let seeds = image_seeds().into_iter().map(|(_, b)| b).collect();
    fuzz("images (image_file::decode)", bytes_from(seeds), |bytes| {
        image_file::decode(&bytes, "case").is_ok()
    });
}

// ------------------------------------------------------------------------------------------
// Model files

/// A safetensors file: an 8-byte header length, a JSON header, then the data.
fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

/// A TrOCR folder: the tiny fixture's configuration and tokenizer with `weights` as
/// model.safetensors (or pytorch_model.bin).
fn trocr_dir_with(weights: &[u8], file: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = fixture("trocr/vit_bpe_tied");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let wanted =
            name.ends_with(".json") && !name.starts_with("reference") || name == "merges.txt";
        if wanted {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    std::fs::write(dir.path().join(file), weights).unwrap();
    dir
}

fn load_trocr(weights: Vec<u8>, file: &'static str) -> impl FnOnce() -> Result<(), String> {
    move || {
        let dir = trocr_dir_with(&weights, file);
        let model_dir = TrocrModelDir::open(dir.path()).map_err(|e| e.to_string())?;
        load_model(&model_dir, &burn::tensor::Device::flex())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn in_file(bytes: &[u8], name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn open_pth(bytes: Vec<u8>) -> impl FnOnce() -> Result<usize, String> {
    move || {
        let (_dir, path) = in_file(&bytes, "weights.pth");
        PthWeights::open(&path)
            .and_then(|w| w.check_readable())
            .map_err(|e| e.to_string())
    }
}

fn parse_onnx(bytes: Vec<u8>) -> impl FnOnce() -> Result<usize, String> {
    move || OnnxModel::parse(&bytes).map(|m| m.tensor_count())
}

fn parse_mlmodel(bytes: Vec<u8>) -> impl FnOnce() -> Result<(), String> {
    move || {
        KrakenModel::parse(&bytes)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Protobuf that lies: a length-delimited field longer than the message, a varint that
/// never ends, a field number 0, nested messages cut short.
fn lying_protobufs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", Vec::new()),
        (
            "length past the end",
            vec![0x3A, 0xFF, 0xFF, 0xFF, 0x0F, 1, 2, 3],
        ),
        (
            "endless varint",
            vec![
                0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            ],
        ),
        ("field zero", vec![0x00, 0x01]),
        ("group start", vec![0x0B, 0x0C]),
        ("nested cut", vec![0x3A, 0x06, 0x0A, 0x04, 0x0A, 0x0A, 0x01]),
        ("deep nesting", {
            let mut v = Vec::new();
            for _ in 0..200 {
                v.extend([0x3A, 0x7F]);
            }
            v
        }),
        ("text", b"ir_version: 7\ngraph {}".to_vec()),
        ("zip", b"PK\x03\x04not really".to_vec()),
    ]
}

#[test]
fn model_file_corpus_ends_in_clear_errors() {
    let mut tally = Tally::default();
    let f32s = |n: usize| vec![0u8; 4 * n];
    let bad_safetensors: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("7 bytes", vec![1, 2, 3, 4, 5, 6, 7]),
        ("header longer than the file", {
            let mut b = u64::MAX.to_le_bytes().to_vec();
            b.extend(b"{}");
            b
        }),
        ("header 100 GB", {
            let mut b = (100u64 << 30).to_le_bytes().to_vec();
            b.extend(b"{}");
            b
        }),
        ("header not JSON", safetensors("{not json", &[])),
        ("header not an object", safetensors("[1,2,3]", &[])),
        (
            "offsets past the data",
            safetensors(
                r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,4096]}}"#,
                &f32s(4),
            ),
        ),
        (
            "offsets reversed",
            safetensors(
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
                &f32s(2),
            ),
        ),
        (
            "shape and size disagree",
            safetensors(
                r#"{"w":{"dtype":"F32","shape":[1000,1000],"data_offsets":[0,16]}}"#,
                &f32s(4),
            ),
        ),
        (
            "unknown dtype",
            safetensors(
                r#"{"w":{"dtype":"Q9","shape":[4],"data_offsets":[0,16]}}"#,
                &f32s(4),
            ),
        ),
        (
            "huge shape",
            safetensors(
                r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}"#,
                &f32s(4),
            ),
        ),
        (
            "valid file, wrong tensors",
            safetensors(
                r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#,
                &f32s(4),
            ),
        ),
    ];
    for (label, bytes) in bad_safetensors {
        tally.must_fail(
            format!("safetensors: {label}"),
            load_trocr(bytes, "model.safetensors"),
        );
    }
    let mut real = read_fixture("trocr/vit_bpe_tied/model.safetensors");
    tally.must_pass(
        "safetensors: the fixture",
        load_trocr(real.clone(), "model.safetensors"),
    );
    real.truncate(real.len() / 2);
    tally.must_fail(
        "safetensors: the fixture cut in half",
        load_trocr(real, "model.safetensors"),
    );

    let pth = read_fixture("robustness/tiny.pth");
    tally.must_pass("pth: the seed", open_pth(pth.clone()));
    for (label, bytes) in [
        ("empty", Vec::new()),
        ("neither zip nor pickle", b"these are words".to_vec()),
        ("cut in half", pth[..pth.len() / 2].to_vec()),
        ("cut at the end", pth[..pth.len() - 1].to_vec()),
        (
            "zip without a pickle",
            zip_with(&[("archive/other.txt", b"hi".as_slice())]),
        ),
        (
            "pickle of garbage",
            zip_with(&[("archive/data.pkl", b"\x80\x02garbage".as_slice())]),
        ),
    ] {
        tally.must_fail(format!("pth: {label}"), open_pth(bytes));
    }
    // A hand-written pickle naming a storage record the zip lacks: an error or an empty
    // file, never a panic.
    let orphan = zip_with(&[(
        "archive/data.pkl",
        pickle_of_a_persistent_tensor().as_slice(),
    )]);
    tally.run("pth: pickle naming a missing storage", open_pth(orphan));
    tally.must_fail(
        "pth: a tensor's data removed",
        open_pth(without_member(&pth, "/data/0")),
    );
    let mut lcg = Lcg(5);
    for flip in 0..48 {
        let mut bytes = pth.clone();
        let at = lcg.next() as usize % bytes.len();
        bytes[at] = lcg.next() as u8;
        tally.run(format!("pth: flip {flip} at {at}"), open_pth(bytes));
    }
    // TrOCR's pytorch_model.bin path is the same torch format.
    tally.must_fail(
        "pytorch_model.bin: not a zip",
        load_trocr(b"nope".to_vec(), "pytorch_model.bin"),
    );

    for (label, bytes) in lying_protobufs() {
        tally.run(format!("onnx: {label}"), parse_onnx(bytes.clone()));
        tally.must_fail(format!("mlmodel: {label}"), parse_mlmodel(bytes));
    }
    tally.finish("model files");
}

/// A stored zip with the given members (torch's format is a zip of a pickle and blobs).
fn zip_with(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, bytes) in members {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

/// `zip` with its members whose names end in `suffix` left out.
fn without_member(zip: &[u8], suffix: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut kept: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).unwrap();
        if !member.name().ends_with(suffix) {
            let mut bytes = Vec::new();
            member.read_to_end(&mut bytes).unwrap();
            kept.push((member.name().to_string(), bytes));
        }
    }
    assert!(kept.len() < archive.len(), "no member ends in {suffix}");
    let members: Vec<(&str, &[u8])> = kept
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    zip_with(&members)
}

/// A pickle that names a storage record ("0") the zip does not hold.
fn pickle_of_a_persistent_tensor() -> Vec<u8> {
    // PROTO 2, EMPTY_DICT, then {"w": persistent_load(("storage", FloatStorage, "0", "cpu", 4))}
    let mut p = vec![0x80, 0x02, b'}', b'X'];
    p.extend(1u32.to_le_bytes());
    p.push(b'w');
    p.extend(b"(X");
    p.extend(7u32.to_le_bytes());
    p.extend(b"storage");
    p.extend(b"ctorch\nFloatStorage\n");
    p.push(b'X');
    p.extend(1u32.to_le_bytes());
    p.push(b'0');
    p.push(b'X');
    p.extend(3u32.to_le_bytes());
    p.extend(b"cpu");
    p.extend(b"K\x04tQs.");
    p
}

#[test]
fn model_parsers_survive_random_and_mutated_bytes() {
    let safetensors_seed = safetensors(
        r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"I64","shape":[1],"data_offsets":[16,24]}}"#,
        &[0u8; 24],
    );
    // One folder, its weights rewritten each case: the tiny configuration is read each time.
    let dir = trocr_dir_with(&safetensors_seed, "model.safetensors");
    let model_dir = TrocrModelDir::open(dir.path()).unwrap();
    let device = burn::tensor::Device::flex();
    fuzz(
        "safetensors (TrOCR load_model)",
        bytes_from(vec![safetensors_seed]),
        |bytes| {
            std::fs::write(dir.path().join("model.safetensors"), &bytes).unwrap();
            load_model(&model_dir, &device).is_ok()
        },
    );
    let pth = read_fixture("robustness/tiny.pth");
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("weights.pth");
    fuzz(
        "pickle .pth (PthWeights::open)",
        bytes_from(vec![pth]),
        |bytes| {
            std::fs::write(&path, &bytes).unwrap();
            PthWeights::open(&path)
                .and_then(|w| w.check_readable())
                .is_ok()
        },
    );
    let protobufs: Vec<Vec<u8>> = lying_protobufs().into_iter().map(|(_, b)| b).collect();
    fuzz(
        "ONNX protobuf (OnnxModel::parse)",
        bytes_from(protobufs.clone()),
        |bytes| OnnxModel::parse(&bytes).is_ok(),
    );
    fuzz(
        "CoreML .mlmodel (KrakenModel::parse)",
        bytes_from(protobufs),
        |bytes| KrakenModel::parse(&bytes).is_ok(),
    );
}

/// Real model files as seeds, when the model store has them: protobuf parsers get a real
/// graph's structure to break, not only noise. Prefixes keep each case small.
#[test]
fn model_parsers_survive_mutated_real_models() {
    let Some(onnx) = support::model_file("ppocr-v4-det", "ch_PP-OCRv4_det_infer.onnx") else {
        return;
    };
    let Some(mlmodel) = support::model_file("kraken-blla", "blla.mlmodel") else {
        return;
    };
    let prefix = |path: PathBuf| {
        let mut bytes = std::fs::read(path).unwrap();
        bytes.truncate(64 * 1024);
        bytes
    };
    let (onnx, mlmodel) = (prefix(onnx), prefix(mlmodel));
    fuzz(
        "ONNX, real model prefixes",
        bytes_from(vec![onnx]),
        |bytes| OnnxModel::parse(&bytes).is_ok(),
    );
    fuzz(
        "mlmodel, real model prefixes",
        bytes_from(vec![mlmodel]),
        |bytes| KrakenModel::parse(&bytes).is_ok(),
    );
}

// ------------------------------------------------------------------------------------------
// Text: catalog, configuration, manifests

const BUILTIN_CATALOG: &str = include_str!("../models/catalog.toml");

#[test]
fn catalog_and_manifest_corpus_ends_in_clear_errors() {
    let mut tally = Tally::default();
    let base = BUILTIN_CATALOG.to_string();
    let catalogs: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("not toml", "[[model]\nid = ".into()),
        ("no defaults", "[[model]]\nid = \"x\"\n".into()),
        ("model is a string", "model = \"x\"\n[defaults]\n".into()),
        ("id is a number", base.replacen("id = \"", "id = 7 #\"", 1)),
        (
            "sha256 is a table",
            base.replacen("sha256 = \"", "sha256 = { a = 1 } #\"", 1),
        ),
        ("size is negative", base.replacen("size = ", "size = -", 1)),
        (
            "kind unknown",
            base.replacen("kind = \"", "kind = \"telepathy\" #\"", 1),
        ),
        (
            "defaults name no model",
            base.replacen("[defaults]", "[defaults]\nunknown_field = 1", 1),
        ),
        (
            "binary",
            String::from_utf8_lossy(&[0u8, 159, 146, 150, 255, 0, 1]).into_owned(),
        ),
        (
            "deep arrays",
            format!("x = {}{}", "[".repeat(10_000), "]".repeat(10_000)),
        ),
    ];
    for (label, text) in catalogs {
        tally.run(format!("catalog: {label}"), move || {
            Catalog::parse(&text, "case").map(|c| c.models().len())
        });
    }
    tally.must_pass("catalog: builtin", || {
        Catalog::parse(BUILTIN_CATALOG, "case").map(|_| ())
    });

    let config = std::fs::read_to_string(fixture("trocr/vit_bpe_tied/config.json")).unwrap();
    for (label, text) in [
        ("empty", String::new()),
        ("not json", "{".to_string()),
        ("array", "[]".to_string()),
        (
            "null sizes",
            config.replace("\"hidden_size\": ", "\"hidden_size\": null, \"x\": "),
        ),
        (
            "zero heads",
            config.replace(
                "\"num_attention_heads\": ",
                "\"num_attention_heads\": 0, \"x\": ",
            ),
        ),
        (
            "huge layers",
            config.replace(
                "\"num_hidden_layers\": ",
                "\"num_hidden_layers\": 4294967295, \"x\": ",
            ),
        ),
    ] {
        tally.run(format!("trocr config: {label}"), move || {
            TrocrConfig::from_json_str(&text).map(|_| ())
        });
    }

    let manifests: Vec<(&str, &str, &str)> = vec![
        ("pages", "empty", ""),
        ("pages", "no path column", "gt_path\tlines_json\n"),
        (
            "pages",
            "short row",
            "path\tgt_path\tlines_json\tn_lines\nonly-one-field\n",
        ),
        (
            "pages",
            "missing lines json",
            "path\tgt_path\tlines_json\tn_lines\na.png\ta.xml\tnope.json\t2\n",
        ),
        ("pages", "binary", "\u{0}\u{1}\t\u{feff}\n\t\t\t\n"),
        ("lines", "empty", ""),
        ("lines", "no transcription", "path\tnote\na.png\tx\n"),
        ("lines", "short row", "path\ttranscription\nonly\n"),
        ("truth", "not json", "{"),
        ("truth", "lines not a list", "{\"lines\": 3}"),
        (
            "truth",
            "polygon of strings",
            "{\"lines\": [{\"text\": \"a\", \"polygon\": [[\"x\", 1]]}]}",
        ),
        (
            "truth",
            "no text",
            "{\"lines\": [{\"polygon\": [[0, 0], [1, 1]]}]}",
        ),
    ];
    for (kind, label, text) in manifests {
        let text = text.to_string();
        tally.run(format!("{kind} manifest: {label}"), move || {
            let (_dir, path) = in_file(text.as_bytes(), "manifest.tsv");
            use inkread::eval::manifest::*;
            match kind {
                "pages" => read_pages_manifest(&path).map(|v| v.len()),
                "lines" => read_lines_manifest(&path).map(|v| v.len()),
                _ => read_truth_lines(&path).map(|v| v.len()),
            }
        });
    }
    tally.finish("catalog, configuration and manifests");
}

#[test]
fn text_parsers_survive_random_and_mutated_text() {
    let catalog = BUILTIN_CATALOG.as_bytes().to_vec();
    fuzz(
        "catalog TOML (Catalog::parse)",
        bytes_from(vec![catalog]),
        |bytes| Catalog::parse(&String::from_utf8_lossy(&bytes), "case").is_ok(),
    );
    let config = read_fixture("trocr/vit_bpe_tied/config.json");
    fuzz("TrOCR config.json", bytes_from(vec![config]), |bytes| {
        TrocrConfig::from_json_str(&String::from_utf8_lossy(&bytes)).is_ok()
    });
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("manifest.tsv");
    let manifest =
        b"path\tgt_path\tlines_json\tn_lines\ntoy/page.png\ttoy/page.xml\ttoy/page.lines.json\t2\n";
    fuzz(
        "pages manifest TSV",
        bytes_from(vec![manifest.to_vec()]),
        |bytes| {
            std::fs::write(&path, &bytes).unwrap();
            inkread::eval::manifest::read_pages_manifest(&path).is_ok()
        },
    );
    let truth = br#"{"image": "p.png", "width": 400, "height": 200, "lines": [{"id": "l1", "text": "hello", "polygon": [[20, 20], [380, 20], [380, 60], [20, 60]], "bbox": [20, 20, 380, 60]}]}"#;
    fuzz(
        "ground-truth lines JSON",
        bytes_from(vec![truth.to_vec()]),
        |bytes| {
            std::fs::write(&path, &bytes).unwrap();
            inkread::eval::manifest::read_truth_lines(&path).is_ok()
        },
    );
}

// ------------------------------------------------------------------------------------------
// URLs, against a loopback server

/// How the loopback server answers every request.
#[derive(Clone, Copy)]
enum Answer {
    /// 302 to itself, forever.
    RedirectLoop,
    /// Says 10 GB in Content-Length.
    HugeLength,
    /// Streams more than the limit without a length.
    EndlessChunked,
    /// One byte a second.
    Slow,
    /// An HTML page.
    Html,
    /// A valid PNG.
    Png,
    /// Nothing: closes at once.
    Hangup,
}

/// Serves `answer` on a loopback port until the test ends; returns the base URL.
fn serve(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let own = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let own = own.clone();
            std::thread::spawn(move || respond(stream, answer, &own));
        }
    });
    base
}

fn respond(mut stream: std::net::TcpStream, answer: Answer, own: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let _ = match answer {
        Answer::RedirectLoop => write!(
            stream,
            "HTTP/1.1 302 Found\r\nLocation: {own}/again\r\nContent-Length: 0\r\n\r\n"
        ),
        Answer::HugeLength => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 10000000000\r\n\r\n"
            );
            let chunk = vec![0u8; 64 * 1024];
            while stream.write_all(&chunk).is_ok() {}
            Ok(())
        }
        Answer::EndlessChunked => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            let chunk = vec![b'x'; 64 * 1024];
            loop {
                let sent = write!(stream, "{:x}\r\n", chunk.len())
                    .and_then(|_| stream.write_all(&chunk))
                    .and_then(|_| stream.write_all(b"\r\n"));
                if sent.is_err() {
                    break;
                }
            }
            Ok(())
        }
        Answer::Slow => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n"
            );
            for _ in 0..1000 {
                if stream.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Ok(())
        }
        Answer::Html => write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n<p>hi"
        ),
        Answer::Png => {
            let png = encode(&small_page(3, 3), ImageFormat::Png);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n",
                png.len()
            );
            stream.write_all(&png)
        }
        Answer::Hangup => Ok(()),
    };
    let _ = stream.flush();
    let mut rest = Vec::new();
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = stream.read_to_end(&mut rest);
}

#[test]
fn url_corpus_ends_in_clear_errors_within_the_limits() {
    let mut tally = Tally::default();
    let limits = FetchLimits {
        timeout: Duration::from_secs(3),
        max_bytes: 1024 * 1024,
        max_redirects: 3,
    };
    for url in [
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "gopher://127.0.0.1:9/",
        "http://",
        "https://",
        "",
        "not a url at all",
        "http://[::1",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:9/unreachable.png",
    ] {
        let limits = limits.clone();
        tally.must_fail(format!("url {url:?}"), move || {
            fetch_image_bytes(url, &limits)
        });
    }
    for (label, answer) in [
        ("redirect loop", Answer::RedirectLoop),
        ("10 GB content length", Answer::HugeLength),
        ("endless chunked body", Answer::EndlessChunked),
        ("one byte every 500 ms", Answer::Slow),
        ("html", Answer::Html),
        ("hang-up", Answer::Hangup),
    ] {
        let url = format!("{}/page.png", serve(answer));
        let limits = limits.clone();
        let started = Instant::now();
        tally.must_fail(label, move || {
            let result = fetch_image_bytes(&url, &limits);
            if let Err(FetchError::TooLarge { .. } | FetchError::Timeout { .. }) = &result {
                // Bounded: the limit stopped it, not the server giving up.
                assert!(started.elapsed() < Duration::from_secs(10));
            }
            result
        });
    }
    let url = format!("{}/page.png", serve(Answer::Png));
    tally.must_pass("a real png", move || fetch_image_bytes(&url, &limits));
    tally.finish("URLs");
}
