//! The `auto` recognizer: every line is read by a print recognizer and by a handwriting
//! recognizer, and the reading each is surer of is kept. A page with a printed letterhead
//! and a handwritten body, or a form filled in by hand, gets each line from the model made
//! for it. It costs both recognizers' time; detection, usually the larger part, is shared.

use image::RgbImage;

use super::Recognizer;
use crate::cancel::CancelToken;
use crate::reading::LineText;
use crate::{Error, Result};

pub struct AutoRecognizer {
    print: Box<dyn Recognizer>,
    handwriting: Box<dyn Recognizer>,
    name: String,
}

impl AutoRecognizer {
    pub fn new(print: Box<dyn Recognizer>, handwriting: Box<dyn Recognizer>) -> Self {
        let name = format!("auto ({} or {})", handwriting.name(), print.name());
        AutoRecognizer {
            print,
            handwriting,
            name,
        }
    }
}

/// The surer of two readings of one line (the handwriting one on a tie).
pub fn surer(print: LineText, handwriting: LineText) -> LineText {
    if print.confidence > handwriting.confidence {
        print
    } else {
        handwriting
    }
}

impl Recognizer for AutoRecognizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn recognize(
        &mut self,
        lines: &[RgbImage],
        cancel: &CancelToken,
        on_line: &mut dyn FnMut(usize),
    ) -> Result<Vec<LineText>> {
        let n = lines.len();
        // Progress counts both passes, so "k of n" moves once through the lines.
        let printed = self
            .print
            .recognize(lines, cancel, &mut |k| on_line(k / 2))?;
        let written = self
            .handwriting
            .recognize(lines, cancel, &mut |k| on_line((n + k) / 2))?;
        for (model, got) in [
            (&self.print, printed.len()),
            (&self.handwriting, written.len()),
        ] {
            if got != n {
                return Err(Error::ResultCount {
                    model: model.name().to_owned(),
                    expected: n,
                    got,
                });
            }
        }
        Ok(printed
            .into_iter()
            .zip(written)
            .map(|(p, h)| surer(p, h))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(text: &str, confidence: f32) -> LineText {
        LineText {
            text: text.into(),
            confidence,
            words: Vec::new(),
        }
    }

    #[test]
    fn the_surer_reading_wins() {
        assert_eq!(
            surer(reading("Invoice", 0.97), reading("lnvoice", 0.6)).text,
            "Invoice"
        );
        assert_eq!(
            surer(reading("Podeut", 0.3), reading("Mr. McClish", 0.8)).text,
            "Mr. McClish"
        );
        assert_eq!(surer(reading("a", 0.5), reading("b", 0.5)).text, "b");
    }
}
