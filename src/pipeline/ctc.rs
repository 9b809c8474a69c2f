//! Greedy CTC decoding: per-timestep class probabilities (T × C) become text, with a
//! confidence for every character, word and line.
//!
//! Word spaces: best-path decoding takes the likeliest class frame by frame, but in the gap
//! between two words a network often splits its belief between blank and space over several
//! frames, so no single frame picks the space although the labelling *with* the space is the
//! more probable one once its alignments are summed (PP-OCRv4 reads "copythe"). For each run
//! of blank frames between two characters, the decoder compares exactly those two labellings
//! over the run (every placement of a run of spaces against all-blank) and keeps the likelier.
//! There is no threshold to tune. Only a gap before a letter or digit can gain a space:
//! EasyOCR's model also believes in spaces before commas, which are not word gaps.
//!
//! Confidences:
//! - a character's is the highest probability its class reached over the run of timesteps
//!   that produced it (the run is one emission; its peak is where the network was surest);
//! - a word's (text between spaces) is the **minimum** of its characters': a word is only as
//!   trustworthy as its weakest letter;
//! - a line's is the **mean** of its characters' (spaces included), as PaddleOCR reports;
//!   an empty line's is the mean top probability over all timesteps, i.e. how sure the
//!   network was that nothing is written there.

use crate::reading::{LineText, Word};

/// One decoded character (or multi-character token) and the network's confidence in it.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedChar {
    pub text: String,
    pub confidence: f32,
    /// First timestep of the run that emitted it.
    pub timestep: usize,
}

/// Everything greedy decoding produced for one line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decoded {
    pub chars: Vec<DecodedChar>,
    /// Mean top probability over all timesteps (the empty-line confidence).
    pub mean_top: f32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CtcError {
    #[error("CTC scores hold {len} values, not {timesteps} timesteps × {classes} classes")]
    Shape {
        len: usize,
        timesteps: usize,
        classes: usize,
    },
    #[error("blank index {blank} is outside the {classes} classes")]
    Blank { blank: usize, classes: usize },
}

impl From<CtcError> for crate::Error {
    fn from(e: CtcError) -> Self {
        crate::Error::model_because("CTC decoding", e)
    }
}

/// A recognizer's alphabet: `labels[c]` is the text of class `c`; the blank's label is unused.
#[derive(Clone, Debug, PartialEq)]
pub struct CtcDecoder {
    pub labels: Vec<String>,
    pub blank: usize,
}

impl CtcDecoder {
    /// `charset` lists the non-blank classes in order; the blank is inserted at `blank`
    /// (PaddleOCR and EasyOCR both put it at 0).
    pub fn new(charset: impl IntoIterator<Item = String>, blank: usize) -> Self {
        let mut labels: Vec<String> = charset.into_iter().collect();
        let blank = blank.min(labels.len());
        labels.insert(blank, String::new());
        Self { labels, blank }
    }

    pub fn classes(&self) -> usize {
        self.labels.len()
    }

    /// Decodes row-major `timesteps × classes` probabilities (softmax already applied).
    pub fn decode(&self, probs: &[f32], timesteps: usize) -> Result<Decoded, CtcError> {
        let classes = self.classes();
        if self.blank >= classes {
            return Err(CtcError::Blank {
                blank: self.blank,
                classes,
            });
        }
        if classes == 0 || probs.len() != timesteps * classes {
            return Err(CtcError::Shape {
                len: probs.len(),
                timesteps,
                classes,
            });
        }
        // An alphabet may spell the space twice (PP-OCR's has U+3000, mapped to ASCII).
        let spaces: Vec<usize> = (0..classes).filter(|&c| self.labels[c] == " ").collect();
        let mut decoded = Decoded::default();
        let mut previous: Option<usize> = None;
        let mut gap = SpaceInGap::default();
        let mut top_sum = 0.0f64;
        for (t, row) in probs.chunks_exact(classes).enumerate() {
            let (best, p) = argmax(row);
            top_sum += p as f64;
            if best == self.blank {
                if !spaces.is_empty() {
                    gap.add(t, spaces.iter().map(|&s| row[s]).sum(), p);
                }
                previous = Some(best);
                continue;
            }
            if Some(best) == previous {
                // Same class again: the same emission continues; keep its peak.
                if let Some(last) = decoded.chars.last_mut() {
                    last.confidence = last.confidence.max(p);
                }
                continue;
            }
            previous = Some(best);
            // Only before a letter or digit: a space before punctuation is not a word gap.
            let starts_word = self.labels[best].starts_with(char::is_alphanumeric);
            let after_char = decoded.chars.last().is_some_and(|c| !is_space(c));
            if starts_word
                && after_char
                && let Some(space) = gap.space()
            {
                decoded.chars.push(space);
            }
            gap = SpaceInGap::default();
            decoded.chars.push(DecodedChar {
                text: self.labels[best].clone(),
                confidence: p,
                timestep: t,
            });
        }
        decoded.mean_top = if timesteps == 0 {
            0.0
        } else {
            (top_sum / timesteps as f64) as f32
        };
        Ok(decoded)
    }

