//! The element-wise part of one LSTM step, in PyTorch's gate order, shared by the
//! networks whose recurrences differ only in how they feed it (EasyOCR's CRNN, kraken's
//! segmenter).

use burn::tensor::Tensor;
use burn::tensor::activation::{sigmoid, tanh};

/// From the gate pre-activations `[.., .., 4 · hidden]` (input, forget, cell, output) and
/// the previous cell state, the new hidden state and cell state.
pub fn step(gates: Tensor<3>, c: Tensor<3>, hidden: usize) -> (Tensor<3>, Tensor<3>) {
    let squashed = sigmoid(gates.clone());
    let input_gate = squashed.clone().narrow(2, 0, hidden);
    let forget_gate = squashed.clone().narrow(2, hidden, hidden);
    let output_gate = squashed.narrow(2, 3 * hidden, hidden);
    let candidate = tanh(gates.narrow(2, 2 * hidden, hidden));
    let c = forget_gate * c + input_gate * candidate;
    let h = output_gate * tanh(c.clone());
    (h, c)
}
