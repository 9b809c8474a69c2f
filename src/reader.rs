//! A reader that loads its models once and reads many images: what the Python package,
//! Spark workers and other long-lived callers use. It picks and installs models the way
//! `inkread read` does (the catalog's choice unless told), so both give the same results.

use std::path::Path;

use crate::cancel::CancelToken;
use crate::device::{self, DeviceChoice, DeviceError};
use crate::image_file::{self, ImageError};
use crate::models::{InstallError, Installer};
use crate::pipeline::build::PipelineBuilder;
use crate::pipeline::trocr::TrocrOptions;
use crate::pipeline::{Mode, Pipeline};
use crate::reading::{Page, Reading};

/// Which models to read with and where; `None` takes what `inkread read` would take.
#[derive(Clone, Debug, Default)]
pub struct ReaderOptions {
    pub detector: Option<String>,
    pub recognizer: Option<String>,
    pub device: DeviceChoice,
    pub mode: Mode,
}

#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("cannot open the model store: {0}")]
    Store(#[source] InstallError),
    #[error("cannot install the default models: {0}")]
    Defaults(#[source] InstallError),
    #[error("cannot load {id}: {source}")]
    Load {
        id: String,
        // Boxed: the library's error is large, and this type travels by value.
        #[source]
        source: Box<crate::Error>,
    },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("cannot read {source_name}: {source}")]
    Read {
        source_name: String,
        #[source]
        source: Box<crate::Error>,
    },
}

/// Loaded models, ready to read one image after another.
pub struct Reader {
    pipeline: Pipeline,
    mode: Mode,
    detector_id: Option<String>,
    recognizer_id: String,
    device: String,
}

impl Reader {
    /// Installs what is missing (the defaults, or the models asked for) and loads them.
    pub fn open(options: &ReaderOptions) -> Result<Reader, ReaderError> {
        let selected = device::select(options.device)?;
        let installer = Installer::from_env().map_err(ReaderError::Store)?;
        let builder = PipelineBuilder {
            installer: &installer,
            device: selected.device.clone(),
            trocr: TrocrOptions::default(),
        };
        let recognizer_id = match &options.recognizer {
            Some(id) => id.clone(),
            None => {
                installer
                    .ensure_defaults(&mut |_| {})
                    .map_err(ReaderError::Defaults)?;
                installer.recognizer_to_use().id.clone()
            }
        };
        // A reader for line images never needs a detector; any other may meet a page.
        let detector_id = match options.mode {
            Mode::Line => None,
            _ => Some(match &options.detector {
                Some(id) => id.clone(),
                None => installer.detector_to_use().id.clone(),
            }),
        };
        let load = |id: &str, source| ReaderError::Load {
            id: id.to_owned(),
            source: Box::new(source),
        };
        let recognizer = builder
            .recognizer(&recognizer_id, &mut |_| {})
            .map_err(|e| load(&recognizer_id, e))?;
        let detector = match &detector_id {
            Some(id) => Some(builder.detector(id, &mut |_| {}).map_err(|e| load(id, e))?),
            None => None,
        };
        Ok(Reader {
            pipeline: Pipeline {
                detector,
                recognizer,
            },
            mode: options.mode,
            detector_id,
            recognizer_id,
            device: selected.description,
        })
    }

    /// Reads an image file (any format the app opens).
    pub fn read_path(&mut self, path: &Path, cancel: &CancelToken) -> Result<Reading, ReaderError> {
        let image = image_file::open(path)?;
        self.read_image(image, path.display().to_string(), cancel)
    }

    /// Reads an encoded image held in memory; `name` says where it came from (a path, a URL).
    pub fn read_bytes(
        &mut self,
        bytes: &[u8],
        name: &str,
        cancel: &CancelToken,
    ) -> Result<Reading, ReaderError> {
        let image = image_file::decode(bytes, name)?;
        self.read_image(image, name.to_owned(), cancel)
    }

    fn read_image(
        &mut self,
        image: image::RgbImage,
        source: String,
        cancel: &CancelToken,
    ) -> Result<Reading, ReaderError> {
        let page = Page { image, source };
        self.pipeline
            .read(&page, self.mode, cancel, &mut |_| {})
            .map_err(|source| ReaderError::Read {
                source_name: page.source.clone(),
                source: Box::new(source),
            })
    }

    pub fn detector_id(&self) -> Option<&str> {
        self.detector_id.as_deref()
    }

    pub fn recognizer_id(&self) -> &str {
        &self.recognizer_id
    }

    /// The device in words ("CPU (Flex)" or the GPU's name).
    pub fn device(&self) -> &str {
        &self.device
    }
}
