//! Lanczos resizing the way Pillow does it (`Image.resize(..., LANCZOS)` on 8-bit images),
//! because kraken prepares its segmenter's input with Pillow and a resize that differs by
//! one grey level here and there moves the network's output by more than our tolerance.
//!
//! Pillow's recipe: a separable filter (horizontal pass first, then vertical), support
//! `3 * max(scale, 1)`, each output pixel's weights normalised to sum 1 and then turned into
//! 22-bit fixed point; sums start at one half and are clipped to a byte after each pass.

use image::{Rgb, RgbImage};

/// Fractional bits of the fixed-point weights (Pillow: 32 - 8 - 2).
const PRECISION_BITS: u32 = 22;
/// Half-width of the Lanczos window at scale 1.
const LANCZOS_SUPPORT: f64 = 3.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

fn lanczos(x: f64) -> f64 {
    if (-LANCZOS_SUPPORT..LANCZOS_SUPPORT).contains(&x) {
        sinc(x) * sinc(x / LANCZOS_SUPPORT)
    } else {
        0.0
    }
}

/// For each output position: the first input index and the fixed-point weights from there.
struct Coefficients {
    first: Vec<usize>,
    weights: Vec<Vec<i32>>,
}

impl Coefficients {
    fn new(in_size: usize, out_size: usize) -> Self {
        let scale = in_size as f64 / out_size as f64;
        let filter_scale = scale.max(1.0);
        let support = LANCZOS_SUPPORT * filter_scale;
        let mut first = Vec::with_capacity(out_size);
        let mut weights = Vec::with_capacity(out_size);
        for i in 0..out_size {
            let center = (i as f64 + 0.5) * scale;
            // Pillow truncates `center ± support + 0.5` towards zero, then clamps.
            let lo = ((center - support + 0.5) as i64).max(0) as usize;
            let hi = ((center + support + 0.5) as i64).clamp(0, in_size as i64) as usize;
            let raw: Vec<f64> = (lo..hi.max(lo))
                .map(|x| lanczos((x as f64 - center + 0.5) / filter_scale))
                .collect();
            let total: f64 = raw.iter().sum();
            let fixed = raw
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    let scaled = w * f64::from(1u32 << PRECISION_BITS);
                    // C's (int) cast after adding ±0.5: round half away from zero.
                    (if scaled < 0.0 {
                        scaled - 0.5
                    } else {
                        scaled + 0.5
                    }) as i32
                })
                .collect();
            first.push(lo);
            weights.push(fixed);
        }
        Self { first, weights }
    }

    /// The input range output `i` reads.
    fn span(&self, i: usize) -> std::ops::Range<usize> {
        self.first[i]..self.first[i] + self.weights[i].len()
    }
}

/// A fixed-point sum back to a byte, as Pillow's `clip8`.
fn clip8(sum: i64) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

const HALF: i64 = 1 << (PRECISION_BITS - 1);

/// Resizes `img` to `width` x `height` exactly as Pillow's LANCZOS filter does.
pub fn resize_lanczos_pil(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    if (sw, sh) == (width, height) || sw == 0 || sh == 0 || width == 0 || height == 0 {
        return if (sw, sh) == (width, height) {
            img.clone()
        } else {
            RgbImage::new(width, height)
        };
    }
    let vertical = Coefficients::new(sh as usize, height as usize);
    // Only the rows the vertical pass reads go through the horizontal pass (as in Pillow).
    let row0 = vertical.first.first().copied().unwrap_or(0);
    let row1 = (0..height as usize)
        .map(|i| vertical.span(i).end)
        .max()
        .unwrap_or(0);
    let temp = if sw != width {
        let horizontal = Coefficients::new(sw as usize, width as usize);
        RgbImage::from_fn(width, (row1 - row0) as u32, |x, y| {
            let span = horizontal.span(x as usize);
            let k = &horizontal.weights[x as usize];
            let mut s = [HALF; 3];
            for (src_x, &w) in span.zip(k) {
                let p = img.get_pixel(src_x as u32, y + row0 as u32).0;
                for c in 0..3 {
                    s[c] += i64::from(p[c]) * i64::from(w);
                }
            }
            Rgb(s.map(clip8))
        })
    } else {
        image::imageops::crop_imm(img, 0, row0 as u32, sw, (row1 - row0) as u32).to_image()
    };
    if sh == height {
        return temp;
    }
    RgbImage::from_fn(width, height, |x, y| {
        let span = vertical.span(y as usize);
        let k = &vertical.weights[y as usize];
        let mut s = [HALF; 3];
        for (src_y, &w) in span.zip(k) {
            let p = temp.get_pixel(x, (src_y - row0) as u32).0;
            for c in 0..3 {
                s[c] += i64::from(p[c]) * i64::from(w);
            }
        }
        Rgb(s.map(clip8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (src, dst) in [(100, 37), (37, 100), (1164, 1800), (5, 5)] {
            let c = Coefficients::new(src, dst);
            for w in &c.weights {
                let sum: i64 = w.iter().map(|&v| i64::from(v)).sum();
                assert!(
                    (sum - (1 << PRECISION_BITS)).abs() <= w.len() as i64,
                    "{src}->{dst}"
                );
            }
        }
    }

    #[test]
    fn flat_image_stays_flat() {
        let img = RgbImage::from_pixel(31, 17, Rgb([200, 10, 99]));
        let out = resize_lanczos_pil(&img, 70, 9);
        assert_eq!(out.dimensions(), (70, 9));
        assert!(out.pixels().all(|p| p.0 == [200, 10, 99]));
    }
}
