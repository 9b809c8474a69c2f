//! Builds a [`Pipeline`] from catalog model ids: installs what is missing, then loads each
//! network with the loader its weight file calls for.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::auto_detect::AutoDetector;
use super::auto_recognize::{AutoRecognizer, Calibrated};
use super::calibration::Calibration;
use super::trocr::{TrocrOptions, TrocrRecognizer};
use super::{Detector, Pipeline, Recognizer};
use crate::models::catalog::{Catalog, Kind, ModelEntry, Role, Source};
use crate::models::install::AUTO;
use crate::models::{InstallEvent, Installer};
use crate::{Error, Result};

/// Where the models come from and which device runs them.
pub struct PipelineBuilder<'a> {
    pub installer: &'a Installer,
    pub device: Device,
    /// How TrOCR recognizers generate (beams, token limit).
    pub trocr: TrocrOptions,
}

impl PipelineBuilder<'_> {
    /// `detector` `None` reads every image as one line.
    pub fn build(
        &self,
        detector: Option<&str>,
        recognizer: &str,
        on_event: &mut dyn FnMut(InstallEvent),
    ) -> Result<Pipeline> {
        let detector = match detector {
            Some(id) => Some(self.detector(id, on_event)?),
            None => None,
        };
        let recognizer = self.recognizer(recognizer, on_event)?;
        Ok(Pipeline {
            detector,
            recognizer,
        })
    }

    /// A detector by catalog id, or `auto` (see [`super::auto_detect`]).
    pub fn detector(
        &self,
        id: &str,
        on_event: &mut dyn FnMut(InstallEvent),
    ) -> Result<Box<dyn Detector>> {
        if id == AUTO {
            return self.auto_detector(on_event);
        }
        let (entry, dir) = self.install(id, on_event)?;
        let weights = weight_file(&dir, entry)?;
        match entry.kind {
            Kind::Dbnet => Ok(Box::new(super::paddle::PaddleDetector::load(
                &weights,
                self.device.clone(),
            )?)),
            Kind::Craft => Ok(Box::new(super::easyocr::CraftDetector::load(
                &weights,
                &self.device,
            )?)),
            Kind::Blla => Ok(Box::new(super::blla::BllaDetector::load(
                &weights,
                &self.device,
            )?)),
            _ => Err(Error::Model(format!("{id} is not a detector"))),
        }
    }

    /// The default detector as the scout, the catalog's page detector for document pages.
    fn auto_detector(&self, on_event: &mut dyn FnMut(InstallEvent)) -> Result<Box<dyn Detector>> {
        let catalog = &self.installer.catalog;
        let scout = self.detector(&catalog.default_detector().id, on_event)?;
        let Some(pages) = catalog.page_detector() else {
            return Ok(scout);
        };
        let (entry, dir) = self.install(&pages.id, on_event)?;
        if entry.kind != Kind::Blla {
            return Err(Error::Model(format!(
                "the page detector {} is not a kraken segmenter",
                entry.id
            )));
        }
        let pages = super::blla::BllaDetector::load(&weight_file(&dir, entry)?, &self.device)?;
        Ok(Box::new(AutoDetector::new(scout, pages)))
    }

    pub fn recognizer(
        &self,
        id: &str,
        on_event: &mut dyn FnMut(InstallEvent),
    ) -> Result<Box<dyn Recognizer>> {
        if id == AUTO {
            return self.auto_recognizer(on_event);
        }
        let (entry, dir) = self.install(id, on_event)?;
        match entry.kind {
            Kind::Trocr => Ok(Box::new(TrocrRecognizer::open(
                &dir,
                &self.device,
                &self.trocr,
            )?)),
            Kind::Ctc
                if entry
                    .sources
                    .iter()
                    .any(|s| matches!(s, Source::Trained { .. })) =>
            {
                Ok(Box::new(super::easyocr::CrnnRecognizer::load_personal(
                    &dir,
                    &self.device,
                )?))
            }
            Kind::Ctc => {
                let weights = weight_file(&dir, entry)?;
                match extension(&weights).as_str() {
                    "onnx" => Ok(Box::new(super::paddle::PaddleRecognizer::load(
                        &weights,
                        self.device.clone(),
                    )?)),
                    "pth" => Ok(Box::new(super::easyocr::CrnnRecognizer::load(
                        &weights,
                        &self.device,
                    )?)),
                    other => Err(Error::Model(format!(
                        "{id}: no CTC loader for .{other} weights"
                    ))),
                }
            }
            _ => Err(Error::Model(format!("{id} is not a recognizer"))),
        }
    }

    /// The default (print) recognizer and, when one is installed, the best handwriting
    /// recognizer, line by line (see [`super::auto_recognize`]).
    fn auto_recognizer(
        &self,
        on_event: &mut dyn FnMut(InstallEvent),
    ) -> Result<Box<dyn Recognizer>> {
        let print_id = &self.installer.catalog.default_recognizer().id;
        for (model, why) in self.installer.damaged_personal_models() {
            on_event(InstallEvent::Skipped { model, why });
        }
        let Some(handwriting) = self.installer.handwriting_recognizer() else {
            return self.recognizer(print_id, on_event);
        };
        let handwriting = self.calibrated(&handwriting.id, on_event)?;
        let print = self.calibrated(print_id, on_event)?;
        Ok(Box::new(AutoRecognizer::new(print, handwriting)))
    }

    /// A recognizer with its calibration: its language model's, else the model folder's
    /// `calibration.json`, else the catalog's knots, else none (raw confidences).
    fn calibrated(&self, id: &str, on_event: &mut dyn FnMut(InstallEvent)) -> Result<Calibrated> {
        let recognizer = self.recognizer(id, on_event)?;
        let (entry, dir) = self.install(id, on_event)?;
        // Readings with a language model have their own calibration (`inkread train lm`).
        let calibration = match super::language_model::calibration(&dir)? {
            Some(c) => c,
            None => match Calibration::from_dir(&dir)? {
                Some(c) => c,
                None => catalog_calibration(entry)?,
            },
        };
        Ok(Calibrated {
            recognizer,
            calibration,
        })
    }

    fn install(
        &self,
        id: &str,
        on_event: &mut dyn FnMut(InstallEvent),
    ) -> Result<(&ModelEntry, PathBuf)> {
        let entry = self.installer.catalog.get(id).ok_or_else(|| {
            Error::Model(format!("unknown model '{id}' (see `inkread models list`)"))
        })?;
        let dir = self
            .installer
            .ensure_installed(id, on_event)
            .map_err(|e| Error::model_because(format!("installing {id}"), e))?;
        Ok((entry, dir))
    }
}

/// The model's one weight file (ONNX, PyTorch or CoreML) inside its installed folder.
fn weight_file(dir: &Path, entry: &ModelEntry) -> Result<PathBuf> {
    entry
        .sources
        .iter()
        .flat_map(|s| s.files())
        .flat_map(|f| f.candidates())
        .map(|name| dir.join(name))
        .find(|p| p.is_file() && matches!(extension(p).as_str(), "onnx" | "pth" | "mlmodel"))
        .ok_or_else(|| Error::Model(format!("{}: no weight file in {}", entry.id, dir.display())))
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The built-in catalog's ids for detectors and recognizers, for menus.
pub fn model_ids(catalog: &Catalog, detectors: bool) -> Vec<String> {
    catalog
        .models()
        .iter()
        .filter(|m| (m.kind.role() == Role::Detector) == detectors)
        .map(|m| m.id.clone())
        .collect()
}

/// The catalog's calibration knots for a model (none: raw confidences).
fn catalog_calibration(entry: &ModelEntry) -> Result<Calibration> {
    let knots = entry.calibration.clone().unwrap_or_default();
    Calibration::new(knots)
        .map_err(|e| Error::model_because(format!("the catalog's calibration of {}", entry.id), e))
}
