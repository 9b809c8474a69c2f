//! Line crops that show only the line: crop pixels whose page point lies outside the line's
//! polygon are set to the paper's colour, as kraken and eScriptorium cut lines for their
//! recognizers, so that a neighbouring line's ascenders and descenders do not reach the
//! recognizer.

use image::{Rgb, RgbImage};

use super::lines::{CropFrame, crop_line};
use crate::reading::Point;

/// Page lines are masked only when `INKREAD_MASKED_LINES` is set: the page eval has not yet
/// shown that masking does not hurt (docs/EVAL.md), so the default is unchanged.
pub fn enabled() -> bool {
    std::env::var_os("INKREAD_MASKED_LINES").is_some()
}

/// Even-odd test of a point against a closed outline.
fn inside(p: Point, polygon: &[Point]) -> bool {
    let mut result = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let (a, b) = (polygon[i], polygon[j]);
        if (a[1] > p[1]) != (b[1] > p[1])
            && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
        {
            result = !result;
        }
        j = i;
    }
    result
}

/// The per-channel median of some pixels: the paper, since ink covers a minority of a line.
fn median_colour(pixels: &[Rgb<u8>]) -> Rgb<u8> {
    if pixels.is_empty() {
        return Rgb([255, 255, 255]);
    }
    Rgb(std::array::from_fn(|c| {
        let mut v: Vec<u8> = pixels.iter().map(|p| p.0[c]).collect();
        let mid = v.len() / 2;
        *v.select_nth_unstable(mid).1
    }))
}

/// [`crop_line`] with everything outside `polygon` painted in the colour of the paper inside
/// it. Polygons of fewer than three points are cropped unmasked.
pub fn crop_line_masked(image: &RgbImage, polygon: &[Point]) -> RgbImage {
    let mut crop = crop_line(image, polygon);
    let Some(frame) = CropFrame::of(polygon) else {
        return crop;
    };
    if polygon.len() < 3 || (crop.width(), crop.height()) != (frame.width, frame.height) {
        return crop;
    }
    let page_point = frame.page_point();
    let outside: Vec<bool> = (0..crop.height())
        .flat_map(|y| (0..crop.width()).map(move |x| (x, y)))
        .map(|(x, y)| !inside(page_point(x as f32, y as f32), polygon))
        .collect();
    let kept: Vec<Rgb<u8>> = crop
        .pixels()
        .zip(&outside)
        .filter(|(_, out)| !**out)
        .map(|(p, _)| *p)
        .collect();
    let paper = median_colour(&kept);
    for (p, out) in crop.pixels_mut().zip(&outside) {
        if *out {
            *p = paper;
        }
    }
    crop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_outside_the_polygon_become_paper() {
        // Grey paper, a black bar inside the polygon and another just below it.
        let mut page = RgbImage::from_pixel(100, 60, Rgb([200, 200, 200]));
        for x in 10..90 {
            for y in 20..24 {
                page.put_pixel(x, y, Rgb([0, 0, 0]));
            }
            for y in 34..38 {
                page.put_pixel(x, y, Rgb([0, 0, 0]));
            }
        }
        // A hexagon around the upper bar whose box also covers the lower one.
        let polygon = [
            [5.0, 10.0],
            [95.0, 10.0],
            [95.0, 30.0],
            [50.0, 40.0],
            [5.0, 30.0],
            [5.0, 20.0],
        ];
        let plain = crop_line(&page, &polygon);
        let masked = crop_line_masked(&page, &polygon);
        assert_eq!(plain.dimensions(), masked.dimensions());
        let dark = |img: &RgbImage| img.pixels().filter(|p| p.0[0] < 100).count();
        assert!(dark(&masked) < dark(&plain), "the lower bar is cut");
        assert!(dark(&masked) >= 80 * 4 / 2, "the line itself stays");
        assert_eq!(*masked.get_pixel(0, 0), Rgb([200, 200, 200]));
    }
}
