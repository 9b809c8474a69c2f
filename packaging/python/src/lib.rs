//! `inkread._inkread`: the Python face of the Inkread library. It stays thin on purpose:
//! readings cross as the JSON `inkread read --format json` prints (the Python wrapper turns
//! them into dicts), errors as `InkreadError` with the Rust message, and the GIL is released
//! while networks run or models download.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use clap::ValueEnum;
use inkread::cancel::CancelToken;
use inkread::cli::read::ReadMode;
use inkread::device::DeviceChoice;
use inkread::export::Format;
use inkread::models::Installer;
use inkread::pipeline::Mode;
use inkread::reader::{Reader, ReaderOptions};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

/// Large tensors on transparent huge pages, as in the `inkread` binary. Only this module's
/// own allocations go through it; glibc's thresholds (`inkread::memory::keep_freed_memory`)
/// are the whole process's, so a library leaves them to its host.
#[global_allocator]
static ALLOCATOR: inkread::memory::HugePageAllocator = inkread::memory::HugePageAllocator;

create_exception!(
    _inkread,
    InkreadError,
    PyException,
    "An error from Inkread, with its message."
);

fn error(e: impl std::fmt::Display) -> PyErr {
    InkreadError::new_err(e.to_string())
}

/// What `read` accepts: encoded image bytes, or a path (str or os.PathLike).
#[derive(FromPyObject)]
enum ImageSource {
    // Bytes first: os.fspath would also accept bytes as a path.
    Bytes(Vec<u8>),
    Path(PathBuf),
}

/// One file of `read_many_json`: its pages' JSON, or the error message.
type FileResult = (Option<Vec<String>>, Option<String>);

/// Models loaded once, read many times; safe to share between Python threads (one read
/// runs at a time per Reader).
#[pyclass(name = "Reader", module = "inkread._inkread")]
struct PyReader {
    // Boxed: the Reader holds a Burn device aligned to 64 bytes, more than Python's
    // allocator gives the object PyO3 places this struct in (a misaligned-pointer abort).
    inner: Mutex<Box<Reader>>,
}

#[pymethods]
impl PyReader {
    #[new]
    #[pyo3(signature = (detector=None, recognizer=None, device="auto", mode="auto"))]
    fn new(
        py: Python<'_>,
        detector: Option<String>,
        recognizer: Option<String>,
        device: &str,
        mode: &str,
    ) -> PyResult<Self> {
        let options = ReaderOptions {
            detector,
            recognizer,
            device: DeviceChoice::from_str(device, true)
                .map_err(|_| error(format!("unknown device {device:?}: auto, gpu or cpu")))?,
            mode: parse_mode(mode)?,
        };
        let reader = py.detach(|| Reader::open(&options)).map_err(error)?;
        Ok(PyReader {
            inner: Mutex::new(Box::new(reader)),
        })
    }

    /// Reads one file or encoded image; returns one reading a page (a PDF or a multi-page
    /// TIFF has several), each as JSON text. `mode` overrides the reader's for this call.
    #[pyo3(signature = (source, name=None, mode=None))]
    fn read_json(
        &self,
        py: Python<'_>,
        source: ImageSource,
        name: Option<String>,
        mode: Option<&str>,
    ) -> PyResult<Vec<String>> {
        let mode = mode.map(parse_mode).transpose()?;
        py.detach(|| self.read_one(source, name.as_deref(), mode))
            .map_err(error)
    }

    /// Reads several files; for each, `(pages' json, None)` or `(None, error message)`, so
    /// one bad file does not lose the others.
    #[pyo3(signature = (sources, mode=None))]
    fn read_many_json(
        &self,
        py: Python<'_>,
        sources: Vec<ImageSource>,
        mode: Option<&str>,
    ) -> PyResult<Vec<FileResult>> {
        let mode = mode.map(parse_mode).transpose()?;
        Ok(py.detach(|| {
            sources
                .into_iter()
                .map(|s| match self.read_one(s, None, mode) {
                    Ok(json) => (Some(json), None),
                    Err(e) => (None, Some(e)),
                })
                .collect()
        }))
    }

    #[getter]
    fn detector(&self) -> String {
        self.lock().detector_id().to_owned()
    }

