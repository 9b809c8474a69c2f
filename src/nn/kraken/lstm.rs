//! An LSTM that runs along one axis of a feature map (kraken's `Lbx`/`Lby` layers): every
//! row (or column) is a sequence, all of them in one batch. Gates in PyTorch's order
//! (input, forget, cell, output), which is also the order of CoreML's weight fields.

use crate::nn::lstm_cell;
use burn::tensor::{Device, Tensor, TensorData};

use super::vgsl::{Axis, Direction};
use crate::cancel::CancelToken;
use crate::nn::banded::in_timed_parts;

/// Input values put in sequence order and projected between two cancel checks.
const LSTM_VALUES_PER_CHUNK: usize = 8_000_000;

/// One direction's weights, PyTorch's layout: `w_ih` `[4h, in]`, `w_hh` `[4h, h]`, and the
/// two biases summed (PyTorch adds both at every step).
#[derive(Clone, Debug, PartialEq)]
pub struct LstmWeights {
    pub w_ih: Vec<f32>,
    pub w_hh: Vec<f32>,
    pub bias: Vec<f32>,
}

/// The LSTM's directions side by side, so every time step is one batched matrix product
/// for all of them: weights transposed for `x @ W`, one slice per direction.
#[derive(Debug, Clone)]
struct Cells {
    /// `[directions, input, 4 * hidden]`.
    input_weight: Tensor<3>,
    /// `[directions, hidden, 4 * hidden]`.
    hidden_weight: Tensor<3>,
    /// `[directions, 1, 4 * hidden]`.
    bias: Tensor<3>,
    /// Which directions read the sequence from its end.
    reverse: Vec<bool>,
}

impl Cells {
    fn new(
        weights: Vec<(LstmWeights, bool)>,
        input: usize,
        hidden: usize,
        device: &Device,
    ) -> Self {
        let gates = 4 * hidden;
        let t = |v: Vec<f32>, rows: usize| {
            Tensor::<2>::from_data(TensorData::new(v, [gates, rows]), device).transpose()
        };
        let mut ih = Vec::new();
        let mut hh = Vec::new();
        let mut b = Vec::new();
        let mut reverse = Vec::new();
        for (w, rev) in weights {
            ih.push(t(w.w_ih, input));
            hh.push(t(w.w_hh, hidden));
            b.push(
                Tensor::<1>::from_data(TensorData::new(w.bias, [gates]), device)
                    .reshape([1, gates]),
            );
            reverse.push(rev);
        }
        Self {
            input_weight: Tensor::stack(ih, 0),
            hidden_weight: Tensor::stack(hh, 0),
            bias: Tensor::stack(b, 0),
            reverse,
        }
    }

    /// Each direction's input projection `x @ W + b` of `x` `[rows, input]`: `[rows, 4h]`.
    fn project(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        let [dirs, input, gates] = self.input_weight.dims();
        (0..dirs)
            .map(|d| {
                let w = self
                    .input_weight
                    .clone()
                    .narrow(0, d, 1)
                    .reshape([input, gates]);
                let b = self.bias.clone().narrow(0, d, 1).reshape([1, gates]);
                x.clone().matmul(w) + b
            })
            .collect()
    }

    /// The recurrence over [`Self::project`]ed inputs, one `[batch, time, 4h]` a direction:
    /// `[batch, time, directions * hidden]`, directions in order, each in time order.
    /// `cancel` is checked before every time step: a page-wide layer takes seconds on a
    /// CPU, one step a few milliseconds. Nothing is flipped in time: a reverse direction
    /// reads and writes its positions from the end (a flip would copy a page-sized tensor
    /// in one uncancellable go).
    fn recur(&self, projected: Vec<Tensor<3>>, cancel: &CancelToken) -> crate::Result<Tensor<3>> {
        let Some(first) = projected.first() else {
            return Err(crate::Error::Model(
                "an LSTM layer without directions".into(),
            ));
        };
        let [batch, time, gates] = first.dims();
        let device = first.device();
        let [dirs, hidden, _] = self.hidden_weight.dims();
        let position = |d: usize, step: usize| {
            if self.reverse[d] {
                time - 1 - step
            } else {
                step
            }
        };
        let mut h = Tensor::<3>::zeros([dirs, batch, hidden], &device);
        let mut c = Tensor::<3>::zeros([dirs, batch, hidden], &device);
        let mut outputs = Vec::with_capacity(time);
        for step in 0..time {
            cancel.check()?;
            let inputs: Vec<Tensor<3>> = projected
                .iter()
                .enumerate()
                .map(|(d, p)| {
                    p.clone()
                        .narrow(1, position(d, step), 1)
                        .reshape([1, batch, gates])
                })
                .collect();
            let g = Tensor::cat(inputs, 0) + h.matmul(self.hidden_weight.clone());
            (h, c) = lstm_cell::step(g, c, hidden);
            outputs.push(h.clone());
        }
        // Position `t` of direction `d` is what that direction computed at its step
        // `position(d, t)` (the same function: reading from the end is its own inverse).
        let mut by_position = Vec::with_capacity(time);
        for t in 0..time {
            cancel.check()?;
            let parts: Vec<Tensor<2>> = (0..dirs)
                .map(|d| {
                    outputs[position(d, t)]
                        .clone()
                        .narrow(0, d, 1)
                        .reshape([batch, hidden])
                })
                .collect();
            by_position.push(Tensor::cat(parts, 1));
        }
        let out = Tensor::stack(by_position, 1);
        cancel.check()?;
        Ok(out)
    }
}

