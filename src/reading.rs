//! The data that flows through Inkread: a page in, regions found, lines read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A point in image pixels, `[x, y]`.
pub type Point = [f32; 2];

/// An image to read and where it came from (a path, a URL, "clipboard", "sketchpad").
#[derive(Clone, Debug)]
pub struct Page {
    pub image: image::RgbImage,
    pub source: String,
}

/// A text region found by a detector, in page pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub polygon: Vec<Point>,
    pub score: f32,
}

/// One recognized word with the recognizer's confidence in it (0..=1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub confidence: f32,
}

/// What a recognizer returns for one line image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LineText {
    pub text: String,
    pub confidence: f32,
    pub words: Vec<Word>,
}

/// A recognized line placed on the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub text: String,
    pub confidence: f32,
    pub words: Vec<Word>,
    /// Outline of the line in page pixels, clockwise from top-left.
    pub polygon: Vec<Point>,
    /// Axis-aligned box `[x0, y0, x1, y1]` in page pixels.
    pub bbox: [f32; 4],
    /// The baseline from the line's start to its end, when the detector finds one (kraken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Vec<Point>>,
}

impl Line {
    /// A recognized text placed at `polygon` (its box is derived from it).
    pub fn placed(polygon: Vec<Point>, text: LineText) -> Line {
        Line {
            bbox: bbox_of(&polygon),
            polygon,
            text: text.text,
            confidence: text.confidence,
            words: text.words,
            baseline: None,
        }
    }
}

/// Everything Inkread read on one page, lines in reading order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub image: String,
    pub width: u32,
    pub height: u32,
    pub lines: Vec<Line>,
    pub timings_ms: BTreeMap<String, f64>,
}

impl Reading {
    /// The page's text, one line per line, in reading order.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Axis-aligned bounds of a polygon, `[x0, y0, x1, y1]`.
pub fn bbox_of(polygon: &[Point]) -> [f32; 4] {
    let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
    for p in polygon {
        b[0] = b[0].min(p[0]);
        b[1] = b[1].min(p[1]);
        b[2] = b[2].max(p[0]);
        b[3] = b[3].max(p[1]);
    }
    if polygon.is_empty() { [0.0; 4] } else { b }
}
