//! Runs the built `inkread` binary: reading fixture lines, the JSON shape, and clean errors.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn inkread(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inkread"))
        .args(args)
        .env_remove("INKREAD_TROCR_MODEL")
        .output()
        .expect("the inkread binary runs")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// An image that exists and decodes, for tests about other failures.
fn some_image() -> String {
    fixtures()
        .join("preprocess/source.png")
        .display()
        .to_string()
}

/// A failure the user sees as exactly one line on stderr, a non-zero exit, no panic.
fn assert_clean_failure(out: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr:?}"
    );
    assert!(
        stderr.contains(mentions),
        "{stderr:?} should mention {mentions:?}"
    );
}

#[test]
fn missing_image_is_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.png");
    let out = inkread(&["read", "--model", ".", missing.to_str().unwrap()]);
    assert_clean_failure(&out, "nope.png");
}

#[test]
fn a_file_that_is_not_an_image_is_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "these are words, not pixels\n").unwrap();
    let out = inkread(&["read", "--model", ".", text.to_str().unwrap()]);
    assert_clean_failure(&out, "not an image");
}

#[test]
fn a_broken_model_directory_is_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{ this is not json").unwrap();
    let out = inkread(&[
        "read",
        "--device",
        "cpu",
        "--model",
        dir.path().to_str().unwrap(),
        &some_image(),
    ]);
    assert_clean_failure(&out, "config.json");
}

#[test]
fn a_missing_model_directory_is_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("no-such-model");
    let out = inkread(&[
        "read",
        "--device",
        "cpu",
        "--model",
        gone.to_str().unwrap(),
        &some_image(),
    ]);
    assert_clean_failure(&out, "no-such-model");
}

#[test]
fn an_unknown_recognizer_is_one_clean_line() {
    let out = inkread(&["read", "--recognizer", "no-such-model", &some_image()]);
    assert_clean_failure(&out, "no-such-model");
}

#[test]
fn first_run_without_any_model_source_fails_clearly() {
    // An empty store, the Hub offline and no working pip: the default models cannot come.
    let home = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_inkread"))
        .args(["read", "--mode", "line", &some_image()])
        .env("INKREAD_HOME", home.path())
        .env("HF_HOME", home.path().join("hf"))
        .env("HF_HUB_OFFLINE", "1")
        .env("INKREAD_PYTHON", "/bin/false")
        .output()
        .expect("the inkread binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("inkread: cannot install the default models"),
        "last line: {last:?}"
    );
}

