//! CTC prefix beam search with a character language model: instead of the likeliest class
//! frame by frame (greedy decoding, [`super::ctc`]), the few likeliest *labellings*, each
//! summed over all its alignments, are carried frame to frame, and every character they
//! append is weighed by the language model: `weight · ln P_lm(c | before) + bonus` (the
//! bonus offsets the model's pull towards shorter texts).
//!
//! The result is the same [`Decoded`] greedy decoding gives: a character's confidence is the
//! highest probability its class reached from the frame that emitted it up to the next
//! emission, as in greedy decoding.

use std::collections::HashMap;

use super::char_lm::CharLm;
use super::ctc::{CtcDecoder, CtcError, Decoded, DecodedChar};

/// How strongly the language model counts, and how wide the search is.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BeamSettings {
    /// Labellings kept after each frame.
    pub beam: usize,
    /// Multiplies the language model's log-probability.
    pub weight: f32,
    /// Added for every character appended.
    pub bonus: f32,
}

impl Default for BeamSettings {
    fn default() -> Self {
        // Chosen on 481 of ../shared/train's validation lines (docs/TRAIN.md), never on
        // ../shared/eval.
        Self {
            beam: 20,
            weight: 0.5,
            bonus: 2.0,
        }
    }
}

/// Classes below this probability in a frame are not tried as the next character there.
const MIN_CANDIDATE: f32 = 1e-3;

/// One labelling being followed: ln P of its alignments ending in blank and in a character.
#[derive(Clone, Debug)]
struct Beam {
    classes: Vec<usize>,
    /// Frame of each emission, parallel to `classes`.
    frames: Vec<usize>,
    blank: f32,
    char: f32,
}

impl Beam {
    /// The labelling before the first frame: nothing read, certainly.
    fn empty() -> Self {
        Beam {
            classes: Vec::new(),
            frames: Vec::new(),
            blank: 0.0,
            char: f32::NEG_INFINITY,
        }
    }

    fn total(&self) -> f32 {
        log_add(self.blank, self.char)
    }
}

