//! CRAFT post-processing: a character-region map and an affinity (link) map become word
//! boxes, following EasyOCR's `getDetBoxes` and exposing the knobs of John Snow Labs'
//! ImageTextDetectorV2 (text, link and low-text thresholds, size threshold, input width).

use image::{GrayImage, Luma};
use imageproc::distance_transform::Norm;
use imageproc::region_labelling::{Connectivity, connected_components};

use super::geometry::{RotatedRect, min_area_rect};
use super::score_map::ScoreMap;
use crate::reading::{Point, Region};

/// CRAFT detection settings.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectParams {
    /// A component is kept only if its strongest character score reaches this
    /// (JSL `textThreshold`, EasyOCR `text_threshold`).
    pub text_threshold: f32,
    /// Affinity score above which neighbouring characters are joined into one word
    /// (JSL `linkThreshold`, EasyOCR `link_threshold`).
    pub link_threshold: f32,
    /// Character score above which a pixel belongs to a character region at all; lower
    /// values give larger boxes (EasyOCR `low_text`).
    pub low_text: f32,
    /// Components with fewer map pixels than this are noise (JSL `sizeThreshold`).
    pub size_threshold: usize,
    /// The page is resized to this width before the network (JSL `width`; the map is
    /// half of it). Used by the detector's pre-processing, not here.
    pub width: u32,
}

impl Default for DetectParams {
    fn default() -> Self {
        Self {
            text_threshold: 0.7,
            link_threshold: 0.4,
            low_text: 0.4,
            size_threshold: 10,
            width: 1280,
        }
    }
}

/// Per-component figures gathered in one pass over the label image.
#[derive(Clone, Copy)]
struct Component {
    area: usize,
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    peak_text: f32,
}

/// Word regions from CRAFT's text (region) and link (affinity) maps, which must have the same
/// size; 4-point polygons clockwise from top-left in page pixels.
pub fn regions_from_craft(text: &ScoreMap, link: &ScoreMap, params: &DetectParams) -> Vec<Region> {
    let (w, h) = (text.width, text.height);
    if w == 0 || h == 0 || text.data.len() != w * h || link.data.len() != w * h || link.width != w {
        return Vec::new();
    }
    let is_text = |i: usize| text.data[i] > params.low_text;
    let is_link = |i: usize| link.data[i] > params.link_threshold;
    let combined = GrayImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        Luma([if is_text(i) || is_link(i) { 255 } else { 0 }])
    });
    let labels = connected_components(&combined, Connectivity::Four, Luma([0u8]));
    let components = measure(&labels, text);
    components
        .iter()
        .enumerate()
        .filter_map(|(index, c)| {
            let c = c.as_ref()?;
            if c.area < params.size_threshold || c.peak_text < params.text_threshold {
                return None;
            }
            let label = index as u32 + 1;
            let points = dilated_outline(&labels, label, c, |i| is_link(i) && !is_text(i));
            let corners = word_box(&points)?;
            let polygon = corners
                .iter()
                .map(|p| [p[0] * text.scale[0], p[1] * text.scale[1]])
                .collect();
            Some(Region {
                polygon,
                score: c.peak_text,
            })
        })
        .collect()
}

fn measure(
    labels: &image::ImageBuffer<Luma<u32>, Vec<u32>>,
    text: &ScoreMap,
) -> Vec<Option<Component>> {
    let mut components: Vec<Option<Component>> = Vec::new();
    for (x, y, px) in labels.enumerate_pixels() {
        let label = px[0] as usize;
        if label == 0 {
            continue;
        }
        if components.len() < label {
            components.resize(label, None);
        }
        let score = text.get(x as usize, y as usize);
        let c = components[label - 1].get_or_insert(Component {
            area: 0,
            x0: x,
            y0: y,
            x1: x,
            y1: y,
            peak_text: 0.0,
        });
        c.area += 1;
        c.x0 = c.x0.min(x);
        c.y0 = c.y0.min(y);
        c.x1 = c.x1.max(x);
        c.y1 = c.y1.max(y);
        c.peak_text = c.peak_text.max(score);
    }
    components
}

/// The component's pixels (minus pure link pixels, so words do not reach into the gap to the
/// next word), dilated in proportion to its size, reduced to the leftmost and rightmost pixel
/// of every row (enough for the convex hull).
fn dilated_outline(
    labels: &image::ImageBuffer<Luma<u32>, Vec<u32>>,
    label: u32,
    c: &Component,
    link_only: impl Fn(usize) -> bool,
) -> Vec<Point> {
    let (w, h) = labels.dimensions();
    let (bw, bh) = ((c.x1 - c.x0 + 1) as f32, (c.y1 - c.y0 + 1) as f32);
    // EasyOCR's margin: thin or small components grow less.
    let niter = ((c.area as f32 * bw.min(bh) / (bw * bh)).sqrt() * 2.0) as u32;
    // A (1 + niter)-wide square kernel reaches about niter / 2 to each side.
    let radius = niter.div_ceil(2).min(255);
    let pad = niter + 1;
    let (sx, sy) = (c.x0.saturating_sub(pad), c.y0.saturating_sub(pad));
    let (ex, ey) = ((c.x1 + pad + 1).min(w), (c.y1 + pad + 1).min(h));
    let window = GrayImage::from_fn(ex - sx, ey - sy, |x, y| {
        let (gx, gy) = (x + sx, y + sy);
        let mine = labels.get_pixel(gx, gy)[0] == label;
        let on = mine && !link_only(gy as usize * w as usize + gx as usize);
        Luma([if on { 255 } else { 0 }])
    });
    let grown = if radius > 0 {
        imageproc::morphology::dilate(&window, Norm::LInf, radius as u8)
    } else {
        window
    };
    let mut points = Vec::new();
    for y in 0..grown.height() {
        let row: Vec<u32> = (0..grown.width())
            .filter(|&x| grown.get_pixel(x, y)[0] > 0)
            .collect();
        if let (Some(&first), Some(&last)) = (row.first(), row.last()) {
            points.push([(first + sx) as f32, (y + sy) as f32]);
            points.push([(last + sx) as f32, (y + sy) as f32]);
        }
    }
    points
}

/// Min-area rectangle; a nearly square one (a diamond on a round blob) becomes the
/// axis-aligned box instead, as EasyOCR does.
fn word_box(points: &[Point]) -> Option<[Point; 4]> {
    let rect: RotatedRect = min_area_rect(points)?;
    let ratio = rect.width.max(rect.height) / (rect.width.min(rect.height) + 1e-5);
    if (1.0 - ratio).abs() <= 0.1 {
        let [x0, y0, x1, y1] = crate::reading::bbox_of(points);
        return Some([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]);
    }
    Some(rect.corners())
}
