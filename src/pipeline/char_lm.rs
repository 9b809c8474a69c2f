//! A character n-gram language model: how likely a character is after the few before it,
//! learnt from transcriptions. CTC beam search ([`super::ctc_beam`]) weighs the network's
//! readings with it, so that "tbe" loses to "the" where the pixels hardly tell them apart.
//!
//! Counts of every n-gram up to `order` characters, smoothed by Witten–Bell interpolation:
//! after a history h seen C(h) times with T(h) different next characters,
//! P(c | h) = (C(h c) + T(h) · P(c | h shortened)) / (C(h) + T(h)), down to a uniform
//! distribution over the characters seen plus one for any other. Lines start with a marker
//! character, so that how lines begin is learnt too.

use std::collections::HashMap;

/// What starts every line's history (never a character of the text).
const LINE_START: char = '\u{2}';

/// Counts after one history: how often it was seen with a next character, and how many
/// different next characters followed it.
#[derive(Clone, Copy, Debug, Default)]
struct History {
    total: u32,
    types: u32,
}

#[derive(Debug, Default)]
pub struct CharLm {
    order: usize,
    /// Keyed by [`key`] of the history.
    histories: HashMap<u64, History>,
    /// Keyed by [`key`] of the history followed by the character.
    ngrams: HashMap<u64, u32>,
    /// Characters seen, plus one for anything else.
    vocabulary: usize,
}

impl CharLm {
    /// Learns from `texts` (one line each) with histories of up to `order - 1` characters.
    pub fn train<'a>(texts: impl IntoIterator<Item = &'a str>, order: usize) -> Self {
        let order = order.max(1);
        let mut lm = CharLm {
            order,
            ..CharLm::default()
        };
        let mut seen = std::collections::HashSet::new();
        for text in texts {
            let chars: Vec<char> = std::iter::repeat_n(LINE_START, order - 1)
                .chain(text.chars())
                .collect();
            for end in order - 1..chars.len() {
                seen.insert(chars[end]);
                for n in 0..order {
                    lm.count(&chars[end - n..end], chars[end]);
                }
            }
        }
        lm.vocabulary = seen.len() + 1;
        lm
    }

    /// The longest history that matters (`order - 1` characters).
    pub fn context(&self) -> usize {
        self.order - 1
    }

    fn count(&mut self, history: &[char], next: char) {
        let joint = self.ngrams.entry(key(history, Some(next))).or_insert(0);
        *joint += 1;
        let new_type = *joint == 1;
        let entry = self.histories.entry(key(history, None)).or_default();
        entry.total += 1;
        entry.types += u32::from(new_type);
    }

    /// ln P(next | history); `history` holds the characters before `next` (any number: the
    /// last `order - 1` count), with `None` standing for the start of the line.
    pub fn log_prob(&self, history: &[Option<char>], next: char) -> f32 {
        let context: Vec<char> = std::iter::repeat_n(None, self.context())
            .chain(history.iter().copied())
            .map(|c| c.unwrap_or(LINE_START))
            .collect();
        let context = &context[context.len() - self.context()..];
        let mut p = 1.0 / self.vocabulary.max(1) as f64;
        for n in 0..self.order {
            let h = &context[context.len() - n..];
            let Some(seen) = self.histories.get(&key(h, None)) else {
                break;
            };
            let joint = self.ngrams.get(&key(h, Some(next))).copied().unwrap_or(0);
            let (total, types) = (f64::from(seen.total), f64::from(seen.types));
            p = (f64::from(joint) + types * p) / (total + types);
        }
        p.ln() as f32
    }
}

/// A 64-bit key for a history (and optionally the character after it); the length is mixed
/// in so that histories of different lengths never share a key.
fn key(history: &[char], next: Option<char>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (history.len() as u64);
    for c in history.iter().copied().chain(next) {
        h = (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
        h ^= h >> 29;
    }
    h ^ u64::from(next.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lm() -> CharLm {
        CharLm::train(["the cat", "the hat", "then", "that"], 4)
    }

    #[test]
    fn probabilities_after_any_history_sum_to_one() {
        let lm = lm();
        let alphabet: Vec<char> = "thecanx ".chars().collect();
        for history in ["", "t", "th", "the", "zz", "the c"] {
            let h: Vec<Option<char>> = history.chars().map(Some).collect();
            // The characters seen, plus the one "anything else" share (one unseen letter).
            let seen: f64 = "thecan "
                .chars()
                .map(|c| lm.log_prob(&h, c).exp() as f64)
                .sum();
            let other = lm.log_prob(&h, 'x').exp() as f64;
            assert!(
                (seen + other - 1.0).abs() < 1e-4,
                "{history:?}: {seen} + {other}"
            );
            assert!(alphabet.iter().all(|&c| lm.log_prob(&h, c).is_finite()));
        }
    }

    #[test]
    fn learnt_continuations_beat_unseen_ones() {
        let lm = lm();
        let after_th: Vec<Option<char>> = "th".chars().map(Some).collect();
        assert!(lm.log_prob(&after_th, 'e') > lm.log_prob(&after_th, 'b'));
        // At the start of a line, 't' began every training line.
        assert!(lm.log_prob(&[], 't') > lm.log_prob(&[], 'c'));
    }
}
