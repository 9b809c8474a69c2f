//! Line images as the CRNN sees them (grey, 64 px high, the width following the aspect ratio),
//! decoded once and kept in memory: an epoch then costs no file reads.

use image::GrayImage;

use super::TrainError;
use super::samples::Sample;
use crate::cancel::CancelToken;
use crate::nn::easyocr::crnn::CRNN_INPUT_HEIGHT;
use crate::pipeline::easyocr::{grey_bt601, scale_line};
use crate::pipeline::lines::crop_line;
use crate::pipeline::preprocess::open_rgb;

/// Wider lines (after scaling) are squeezed to this width: a bound on a batch's memory.
/// 40 times the height holds every line of the shared training set unsqueezed but a few.
pub const MAX_WIDTH: u32 = 40 * CRNN_INPUT_HEIGHT as u32;

/// Frames the CRNN emits for an input this wide (it pools the width by 4, then a 2-wide
/// convolution takes one more).
pub fn frames_for_width(width: usize) -> usize {
    (width / 4).saturating_sub(1)
}

/// Frames CTC needs for `classes`: one per character, plus a blank between each repeated pair.
pub fn frames_needed(classes: &[usize]) -> usize {
    classes.len() + classes.windows(2).filter(|w| w[0] == w[1]).count()
}

/// Reads and scales every sample's image (deslanted first if `deslant`); `on_done` hears
/// how many are done.
pub fn load_lines(
    samples: &[Sample],
    deslant: bool,
    cancel: &CancelToken,
    on_done: &mut dyn FnMut(usize),
) -> Result<Vec<GrayImage>, TrainError> {
    let mut out = Vec::with_capacity(samples.len());
    // Lines of one page come one after the other: the page is decoded once for all.
    let mut page: Option<(&std::path::Path, image::RgbImage)> = None;
    for (i, sample) in samples.iter().enumerate() {
        if i % 64 == 0 {
            cancel.check().map_err(|_| TrainError::Cancelled)?;
            on_done(i);
        }
        let line = match &sample.polygon {
            None => open_rgb(&sample.image)?,
            Some(polygon) => {
                if page
                    .as_ref()
                    .is_none_or(|(p, _)| *p != sample.image.as_path())
                {
                    page = Some((sample.image.as_path(), open_rgb(&sample.image)?));
                }
                let image = page
                    .as_ref()
                    .map(|(_, image)| image)
                    .ok_or(TrainError::NoSamples)?;
                crop_line(image, polygon)
            }
        };
        out.push(prepare(&line, deslant));
    }
    on_done(samples.len());
    Ok(out)
}

/// Grey, scaled to the network's height, deslanted if asked (as
/// [`CrnnRecognizer`](crate::pipeline::easyocr::CrnnRecognizer) does for a model trained so),
/// squeezed to [`MAX_WIDTH`] if wider.
pub fn prepare(image: &image::RgbImage, deslant: bool) -> GrayImage {
    let scaled = scale_line(&grey_bt601(image));
    let scaled = if deslant {
        crate::pipeline::deslant::deslant(&scaled)
    } else {
        scaled
    };
    if scaled.width() <= MAX_WIDTH {
        return scaled;
    }
    image::imageops::resize(
        &scaled,
        MAX_WIDTH,
        scaled.height(),
        image::imageops::FilterType::Triangle,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_needs() {
        assert_eq!(frames_for_width(64), 15);
        assert_eq!(frames_needed(&[1, 2, 2, 3]), 5);
        assert_eq!(frames_needed(&[]), 0);
    }

    #[test]
    fn lines_are_scaled_to_the_height_and_squeezed_when_too_wide() {
        let short = image::RgbImage::new(100, 32);
        assert_eq!(prepare(&short, false).dimensions(), (200, 64));
        let long = image::RgbImage::new(5000, 32);
        assert_eq!(prepare(&long, false).dimensions(), (MAX_WIDTH, 64));
    }
}
