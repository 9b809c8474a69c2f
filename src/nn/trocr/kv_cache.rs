//! Keys and values kept between decoding steps.
//!
//! Cross-attention keys and values depend only on the image, so they are computed once per
//! image ([`CrossKeysValues`]); self-attention keys and values grow by one position a step
//! ([`SelfAttentionCache`]).

use burn::tensor::{Int, Tensor};

/// Per decoder layer, the cross-attention keys and values `[N, heads, S, head_dim]`.
#[derive(Debug, Clone)]
pub struct CrossKeysValues {
    pub layers: Vec<(Tensor<4>, Tensor<4>)>,
}

impl CrossKeysValues {
    /// Repeats each image's keys and values `times` in a row (one copy per beam).
    pub fn repeat_each(&self, times: usize) -> Self {
        if times == 1 {
            return self.clone();
        }
        let repeat = |t: &Tensor<4>| {
            let [n, h, s, d] = t.dims();
            t.clone()
                .unsqueeze_dim::<5>(1)
                .expand([n, times, h, s, d])
                .reshape([n * times, h, s, d])
        };
        CrossKeysValues {
            layers: self
                .layers
                .iter()
                .map(|(k, v)| (repeat(k), repeat(v)))
                .collect(),
        }
    }
}

/// Per decoder layer, the self-attention keys and values of the positions seen so far.
#[derive(Debug, Clone)]
pub struct SelfAttentionCache {
    layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
    len: usize,
}

impl SelfAttentionCache {
    pub fn new(num_layers: usize) -> Self {
        SelfAttentionCache {
            layers: vec![None; num_layers],
            len: 0,
        }
    }

    /// Positions already cached.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends new keys and values of `layer` and returns all of them.
    pub fn append(
        &mut self,
        layer: usize,
        keys: Tensor<4>,
        values: Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
        let joined = match self.layers[layer].take() {
            Some((k, v)) => (
                Tensor::cat(vec![k, keys], 2),
                Tensor::cat(vec![v, values], 2),
            ),
            None => (keys, values),
        };
        self.layers[layer] = Some(joined.clone());
        joined
    }

    /// Records that a step of `steps` positions went through every layer.
    pub fn advance(&mut self, steps: usize) {
        self.len += steps;
    }

    /// Keeps rows `rows` (beam search picks which hypotheses continue).
    pub fn select_rows(&mut self, rows: Tensor<1, Int>) {
        for entry in self.layers.iter_mut().flatten() {
            let (k, v) = entry.clone();
            *entry = (k.select(0, rows.clone()), v.select(0, rows.clone()));
        }
    }
}