fn log_add(a: f32, b: f32) -> f32 {
    if a == f32::NEG_INFINITY {
        return b;
    }
    if b == f32::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// Decodes row-major `timesteps × classes` probabilities with `lm`.
pub fn beam_decode(
    decoder: &CtcDecoder,
    probs: &[f32],
    timesteps: usize,
    lm: &CharLm,
    settings: &BeamSettings,
) -> Result<Decoded, CtcError> {
    beam_decode_best(
        decoder,
        probs,
        timesteps,
        std::slice::from_ref(lm),
        settings,
    )
}

/// Decodes with each of `lms` (one per language, say) and keeps the reading that scores
/// best, the network's probability and its language model's together: a line is read in
/// the language it reads best in. With no language model it reads as with one that knows
/// nothing.
pub fn beam_decode_best(
    decoder: &CtcDecoder,
    probs: &[f32],
    timesteps: usize,
    lms: &[CharLm],
    settings: &BeamSettings,
) -> Result<Decoded, CtcError> {
    let classes = decoder.classes();
    if probs.len() != timesteps * classes || classes == 0 {
        return Err(CtcError::Shape {
            len: probs.len(),
            timesteps,
            classes,
        });
    }
    if decoder.blank >= classes {
        return Err(CtcError::Blank {
            blank: decoder.blank,
            classes,
        });
    }
    let uninformed = [CharLm::train([], 1)];
    let lms = if lms.is_empty() { &uninformed[..] } else { lms };
    let best = lms
        .iter()
        .map(|lm| {
            search(
                decoder,
                probs,
                &LmScorer::new(decoder, lm, settings),
                settings,
            )
        })
        .max_by(|a, b| a.total().total_cmp(&b.total()))
        .map(|b| (b.classes, b.frames))
        .unwrap_or_default();
    Ok(decoded(decoder, probs, timesteps, best))
}

/// The likeliest labelling after the last frame, by prefix beam search with `scorer`.
fn search(decoder: &CtcDecoder, probs: &[f32], scorer: &LmScorer, settings: &BeamSettings) -> Beam {
    let mut beams = vec![Beam::empty()];
    for (t, row) in probs.chunks_exact(decoder.classes()).enumerate() {
        beams = step(&beams, t, row, decoder.blank, scorer, settings.beam.max(1));
    }
    // Every step keeps at least one labelling; the empty one stands in all the same.
    beams
        .into_iter()
        .max_by(|a, b| a.total().total_cmp(&b.total()))
        .unwrap_or_else(Beam::empty)
}

/// Carries every beam over one frame and keeps the `width` likeliest labellings.
fn step(
    beams: &[Beam],
    t: usize,
    row: &[f32],
    blank: usize,
    scorer: &LmScorer,
    width: usize,
) -> Vec<Beam> {
    let mut next: Vec<Beam> = Vec::new();
    let mut index: HashMap<Vec<usize>, usize> = HashMap::new();
    let mut add =
        |classes: &Vec<usize>, frames: &dyn Fn() -> Vec<usize>, blank_p: f32, char_p: f32| {
            let i = *index.entry(classes.clone()).or_insert_with(|| {
                next.push(Beam {
                    classes: classes.clone(),
                    frames: frames(),
                    blank: f32::NEG_INFINITY,
                    char: f32::NEG_INFINITY,
                });
                next.len() - 1
            });
            next[i].blank = log_add(next[i].blank, blank_p);
            next[i].char = log_add(next[i].char, char_p);
        };
    let ln = |c: usize| row[c].max(1e-30).ln();
    let candidates: Vec<usize> = (0..row.len())
        .filter(|&c| c != blank && row[c] >= MIN_CANDIDATE)
        .collect();
    for beam in beams {
        let total = beam.total();
        // A blank, or the last character held: the labelling stays as it is.
        let held = beam
            .classes
            .last()
            .map_or(f32::NEG_INFINITY, |&c| beam.char + ln(c));
        add(
            &beam.classes,
            &|| beam.frames.clone(),
            total + ln(blank),
            held,
        );
        for &c in &candidates {
            // The same character again needs a blank between (else it is the one held).
            let from = if beam.classes.last() == Some(&c) {
                beam.blank
            } else {
                total
            };
            if from == f32::NEG_INFINITY {
                continue;
            }
            let mut classes = beam.classes.clone();
            classes.push(c);
            let p = from + ln(c) + scorer.score(&beam.classes, c);
            let frames = || {
                let mut f = beam.frames.clone();
                f.push(t);
                f
            };
            add(&classes, &frames, f32::NEG_INFINITY, p);
        }
    }
    next.sort_by(|a, b| b.total().total_cmp(&a.total()));
    next.truncate(width);
    next
}

/// The language model's share of appending a class, in the decoder's labels.
struct LmScorer<'a> {
    lm: &'a CharLm,
    /// Each class's text as one character, or `None` (blank, multi-character labels).
    chars: Vec<Option<char>>,
    settings: BeamSettings,
}

impl<'a> LmScorer<'a> {
    fn new(decoder: &CtcDecoder, lm: &'a CharLm, settings: &BeamSettings) -> Self {
        let chars = decoder
            .labels
            .iter()
            .map(|l| {
                let mut it = l.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => Some(c),
                    _ => None,
                }
            })
            .collect();
        Self {
            lm,
            chars,
            settings: *settings,
        }
    }

    fn score(&self, before: &[usize], class: usize) -> f32 {
        let Some(c) = self.chars[class] else {
            return self.settings.bonus;
        };
        let start = before.len().saturating_sub(self.lm.context());
        let history: Vec<Option<char>> = before[start..].iter().map(|&b| self.chars[b]).collect();
        self.settings.weight * self.lm.log_prob(&history, c) + self.settings.bonus
    }
}

