//! Slant correction for handwritten lines: each hand leans its strokes its own way, and a
//! recognizer that learned a few hands reads a new one better once its strokes stand
//! upright. The slant is measured from the strokes themselves (the direction of the grey
//! level's gradient on steep edges), so no binarisation threshold is needed.

use image::GrayImage;

/// Shears beyond this (45 degrees) are not slants but measurement failures.
const MAX_SHEAR: f32 = 1.0;
/// Below this the copy would only blur the line.
const MIN_SHEAR: f32 = 0.02;
/// Fewer steep edge pixels than this say nothing about a slant.
const MIN_EDGES: usize = 20;

/// The line with its strokes stood upright: sheared horizontally about its middle row,
/// widened so nothing is cut off, the new corners filled with the background's grey.
pub fn deslant(grey: &GrayImage) -> GrayImage {
    let shear = slant(grey);
    if shear.abs() < MIN_SHEAR {
        return grey.clone();
    }
    shear_rows(grey, shear)
}

/// The horizontal shear `s` (x' = x + s·(y − middle)) that makes the line's strokes
/// vertical: positive for writing that leans right. The magnitude-weighted median of the
/// slopes of the strongest steep edges; 0 when the line has too few of them.
pub fn slant(grey: &GrayImage) -> f32 {
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let smooth = blurred(grey);
    let mut edges = Vec::new();
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let gx = (smooth[y * w + x + 1] - smooth[y * w + x - 1]) / 2.0;
            let gy = (smooth[(y + 1) * w + x] - smooth[(y - 1) * w + x]) / 2.0;
            // A stroke runs across its gradient: steeper than 45 degrees when |gx| > |gy|.
            if gx.abs() > gy.abs() {
                edges.push((gy / gx, gx.hypot(gy)));
            }
        }
    }
    let strong = strongest_tenth(&mut edges);
    if strong.len() < MIN_EDGES {
        return 0.0;
    }
    weighted_median(strong).clamp(-MAX_SHEAR, MAX_SHEAR)
}

/// The edges whose magnitude is in the top tenth, where ink meets paper. (Every edge has
/// a magnitude above zero: a steep one has |gx| > |gy| ≥ 0.)
fn strongest_tenth(edges: &mut [(f32, f32)]) -> &mut [(f32, f32)] {
    let split = edges.len() - edges.len().div_ceil(10);
    if split < edges.len() {
        edges.select_nth_unstable_by(split, |a, b| a.1.total_cmp(&b.1));
    }
    &mut edges[split..]
}

/// The value at which half the weight lies on either side.
fn weighted_median(values: &mut [(f32, f32)]) -> f32 {
    values.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let total: f32 = values.iter().map(|v| v.1).sum();
    let mut seen = 0.0;
    for &(value, weight) in values.iter() {
        seen += weight;
        if seen >= total / 2.0 {
            return value;
        }
    }
    values.last().map_or(0.0, |v| v.0)
}

/// A binomial blur (σ = 1 px) across and down, so that the grey level changes smoothly
/// over the one pixel either side that a central difference spans: on a sharper edge
/// the differences saturate across it and overstate the slope.
fn blurred(grey: &GrayImage) -> Vec<f32> {
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    let pixels: Vec<f32> = grey.as_raw().iter().map(|&p| f32::from(p)).collect();
    let across = smooth_1d(&pixels, w, h, 1, w);
    smooth_1d(&across, w, h, w, h)
}

/// One [1 4 6 4 1] / 16 pass along lines of `len` samples `step` apart (edges repeated).
fn smooth_1d(values: &[f32], w: usize, h: usize, step: usize, len: usize) -> Vec<f32> {
    const TAPS: [(isize, f32); 5] = [(-2, 1.0), (-1, 4.0), (0, 6.0), (1, 4.0), (2, 1.0)];
    let mut out = vec![0.0; w * h];
    for (i, slot) in out.iter_mut().enumerate() {
        let pos = (if step == 1 { i % w } else { i / w }) as isize;
        *slot = TAPS
            .iter()
            .map(|&(offset, weight)| {
                let at = (pos + offset).clamp(0, len as isize - 1) - pos;
                weight * values[(i as isize + at * step as isize) as usize]
            })
            .sum::<f32>()
            / 16.0;
    }
    out
}