/// `inkread models list | head -1`: the reader goes away; no panic, no message.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    // Gone before anything is written, so the first write meets a closed pipe.
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_inkread"))
        .args(["models", "list"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn zero_threads_is_refused_before_anything_runs() {
    let out = inkread(&["read", "--threads", "0", "--model", ".", &some_image()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("--threads"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bench_conv_times_one_convolution_as_json() {
    let out = inkread(&[
        "bench",
        "conv",
        "--in",
        "2",
        "--out",
        "3",
        "--kernel",
        "3",
        "--height",
        "8",
        "--width",
        "6",
        "--repeats",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    // 8 × 6 outputs (same padding) × 3 channels × 2 inputs × 9 taps.
    assert_eq!(
        row["gmacs"].as_f64().unwrap(),
        8.0 * 6.0 * 3.0 * 2.0 * 9.0 / 1e9
    );
    assert_eq!(row["seconds"].as_array().unwrap().len(), 2);
    assert_eq!(row["threads"], 1);
}

#[test]
fn a_bench_config_that_does_not_exist_is_one_clean_line() {
    let out = inkread(&["bench", "trocr", "--config", "/nonexistent/config.json"]);
    assert_clean_failure(&out, "config.json");
}

/// The texts transformers' `generate` + `batch_decode` gave for a fixture variant.
fn reference_texts(variant: &str, search: &str) -> Option<Vec<String>> {
    let path = fixtures()
        .join("trocr")
        .join(variant)
        .join("reference.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        support::skip(format!("{} missing", path.display()));
        return None;
    };
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let texts = json[search]["texts"].as_array().unwrap();
    Some(
        texts
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect(),
    )
}

fn fixture_args(variant: &str, extra: &[&str]) -> Vec<String> {
    let dir = fixtures().join("trocr").join(variant);
    let mut args: Vec<String> = ["read", "--device", "cpu", "--model"]
        .map(String::from)
        .to_vec();
    args.push(dir.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    for image in ["image_0.png", "image_1.png"] {
        args.push(dir.join(image).display().to_string());
    }
    args
}

/// `read` prints, per image, `path: text` with the text transformers decoded.
fn assert_reads_like_transformers(variant: &str, search: &str, extra: &[&str]) {
    let Some(want) = reference_texts(variant, search) else {
        return;
    };
    let args = fixture_args(variant, extra);
    let out = inkread(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_once(".png: ").expect("path: text").1)
        .collect();
    assert_eq!(got, want, "{variant} {search}");
}

#[test]
fn reads_fixture_lines_greedy_like_transformers() {
    // Greedy references ran 12 new tokens at most; deit_proj_relu ends with EOS earlier,
    // so it runs with its generation_config defaults.
    assert_reads_like_transformers("vit_bpe_tied", "greedy", &["--max-tokens", "12"]);
    assert_reads_like_transformers("vit_fast_equal", "greedy", &["--max-tokens", "12"]);
    assert_reads_like_transformers("deit_proj_relu", "greedy", &[]);
}

#[test]
fn reads_fixture_lines_with_beam_search_like_transformers() {
    // vit_fast_equal's beam reference used length_penalty 1.0 and early_stopping false,
    // which are also generation_config.json's defaults.
    assert_reads_like_transformers(
        "vit_fast_equal",
        "beam",
        &["--beams", "3", "--max-tokens", "12"],
    );
}

#[test]
fn json_output_has_the_documented_shape() {
    let Some(want) = reference_texts("deit_proj_relu", "greedy") else {
        return;
    };
    let args = fixture_args("deit_proj_relu", &["--format", "json"]);
    let out = inkread(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let docs: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "one JSON object per image");
    for (doc, text) in docs.iter().zip(&want) {
        assert!(doc["image"].as_str().unwrap().ends_with(".png"));
        assert!(doc["timings_ms"].is_object());
        let lines = doc["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["text"], text.as_str());
        let confidence = line["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&confidence) && confidence > 0.0);
        let words = line["words"].as_array().unwrap();
        let joined: Vec<&str> = words.iter().map(|w| w["text"].as_str().unwrap()).collect();
        assert_eq!(joined.join(" "), text.trim(), "words make up the line");
        for w in words {
            let c = w["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&c));
        }
    }
}

#[test]
fn a_truncated_image_is_reported_as_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.png");
    let bytes = std::fs::read(some_image()).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = inkread(&["read", "--model", ".", cut.to_str().unwrap()]);
    assert_clean_failure(&out, "not an image");
}

#[test]
fn bench_pages_times_every_page_of_a_pdf_as_json_lines() {
    let models = [
        ("ppocr-v4-det", "ch_PP-OCRv4_det_infer.onnx"),
        ("ppocr-v4-rec", "ch_PP-OCRv4_rec_infer.onnx"),
    ];
    if models
        .iter()
        .any(|(id, file)| support::model_file(id, file).is_none())
    {
        return;
    }
    let pdf = fixtures().join("pdf/two_scans.pdf");
    let out = inkread(&[
        "--threads",
        "1",
        "bench",
        "pages",
        pdf.to_str().unwrap(),
        "--detector",
        "ppocr-v4-det",
        "--recognizer",
        "ppocr-v4-rec",
        "--device",
        "cpu",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(rows.len(), 3, "two pages and the totals: {rows:?}");
    for (i, page) in rows[..2].iter().enumerate() {
        assert!(
            page["page"]
                .as_str()
                .unwrap()
                .ends_with(&format!("#page={}", i + 1))
        );
        assert_eq!(page["lines"], 3, "{page}");
        for stage in ["decode_ms", "detect_ms", "group_ms", "recognize_ms"] {
            assert!(page[stage].as_f64().unwrap() >= 0.0, "{stage}: {page}");
        }
        assert!(page["detect_ms"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(rows[2]["pages"], 2);
    assert_eq!(rows[2]["threads"], 1, "--threads 1 sizes the pool");
    assert_eq!(rows[2]["detector"], "ppocr-v4-det");
}