    #[getter]
    fn recognizer(&self) -> String {
        self.lock().recognizer_id().to_owned()
    }

    #[getter]
    fn device(&self) -> String {
        self.lock().device().to_owned()
    }
}

impl PyReader {
    fn lock(&self) -> std::sync::MutexGuard<'_, Box<Reader>> {
        // A panic while reading cannot leave the models half-written: keep using them.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_one(
        &self,
        source: ImageSource,
        name: Option<&str>,
        mode: Option<Mode>,
    ) -> Result<Vec<String>, String> {
        let cancel = CancelToken::new();
        let mut reader = self.lock();
        let readings = match source {
            ImageSource::Bytes(bytes) => {
                reader.read_bytes(bytes, name.unwrap_or("<bytes>"), mode, &cancel)
            }
            ImageSource::Path(path) => reader.read_path(&path, mode, &cancel),
        }
        .map_err(|e| full_message(&e))?;
        readings
            .iter()
            .map(|r| serde_json::to_string(r).map_err(|e| e.to_string()))
            .collect()
    }
}

/// The error and its causes on one line, as the CLI prints them.
fn full_message(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

/// A mode by the names `inkread read --mode` takes.
fn parse_mode(mode: &str) -> PyResult<Mode> {
    ReadMode::from_str(mode, true)
        .map(Mode::from)
        .map_err(|_| error(format!("unknown mode {mode:?}: auto, page or line")))
}

/// The catalog with what is installed, as JSON (a list of objects).
#[pyfunction]
fn list_models_json() -> PyResult<String> {
    let installer = Installer::from_env().map_err(error)?;
    let models: Vec<serde_json::Value> = installer
        .catalog
        .models()
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id,
                "name": m.name,
                "role": m.role().to_string(),
                "kind": m.kind.as_str(),
                "reads": m.reads_label(),
                "licence": m.licence,
                "size_mb": m.size_mb,
                "installed": installer.installed_dir(&m.id).is_some(),
            })
        })
        .collect();
    serde_json::to_string(&models).map_err(error)
}

/// Installs a model (or "default": the default detectors and recognizer) if missing;
/// returns the folders it is in.
#[pyfunction]
fn pull_model(py: Python<'_>, id: String) -> PyResult<Vec<PathBuf>> {
    py.detach(|| -> Result<Vec<PathBuf>, String> {
        let installer = Installer::from_env().map_err(|e| full_message(&e))?;
        if id == "default" {
            let done = installer
                .ensure_defaults(&mut |_| {})
                .map_err(|e| full_message(&e))?;
            let page_detector = done.page_detector.map(|d| d.dir);
            return Ok([done.detector.dir, done.recognizer.dir]
                .into_iter()
                .chain(page_detector)
                .collect());
        }
        let done = installer
            .install(&id, &mut |_| {})
            .map_err(|e| full_message(&e))?;
        Ok(vec![done.dir])
    })
    .map_err(error)
}

/// A reading (the JSON `read_json` gives) in another format: text, json, hocr, page-xml
/// or alto, as `inkread read --format` writes it.
#[pyfunction]
fn export_reading(reading_json: &str, format: &str) -> PyResult<String> {
    let reading: inkread::reading::Reading =
        serde_json::from_str(reading_json).map_err(|e| error(format!("not a reading: {e}")))?;
    let format = Format::from_str(format, true).map_err(|_| {
        error(format!(
            "unknown format {format:?}: text, json, hocr, page-xml or alto"
        ))
    })?;
    Ok(inkread::export::export(&reading, format))
}

/// The model store folder in use (`INKREAD_HOME`, else the user's data folder).
#[pyfunction]
fn store_path() -> PyResult<PathBuf> {
    Ok(Installer::from_env().map_err(error)?.config.home.clone())
}

#[pymodule]
fn _inkread(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyReader>()?;
    m.add("InkreadError", m.py().get_type::<InkreadError>())?;
    m.add_function(wrap_pyfunction!(list_models_json, m)?)?;
    m.add_function(wrap_pyfunction!(pull_model, m)?)?;
    m.add_function(wrap_pyfunction!(store_path, m)?)?;
    m.add_function(wrap_pyfunction!(export_reading, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
