//! The energy map kraken's polygonizer carves seams through: the Sobel gradient magnitude
//! of the scaled page in grey (scikit-image's `sobel`, reflected borders), smoothed by a
//! Gaussian of sigma 0.5 (`gaussian_filter(sobel(im), 0.5)`). Text edges are expensive,
//! paper between lines is cheap.

use image::RgbImage;

use super::heatmap::Map;

/// Pillow's `convert('L')`: ITU-R 601-2 luma in integers, rounded.
fn luma(p: [u8; 3]) -> f32 {
    let [r, g, b] = p.map(u32::from);
    ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as f32 / 255.0
}

/// Index with scipy's `reflect` border (`d c b a | a b c d | d c b a`).
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let mut i = i;
    loop {
        if i < 0 {
            i = -i - 1;
        } else if i >= n {
            i = 2 * n - i - 1;
        } else {
            return i as usize;
        }
    }
}

/// `gaussian_filter(sobel(grey), 0.5)` of a scaled page.
pub fn seam_energy(img: &RgbImage) -> Map {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let grey: Vec<f32> = img.pixels().map(|p| luma(p.0)).collect();
    let g = |x: isize, y: isize| grey[reflect(y, h) * w + reflect(x, w)];
    let mut sobel = Map::new(w, h);
    for y in 0..h as isize {
        for x in 0..w as isize {
            // scikit-image's kernels: [1, 2, 1] / 4 across, [1, 0, -1] along.
            let gx = (g(x + 1, y - 1) + 2.0 * g(x + 1, y) + g(x + 1, y + 1)
                - g(x - 1, y - 1)
                - 2.0 * g(x - 1, y)
                - g(x - 1, y + 1))
                / 4.0;
            let gy = (g(x - 1, y + 1) + 2.0 * g(x, y + 1) + g(x + 1, y + 1)
                - g(x - 1, y - 1)
                - 2.0 * g(x, y - 1)
                - g(x + 1, y - 1))
                / 4.0;
            sobel.data[y as usize * w + x as usize] = ((gx * gx + gy * gy) / 2.0).sqrt();
        }
    }
    smooth(&sobel, 0.5)
}

/// SciPy's `gaussian_filter(map, sigma)` (truncate 4, reflected borders).
fn smooth(src: &Map, sigma: f32) -> Map {
    let radius = (4.0 * sigma + 0.5) as isize;
    let mut k: Vec<f32> = (-radius..=radius)
        .map(|x| (-0.5 * (x * x) as f32 / (sigma * sigma)).exp())
        .collect();
    let total: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= total);
    let (w, h) = (src.width, src.height);
    let pass = |input: &Map, along_x: bool| {
        let mut out = Map::new(w, h);
        for y in 0..h {
            for x in 0..w {
                out.data[y * w + x] = k
                    .iter()
                    .enumerate()
                    .map(|(i, kv)| {
                        let o = i as isize - radius;
                        let (sx, sy) = if along_x {
                            (reflect(x as isize + o, w), y)
                        } else {
                            (x, reflect(y as isize + o, h))
                        };
                        kv * input.data[sy * w + sx]
                    })
                    .sum();
            }
        }
        out
    };
    pass(&pass(src, false), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_cost_more_than_paper() {
        let mut img = RgbImage::from_pixel(20, 20, image::Rgb([255, 255, 255]));
        for y in 8..12 {
            for x in 0..20 {
                img.put_pixel(x, y, image::Rgb([0, 0, 0]));
            }
        }
        let e = seam_energy(&img);
        assert!(e.at(10, 8) > 0.1);
        assert!(e.at(10, 2) < 1e-3);
        assert_eq!(reflect(-1, 5), 0);
        assert_eq!(reflect(5, 5), 4);
    }
}
