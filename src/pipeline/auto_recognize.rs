//! The `auto` recognizer: every line is read by a print recognizer and by a handwriting
//! recognizer, and the reading more likely to be right is kept: each confidence goes
//! through its recognizer's [`Calibration`] first, since raw confidences of two models do
//! not compare. A page with a printed letterhead
//! and a handwritten body, or a form filled in by hand, gets each line from the model made
//! for it. It costs both recognizers' time; detection, usually the larger part, is shared.

use image::RgbImage;

use super::Recognizer;
use super::batching::check_count;
use super::calibration::Calibration;
use crate::Result;
use crate::cancel::CancelToken;
use crate::reading::LineText;

/// A recognizer and what its confidences are worth.
pub struct Calibrated {
    pub recognizer: Box<dyn Recognizer>,
    pub calibration: Calibration,
}

pub struct AutoRecognizer {
    print: Calibrated,
    handwriting: Calibrated,
    name: String,
}

impl AutoRecognizer {
    pub fn new(print: Calibrated, handwriting: Calibrated) -> Self {
        let name = format!(
            "auto ({} or {})",
            handwriting.recognizer.name(),
            print.recognizer.name()
        );
        AutoRecognizer {
            print,
            handwriting,
            name,
        }
    }

    /// The reading more likely right, by calibrated confidence (handwriting on a tie).
    fn likelier(&self, print: LineText, handwriting: LineText) -> LineText {
        let p = self.print.calibration.expected_accuracy(print.confidence);
        let h = (self.handwriting.calibration).expected_accuracy(handwriting.confidence);
        if p > h { print } else { handwriting }
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
        let printed = (self.print.recognizer).recognize(lines, cancel, &mut |k| on_line(k / 2))?;
        let written = (self.handwriting.recognizer)
            .recognize(lines, cancel, &mut |k| on_line((n + k) / 2))?;
        check_count(self.print.recognizer.name(), n, printed.len())?;
        check_count(self.handwriting.recognizer.name(), n, written.len())?;
        Ok(printed
            .into_iter()
            .zip(written)
            .map(|(p, h)| self.likelier(p, h))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads every line as `text` with `confidence`.
    struct Fixed(&'static str, f32);

    impl Recognizer for Fixed {
        fn name(&self) -> &str {
            self.0
        }

        fn recognize(
            &mut self,
            lines: &[RgbImage],
            _: &CancelToken,
            _: &mut dyn FnMut(usize),
        ) -> Result<Vec<LineText>> {
            Ok(lines
                .iter()
                .map(|_| LineText {
                    text: self.0.into(),
                    confidence: self.1,
                    words: Vec::new(),
                })
                .collect())
        }
    }

    fn read(print: Calibrated, handwriting: Calibrated) -> String {
        let mut auto = AutoRecognizer::new(print, handwriting);
        let line = RgbImage::new(4, 4);
        let got = auto.recognize(&[line], &CancelToken::new(), &mut |_| {});
        got.unwrap().remove(0).text
    }

    fn model(text: &'static str, confidence: f32, knots: Vec<[f32; 2]>) -> Calibrated {
        Calibrated {
            recognizer: Box::new(Fixed(text, confidence)),
            calibration: Calibration::new(knots).unwrap(),
        }
    }

    #[test]
    fn without_calibration_the_surer_reading_wins() {
        assert_eq!(
            read(
                model("Invoice", 0.97, vec![]),
                model("lnvoice", 0.6, vec![])
            ),
            "Invoice"
        );
        assert_eq!(
            read(
                model("Podeut", 0.3, vec![]),
                model("Mr. McClish", 0.8, vec![])
            ),
            "Mr. McClish"
        );
        assert_eq!(read(model("a", 0.5, vec![]), model("b", 0.5, vec![])), "b");
    }

    #[test]
    fn calibration_decides_which_confidence_is_worth_more() {
        // A print model at 0.85 is usually wrong on handwriting; a handwriting model at 0.7
        // is usually right: the calibrated comparison keeps the handwriting reading.
        let print = model(
            "Podeut-Me Clil",
            0.85,
            vec![[0.8, 0.3], [0.9, 0.5], [0.99, 0.97]],
        );
        let hand = model(
            "Mr. McClish",
            0.7,
            vec![[0.3, 0.2], [0.7, 0.75], [0.95, 0.95]],
        );
        assert_eq!(read(print, hand), "Mr. McClish");
        // Raw confidences would have kept the misreading.
        let raw = |text: &'static str, confidence| model(text, confidence, vec![]);
        assert_eq!(
            read(raw("Podeut-Me Clil", 0.85), raw("Mr. McClish", 0.7)),
            "Podeut-Me Clil"
        );
    }
}