/// An LSTM over the rows (`Axis::X`) or columns (`Axis::Y`) of an `[n, c, h, w]` map.
#[derive(Debug, Clone)]
pub struct AxisLstm {
    axis: Axis,
    cells: Cells,
}

impl AxisLstm {
    /// `weights`: one entry per direction, forward first (as `direction.count()` says).
    pub fn new(
        axis: Axis,
        direction: Direction,
        [input, hidden]: [usize; 2],
        weights: Vec<LstmWeights>,
        device: &Device,
    ) -> Self {
        // kraken builds `r` as a one-way `torch.nn.LSTM`, which reads forward; so do we. In a
        // bidirectional layer the second direction reads backwards.
        let flagged = weights
            .into_iter()
            .enumerate()
            .map(|(i, w)| (w, direction == Direction::Both && i == 1))
            .collect();
        Self {
            axis,
            cells: Cells::new(flagged, input, hidden, device),
        }
    }

    /// `[n, c, h, w]` → `[n, directions * hidden, h, w]`; `before` maps the input band by
    /// band first (a GroupNorm's pending affine, see `net::ChannelAffine`).
    pub fn forward(
        &self,
        x: Tensor<4>,
        before: &dyn Fn(Tensor<4>) -> Tensor<4>,
        cancel: &CancelToken,
    ) -> crate::Result<Tensor<4>> {
        let [n, c, h, w] = x.dims();
        // Sequences along the chosen axis, every other position a batch entry.
        let (across, len, other) = match self.axis {
            Axis::X => (2, w, h),
            Axis::Y => (3, h, w),
        };
        let gates = self.cells.input_weight.dims()[2];
        // Put in sequence order and projected a band of sequences at a time, with a check
        // before each: either is a page-sized pass otherwise. Bands are sized by time after
        // the first, like convolution bands.
        let per_chunk = (LSTM_VALUES_PER_CHUNK / (n * len * c).max(1)).clamp(1, other);
        let mut chunks: Vec<Vec<Tensor<4>>> = vec![Vec::new(); self.cells.reverse.len()];
        in_timed_parts(other, per_chunk, 1, |sequences| {
            cancel.check()?;
            let k = sequences.len();
            let part = before(x.clone().narrow(across, sequences.start, k));
            // [n, k, len, c]
            let seq = match self.axis {
                Axis::X => part.permute([0, 2, 3, 1]),
                Axis::Y => part.permute([0, 3, 2, 1]),
            };
            let projected = self.cells.project(seq.reshape([n * k * len, c]));
            for (d, p) in projected.into_iter().enumerate() {
                chunks[d].push(p.reshape([n, k, len, gates]));
            }
            Ok(())
        })?;
        let mut projected = Vec::with_capacity(chunks.len());
        for parts in chunks {
            cancel.check()?;
            projected.push(Tensor::cat(parts, 1).reshape([n * other, len, gates]));
        }
        let out = self.cells.recur(projected, cancel)?;
        let o = out.dims()[2];
        let out = out.reshape([n, other, len, o]);
        let out = match self.axis {
            Axis::X => out.permute([0, 3, 1, 2]),
            Axis::Y => out.permute([0, 3, 2, 1]),
        };
        cancel.check()?;
        Ok(out)
    }
}