/// The chosen labelling as greedy decoding reports one: each character's confidence is the
/// peak probability of its class from its emission to the next one.
fn decoded(
    decoder: &CtcDecoder,
    probs: &[f32],
    timesteps: usize,
    (classes, frames): (Vec<usize>, Vec<usize>),
) -> Decoded {
    let width = decoder.classes();
    let rows: Vec<&[f32]> = probs.chunks_exact(width).collect();
    let top_sum: f64 = rows
        .iter()
        .map(|r| f64::from(r.iter().copied().fold(0.0f32, f32::max)))
        .sum();
    let ends = frames.iter().skip(1).copied().chain([timesteps]);
    let chars = classes
        .iter()
        .zip(&frames)
        .zip(ends)
        .map(|((&class, &from), to)| DecodedChar {
            text: decoder.labels[class].clone(),
            confidence: rows[from..to.max(from + 1)]
                .iter()
                .map(|r| r[class])
                .fold(0.0, f32::max),
            timestep: from,
        })
        .collect();
    Decoded {
        chars,
        mean_top: if timesteps == 0 {
            0.0
        } else {
            (top_sum / timesteps as f64) as f32
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames that spell `text` in a 4-letter alphabet, each frame `p` sure of its letter.
    fn frames(decoder: &CtcDecoder, spelled: &[&str], p: f32) -> Vec<f32> {
        let classes = decoder.classes();
        let mut out = Vec::new();
        for s in spelled {
            let class = decoder.labels.iter().position(|l| l == s).unwrap();
            let rest = (1.0 - p) / (classes - 1) as f32;
            out.extend((0..classes).map(|c| if c == class { p } else { rest }));
        }
        out
    }

    fn decoder() -> CtcDecoder {
        CtcDecoder::new(["a", "b", "h", "t", "e", " "].map(String::from), 0)
    }

    #[test]
    fn a_clear_reading_comes_out_as_greedy_reads_it() {
        let d = decoder();
        let lm = CharLm::train(["the"], 3);
        let spelled = ["t", "", "a", "a", "", "a", "b", ""];
        let probs = frames(&d, &spelled, 0.97);
        let greedy = d.decode(&probs, spelled.len()).unwrap();
        let beam = beam_decode(&d, &probs, spelled.len(), &lm, &BeamSettings::default()).unwrap();
        assert_eq!(beam.text(), "taab");
        assert_eq!(beam.text(), greedy.text());
        assert_eq!(beam.chars.len(), greedy.chars.len());
        for (b, g) in beam.chars.iter().zip(&greedy.chars) {
            assert_eq!(b.timestep, g.timestep);
            assert!((b.confidence - g.confidence).abs() < 1e-6);
        }
    }

    /// Three frames: a clear 't', then 'b' a little likelier than 'h', then a clear 'e'.
    fn t_b_or_h_e(d: &CtcDecoder) -> Vec<f32> {
        let mut probs = frames(d, &["t"], 0.95);
        let mut unsure = vec![0.02; d.classes()];
        unsure[2] = 0.50; // b
        unsure[3] = 0.40; // h
        probs.extend(unsure);
        probs.extend(frames(d, &["e"], 0.95));
        probs
    }

    #[test]
    fn the_language_model_settles_what_the_pixels_leave_open() {
        let d = decoder();
        let lm = CharLm::train(["the", "the the", "then the"], 3);
        let probs = t_b_or_h_e(&d);
        assert_eq!(d.decode(&probs, 3).unwrap().text(), "tbe");
        let beam = beam_decode(&d, &probs, 3, &lm, &BeamSettings::default()).unwrap();
        assert_eq!(beam.text(), "the");
        let no_lm = BeamSettings {
            weight: 0.0,
            bonus: 0.0,
            ..BeamSettings::default()
        };
        assert_eq!(
            beam_decode(&d, &probs, 3, &lm, &no_lm).unwrap().text(),
            "tbe"
        );
    }

    #[test]
    fn each_line_is_read_in_the_language_it_reads_best_in() {
        let d = decoder();
        let words = || CharLm::train(["the", "the the", "then the"], 3);
        let other = || CharLm::train(["ab ab", "abba", "baba"], 3);
        let probs = t_b_or_h_e(&d);
        let read = |lms: &[CharLm]| {
            beam_decode_best(&d, &probs, 3, lms, &BeamSettings::default())
                .unwrap()
                .text()
        };
        // Whichever order the models come in, the one that makes sense of the line wins.
        assert_eq!(read(&[words(), other()]), "the");
        assert_eq!(read(&[other(), words()]), "the");
        // With none, the pixels decide.
        assert_eq!(read(&[]), "tbe");
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let lm = CharLm::train(["a"], 2);
        let d = decoder();
        assert!(beam_decode(&d, &[0.5; 5], 1, &lm, &BeamSettings::default()).is_err());
    }
}
