//! Word spacing for the sketchpad: recognizers trained on print often run handwritten words
//! together ("Hi ok" → "Hiok"), but the writer's gaps are in the strokes. The strokes of a
//! line are laid on the x axis; a gap wider than [`WORD_GAP`] letter heights ends a word; where
//! the recognized text has fewer spaces than the drawing has words, a space goes in at the
//! place in the text that corresponds to each gap's place along the line.

use eframe::egui::Pos2;

use super::sketchpad::Stroke;
use crate::reading::{Line, Word};

/// A gap between strokes at least this many letter heights wide separates two words.
/// Letters of one word sit closer than half a letter height; words, further apart.
pub const WORD_GAP: f32 = 0.5;

/// The sketch's lines with the drawn word gaps as spaces. `to_page` maps reading (raster)
/// coordinates to the sketch's page; `letter_height` is in page units.
pub fn respace_lines(
    lines: &mut [Line],
    strokes: &[Stroke],
    letter_height: f32,
    to_page: impl Fn([f32; 2]) -> Pos2,
) {
    for line in lines {
        let [x0, y0, x1, y1] = line.bbox;
        let (top_left, bottom_right) = (to_page([x0, y0]), to_page([x1, y1]));
        let on_line: Vec<&Stroke> = strokes
            .iter()
            .filter(|s| centre_y(s).is_some_and(|y| y >= top_left.y && y <= bottom_right.y))
            .collect();
        let gaps = word_gaps(&on_line, letter_height);
        // The text spans the ink, not the line's box with its margins.
        let Some(ink) = ink_span(&on_line) else {
            continue;
        };
        let spaced = insert_spaces(&line.text, ink, &gaps);
        if spaced != line.text {
            line.words = spaced
                .split_whitespace()
                .map(|w| Word {
                    text: w.to_owned(),
                    confidence: line.confidence,
                })
                .collect();
            line.text = spaced;
        }
    }
}

fn centre_y(stroke: &Stroke) -> Option<f32> {
    let n = stroke.points.len();
    (n > 0).then(|| stroke.points.iter().map(|p| p.y).sum::<f32>() / n as f32)
}

/// Each stroke's extent on the x axis, ink width included.
fn x_spans(strokes: &[&Stroke]) -> Vec<(f32, f32)> {
    strokes
        .iter()
        .filter_map(|s| {
            let half = s.width / 2.0;
            let xs = s.points.iter().map(|p| p.x);
            let min = xs.clone().fold(f32::INFINITY, f32::min);
            let max = xs.fold(f32::NEG_INFINITY, f32::max);
            (min <= max).then_some((min - half, max + half))
        })
        .collect()
}

/// From the leftmost ink to the rightmost.
fn ink_span(strokes: &[&Stroke]) -> Option<(f32, f32)> {
    let spans = x_spans(strokes);
    let left = spans.iter().map(|s| s.0).fold(f32::INFINITY, f32::min);
    let right = spans.iter().map(|s| s.1).fold(f32::NEG_INFINITY, f32::max);
    (left < right).then_some((left, right))
}

/// The x positions (page units) of the middles of the gaps between words.
pub fn word_gaps(strokes: &[&Stroke], letter_height: f32) -> Vec<f32> {
    let mut spans = x_spans(strokes);
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut gaps = Vec::new();
    let mut reach = match spans.first() {
        Some(first) => first.1,
        None => return gaps,
    };
    for (start, end) in spans.into_iter().skip(1) {
        if start - reach > WORD_GAP * letter_height {
            gaps.push((reach + start) / 2.0);
        }
        reach = reach.max(end);
    }
    gaps
}

/// `text` with a space at each gap's place along `span` (x from the line's left to its
/// right), unless the text already has a space there (within one character).
pub fn insert_spaces(text: &str, span: (f32, f32), gaps: &[f32]) -> String {
    let mut chars: Vec<char> = text.trim().chars().collect();
    let spaces = chars.iter().filter(|c| c.is_whitespace()).count();
    let width = span.1 - span.0;
    if spaces >= gaps.len() || chars.len() < 2 || width <= 0.0 {
        return text.to_owned();
    }
    // From the right, so the places of the gaps still to do do not move.
    for &x in gaps.iter().rev() {
        let at = (((x - span.0) / width) * chars.len() as f32).round() as usize;
        let at = at.clamp(1, chars.len() - 1);
        let near = chars[at - 1..=at.min(chars.len() - 1)]
            .iter()
            .any(|c| c.is_whitespace());
        if !near {
            chars.insert(at, ' ');
        }
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stroke(x0: f32, x1: f32) -> Stroke {
        Stroke::new(vec![Pos2::new(x0, 0.0), Pos2::new(x1, 40.0)], 4.0)
    }

    /// "Hi ok" as a hand draws it: H (two bars and a crossbar), i, a word gap, o, k.
    fn hi_ok() -> Vec<Stroke> {
        vec![
            stroke(0.0, 0.0),
            stroke(24.0, 24.0),
            stroke(0.0, 24.0),
            stroke(36.0, 36.0),
            stroke(80.0, 104.0),
            stroke(116.0, 116.0),
            stroke(116.0, 136.0),
        ]
    }

    #[test]
    fn the_gap_between_words_is_found_and_letter_gaps_are_not() {
        let strokes = hi_ok();
        let refs: Vec<&Stroke> = strokes.iter().collect();
        let gaps = word_gaps(&refs, 40.0);
        assert_eq!(gaps.len(), 1);
        assert!(gaps[0] > 38.0 && gaps[0] < 78.0, "{gaps:?}");
    }

    #[test]
    fn a_merged_reading_gets_its_space_back() {
        assert_eq!(insert_spaces("Hiok", (-2.0, 138.0), &[58.0]), "Hi ok");
        // Already spaced: unchanged.
        assert_eq!(insert_spaces("Hi ok", (-2.0, 138.0), &[58.0]), "Hi ok");
        // No gap drawn: unchanged.
        assert_eq!(insert_spaces("Hiok", (-2.0, 138.0), &[]), "Hiok");
        // Degenerate input is left alone.
        assert_eq!(insert_spaces("H", (0.0, 10.0), &[5.0]), "H");
        assert_eq!(insert_spaces("Hiok", (5.0, 5.0), &[5.0]), "Hiok");
    }
}
