//! Reads kraken's CoreML segmentation models (`blla.mlmodel` and others): the VGSL spec and
//! `kraken_meta` from the user-defined metadata, and each spec layer's weights from the
//! CoreML layer kraken wrote for it (`<name>_conv`, `<name>` for group norms and LSTMs, or
//! `<name>_transposed` behind a permute for LSTMs along y). Every size is checked against
//! the spec before a tensor is made; a bad file is a [`KrakenModelError`] naming the layer.

pub mod coreml;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use prost::Message;
use serde::Deserialize;

use crate::nn::kraken::vgsl::{Direction, VgslLayer};
use crate::nn::kraken::{LayerWeights, LstmWeights, NetError, SegNet, VgslError, VgslSpec};
use coreml::{LayerKind, LstmWeightParams, NeuralNetworkLayer, WeightParams};

/// The catalog id of kraken's default baseline segmenter.
pub const BLLA_MODEL_ID: &str = "kraken-blla";
/// Its file in the installed model folder.
pub const BLLA_FILE: &str = "blla.mlmodel";

/// Everything that can be wrong with a kraken model file.
#[derive(Debug, thiserror::Error)]
pub enum KrakenModelError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a CoreML model (truncated or another format): {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("the CoreML model holds no neural network")]
    NoNetwork,
    #[error("the model's metadata has no {0}")]
    MissingMetadata(&'static str),
    #[error("the model's kraken_meta is not valid: {0}")]
    Meta(#[source] serde_json::Error),
    #[error("the model is a kraken {0} model, not a segmentation model")]
    NotSegmentation(String),
    #[error("the model's VGSL spec: {0}")]
    Spec(#[from] VgslError),
    #[error("layer {layer}: not in the model file")]
    MissingLayer { layer: String },
    #[error("layer {layer}: unsupported CoreML layer type ({kind})")]
    UnsupportedLayer { layer: String, kind: String },
    #[error("layer {layer}: expected a {expected} layer, found {found}")]
    WrongKind {
        layer: String,
        expected: &'static str,
        found: String,
    },
    #[error("layer {layer}: {what} is {found}, the VGSL spec says {expected}")]
    WrongSize {
        layer: String,
        what: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("layer {layer}: {what} is stored as float16 or raw bytes, which Inkread does not read")]
    UnsupportedEncoding { layer: String, what: &'static str },
    #[error("building the network: {0}")]
    Network(#[from] NetError),
}

type Result<T, E = KrakenModelError> = std::result::Result<T, E>;

/// The parts of `kraken_meta` the segmenter uses.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct KrakenMeta {
    /// `"segmentation"` (older files) or a list of tasks.
    #[serde(default)]
    pub model_type: ModelType,
    #[serde(default)]
    pub class_mapping: ClassMapping,
    /// Region classes whose outlines bound the line polygons.
    #[serde(default)]
    pub bounding_regions: Option<Vec<String>>,
    #[serde(default)]
    pub hyper_params: HyperParams,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ModelType {
    One(String),
    Many(Vec<String>),
}

impl Default for ModelType {
    fn default() -> Self {
        ModelType::Many(Vec::new())
    }
}

impl ModelType {
    fn is_segmentation(&self) -> bool {
        match self {
            ModelType::One(t) => t == "segmentation",
            ModelType::Many(v) => v.iter().any(|t| t == "segmentation"),
        }
    }

    fn describe(&self) -> String {
        match self {
            ModelType::One(t) => t.clone(),
            ModelType::Many(v) => v.join("/"),
        }
    }
}

/// Which output channel is which class.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ClassMapping {
    /// `_start_separator`, `_end_separator`: the line start and end maps.
    #[serde(default)]
    pub aux: BTreeMap<String, usize>,
    #[serde(default)]
    pub baselines: BTreeMap<String, usize>,
    #[serde(default)]
    pub regions: BTreeMap<String, usize>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct HyperParams {
    /// Padding kraken added around the input in training (and adds in inference).
    #[serde(default)]
    pub padding: Option<serde_json::Value>,
}

/// A parsed kraken model file: its spec, metadata and CoreML layers by name.
#[derive(Clone, Debug)]
pub struct KrakenModel {
    pub spec: VgslSpec,
    pub meta: KrakenMeta,
    layers: HashMap<String, NeuralNetworkLayer>,
}

impl KrakenModel {
    /// Reads and parses an `.mlmodel` file.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| KrakenModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes)
    }

    /// Parses a model held in memory.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let model = coreml::Model::decode(bytes)?;
        let metadata = model
            .description
            .and_then(|d| d.metadata)
            .map(|m| m.user_defined)
            .unwrap_or_default();
        let meta_text = metadata
            .get("kraken_meta")
            .ok_or(KrakenModelError::MissingMetadata("kraken_meta"))?;
        let meta_json: serde_json::Value =
            serde_json::from_str(meta_text).map_err(KrakenModelError::Meta)?;
        let meta: KrakenMeta =
            serde_json::from_value(meta_json.clone()).map_err(KrakenModelError::Meta)?;
        if !meta.model_type.is_segmentation() {
            return Err(KrakenModelError::NotSegmentation(
                meta.model_type.describe(),
            ));
        }
        // kraken prefers the metadata's own `vgsl` entry over the one inside kraken_meta.
        let vgsl = metadata
            .get("vgsl")
            .cloned()
            .or_else(|| meta_json.get("vgsl")?.as_str().map(str::to_string))
            .ok_or(KrakenModelError::MissingMetadata("VGSL spec"))?;
        let spec = VgslSpec::parse(&vgsl)?;
        let network = model.neural_network.ok_or(KrakenModelError::NoNetwork)?;
        let mut layers = HashMap::new();
        for layer in network.layers {
            if layer.layer.is_none() {
                return Err(KrakenModelError::UnsupportedLayer {
                    layer: layer.name,
                    kind: "a type kraken segmenters do not use".into(),
                });
            }
            layers.insert(layer.name.clone(), layer);
        }
        Ok(Self { spec, meta, layers })
    }

    /// The weights of every spec layer, in spec order, checked against the spec.
    pub fn layer_weights(&self) -> Result<Vec<LayerWeights>> {
        self.spec
            .layers
            .iter()
            .map(|l| self.weights_of(l))
            .collect()
    }

    /// Builds the Burn network.
    pub fn network(&self, device: &Device) -> Result<SegNet> {
        Ok(SegNet::new(&self.spec, self.layer_weights()?, device)?)
    }

    fn layer(&self, name: &str) -> Result<&LayerKind> {
        self.layers
            .get(name)
            .and_then(|l| l.layer.as_ref())
            .ok_or_else(|| KrakenModelError::MissingLayer {
                layer: name.to_string(),
            })
    }

    fn weights_of(&self, layer: &VgslLayer) -> Result<LayerWeights> {
        match layer {
            VgslLayer::Conv {
                name,
                kernel,
                input,
                output,
                stride,
                dilation,
                ..
            } => {
                let conv_name = format!("{name}_conv");
                let LayerKind::Convolution(c) = self.layer(&conv_name)? else {
                    return Err(wrong_kind(
                        &conv_name,
                        "convolution",
                        self.layer(&conv_name)?,
                    ));
                };
                if c.is_deconvolution || c.n_groups > 1 {
                    return Err(KrakenModelError::UnsupportedLayer {
                        layer: conv_name,
                        kind: "transposed or grouped convolution".into(),
                    });
                }
                let size = |what, expected: usize, found: u64| {
                    same(&conv_name, what, expected, found as usize)
                };
                size("output channels", *output, c.output_channels)?;
                size("input channels", *input, c.kernel_channels)?;
                let pair = |v: &[u64], default: [usize; 2]| match v {
                    [] => default,
                    [a, b] => [*a as usize, *b as usize],
                    _ => [usize::MAX; 2],
                };
                let k = pair(&c.kernel_size, [1, 1]);
                size("kernel height", kernel[0], k[0] as u64)?;
                size("kernel width", kernel[1], k[1] as u64)?;
                let s = pair(&c.stride, [1, 1]);
                size("vertical stride", stride[0], s[0] as u64)?;
                size("horizontal stride", stride[1], s[1] as u64)?;
                let d = pair(&c.dilation_factor, [1, 1]);
                size("vertical dilation", dilation[0], d[0] as u64)?;
                size("horizontal dilation", dilation[1], d[1] as u64)?;
                let weight = floats(&conv_name, "weights", c.weights.as_ref())?;
                same(
                    &conv_name,
                    "weights",
                    output * input * kernel[0] * kernel[1],
                    weight.len(),
                )?;
                let bias = floats(&conv_name, "bias", c.bias.as_ref())?;
                same(&conv_name, "bias", *output, bias.len())?;
                Ok(LayerWeights::Conv { weight, bias })
            }
            VgslLayer::GroupNorm {
                name,
                channels,
                groups,
            } => {
                let found = self.layer(name)?;
                let LayerKind::Custom(c) = found else {
                    return Err(wrong_kind(name, "custom groupnorm", found));
                };
                if c.class_name != "groupnorm" {
                    return Err(KrakenModelError::UnsupportedLayer {
                        layer: name.clone(),
                        kind: format!("custom {:?}", c.class_name),
                    });
                }
                if let Some(g) = c.parameters.get("num_groups") {
                    same(name, "groups", *groups, g.int_value.max(0) as usize)?;
                }
                same(name, "weight vectors", 2, c.weights.len())?;
                let weight = floats(name, "scale", c.weights.first())?;
                same(name, "scale", *channels, weight.len())?;
                let bias = floats(name, "shift", c.weights.get(1))?;
                same(name, "shift", *channels, bias.len())?;
                Ok(LayerWeights::GroupNorm { weight, bias })
            }
            VgslLayer::Lstm {
                name,
                direction,
                input,
                hidden,
                ..
            } => {
                // Along y kraken writes a permute named after the layer and the LSTM behind it.
                let (lstm_name, found) = match self.layer(name)? {
                    LayerKind::Permute(_) => {
                        let t = format!("{name}_transposed");
                        let found = self.layer(&t)?;
                        (t, found)
                    }
                    other => (name.clone(), other),
                };
                let (sizes, params): ([u64; 2], Vec<&LstmWeightParams>) = match (direction, found) {
                    (Direction::Both, LayerKind::BiDirectionalLstm(l)) => (
                        [l.input_vector_size, l.output_vector_size],
                        l.weight_params.iter().collect(),
                    ),
                    (Direction::Forward | Direction::Reverse, LayerKind::UniDirectionalLstm(l)) => {
                        (
                            [l.input_vector_size, l.output_vector_size],
                            l.weight_params.iter().collect(),
                        )
                    }
                    (Direction::Both, other) => {
                        return Err(wrong_kind(&lstm_name, "bidirectional LSTM", other));
                    }
                    (_, other) => return Err(wrong_kind(&lstm_name, "unidirectional LSTM", other)),
                };
                same(&lstm_name, "input size", *input, sizes[0] as usize)?;
                same(&lstm_name, "hidden size", *hidden, sizes[1] as usize)?;
                same(&lstm_name, "directions", direction.count(), params.len())?;
                let dirs = params
                    .into_iter()
                    .map(|p| lstm_direction(&lstm_name, p, *input, *hidden))
                    .collect::<Result<Vec<_>>>()?;
                Ok(LayerWeights::Lstm(dirs))
            }
            VgslLayer::Dropout => Ok(LayerWeights::None),
        }
    }
}

/// Loads a kraken segmentation model into the Burn network, with its metadata.
pub fn load_segmenter(path: &Path, device: &Device) -> Result<(SegNet, KrakenModel)> {
    let model = KrakenModel::open(path)?;
    let net = model.network(device)?;
    Ok((net, model))
}

fn kind_name(kind: &LayerKind) -> String {
    match kind {
        LayerKind::Convolution(_) => "convolution".into(),
        LayerKind::Activation(_) => "activation".into(),
        LayerKind::InnerProduct(_) => "inner product".into(),
        LayerKind::Permute(_) => "permute".into(),
        LayerKind::UniDirectionalLstm(_) => "unidirectional LSTM".into(),
        LayerKind::BiDirectionalLstm(_) => "bidirectional LSTM".into(),
        LayerKind::Custom(c) => format!("custom {:?}", c.class_name),
    }
}

fn wrong_kind(layer: &str, expected: &'static str, found: &LayerKind) -> KrakenModelError {
    KrakenModelError::WrongKind {
        layer: layer.to_string(),
        expected,
        found: kind_name(found),
    }
}

fn same(layer: &str, what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(KrakenModelError::WrongSize {
            layer: layer.to_string(),
            what,
            expected,
            found,
        })
    }
}

/// The float values of a weight field; an absent field is empty (the size check names it).
fn floats(layer: &str, what: &'static str, w: Option<&WeightParams>) -> Result<Vec<f32>> {
    match w {
        None => Ok(Vec::new()),
        Some(w)
            if w.float_value.is_empty()
                && !(w.float16_value.is_empty() && w.raw_value.is_empty()) =>
        {
            Err(KrakenModelError::UnsupportedEncoding {
                layer: layer.to_string(),
                what,
            })
        }
        Some(w) => Ok(w.float_value.clone()),
    }
}

/// One direction in PyTorch's layout: gates stacked input, forget, cell (CoreML's "block
/// input"), output. kraken stores one bias per gate, which PyTorch reads as `b_hh` with a
/// zero `b_ih`; their sum is that bias.
fn lstm_direction(
    layer: &str,
    p: &LstmWeightParams,
    input: usize,
    hidden: usize,
) -> Result<LstmWeights> {
    let stack = |what: &'static str, parts: [&Option<WeightParams>; 4], each: usize| {
        let mut out = Vec::with_capacity(4 * each);
        for part in parts {
            let v = floats(layer, what, part.as_ref())?;
            same(layer, what, each, v.len())?;
            out.extend(v);
        }
        Ok::<_, KrakenModelError>(out)
    };
    Ok(LstmWeights {
        w_ih: stack(
            "input weights",
            [
                &p.input_gate_weight_matrix,
                &p.forget_gate_weight_matrix,
                &p.block_input_weight_matrix,
                &p.output_gate_weight_matrix,
            ],
            hidden * input,
        )?,
        w_hh: stack(
            "recurrent weights",
            [
                &p.input_gate_recursion_matrix,
                &p.forget_gate_recursion_matrix,
                &p.block_input_recursion_matrix,
                &p.output_gate_recursion_matrix,
            ],
            hidden * hidden,
        )?,
        bias: stack(
            "biases",
            [
                &p.input_gate_bias_vector,
                &p.forget_gate_bias_vector,
                &p.block_input_bias_vector,
                &p.output_gate_bias_vector,
            ],
            hidden,
        )?,
    })
}
