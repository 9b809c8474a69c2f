//! A reader that loads its models once and reads many images: what the Python package,
//! Spark workers and other long-lived callers use. It picks and installs models the way
//! `inkread read` does (the catalog's choice unless told), so both give the same results.

use std::path::Path;

use burn::tensor::Device;

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
    installer: Installer,
    device: Device,
    device_name: String,
    pipeline: Pipeline,
    mode: Mode,
    detector_id: String,
    recognizer_id: String,
}

impl Reader {
    /// Installs what is missing (the defaults, or the models asked for) and loads them. A
    /// reader made for lines (`Mode::Line`) loads its detector only if a read asks for pages.
    pub fn open(options: &ReaderOptions) -> Result<Reader, ReaderError> {
        let selected = device::select(options.device)?;
        let installer = Installer::from_env().map_err(ReaderError::Store)?;
        if options.recognizer.is_none() {
            installer
                .ensure_defaults(&mut |_| {})
                .map_err(ReaderError::Defaults)?;
        }
        let recognizer_id = installer.recognizer_id_for(options.recognizer.as_deref());
        let detector_id = installer.detector_id_for(options.detector.as_deref());
        let recognizer = builder(&installer, &selected.device)
            .recognizer(&recognizer_id, &mut |_| {})
            .map_err(|e| load_error(&recognizer_id, e))?;
        let mut reader = Reader {
            installer,
            device: selected.device,
            device_name: selected.description,
            pipeline: Pipeline {
                detector: None,
                recognizer,
            },
            mode: options.mode,
            detector_id,
            recognizer_id,
        };
        if options.mode != Mode::Line {
            reader.load_detector()?;
        }
        Ok(reader)
    }

    /// Reads an image file (any format the app opens): one reading per page, so a PDF or a
    /// multi-page TIFF gives several, named `FILE#page=N` as `inkread read` names them, each
    /// page decoded only when the one before is read. `mode` overrides the reader's own.
    pub fn read_path(
        &mut self,
        path: &Path,
        mode: Option<Mode>,
        cancel: &CancelToken,
    ) -> Result<Vec<Reading>, ReaderError> {
        let name = path.display().to_string();
        let mut readings = Vec::new();
        image_file::each_page_of_file(path, |of, image| {
            readings.push(self.read_page(image, of.label(&name), mode, cancel)?);
            Ok::<(), ReaderError>(())
        })?;
        Ok(readings)
    }

    /// Reads an encoded image (or PDF) held in memory; `name` says where it came from.
    pub fn read_bytes(
        &mut self,
        bytes: Vec<u8>,
        name: &str,
        mode: Option<Mode>,
        cancel: &CancelToken,
    ) -> Result<Vec<Reading>, ReaderError> {
        let mut readings = Vec::new();
        image_file::each_page(bytes, name, |of, image| {
            readings.push(self.read_page(image, of.label(name), mode, cancel)?);
            Ok::<(), ReaderError>(())
        })?;
        Ok(readings)
    }

    fn read_page(
        &mut self,
        image: image::RgbImage,
        source: String,
        mode: Option<Mode>,
        cancel: &CancelToken,
    ) -> Result<Reading, ReaderError> {
        self.read_image(Page { image, source }, mode.unwrap_or(self.mode), cancel)
    }

    fn read_image(
        &mut self,
        page: Page,
        mode: Mode,
        cancel: &CancelToken,
    ) -> Result<Reading, ReaderError> {
        let (w, h) = page.image.dimensions();
        if self.pipeline.detector.is_none() && !mode.reads_whole(w, h) {
            self.load_detector()?;
        }
        self.pipeline
            .read(&page, mode, cancel, &mut |_| {})
            .map_err(|source| ReaderError::Read {
                source_name: page.source.clone(),
                source: Box::new(source),
            })
    }

    fn load_detector(&mut self) -> Result<(), ReaderError> {
        let id = &self.detector_id;
        let detector = builder(&self.installer, &self.device)
            .detector(id, &mut |_| {})
            .map_err(|e| load_error(id, e))?;
        self.pipeline.detector = Some(detector);
        Ok(())
    }

    /// The detector pages are read with (loaded once a page needs it).
    pub fn detector_id(&self) -> &str {
        &self.detector_id
    }

    pub fn recognizer_id(&self) -> &str {
        &self.recognizer_id
    }

    /// The device in words ("CPU (Flex)" or the GPU's name).
    pub fn device(&self) -> &str {
        &self.device_name
    }
}

fn builder<'a>(installer: &'a Installer, device: &Device) -> PipelineBuilder<'a> {
    PipelineBuilder {
        installer,
        device: device.clone(),
        trocr: TrocrOptions::default(),
    }
}

fn load_error(id: &str, source: crate::Error) -> ReaderError {
    ReaderError::Load {
        id: id.to_owned(),
        source: Box::new(source),
    }
}
