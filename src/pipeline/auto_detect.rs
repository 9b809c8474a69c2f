//! The `auto` detector: kraken's segmenter for document pages, PP-OCRv4's detector for
//! everything else (a screenshot, a photo of a few lines, a drawing on the sketchpad).
//!
//! kraken's segmenter scales every image to a fixed height (1800 rows for blla) and was
//! trained on whole pages at that scale; text much larger than a page's is split into
//! fragments (three printed lines 70 px high in a 480 px image come out as twenty pieces).
//! PP-OCRv4's detector works at the image's own scale. So the fast detector looks first,
//! and the median height of what it finds, scaled as kraken would scale it, decides.

use image::RgbImage;

use super::blla::BllaDetector;
use super::geometry::min_area_rect;
use super::{Detector, lines};
use crate::Result;
use crate::cancel::CancelToken;
use crate::reading::Region;

/// Tallest median text box, in kraken's scaled rows, still sent to kraken. A page of 30
/// lines at 1800 rows has a 60-row pitch and boxes of about 40 rows; 150 rows lets through
/// letters with as few as about twelve lines of large handwriting.
pub const MAX_SCALED_LINE_HEIGHT: f32 = 150.0;

pub struct AutoDetector {
    scout: Box<dyn Detector>,
    pages: BllaDetector,
    name: String,
    /// The scout's regions for the page it just declined to send to kraken, handed out by
    /// the `detect` call that follows (so the scout does not run twice).
    pending: Option<Vec<Region>>,
}

impl AutoDetector {
    pub fn new(scout: Box<dyn Detector>, pages: BllaDetector) -> Self {
        let name = format!("auto ({} for pages, else {})", pages.name(), scout.name());
        AutoDetector {
            scout,
            pages,
            name,
            pending: None,
        }
    }
}

/// Whether kraken should read this page, from the scout's regions on it.
pub fn is_document_page(regions: &[Region], page_height: u32, kraken_height: u32) -> bool {
    let mut heights: Vec<f32> = regions
        .iter()
        .filter_map(|r| min_area_rect(&r.polygon).map(|rect| rect.min_side()))
        .collect();
    if heights.is_empty() {
        // Nothing the print detector sees: on a scan (at least kraken's height, so not
        // enlarged) faint or unusual writing, kraken's case; on a small image (an empty
        // sketch), nothing worth enlarging for kraken, which would take many seconds.
        return page_height >= kraken_height;
    }
    heights.sort_by(f32::total_cmp);
    let median = heights[heights.len() / 2];
    let scale = kraken_height as f32 / page_height.max(1) as f32;
    median * scale <= MAX_SCALED_LINE_HEIGHT
}

impl Detector for AutoDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn detect_lines(
        &mut self,
        page: &RgbImage,
        cancel: &CancelToken,
    ) -> Result<Option<Vec<lines::LineGeometry>>> {
        let regions = self.scout.detect(page, cancel)?;
        let kraken_height = self.pages.input_height(page.height());
        if is_document_page(&regions, page.height(), kraken_height) {
            self.pending = None;
            return self.pages.detect_lines(page, cancel);
        }
        self.pending = Some(regions);
        Ok(None)
    }

    fn detect(&mut self, page: &RgbImage, cancel: &CancelToken) -> Result<Vec<Region>> {
        match self.pending.take() {
            Some(regions) => Ok(regions),
            None => self.scout.detect(page, cancel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(y: f32, height: f32) -> Region {
        Region {
            polygon: vec![
                [10.0, y],
                [900.0, y],
                [900.0, y + height],
                [10.0, y + height],
            ],
            score: 0.9,
        }
    }

    #[test]
    fn a_page_of_ordinary_lines_goes_to_kraken() {
        // 3300 rows, 40 lines 55 rows high: about 30 rows each once scaled to 1800.
        let regions: Vec<Region> = (0..40)
            .map(|i| band(100.0 + 80.0 * i as f32, 55.0))
            .collect();
        assert!(is_document_page(&regions, 3300, 1800));
    }

    #[test]
    fn a_few_large_lines_stay_with_the_scout() {
        // Three lines 70 rows high in a 480-row image: 262 rows once scaled to 1800.
        let regions: Vec<Region> = (0..3)
            .map(|i| band(90.0 + 110.0 * i as f32, 70.0))
            .collect();
        assert!(!is_document_page(&regions, 480, 1800));
    }

    #[test]
    fn nothing_found_is_kraken_s_case_on_a_scan_only() {
        assert!(is_document_page(&[], 2000, 1800));
        assert!(
            !is_document_page(&[], 400, 1800),
            "an empty sketch is not enlarged"
        );
    }
}
