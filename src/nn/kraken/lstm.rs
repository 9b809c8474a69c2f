//! An LSTM that runs along one axis of a feature map (kraken's `Lbx`/`Lby` layers): every
//! row (or column) is a sequence, all of them in one batch. Gates in PyTorch's order
//! (input, forget, cell, output), which is also the order of CoreML's weight fields.

use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Tensor, TensorData};

use super::vgsl::{Axis, Direction};

/// One direction's weights, PyTorch's layout: `w_ih` `[4h, in]`, `w_hh` `[4h, h]`, and the
/// two biases summed (PyTorch adds both at every step).
#[derive(Clone, Debug, PartialEq)]
pub struct LstmWeights {
    pub w_ih: Vec<f32>,
    pub w_hh: Vec<f32>,
    pub bias: Vec<f32>,
}

/// One direction, weights transposed for `x @ W`.
#[derive(Debug, Clone)]
struct Cell {
    input_weight: Tensor<2>,
    hidden_weight: Tensor<2>,
    bias: Tensor<1>,
}

impl Cell {
    fn new(w: LstmWeights, input: usize, hidden: usize, device: &Device) -> Self {
        let gates = 4 * hidden;
        let t = |v: Vec<f32>, shape: [usize; 2]| {
            Tensor::<2>::from_data(TensorData::new(v, shape), device).transpose()
        };
        Self {
            input_weight: t(w.w_ih, [gates, input]),
            hidden_weight: t(w.w_hh, [gates, hidden]),
            bias: Tensor::from_data(TensorData::new(w.bias, [gates]), device),
        }
    }

    /// `[batch, time, input]` → `[batch, time, hidden]`, in time order either way.
    fn run(&self, x: Tensor<3>, reverse: bool) -> Tensor<3> {
        let [batch, time, input] = x.dims();
        let [hidden, gates] = self.hidden_weight.dims();
        let device = x.device();
        // Every step's input projection at once; only the recurrence is sequential.
        let projected = x
            .reshape([batch * time, input])
            .matmul(self.input_weight.clone())
            .add(self.bias.clone().unsqueeze::<2>())
            .reshape([batch, time, gates]);
        let mut h = Tensor::<2>::zeros([batch, hidden], &device);
        let mut c = Tensor::<2>::zeros([batch, hidden], &device);
        let mut outputs = Vec::with_capacity(time);
        for step in 0..time {
            let t = if reverse { time - 1 - step } else { step };
            let g = projected.clone().narrow(1, t, 1).reshape([batch, gates])
                + h.matmul(self.hidden_weight.clone());
            let squashed = sigmoid(g.clone());
            let input_gate = squashed.clone().narrow(1, 0, hidden);
            let forget_gate = squashed.clone().narrow(1, hidden, hidden);
            let output_gate = squashed.narrow(1, 3 * hidden, hidden);
            let candidate = tanh(g.narrow(1, 2 * hidden, hidden));
            c = forget_gate * c + input_gate * candidate;
            h = output_gate * tanh(c.clone());
            outputs.push(h.clone());
        }
        if reverse {
            outputs.reverse();
        }
        Tensor::stack(outputs, 1)
    }
}

/// An LSTM over the rows (`Axis::X`) or columns (`Axis::Y`) of an `[n, c, h, w]` map.
#[derive(Debug, Clone)]
pub struct AxisLstm {
    axis: Axis,
    forward: Option<Cell>,
    backward: Option<Cell>,
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
        let mut cells = weights
            .into_iter()
            .map(|w| Cell::new(w, input, hidden, device));
        let (forward, backward) = match direction {
            // kraken builds `r` as a one-way `torch.nn.LSTM`, which reads forward; do the same.
            Direction::Forward | Direction::Reverse => (cells.next(), None),
            Direction::Both => (cells.next(), cells.next()),
        };
        Self {
            axis,
            forward,
            backward,
        }
    }

    /// `[n, c, h, w]` → `[n, directions * hidden, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        // Sequences along the chosen axis, every other position a batch entry.
        let (seq, len, other) = match self.axis {
            Axis::X => (x.permute([0, 2, 3, 1]), w, h),
            Axis::Y => (x.permute([0, 3, 2, 1]), h, w),
        };
        let seq = seq.reshape([n * other, len, c]);
        let mut outs = Vec::with_capacity(2);
        if let Some(cell) = &self.forward {
            outs.push(cell.run(seq.clone(), false));
        }
        if let Some(cell) = &self.backward {
            outs.push(cell.run(seq, true));
        }
        let out = Tensor::cat(outs, 2);
        let o = out.dims()[2];
        let out = out.reshape([n, other, len, o]);
        match self.axis {
            Axis::X => out.permute([0, 3, 1, 2]),
            Axis::Y => out.permute([0, 3, 2, 1]),
        }
    }
}
