//! The segmenter's input as kraken prepares it: the page scaled to the model's input height
//! (width in proportion) with Pillow's Lanczos filter, bytes scaled to `[0, 1]`, then
//! inverted against the image's own maximum (`max - x`), so ink is high and paper near 0.

use image::RgbImage;

use super::resize::resize_lanczos_pil;

/// The network input size for a page: kraken's `int(w * height / h)` (at least 1 column).
pub fn input_size(page_width: u32, page_height: u32, height: u32) -> (u32, u32) {
    let width = f64::from(page_width) * f64::from(height) / f64::from(page_height.max(1));
    ((width as u32).max(1), height)
}

/// A prepared input: `[channels, height, width]` floats, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedInput {
    pub data: Vec<f32>,
    pub width: usize,
    pub height: usize,
}

/// Scales, normalises and inverts `page` for a model whose input is `height` rows of RGB.
pub fn prepare_input(page: &RgbImage, height: u32) -> PreparedInput {
    let (w, h) = input_size(page.width(), page.height(), height);
    let scaled = resize_lanczos_pil(page, w, h);
    to_inverted_planes(&scaled)
}

/// Bytes to `[0, 1]` planes (torchvision multiplies by `1/255` in f32), then `max - x`.
pub fn to_inverted_planes(img: &RgbImage) -> PreparedInput {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let plane = w * h;
    let scale = (1.0f64 / 255.0) as f32;
    let mut data = vec![0.0f32; 3 * plane];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            data[c * plane + i] = f32::from(px.0[c]) * scale;
        }
    }
    let max = data.iter().copied().fold(0.0f32, f32::max);
    for v in &mut data {
        *v = max - *v;
    }
    PreparedInput {
        data,
        width: w,
        height: h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_follows_krakens_truncation() {
        assert_eq!(input_size(1650, 2550, 1800), (1164, 1800));
        assert_eq!(input_size(3, 10_000, 1800), (1, 1800));
    }

    #[test]
    fn inverts_against_the_image_maximum() {
        let mut img = RgbImage::from_pixel(2, 1, image::Rgb([200, 200, 200]));
        img.put_pixel(1, 0, image::Rgb([0, 100, 200]));
        let p = to_inverted_planes(&img);
        // max is 200/255: the brightest value maps to 0, black to 200/255.
        assert_eq!(p.data[0], 0.0);
        assert!((p.data[1] - 200.0 / 255.0).abs() < 1e-6);
        assert!((p.data[3] - 100.0 / 255.0).abs() < 1e-6);
    }
}
