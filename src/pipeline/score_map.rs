//! A detector's per-pixel output (text probability, link score) as plain data, so
//! post-processing needs no tensors.

/// Row-major `height × width` map of scores in 0..=1, with the scale back to page pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreMap {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
    /// Page pixels per map pixel, horizontally and vertically.
    pub scale: [f32; 2],
}

impl ScoreMap {
    pub fn get(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }
}
