//! A bidirectional LSTM with PyTorch's weight layout (gates stacked as input, forget, cell,
//! output), so `nn.LSTM` weights load without reordering, and the linear layer EasyOCR puts
//! after it.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use super::TensorSource;
use super::layers::tensor;
use crate::Result;
use crate::nn::time_steps::time_steps;
use crate::nn::{host_linear, lstm_cell};

/// One direction of a single-layer LSTM.
#[derive(Module, Debug)]
pub struct LstmDirection {
    /// `W_ih` transposed: `[input, 4 * hidden]`.
    input_weight: Param<Tensor<2>>,
    /// `W_hh` transposed: `[hidden, 4 * hidden]`.
    hidden_weight: Param<Tensor<2>>,
    /// `b_ih + b_hh`: PyTorch adds both at every step, so they are summed once here.
    bias: Param<Tensor<1>>,
}

impl LstmDirection {
    /// `rnn` is the `nn.LSTM` name; `suffix` is `""` or `"_reverse"`.
    fn load(
        src: &mut dyn TensorSource,
        rnn: &str,
        suffix: &str,
        [input, hidden]: [usize; 2],
        device: &Device,
    ) -> Result<Self> {
        let gates = 4 * hidden;
        let w_ih = tensor(
            src,
            &format!("{rnn}.weight_ih_l0{suffix}"),
            [gates, input],
            device,
        )?;
        let w_hh = tensor(
            src,
            &format!("{rnn}.weight_hh_l0{suffix}"),
            [gates, hidden],
            device,
        )?;
        let b_ih = tensor(src, &format!("{rnn}.bias_ih_l0{suffix}"), [gates], device)?;
        let b_hh = tensor(src, &format!("{rnn}.bias_hh_l0{suffix}"), [gates], device)?;
        Ok(Self {
            input_weight: Param::from_tensor(w_ih.transpose()),
            hidden_weight: Param::from_tensor(w_hh.transpose()),
            bias: Param::from_tensor(b_ih + b_hh),
        })
    }

    /// The input projection of every step at once, `[batch, time, 4 * hidden]` (only the
    /// recurrence is sequential).
    fn project(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, time, input] = x.dims();
        let gates = self.bias.dims()[0];
        let rows = x.reshape([batch * time, input]);
        host_linear::affine(rows, self.input_weight.val(), Some(self.bias.val()))
            .reshape([batch, time, gates])
    }
}

/// EasyOCR's `BidirectionalLSTM`: an LSTM read both ways, then a linear layer.
#[derive(Module, Debug)]
pub struct BidirectionalLstm {
    forward: LstmDirection,
    backward: LstmDirection,
    linear: Linear,
}

impl BidirectionalLstm {
    /// `name` is the module's prefix, e.g. `SequenceModeling.0`.
    pub fn load(
        src: &mut dyn TensorSource,
        name: &str,
        [input, hidden, output]: [usize; 3],
        device: &Device,
    ) -> Result<Self> {
        let rnn = format!("{name}.rnn");
        Ok(Self {
            forward: LstmDirection::load(src, &rnn, "", [input, hidden], device)?,
            backward: LstmDirection::load(src, &rnn, "_reverse", [input, hidden], device)?,
            linear: load_linear(src, &format!("{name}.linear"), [2 * hidden, output], device)?,
        })
    }

    /// `[batch, time, input]` → `[batch, time, output]`. `before_step` runs before every
    /// time step and stops the pass when it fails.
    pub fn forward<E>(
        &self,
        x: Tensor<3>,
        before_step: &mut dyn FnMut() -> std::result::Result<(), E>,
    ) -> std::result::Result<Tensor<3>, E> {
        let batch = x.dims()[0];
        let both = self.both_directions(x, before_step)?;
        let backward = both.clone().narrow(0, batch, batch).flip([1]);
        let forward = both.narrow(0, 0, batch);
        Ok(self.linear.forward(Tensor::cat(vec![forward, backward], 2)))
    }

    /// Both directions read together, the backward one over the flipped sequence, so that
    /// each time step is one batched matrix product and one set of element-wise kernels
    /// for both (on a GPU a step costs mostly its kernel launches). Returns `[2 * batch,
    /// time, hidden]`: the forward states, then the backward ones in their reading order.
    fn both_directions<E>(
        &self,
        x: Tensor<3>,
        before_step: &mut dyn FnMut() -> std::result::Result<(), E>,
    ) -> std::result::Result<Tensor<3>, E> {
        let [batch, time, _] = x.dims();
        let [hidden, gates] = self.forward.hidden_weight.dims();
        let device = x.device();
        let reversed = x.clone().flip([1]);
        // `[time, 2 * batch * gates]`: row `t` holds step `t` of both directions, contiguous.
        let projected = Tensor::cat(
            vec![self.forward.project(x), self.backward.project(reversed)],
            0,
        )
        .swap_dims(0, 1)
        .reshape([time, 2 * batch * gates]);
        let hidden_weights = Tensor::stack::<3>(
            vec![
                self.forward.hidden_weight.val(),
                self.backward.hidden_weight.val(),
            ],
            0,
        );
        let mut h = Tensor::<3>::zeros([2, batch, hidden], &device);
        let mut c = Tensor::<3>::zeros([2, batch, hidden], &device);
        let mut states: Vec<Tensor<2>> = Vec::with_capacity(time);
        for step_input in time_steps(projected) {
            before_step()?;
            let g = step_input.reshape([2, batch, gates]) + h.matmul(hidden_weights.clone());
            (h, c) = lstm_cell::step(g, c, hidden);
            states.push(h.clone().reshape([2 * batch, hidden]));
        }
        Ok(Tensor::stack(states, 1))
    }
}

/// A PyTorch `nn.Linear` (weight `[out, in]`) as Burn's `Linear` (weight `[in, out]`).
pub fn load_linear(
    src: &mut dyn TensorSource,
    name: &str,
    [input, output]: [usize; 2],
    device: &Device,
) -> Result<Linear> {
    let weight = tensor(src, &format!("{name}.weight"), [output, input], device)?;
    let bias = tensor(src, &format!("{name}.bias"), [output], device)?;
    Ok(Linear {
        weight: Param::from_tensor(weight.transpose()),
        bias: Some(Param::from_tensor(bias)),
    })
}
