//! The network's logits as probability maps at the prepared input's size, as kraken gets
//! them: nearest-neighbour upsampling (PyTorch's `F.interpolate` default) of the logits,
//! then a sigmoid.

/// One float map, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Map {
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            data: vec![0.0; width * height],
        }
    }

    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }
}

/// PyTorch's nearest source index: `floor(dst * (in / out))` with the scale in f32.
fn nearest_indices(input: usize, output: usize) -> Vec<usize> {
    let scale = input as f32 / output as f32;
    (0..output)
        .map(|i| ((i as f32 * scale).floor() as usize).min(input.saturating_sub(1)))
        .collect()
}

/// `logits`: `[channels, h, w]` → one sigmoid map per channel at `width` x `height`.
pub fn upsample_sigmoid(
    logits: &[f32],
    [channels, h, w]: [usize; 3],
    width: usize,
    height: usize,
) -> Vec<Map> {
    let xs = nearest_indices(w, width);
    let ys = nearest_indices(h, height);
    (0..channels)
        .map(|c| {
            let plane = &logits[c * h * w..(c + 1) * h * w];
            // Sigmoid once per source value, then copy: the same numbers, 16 times less work.
            let squashed: Vec<f32> = plane.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect();
            let mut map = Map::new(width, height);
            for (y, &sy) in ys.iter().enumerate() {
                let row = &squashed[sy * w..(sy + 1) * w];
                for (x, &sx) in xs.iter().enumerate() {
                    map.data[y * width + x] = row[sx];
                }
            }
            map
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_upsampling_repeats_source_cells() {
        let maps = upsample_sigmoid(&[0.0, 100.0], [1, 1, 2], 4, 2);
        assert_eq!(maps[0].data, vec![0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 1.0, 1.0]);
    }
}