    /// Decodes and summarizes in one step.
    pub fn decode_line(&self, probs: &[f32], timesteps: usize) -> Result<LineText, CtcError> {
        Ok(self.decode(probs, timesteps)?.line_text())
    }
}

/// The blank frames between two emitted characters, and how much likelier the labelling with
/// a space between them is than the one without, summed over the space's placements.
#[derive(Default)]
struct SpaceInGap {
    first: Option<usize>,
    /// Sum over space runs ending at the latest frame of their probability ratio to blank.
    ending_here: f64,
    /// Sum over all space runs in the gap: P(with a space) / P(all blank).
    odds: f64,
}

impl SpaceInGap {
    fn add(&mut self, t: usize, space: f32, blank: f32) {
        self.first.get_or_insert(t);
        let ratio = space as f64 / (blank as f64).max(1e-12);
        self.ending_here = ratio * (1.0 + self.ending_here);
        self.odds += self.ending_here;
    }

    /// A space, when it is the likelier reading; its confidence is its share of the two.
    fn space(&self) -> Option<DecodedChar> {
        let first = self.first?;
        (self.odds > 1.0).then(|| DecodedChar {
            text: " ".into(),
            confidence: (self.odds / (1.0 + self.odds)) as f32,
            timestep: first,
        })
    }
}

fn argmax(row: &[f32]) -> (usize, f32) {
    row.iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, p)| {
            if p > best.1 { (i, p) } else { best }
        })
}

impl Decoded {
    pub fn text(&self) -> String {
        self.chars.iter().map(|c| c.text.as_str()).collect()
    }

    /// Text (outer whitespace trimmed), words with their minimum confidence, line mean.
    pub fn line_text(&self) -> LineText {
        let kept = trim_spaces(&self.chars);
        if kept.is_empty() {
            return LineText {
                text: String::new(),
                confidence: self.mean_top,
                words: Vec::new(),
            };
        }
        // Two space emissions in a row (space, blank, space) are one word gap.
        let kept: Vec<DecodedChar> = kept
            .iter()
            .enumerate()
            .filter(|&(i, c)| !(is_space(c) && i > 0 && is_space(&kept[i - 1])))
            .map(|(_, c)| c.clone())
            .collect();
        let confidence = kept.iter().map(|c| c.confidence).sum::<f32>() / kept.len() as f32;
        LineText {
            text: kept.iter().map(|c| c.text.as_str()).collect(),
            confidence,
            words: split_words(&kept),
        }
    }
}

fn is_space(c: &DecodedChar) -> bool {
    c.text.chars().all(char::is_whitespace)
}

fn trim_spaces(chars: &[DecodedChar]) -> &[DecodedChar] {
    let start = chars
        .iter()
        .position(|c| !is_space(c))
        .unwrap_or(chars.len());
    let end = chars
        .iter()
        .rposition(|c| !is_space(c))
        .map_or(start, |e| e + 1);
    &chars[start..end]
}

fn split_words(chars: &[DecodedChar]) -> Vec<Word> {
    chars
        .split(is_space)
        .filter(|w| !w.is_empty())
        .map(|w| Word {
            text: w.iter().map(|c| c.text.as_str()).collect(),
            confidence: w.iter().map(|c| c.confidence).fold(f32::INFINITY, f32::min),
        })
        .collect()
}

/// Turns each row of logits into probabilities in place (for networks that end without
/// a softmax).
pub fn softmax_rows(values: &mut [f32], classes: usize) {
    if classes == 0 {
        return;
    }
    for row in values.chunks_mut(classes) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        if sum > 0.0 {
            row.iter_mut().for_each(|v| *v /= sum);
        }
    }
}

/// A recognizer's output for one line: per-timestep class probabilities, row-major
/// `[timesteps, classes]`, ready for [`CtcDecoder::decode_line`].
#[derive(Clone, Debug, PartialEq)]
pub struct CtcProbabilities {
    pub timesteps: usize,
    pub classes: usize,
    pub data: Vec<f32>,
}

impl CtcProbabilities {
    /// Splits a batch's row-major `[lines, timesteps, classes]` output into one per line.
    pub fn split_batch(flat: &[f32], timesteps: usize, classes: usize) -> Vec<Self> {
        flat.chunks(timesteps * classes)
            .map(|c| Self {
                timesteps,
                classes,
                data: c.to_vec(),
            })
            .collect()
    }
}