/// Every row moved right by `shear · (y − middle)`, sampled linearly between pixels.
fn shear_rows(grey: &GrayImage, shear: f32) -> GrayImage {
    let (w, h) = (grey.width(), grey.height());
    let middle = h as f32 / 2.0;
    let pad = (shear.abs() * middle).ceil() as u32 + 1;
    let background = f32::from(paper_grey(grey));
    GrayImage::from_fn(w + 2 * pad, h, |x, y| {
        let source = x as f32 - pad as f32 - shear * (y as f32 + 0.5 - middle);
        let left = source.floor();
        let t = source - left;
        let at = |sx: f32| {
            if sx < 0.0 || sx >= w as f32 {
                background
            } else {
                f32::from(grey.get_pixel(sx as u32, y)[0])
            }
        };
        let value = at(left) * (1.0 - t) + at(left + 1.0) * t;
        image::Luma([value.round().clamp(0.0, 255.0) as u8])
    })
}

/// The paper's grey: the line's 90th percentile (most of a line crop is paper;
/// training's augmentation fills with it too).
pub fn paper_grey(line: &GrayImage) -> u8 {
    let mut histogram = [0usize; 256];
    for p in line.pixels() {
        histogram[p[0] as usize] += 1;
    }
    let target = line.as_raw().len() * 9 / 10;
    let mut seen = 0;
    for (value, count) in histogram.iter().enumerate() {
        seen += count;
        if seen > target {
            return value as u8;
        }
    }
    255
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dark strokes on light paper, each leaning right by `lean` (x grows as y shrinks),
    /// their edges anti-aliased as a scanner's are (4 × 4 samples a pixel).
    fn strokes(lean: f32) -> GrayImage {
        let (w, h) = (200, 64);
        let ink_at = |x: f32, y: f32| {
            let upright = x - lean * (h as f32 / 2.0 - y);
            (10.0..58.0).contains(&y) && upright.rem_euclid(24.0) < 4.0
        };
        GrayImage::from_fn(w, h, |x, y| {
            let samples = (0..16)
                .filter(|i| {
                    let (dx, dy) = ((i % 4) as f32 + 0.5, (i / 4) as f32 + 0.5);
                    ink_at(x as f32 + dx / 4.0, y as f32 + dy / 4.0)
                })
                .count() as f32;
            image::Luma([(220.0 - 190.0 * samples / 16.0).round() as u8])
        })
    }

    #[test]
    fn the_slant_of_leaning_strokes_is_measured() {
        for lean in [-0.4, 0.0, 0.3, 0.6] {
            let measured = slant(&strokes(lean));
            assert!(
                (measured - lean).abs() < 0.05,
                "lean {lean}: measured {measured}"
            );
        }
    }

    #[test]
    fn deslanted_strokes_stand_upright_and_nothing_is_cut_off() {
        let leaning = strokes(0.5);
        let upright = deslant(&leaning);
        assert!(slant(&upright).abs() < 0.05, "{}", slant(&upright));
        assert!(
            upright.width() >= leaning.width() + 32,
            "{}",
            upright.width()
        );
        let ink = |g: &GrayImage| g.as_raw().iter().filter(|&&p| p < 125).count() as f32;
        let kept = ink(&upright) / ink(&leaning);
        assert!((0.9..1.1).contains(&kept), "ink kept {kept}");
        // The corners the shear opens are paper, not black.
        assert_eq!(upright.get_pixel(0, 0)[0], 220);
    }

    #[test]
    fn blank_and_tiny_lines_are_left_as_they_are() {
        for (w, h) in [(0, 0), (1, 1), (2, 40), (40, 2), (50, 50)] {
            let blank = GrayImage::from_pixel(w, h, image::Luma([200]));
            assert_eq!(slant(&blank), 0.0);
            assert_eq!(deslant(&blank), blank);
        }
    }
}
