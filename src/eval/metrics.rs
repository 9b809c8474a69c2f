//! Text and detection metrics: edit distances after normalization, and one-to-one matching of
//! detected and true line polygons.

use unicode_normalization::UnicodeNormalization;

use crate::pipeline::geometry::polygon_iou;
use crate::reading::Point;

/// Unicode NFC with runs of whitespace collapsed to one space and the ends trimmed.
pub fn normalize(text: &str) -> String {
    let nfc: String = text.nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// [`normalize`], then lower case, keeping only letters, digits and spaces (punctuation and
/// symbols such as `.,;:'"-^` are dropped, not replaced).
pub fn normalize_loose(text: &str) -> String {
    let lowered: String = text.nfc().flat_map(char::to_lowercase).collect();
    let kept: String = lowered
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect();
    normalize(&kept)
}

/// Levenshtein distance between two sequences (unit costs).
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    if a.is_empty() {
        return b.len();
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(x != y);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Errors and reference length, summed over items so rates are micro-averaged
/// (total edits / total reference length).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Errors {
    pub edits: usize,
    pub reference: usize,
}

impl Errors {
    pub fn add(&mut self, other: Errors) {
        self.edits += other.edits;
        self.reference += other.reference;
    }

    /// Edits per reference unit; `None` with no reference at all.
    pub fn rate(&self) -> Option<f64> {
        (self.reference > 0).then(|| self.edits as f64 / self.reference as f64)
    }
}

/// Character errors of already-normalized strings.
pub fn char_errors(reference: &str, hypothesis: &str) -> Errors {
    let r: Vec<char> = reference.chars().collect();
    let h: Vec<char> = hypothesis.chars().collect();
    Errors {
        edits: edit_distance(&r, &h),
        reference: r.len(),
    }
}

/// Word errors of already-normalized strings (words split on whitespace).
pub fn word_errors(reference: &str, hypothesis: &str) -> Errors {
    let r: Vec<&str> = reference.split_whitespace().collect();
    let h: Vec<&str> = hypothesis.split_whitespace().collect();
    Errors {
        edits: edit_distance(&r, &h),
        reference: r.len(),
    }
}

/// CER of one pair after [`normalize`] (1.0 for anything against an empty reference).
pub fn cer(reference: &str, hypothesis: &str) -> f64 {
    let e = char_errors(&normalize(reference), &normalize(hypothesis));
    e.rate().unwrap_or(if e.edits == 0 { 0.0 } else { 1.0 })
}

/// WER of one pair after [`normalize`].
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let e = word_errors(&normalize(reference), &normalize(hypothesis));
    e.rate().unwrap_or(if e.edits == 0 { 0.0 } else { 1.0 })
}

/// The four text tallies the evaluation reports for one reference/hypothesis pair.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TextErrors {
    pub chars: Errors,
    pub words: Errors,
    pub chars_loose: Errors,
    pub words_loose: Errors,
}

impl TextErrors {
    pub fn of(reference: &str, hypothesis: &str) -> Self {
        let (r, h) = (normalize(reference), normalize(hypothesis));
        let (rl, hl) = (normalize_loose(reference), normalize_loose(hypothesis));
        Self {
            chars: char_errors(&r, &h),
            words: word_errors(&r, &h),
            chars_loose: char_errors(&rl, &hl),
            words_loose: word_errors(&rl, &hl),
        }
    }

    pub fn add(&mut self, other: TextErrors) {
        self.chars.add(other.chars);
        self.words.add(other.words);
        self.chars_loose.add(other.chars_loose);
        self.words_loose.add(other.words_loose);
    }
}

/// Detection IoU threshold for a true positive.
pub const IOU_THRESHOLD: f32 = 0.5;

/// One-to-one matching of detected to true polygons: all pairs with IoU ≥ `threshold` are
/// taken greedily from the highest IoU down, each polygon used at most once. Returns, for each
/// true polygon, the index of its detection.
pub fn match_polygons(
    truth: &[Vec<Point>],
    detected: &[Vec<Point>],
    threshold: f32,
) -> Vec<Option<usize>> {
    let truth_boxes: Vec<[f32; 4]> = truth.iter().map(|p| crate::reading::bbox_of(p)).collect();
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (d, poly) in detected.iter().enumerate() {
        let b = crate::reading::bbox_of(poly);
        for (t, tb) in truth_boxes.iter().enumerate() {
            let overlaps = b[0] < tb[2] && tb[0] < b[2] && b[1] < tb[3] && tb[1] < b[3];
            if !overlaps {
                continue;
            }
            let iou = polygon_iou(&truth[t], poly);
            if iou >= threshold {
                pairs.push((iou, t, d));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut of_truth = vec![None; truth.len()];
    let mut used = vec![false; detected.len()];
    for (_, t, d) in pairs {
        if of_truth[t].is_none() && !used[d] {
            of_truth[t] = Some(d);
            used[d] = true;
        }
    }
    of_truth
}

/// True positives, false positives and misses, summed over pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Detection {
    pub matched: usize,
    pub detected: usize,
    pub truth: usize,
}

impl Detection {
    pub fn add(&mut self, other: Detection) {
        self.matched += other.matched;
        self.detected += other.detected;
        self.truth += other.truth;
    }

    /// Matched / detected; 1.0 when nothing was detected and nothing was there.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.matched, self.detected, self.truth == 0)
    }

    pub fn recall(&self) -> Option<f64> {
        ratio(self.matched, self.truth, self.detected == 0)
    }

    pub fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision()?, self.recall()?);
        Some(if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        })
    }
}

fn ratio(part: usize, whole: usize, vacuous: bool) -> Option<f64> {
    match (whole, vacuous) {
        (0, true) => Some(1.0),
        (0, false) => Some(0.0),
        _ => Some(part as f64 / whole as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_normalization_ignores_case_and_punctuation() {
        assert_eq!(
            normalize_loose("Mrs. Stanford's  Funeral!"),
            "mrs stanfords funeral"
        );
    }

    #[test]
    fn nfc_makes_composed_and_decomposed_equal() {
        assert_eq!(cer("caf\u{e9}", "cafe\u{301}"), 0.0);
    }
}
