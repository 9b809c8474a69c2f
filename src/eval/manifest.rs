//! The evaluation data's manifests (tab-separated, with a header row) and per-page
//! `<stem>.lines.json` ground truth. Paths in a manifest are relative to its folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::reading::Point;
use crate::{Error, Result};

/// One line image and its transcription.
#[derive(Clone, Debug, PartialEq)]
pub struct LineItem {
    pub set: String,
    pub image: PathBuf,
    pub text: String,
}

/// One page image and its ground-truth file.
#[derive(Clone, Debug, PartialEq)]
pub struct PageItem {
    pub set: String,
    pub image: PathBuf,
    pub lines_json: PathBuf,
}

/// A ground-truth line on a page.
#[derive(Clone, Debug, PartialEq)]
pub struct TruthLine {
    pub id: String,
    pub text: String,
    pub polygon: Vec<Point>,
}

pub(crate) fn manifest_error(path: &Path, row: usize, what: &str) -> Error {
    Error::Other(format!("{}: row {row}: {what}", path.display()))
}

/// A manifest row: its 1-based line number and its fields.
pub(crate) type Row = (usize, Vec<String>);

pub(crate) fn read_rows(path: &Path) -> Result<(Vec<String>, Vec<Row>)> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header: Vec<String> = match lines.next() {
        Some((_, h)) => h.split('\t').map(|s| s.trim().to_string()).collect(),
        None => return Err(manifest_error(path, 1, "empty manifest")),
    };
    let rows = lines
        .map(|(i, l)| (i + 1, l.split('\t').map(str::to_string).collect()))
        .collect();
    Ok((header, rows))
}

pub(crate) fn column(header: &[String], name: &str, path: &Path) -> Result<usize> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| manifest_error(path, 1, &format!("no {name:?} column")))
}

pub(crate) fn field<'a>(
    row: &'a [String],
    index: usize,
    path: &Path,
    number: usize,
) -> Result<&'a str> {
    row.get(index)
        .map(String::as_str)
        .ok_or_else(|| manifest_error(path, number, "too few columns"))
}

/// The set is the first component of the item's relative path.
fn set_of(relative: &str) -> String {
    relative
        .split(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_string()
}

fn base_dir(manifest: &Path) -> PathBuf {
    manifest.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The files a manifest lists in its `path` column (any other columns ignored), relative
/// to the manifest's folder.
pub fn read_paths(path: &Path) -> Result<Vec<PathBuf>> {
    let (header, rows) = read_rows(path)?;
    let p = column(&header, "path", path)?;
    let base = base_dir(path);
    rows.iter()
        .map(|(n, row)| Ok(base.join(field(row, p, path, *n)?)))
        .collect()
}

/// Rows of a lines manifest (`path`, `transcription`, ...).
pub fn read_lines_manifest(path: &Path) -> Result<Vec<LineItem>> {
    let (header, rows) = read_rows(path)?;
    let (p, t) = (
        column(&header, "path", path)?,
        column(&header, "transcription", path)?,
    );
    let base = base_dir(path);
    rows.iter()
        .map(|(n, row)| {
            let relative = field(row, p, path, *n)?;
            Ok(LineItem {
                set: set_of(relative),
                image: base.join(relative),
                text: field(row, t, path, *n)?.to_string(),
            })
        })
        .collect()
}

/// Rows of a pages manifest (`path`, `lines_json`, ...).
pub fn read_pages_manifest(path: &Path) -> Result<Vec<PageItem>> {
    let (header, rows) = read_rows(path)?;
    let (p, j) = (
        column(&header, "path", path)?,
        column(&header, "lines_json", path)?,
    );
    let base = base_dir(path);
    rows.iter()
        .map(|(n, row)| {
            let relative = field(row, p, path, *n)?;
            Ok(PageItem {
                set: set_of(relative),
                image: base.join(relative),
                lines_json: base.join(field(row, j, path, *n)?),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct JsonLine {
    #[serde(default)]
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    polygon: Vec<[f32; 2]>,
    #[serde(default)]
    bbox: Option<[f32; 4]>,
}

/// The README describes a bare list; the files wrap it in an object with page metadata.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonPage {
    Wrapped { lines: Vec<JsonLine> },
    Bare(Vec<JsonLine>),
}

/// Ground-truth lines of a page in their file order (the transcription's reading order).
/// A line without a polygon falls back to its bbox.
pub fn read_truth_lines(path: &Path) -> Result<Vec<TruthLine>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let page: JsonPage = serde_json::from_str(&text)
        .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    let lines = match page {
        JsonPage::Wrapped { lines } | JsonPage::Bare(lines) => lines,
    };
    Ok(lines
        .into_iter()
        .map(|l| {
            let polygon = match (l.polygon.len(), l.bbox) {
                (n, Some([x0, y0, x1, y1])) if n < 3 => {
                    vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
                }
                _ => l.polygon,
            };
            TruthLine {
                id: l.id,
                text: l.text,
                polygon,
            }
        })
        .collect())
}
