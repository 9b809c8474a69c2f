//! Where parameters come from while a network is built: random values (benchmarks, tests)
//! or a checkpoint (implemented in `models::trocr::weights`). Every parameter is asked for
//! by its Hugging Face name and shape, so the random and the loaded model are built by the
//! same code and cannot drift apart.

use burn::module::Param;
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Distribution, Tensor};

/// How a parameter is filled when it is not read from a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    Normal { std: f64 },
    Zeros,
    Ones,
}

/// Yields each parameter by name and shape, or fails naming it.
pub trait ParamSource {
    type Error;

    fn device(&self) -> &Device;

    /// A tensor stored with exactly `shape`.
    fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Tensor<D>, Self::Error>;

    /// A linear weight stored as PyTorch does, `[d_output, d_input]`, returned transposed to
    /// Burn's `[d_input, d_output]` row layout.
    fn linear_weight(
        &mut self,
        name: &str,
        d_output: usize,
        d_input: usize,
    ) -> Result<Tensor<2>, Self::Error>;

    /// Whether the source holds any tensor whose name starts with `prefix`; a random source
    /// holds everything.
    fn has_prefix(&self, prefix: &str) -> bool;
}

/// Random weights, as transformers initialises them (normal 0.02, zero biases, unit norms).
pub struct RandomSource {
    device: Device,
}

impl RandomSource {
    pub fn new(device: &Device) -> Self {
        RandomSource {
            device: device.clone(),
        }
    }
}

impl ParamSource for RandomSource {
    type Error = std::convert::Infallible;

    fn device(&self) -> &Device {
        &self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        _name: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Tensor<D>, Self::Error> {
        Ok(match init {
            Init::Normal { std } => {
                Tensor::random(shape, Distribution::Normal(0.0, std), &self.device)
            }
            Init::Zeros => Tensor::zeros(shape, &self.device),
            Init::Ones => Tensor::ones(shape, &self.device),
        })
    }

    fn linear_weight(
        &mut self,
        _name: &str,
        d_output: usize,
        d_input: usize,
    ) -> Result<Tensor<2>, Self::Error> {
        Ok(Tensor::random(
            [d_input, d_output],
            Distribution::Normal(0.0, INIT_STD),
            &self.device,
        ))
    }

    fn has_prefix(&self, _prefix: &str) -> bool {
        true
    }
}

/// transformers' `initializer_range` / `init_std` default.
pub const INIT_STD: f64 = 0.02;

/// `{prefix}.weight` and, when `bias`, `{prefix}.bias`.
pub fn linear<S: ParamSource>(
    source: &mut S,
    prefix: &str,
    d_input: usize,
    d_output: usize,
    bias: bool,
) -> Result<Linear, S::Error> {
    let weight = source.linear_weight(&format!("{prefix}.weight"), d_output, d_input)?;
    let bias = if bias {
        let b = source.tensor(&format!("{prefix}.bias"), [d_output], Init::Zeros)?;
        Some(Param::from_tensor(b))
    } else {
        None
    };
    Ok(Linear {
        weight: Param::from_tensor(weight),
        bias,
    })
}

/// A PyTorch `LayerNorm` (`{prefix}.weight`, `{prefix}.bias`).
pub fn layer_norm<S: ParamSource>(
    source: &mut S,
    prefix: &str,
    width: usize,
    epsilon: f64,
) -> Result<LayerNorm, S::Error> {
    let gamma = source.tensor(&format!("{prefix}.weight"), [width], Init::Ones)?;
    let beta = source.tensor(&format!("{prefix}.bias"), [width], Init::Zeros)?;
    // The epsilon is only settable through the config; the parameters are then replaced.
    let mut norm = LayerNormConfig::new(width)
        .with_epsilon(epsilon)
        .init(source.device());
    norm.gamma = Param::from_tensor(gamma);
    norm.beta = Some(Param::from_tensor(beta));
    Ok(norm)
}

/// A PyTorch `Embedding` (`{prefix}.weight`, `[count, width]`).
pub fn embedding<S: ParamSource>(
    source: &mut S,
    prefix: &str,
    count: usize,
    width: usize,
) -> Result<Embedding, S::Error> {
    let weight = source.tensor(
        &format!("{prefix}.weight"),
        [count, width],
        Init::Normal { std: INIT_STD },
    )?;
    Ok(Embedding {
        weight: Param::from_tensor(weight),
    })
}

/// Records the name and Hugging Face shape of every parameter a model asks for, handing
/// out zeros (used to list what a checkpoint must contain).
pub struct ShapeRecorder {
    device: Device,
    pub entries: Vec<(String, Vec<usize>)>,
}

impl ShapeRecorder {
    pub fn new(device: &Device) -> Self {
        ShapeRecorder {
            device: device.clone(),
            entries: Vec::new(),
        }
    }
}

impl ParamSource for ShapeRecorder {
    type Error = std::convert::Infallible;

    fn device(&self) -> &Device {
        &self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        _init: Init,
    ) -> Result<Tensor<D>, Self::Error> {
        self.entries.push((name.to_string(), shape.to_vec()));
        Ok(Tensor::zeros(shape, &self.device))
    }

    fn linear_weight(
        &mut self,
        name: &str,
        d_output: usize,
        d_input: usize,
    ) -> Result<Tensor<2>, Self::Error> {
        self.entries
            .push((name.to_string(), vec![d_output, d_input]));
        Ok(Tensor::zeros([d_input, d_output], &self.device))
    }

    fn has_prefix(&self, _prefix: &str) -> bool {
        true
    }
}
