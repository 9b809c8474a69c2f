//! Random changes a handwritten line could have had: a slant or a tilt, a wavering baseline,
//! a thicker or thinner pen, a blurred scan, faded or dark ink, grain. Each comes from the
//! caller's random generator, so a seeded run sees the same lines again after a resume.

use crate::pipeline::deslant::paper_grey;
use image::{GrayImage, Luma};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A changed copy of `line` (height kept; width follows the slant and stretch).
pub fn augment(line: &GrayImage, rng: &mut ChaCha8Rng) -> GrayImage {
    let background = paper_grey(line);
    let mut out = if rng.random_bool(0.8) {
        warp(line, &Warp::random(line, rng), background)
    } else {
        line.clone()
    };
    if rng.random_bool(0.4) {
        out = pen_width(&out, rng.random_bool(0.5));
    }
    if rng.random_bool(0.3) {
        out = imageproc::filter::gaussian_blur_f32(&out, rng.random_range(0.3..1.0));
    }
    if rng.random_bool(0.5) {
        contrast(
            &mut out,
            rng.random_range(0.6..1.3),
            rng.random_range(-30.0..30.0),
        );
    }
    if rng.random_bool(0.3) {
        grain(&mut out, rng.random_range(2.0..10.0), rng);
    }
    out
}

/// A geometric change: slant (shear), tilt, stretch, and a smooth wave in both directions.
struct Warp {
    shear: f32,
    tilt: f32,
    stretch: f32,
    /// Amplitude (px), wavelength (px) and phase of the horizontal and vertical waves.
    wave_x: [f32; 3],
    wave_y: [f32; 3],
    out_width: u32,
}

impl Warp {
    fn random(line: &GrayImage, rng: &mut ChaCha8Rng) -> Self {
        let shear = rng.random_range(-0.35..0.35f32);
        let stretch = rng.random_range(0.85..1.15f32);
        let mut wave = |max_amp: f32| {
            if rng.random_bool(0.5) {
                [
                    rng.random_range(0.0..max_amp),
                    rng.random_range(40.0..120.0),
                    rng.random_range(0.0..std::f32::consts::TAU),
                ]
            } else {
                [0.0, 1.0, 0.0]
            }
        };
        let (wave_x, wave_y) = (wave(2.5), wave(2.0));
        let (w, h) = (line.width() as f32, line.height() as f32);
        Self {
            shear,
            tilt: rng.random_range(-1.5f32..1.5).to_radians(),
            stretch,
            wave_x,
            wave_y,
            out_width: (w * stretch + shear.abs() * h).round().max(1.0) as u32,
        }
    }

    /// Where output pixel (x, y) is taken from in the source line.
    fn source(&self, x: f32, y: f32, source_width: f32, height: f32) -> (f32, f32) {
        let wave = |[amp, length, phase]: [f32; 3]| {
            amp * (std::f32::consts::TAU * x / length + phase).sin()
        };
        let (cx, cy) = (self.out_width as f32 / 2.0, height / 2.0);
        let (dx, dy) = (x - cx, y - cy);
        // Undo the tilt about the centre, then the slant (which leans rows by their height),
        // then the stretch.
        let (sin, cos) = self.tilt.sin_cos();
        let (rx, ry) = (cos * dx + sin * dy, -sin * dx + cos * dy);
        let sx = (rx + self.shear * ry) / self.stretch + source_width / 2.0;
        (sx + wave(self.wave_x), ry + cy + wave(self.wave_y))
    }
}

fn warp(line: &GrayImage, warp: &Warp, background: u8) -> GrayImage {
    let (w, h) = (line.width() as f32, line.height() as f32);
    GrayImage::from_fn(warp.out_width, line.height(), |x, y| {
        let (sx, sy) = warp.source(x as f32 + 0.5, y as f32 + 0.5, w, h);
        Luma([bilinear(line, sx - 0.5, sy - 0.5, background)])
    })
}

/// Bilinear sample; outside the line is paper.
fn bilinear(img: &GrayImage, x: f32, y: f32, background: u8) -> u8 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |xx: f32, yy: f32| -> f32 {
        if xx < 0.0 || yy < 0.0 || xx >= img.width() as f32 || yy >= img.height() as f32 {
            f32::from(background)
        } else {
            f32::from(img.get_pixel(xx as u32, yy as u32)[0])
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
}

/// Dark ink on light paper: the darkest neighbour thickens strokes, the lightest thins them.
fn pen_width(line: &GrayImage, thicker: bool) -> GrayImage {
    let (w, h) = line.dimensions();
    GrayImage::from_fn(w, h, |x, y| {
        let neighbours = [(0i64, 0i64), (-1, 0), (1, 0), (0, -1), (0, 1)];
        let values = neighbours.iter().filter_map(|&(dx, dy)| {
            let (nx, ny) = (i64::from(x) + dx, i64::from(y) + dy);
            let inside = nx >= 0 && ny >= 0 && nx < i64::from(w) && ny < i64::from(h);
            inside.then(|| line.get_pixel(nx as u32, ny as u32)[0])
        });
        let v = if thicker { values.min() } else { values.max() };
        Luma([v.unwrap_or(255)])
    })
}

fn contrast(line: &mut GrayImage, gain: f32, shift: f32) {
    for p in line.pixels_mut() {
        let v = (f32::from(p[0]) - 128.0) * gain + 128.0 + shift;
        p[0] = v.round().clamp(0.0, 255.0) as u8;
    }
}

/// Gaussian grain (Box–Muller from the run's generator, so it is reproducible).
fn grain(line: &mut GrayImage, sigma: f32, rng: &mut ChaCha8Rng) {
    for p in line.pixels_mut() {
        let (u1, u2): (f32, f32) = (rng.random_range(f32::EPSILON..1.0), rng.random());
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
        p[0] = (f32::from(p[0]) + sigma * normal).round().clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A light line with a dark bar across its middle.
    fn line() -> GrayImage {
        GrayImage::from_fn(200, 64, |x, y| {
            Luma([if (28..36).contains(&y) && (20..180).contains(&x) {
                20
            } else {
                230
            }])
        })
    }

    #[test]
    fn same_seed_same_line_and_height_is_kept() {
        let a = augment(&line(), &mut ChaCha8Rng::seed_from_u64(7));
        let b = augment(&line(), &mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(a, b);
        assert_eq!(a.height(), 64);
        let other = augment(&line(), &mut ChaCha8Rng::seed_from_u64(8));
        assert_ne!(a, other);
    }

    #[test]
    fn ink_stays_ink_and_paper_stays_paper() {
        for seed in 0..20 {
            let out = augment(&line(), &mut ChaCha8Rng::seed_from_u64(seed));
            let dark = out.pixels().filter(|p| p[0] < 128).count();
            // The bar is 160 × 8 = 1280 px; slants, waves and pens change it, not wholly.
            assert!(
                (500..4000).contains(&dark),
                "seed {seed}: {dark} dark pixels"
            );
            assert!(paper_grey(&out) > 150, "seed {seed}");
        }
    }

    #[test]
    fn paper_is_the_light_majority() {
        assert_eq!(paper_grey(&line()), 230);
    }
}
