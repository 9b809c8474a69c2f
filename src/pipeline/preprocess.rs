//! Line images to the encoder's input, exactly as `TrOCRProcessor` (`ViTImageProcessor`)
//! prepares them: RGB, resize with Pillow's resampling, rescale, normalise.
//!
//! `transformers` resizes 8-bit images through Pillow, so the resize here reproduces
//! Pillow's `ImagingResample`: a separable convolution whose kernel widens with the
//! downscale factor (antialiasing), fixed-point coefficients with 22 fractional bits, a
//! horizontal pass rounded to 8 bits, then a vertical pass.
//!
//! Known gap: Pillow 13 sometimes runs the vertical pass first (seen when the height
//! shrinks while the width shrinks by less than about 10% or grows); the rule it uses was not
//! pinned down, so such images can differ from Pillow by a few levels per pixel. Text lines
//! going into TrOCR (wide and short, so the height grows) take the horizontal-first path,
//! which is bit-exact.

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

/// Pillow's resampling filter codes, as stored in `preprocessor_config.json`'s `resample`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resample {
    Nearest,
    Lanczos,
    Bilinear,
    Bicubic,
    Box,
    Hamming,
}

impl Resample {
    /// Maps Pillow's integer code (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box,
    /// 5 hamming).
    pub fn from_pil_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Nearest,
            1 => Self::Lanczos,
            2 => Self::Bilinear,
            3 => Self::Bicubic,
            4 => Self::Box,
            5 => Self::Hamming,
            _ => return None,
        })
    }

    /// Half-width of the filter at scale 1.
    fn support(self) -> f64 {
        match self {
            Self::Nearest | Self::Box => 0.5,
            Self::Bilinear | Self::Hamming => 1.0,
            Self::Bicubic => 2.0,
            Self::Lanczos => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            Self::Nearest | Self::Box => {
                if (-0.5..0.5).contains(&x) {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Bilinear => (1.0 - x.abs()).max(0.0),
            Self::Hamming => {
                let x = x.abs();
                if x >= 1.0 {
                    0.0
                } else if x == 0.0 {
                    1.0
                } else {
                    let px = x * std::f64::consts::PI;
                    px.sin() / px * (0.54 + 0.46 * px.cos())
                }
            }
            Self::Bicubic => bicubic(x),
            Self::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

/// Keys' cubic with a = -0.5, as Pillow uses.
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = x * std::f64::consts::PI;
        px.sin() / px
    }
}

/// What the processor does, read from `preprocessor_config.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSpec {
    pub height: u32,
    pub width: u32,
    pub resample: Resample,
    pub do_resize: bool,
    pub do_rescale: bool,
    pub rescale_factor: f64,
    pub do_normalize: bool,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for ImageSpec {
    /// trocr-base's processor: 384×384 bilinear, [-1, 1] range.
    fn default() -> Self {
        Self {
            height: 384,
            width: 384,
            resample: Resample::Bilinear,
            do_resize: true,
            do_rescale: true,
            rescale_factor: 1.0 / 255.0,
            do_normalize: true,
            mean: [0.5; 3],
            std: [0.5; 3],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error(
        "image {index} has size {width}x{height} but resizing is off and the model needs {want_w}x{want_h}"
    )]
    WrongSize {
        index: usize,
        width: u32,
        height: u32,
        want_w: u32,
        want_h: u32,
    },
    #[error("empty image (0 pixels) at index {0}")]
    Empty(usize),
}

/// Opens an image file as RGB ([`crate::image_file`]: limits, orientation, transparency
/// on white), telling a missing or unreadable file apart from one that is not an image.
pub fn open_rgb(path: &std::path::Path) -> crate::Result<RgbImage> {
    use crate::image_file::ImageError;
    crate::image_file::open(path).map_err(|e| match e {
        ImageError::Io { path, source } => crate::Error::Io { path, source },
        other => crate::Error::NotAnImage {
            path: path.to_path_buf(),
            reason: match &other {
                ImageError::Decode { source, .. } => source.to_string(),
                ImageError::UnknownFormat { .. } => "unknown file format".into(),
                _ => other.to_string(),
            },
        },
    })
}

/// The processor's output for a batch as plain numbers, `[B, 3, H, W]` row-major.
pub fn pixel_values(images: &[RgbImage], spec: &ImageSpec) -> Result<Vec<f32>, PreprocessError> {
    let plane = (spec.height * spec.width) as usize;
    let mut out = Vec::with_capacity(images.len() * 3 * plane);
    for (index, img) in images.iter().enumerate() {
        if img.width() == 0 || img.height() == 0 {
            return Err(PreprocessError::Empty(index));
        }
        let sized = if !spec.do_resize {
            if img.dimensions() != (spec.width, spec.height) {
                return Err(PreprocessError::WrongSize {
                    index,
                    width: img.width(),
                    height: img.height(),
                    want_w: spec.width,
                    want_h: spec.height,
                });
            }
            img.clone()
        } else {
            resize_like_pil(img, spec.width, spec.height, spec.resample)
        };
        push_normalised(&sized, spec, &mut out);
    }
    Ok(out)
}

/// The batch as a `[B, 3, H, W]` tensor on `device`.
pub fn to_tensor(
    images: &[RgbImage],
    spec: &ImageSpec,
    device: &Device,
) -> Result<Tensor<4>, PreprocessError> {
    let values = pixel_values(images, spec)?;
    let shape = [images.len(), 3, spec.height as usize, spec.width as usize];
    Ok(Tensor::from_data(TensorData::new(values, shape), device))
}

/// Rescale (in f64, then f32, as `transformers` does) and normalise (in f32), channel-first.
fn push_normalised(img: &RgbImage, spec: &ImageSpec, out: &mut Vec<f32>) {
    for c in 0..3 {
        for p in img.pixels() {
            let mut v = f64::from(p.0[c]);
            if spec.do_rescale {
                v *= spec.rescale_factor;
            }
            let mut v = v as f32;
            if spec.do_normalize {
                v = (v - spec.mean[c]) / spec.std[c];
            }
            out.push(v);
        }
    }
}

/// Pillow's `Image.resize(size, resample)` for an RGB image.
pub fn resize_like_pil(img: &RgbImage, width: u32, height: u32, filter: Resample) -> RgbImage {
    if img.dimensions() == (width, height) {
        return img.clone();
    }
    if filter == Resample::Nearest {
        return resize_nearest(img, width, height);
    }
    let horizontal = if img.width() != width {
        resample_axis(img, width, filter, Axis::X)
    } else {
        img.clone()
    };
    if img.height() != height {
        resample_axis(&horizontal, height, filter, Axis::Y)
    } else {
        horizontal
    }
}

/// Pillow's nearest resize: an affine transform sampling at pixel centres.
fn resize_nearest(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let sx = f64::from(img.width()) / f64::from(width);
    let sy = f64::from(img.height()) / f64::from(height);
    RgbImage::from_fn(width, height, |x, y| {
        let xi = ((f64::from(x) + 0.5) * sx).floor() as u32;
        let yi = ((f64::from(y) + 0.5) * sy).floor() as u32;
        *img.get_pixel(xi.min(img.width() - 1), yi.min(img.height() - 1))
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Axis {
    X,
    Y,
}

/// Pillow's fixed-point precision for 8-bit images: 32 - 8 - 2 bits.
const PRECISION_BITS: u32 = 22;

/// For each output index: first input index and the fixed-point weights (Pillow's
/// `precompute_coeffs` + `normalize_coeffs_8bpc`).
fn coefficients(in_size: u32, out_size: u32, filter: Resample) -> Vec<(usize, Vec<i64>)> {
    let scale = f64::from(in_size) / f64::from(out_size);
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ss = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (f64::from(xx) + 0.5) * scale;
            // C's (int) truncates toward zero; the max/min clamp as Pillow does.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) as usize;
            let raw: Vec<f64> = (xmin..xmax.max(xmin))
                .map(|x| filter.weight((x as f64 - center + 0.5) * ss))
                .collect();
            let total: f64 = raw.iter().sum();
            let fixed = raw
                .iter()
                .map(|w| {
                    let w = if total != 0.0 { w / total } else { *w };
                    let scaled = w * f64::from(1u32 << PRECISION_BITS);
                    (if scaled < 0.0 {
                        scaled - 0.5
                    } else {
                        scaled + 0.5
                    }) as i64
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

/// One separable pass of Pillow's resampler along `axis`, rounding to 8 bits.
fn resample_axis(img: &RgbImage, out_len: u32, filter: Resample, axis: Axis) -> RgbImage {
    let (w, h) = img.dimensions();
    let in_len = if axis == Axis::X { w } else { h };
    let coeffs = coefficients(in_len, out_len, filter);
    let (ow, oh) = if axis == Axis::X {
        (out_len, h)
    } else {
        (w, out_len)
    };
    let src = img.as_raw();
    let mut out = RgbImage::new(ow, oh);
    let half = 1i64 << (PRECISION_BITS - 1);
    for y in 0..oh {
        for x in 0..ow {
            let (pos, other) = if axis == Axis::X { (x, y) } else { (y, x) };
            let (start, weights) = &coeffs[pos as usize];
            let mut acc = [half; 3];
            for (k, wgt) in weights.iter().enumerate() {
                let i = start + k;
                let (sx, sy) = if axis == Axis::X {
                    (i, other as usize)
                } else {
                    (other as usize, i)
                };
                let base = (sy * w as usize + sx) * 3;
                for c in 0..3 {
                    acc[c] += i64::from(src[base + c]) * wgt;
                }
            }
            let px = acc.map(|a| (a >> PRECISION_BITS).clamp(0, 255) as u8);
            out.put_pixel(x, y, image::Rgb(px));
        }
    }
    out
}

impl From<PreprocessError> for crate::Error {
    fn from(e: PreprocessError) -> Self {
        crate::Error::Input {
            what: "cannot prepare the lines for the network".into(),
            source: Box::new(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 13 % 256) as u8,
                ((x + y) * 3 % 256) as u8,
            ])
        })
    }

    #[test]
    fn pil_codes_map_to_filters() {
        assert_eq!(Resample::from_pil_code(2), Some(Resample::Bilinear));
        assert_eq!(Resample::from_pil_code(3), Some(Resample::Bicubic));
        assert_eq!(Resample::from_pil_code(1), Some(Resample::Lanczos));
        assert_eq!(Resample::from_pil_code(0), Some(Resample::Nearest));
        assert_eq!(Resample::from_pil_code(9), None);
    }

    #[test]
    fn a_constant_image_stays_constant_under_every_filter() {
        let img = RgbImage::from_pixel(50, 17, image::Rgb([200, 10, 128]));
        for code in 0..=5 {
            let f = Resample::from_pil_code(code).unwrap();
            let out = resize_like_pil(&img, 23, 40, f);
            assert_eq!(out.dimensions(), (23, 40));
            assert!(out.pixels().all(|p| p.0 == [200, 10, 128]), "filter {f:?}");
        }
    }

    #[test]
    fn downscaling_averages_like_an_antialiased_filter() {
        // Alternating black/white columns halved with bilinear: Pillow's support widens to
        // 2 input pixels, so every output is close to mid-grey rather than black or white.
        let img = RgbImage::from_fn(64, 4, |x, _| {
            image::Rgb([if x % 2 == 0 { 0 } else { 255 }; 3])
        });
        let out = resize_like_pil(&img, 32, 4, Resample::Bilinear);
        for p in out.pixels() {
            assert!((100..=155).contains(&p.0[0]), "{:?}", p.0);
        }
    }

    #[test]
    fn normalised_values_span_minus_one_to_one() {
        let img = RgbImage::from_fn(8, 8, |x, _| image::Rgb([if x < 4 { 0 } else { 255 }; 3]));
        let spec = ImageSpec {
            height: 8,
            width: 8,
            ..Default::default()
        };
        let v = pixel_values(&[img], &spec).unwrap();
        assert_eq!(v.len(), 3 * 64);
        assert_eq!(v[0], -1.0);
        assert_eq!(v[7], 1.0);
    }

    #[test]
    fn layout_is_batch_channel_row_column() {
        let a = gradient(5, 3);
        let spec = ImageSpec {
            height: 3,
            width: 5,
            do_normalize: false,
            do_rescale: false,
            ..Default::default()
        };
        let v = pixel_values(&[a.clone(), a.clone()], &spec).unwrap();
        let plane = 15;
        // batch 1, channel 2 (blue), row 1, column 4
        let at = 3 * plane + 2 * plane + 5 + 4;
        assert_eq!(v[at], f32::from(a.get_pixel(4, 1).0[2]));
    }

    /// Pillow's own output for every filter (written by scripts/gen_preprocess_fixtures.py).
    #[test]
    fn resize_equals_pillow_for_every_filter() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/preprocess");
        let source = image::open(dir.join("source.png")).unwrap().to_rgb8();
        let names = [
            "nearest", "lanczos", "bilinear", "bicubic", "box", "hamming",
        ];
        for (code, name) in names.iter().enumerate() {
            for (w, h) in [(29, 23), (40, 50)] {
                let want = image::open(dir.join(format!("{name}_{w}x{h}.png")))
                    .unwrap()
                    .to_rgb8();
                let got =
                    resize_like_pil(&source, w, h, Resample::from_pil_code(code as u8).unwrap());
                let max_diff = got
                    .as_raw()
                    .iter()
                    .zip(want.as_raw())
                    .map(|(a, b)| a.abs_diff(*b))
                    .max()
                    .unwrap();
                assert_eq!(max_diff, 0, "{name} {w}x{h}: max difference {max_diff}");
            }
        }
    }

    /// Reads one float32 tensor from a safetensors file (8-byte header length, JSON
    /// header, raw little-endian data).
    fn read_f32_tensor(path: &std::path::Path, name: &str) -> (Vec<usize>, Vec<f32>) {
        let bytes = std::fs::read(path).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let entry = &header[name];
        assert_eq!(entry["dtype"], "F32");
        let shape = entry["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let [start, end] =
            [0, 1].map(|i| entry["data_offsets"][i].as_u64().unwrap() as usize + 8 + n);
        let data = bytes[start..end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        (shape, data)
    }

    /// The processor's output on the fixture images equals transformers' `pixel_values`.
    #[test]
    fn pixel_values_match_the_transformers_processor() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trocr");
        for variant in [
            "vit_bpe_tied",
            "deit_spm_untied",
            "vit_fast_equal",
            "deit_proj_relu",
        ] {
            let dir = root.join(variant);
            let reference = dir.join("reference.safetensors");
            if !reference.is_file() {
                crate::test_skip::skip(format!("{variant}: no reference.safetensors"));
                continue;
            }
            let cfg: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join("preprocessor_config.json")).unwrap(),
            )
            .unwrap();
            let spec = ImageSpec {
                height: cfg["size"]["height"].as_u64().unwrap() as u32,
                width: cfg["size"]["width"].as_u64().unwrap() as u32,
                resample: Resample::from_pil_code(cfg["resample"].as_u64().unwrap() as u8).unwrap(),
                ..Default::default()
            };
            let images: Vec<RgbImage> = ["image_0.png", "image_1.png"]
                .iter()
                .map(|f| open_rgb(&dir.join(f)).unwrap())
                .collect();
            let got = pixel_values(&images, &spec).unwrap();
            let (shape, want) = read_f32_tensor(&reference, "pixel_values");
            assert_eq!(shape, [2, 3, spec.height as usize, spec.width as usize]);
            let max = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            eprintln!("{variant}: pixel_values max abs difference {max:e}");
            assert!(max == 0.0, "{variant}: max abs difference {max}");
        }
    }

    #[test]
    fn empty_images_are_rejected() {
        let err = pixel_values(&[RgbImage::new(0, 5)], &ImageSpec::default());
        assert!(matches!(err, Err(PreprocessError::Empty(0))));
    }
}
