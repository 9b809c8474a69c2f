//! Just enough of Apple's CoreML protobuf schema (`Model.proto`, `NeuralNetwork.proto`) to
//! read a kraken model: the user-defined metadata and the layers kraken writes. Field
//! numbers are CoreML's; everything else in a file is skipped by prost.

#[derive(Clone, PartialEq, prost::Message)]
pub struct Model {
    #[prost(int32, tag = "1")]
    pub specification_version: i32,
    #[prost(message, optional, tag = "2")]
    pub description: Option<ModelDescription>,
    #[prost(message, optional, tag = "500")]
    pub neural_network: Option<NeuralNetwork>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelDescription {
    #[prost(message, optional, tag = "100")]
    pub metadata: Option<Metadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Metadata {
    #[prost(map = "string, string", tag = "100")]
    pub user_defined: std::collections::HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NeuralNetwork {
    #[prost(message, repeated, tag = "1")]
    pub layers: Vec<NeuralNetworkLayer>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NeuralNetworkLayer {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, repeated, tag = "2")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "3")]
    pub output: Vec<String>,
    #[prost(oneof = "LayerKind", tags = "100, 130, 140, 310, 420, 430, 500")]
    pub layer: Option<LayerKind>,
}

/// The layer types kraken writes; any other type decodes as `None`.
// A decoded message, read once per layer: the size spread between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum LayerKind {
    #[prost(message, tag = "100")]
    Convolution(ConvolutionLayerParams),
    #[prost(message, tag = "130")]
    Activation(ActivationParams),
    #[prost(message, tag = "140")]
    InnerProduct(InnerProductLayerParams),
    #[prost(message, tag = "310")]
    Permute(PermuteLayerParams),
    #[prost(message, tag = "420")]
    UniDirectionalLstm(UniDirectionalLstmLayerParams),
    #[prost(message, tag = "430")]
    BiDirectionalLstm(BiDirectionalLstmLayerParams),
    #[prost(message, tag = "500")]
    Custom(CustomLayerParams),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ConvolutionLayerParams {
    #[prost(uint64, tag = "1")]
    pub output_channels: u64,
    #[prost(uint64, tag = "2")]
    pub kernel_channels: u64,
    #[prost(uint64, tag = "10")]
    pub n_groups: u64,
    #[prost(uint64, repeated, tag = "20")]
    pub kernel_size: Vec<u64>,
    #[prost(uint64, repeated, tag = "30")]
    pub stride: Vec<u64>,
    #[prost(uint64, repeated, tag = "40")]
    pub dilation_factor: Vec<u64>,
    #[prost(bool, tag = "60")]
    pub is_deconvolution: bool,
    #[prost(bool, tag = "70")]
    pub has_bias: bool,
    #[prost(message, optional, tag = "90")]
    pub weights: Option<WeightParams>,
    #[prost(message, optional, tag = "91")]
    pub bias: Option<WeightParams>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct WeightParams {
    #[prost(float, repeated, tag = "1")]
    pub float_value: Vec<f32>,
    #[prost(bytes = "vec", tag = "2")]
    pub float16_value: Vec<u8>,
    #[prost(bytes = "vec", tag = "30")]
    pub raw_value: Vec<u8>,
}

/// Which non-linearity an activation layer applies (only the ones kraken writes).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ActivationParams {
    #[prost(oneof = "Nonlinearity", tags = "5, 10, 15, 30, 40")]
    pub kind: Option<Nonlinearity>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Nonlinearity {
    #[prost(message, tag = "5")]
    Linear(Empty),
    #[prost(message, tag = "10")]
    Relu(Empty),
    #[prost(message, tag = "15")]
    LeakyRelu(Empty),
    #[prost(message, tag = "30")]
    Tanh(Empty),
    #[prost(message, tag = "40")]
    Sigmoid(Empty),
}

/// A message whose fields Inkread does not need.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InnerProductLayerParams {
    #[prost(uint64, tag = "1")]
    pub input_channels: u64,
    #[prost(uint64, tag = "2")]
    pub output_channels: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PermuteLayerParams {
    #[prost(uint64, repeated, tag = "1")]
    pub axis: Vec<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UniDirectionalLstmLayerParams {
    #[prost(uint64, tag = "1")]
    pub input_vector_size: u64,
    #[prost(uint64, tag = "2")]
    pub output_vector_size: u64,
    #[prost(message, optional, tag = "15")]
    pub params: Option<LstmParams>,
    #[prost(message, optional, tag = "20")]
    pub weight_params: Option<LstmWeightParams>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BiDirectionalLstmLayerParams {
    #[prost(uint64, tag = "1")]
    pub input_vector_size: u64,
    #[prost(uint64, tag = "2")]
    pub output_vector_size: u64,
    #[prost(message, optional, tag = "15")]
    pub params: Option<LstmParams>,
    #[prost(message, repeated, tag = "20")]
    pub weight_params: Vec<LstmWeightParams>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LstmParams {
    #[prost(bool, tag = "20")]
    pub has_bias_vectors: bool,
    #[prost(bool, tag = "40")]
    pub has_peephole_vectors: bool,
}

/// One direction's matrices; CoreML's block input is PyTorch's cell gate.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LstmWeightParams {
    #[prost(message, optional, tag = "1")]
    pub input_gate_weight_matrix: Option<WeightParams>,
    #[prost(message, optional, tag = "2")]
    pub forget_gate_weight_matrix: Option<WeightParams>,
    #[prost(message, optional, tag = "3")]
    pub block_input_weight_matrix: Option<WeightParams>,
    #[prost(message, optional, tag = "4")]
    pub output_gate_weight_matrix: Option<WeightParams>,
    #[prost(message, optional, tag = "20")]
    pub input_gate_recursion_matrix: Option<WeightParams>,
    #[prost(message, optional, tag = "21")]
    pub forget_gate_recursion_matrix: Option<WeightParams>,
    #[prost(message, optional, tag = "22")]
    pub block_input_recursion_matrix: Option<WeightParams>,
    #[prost(message, optional, tag = "23")]
    pub output_gate_recursion_matrix: Option<WeightParams>,
    #[prost(message, optional, tag = "40")]
    pub input_gate_bias_vector: Option<WeightParams>,
    #[prost(message, optional, tag = "41")]
    pub forget_gate_bias_vector: Option<WeightParams>,
    #[prost(message, optional, tag = "42")]
    pub block_input_bias_vector: Option<WeightParams>,
    #[prost(message, optional, tag = "43")]
    pub output_gate_bias_vector: Option<WeightParams>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CustomLayerParams {
    #[prost(string, tag = "10")]
    pub class_name: String,
    #[prost(message, repeated, tag = "20")]
    pub weights: Vec<WeightParams>,
    #[prost(map = "string, message", tag = "30")]
    pub parameters: std::collections::HashMap<String, CustomLayerParamValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CustomLayerParamValue {
    #[prost(int32, tag = "30")]
    pub int_value: i32,
}
