//! The characters a CTC recognizer can write, and how a base model's alphabet grows to hold
//! what the training text needs. Class 0 is the CTC blank; class `i + 1` is `chars[i]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::TrainError;

/// An ordered set of characters (one class each, after the blank).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alphabet {
    pub chars: Vec<char>,
}

/// A character added to a base alphabet and the base class its output row starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedClass {
    pub ch: char,
    pub copy_of_class: usize,
}

impl Alphabet {
    pub fn new(chars: impl IntoIterator<Item = char>) -> Self {
        Self {
            chars: chars.into_iter().collect(),
        }
    }

    /// Output classes, the blank included.
    pub fn classes(&self) -> usize {
        self.chars.len() + 1
    }

    pub fn class_of(&self, ch: char) -> Option<usize> {
        self.chars.iter().position(|&c| c == ch).map(|i| i + 1)
    }

    /// Class labels for the decoder, blank first (an empty string).
    pub fn labels(&self) -> Vec<String> {
        std::iter::once(String::new())
            .chain(self.chars.iter().map(char::to_string))
            .collect()
    }

    /// The classes spelling `text`; the error lists every character it cannot hold.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, TrainError> {
        let mut missing = Vec::new();
        let classes: Vec<usize> = text
            .chars()
            .filter_map(|ch| {
                let class = self.class_of(ch);
                if class.is_none() && !missing.contains(&ch) {
                    missing.push(ch);
                }
                class
            })
            .collect();
        if missing.is_empty() {
            Ok(classes)
        } else {
            Err(TrainError::Alphabet {
                missing: missing.into_iter().collect(),
            })
        }
    }

    /// This alphabet followed by every character of `texts` it lacks, most frequent first
    /// (ties in character order, so the result does not depend on the order of the data).
    /// Each added class starts from the base class of the letter it is built on (é from e,
    /// ’ from '), else from a neutral symbol; training then tells them apart.
    pub fn extended_for<'a>(
        &self,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> (Alphabet, Vec<AddedClass>) {
        let mut counts: BTreeMap<char, usize> = BTreeMap::new();
        for ch in texts.into_iter().flat_map(str::chars) {
            if self.class_of(ch).is_none() {
                *counts.entry(ch).or_default() += 1;
            }
        }
        let mut new: Vec<(char, usize)> = counts.into_iter().collect();
        new.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let fallback = self.class_of('*').unwrap_or(1);
        let added: Vec<AddedClass> = new
            .into_iter()
            .map(|(ch, _)| AddedClass {
                ch,
                copy_of_class: look_alike(ch)
                    .and_then(|c| self.class_of(c))
                    .unwrap_or(fallback),
            })
            .collect();
        let mut chars = self.chars.clone();
        chars.extend(added.iter().map(|a| a.ch));
        (Alphabet { chars }, added)
    }
}

/// The plain character `ch` is drawn like: its compatibility decomposition's first
/// character (é → e, ﬁ → f), or a typographic look-alike.
fn look_alike(ch: char) -> Option<char> {
    let table = [
        ('’', '\''),
        ('‘', '\''),
        ('´', '\''),
        ('“', '"'),
        ('”', '"'),
        ('«', '"'),
        ('»', '"'),
        ('„', '"'),
        ('–', '-'),
        ('—', '-'),
        ('−', '-'),
        ('…', '.'),
        ('·', '.'),
        ('°', 'o'),
        ('º', 'o'),
        ('ª', 'a'),
        ('œ', 'o'),
        ('Œ', 'O'),
        ('æ', 'a'),
        ('Æ', 'A'),
        ('ß', 's'),
        ('ſ', 'f'),
        ('£', 'L'),
        ('§', 'S'),
        ('×', 'x'),
    ];
    if let Some(&(_, plain)) = table.iter().find(|(c, _)| *c == ch) {
        return Some(plain);
    }
    ch.to_string().nfkd().next().filter(|&c| c != ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_after_the_blank_and_names_what_it_cannot_hold() {
        let a = Alphabet::new("ab ".chars());
        assert_eq!(a.encode("ba a").unwrap(), vec![2, 1, 3, 1]);
        let err = a.encode("abcé c").unwrap_err().to_string();
        assert!(err.contains("'c'") && err.contains("'é'"), "{err}");
        assert_eq!(a.labels(), vec!["", "a", "b", " "]);
    }

    #[test]
    fn extension_adds_missing_characters_by_frequency_from_look_alikes() {
        let base = Alphabet::new("e'*o".chars());
        let (ext, added) = base.extended_for(["é’é", "éœ", "§"]);
        assert_eq!(ext.chars, vec!['e', '\'', '*', 'o', 'é', '§', 'œ', '’']);
        let copies: Vec<(char, usize)> = added.iter().map(|a| (a.ch, a.copy_of_class)).collect();
        assert_eq!(copies, vec![('é', 1), ('§', 3), ('œ', 4), ('’', 2)]);
    }

    #[test]
    fn nothing_to_add_leaves_the_alphabet_as_it_is() {
        let base = Alphabet::new("ab".chars());
        let (ext, added) = base.extended_for(["abba"]);
        assert_eq!(ext, base);
        assert!(added.is_empty());
    }
}
