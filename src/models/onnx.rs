//! A minimal ONNX reader: just enough of the protobuf schema to pull float weights, the
//! attributes of convolutions and the model's metadata out of an exported model.
//!
//! Paddle2ONNX exports store the weights as `Constant` nodes rather than graph
//! initializers; both are collected under their output/initializer name.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;

use crate::{Error, Result};

/// `TensorProto.DataType.FLOAT`.
const DATA_TYPE_FLOAT: i32 = 1;

#[derive(Clone, PartialEq, prost::Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "14")]
    metadata_props: Vec<StringStringEntryProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int64, tag = "3")]
    i: i64,
    #[prost(message, optional, tag = "5")]
    t: Option<TensorProto>,
    #[prost(int64, repeated, tag = "8")]
    ints: Vec<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(string, tag = "8")]
    name: String,
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, tag = "2")]
    value: String,
}

/// A float tensor from the model: row-major data and its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxTensor {
    pub dims: Vec<usize>,
    pub data: Vec<f32>,
}

/// Stride, padding and grouping of one `Conv` node, keyed by its weight's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvAttrs {
    pub strides: [usize; 2],
    /// `[top, left, bottom, right]` as ONNX orders them.
    pub pads: [usize; 4],
    pub group: usize,
}

/// The weights, convolution attributes and metadata of an ONNX model.
#[derive(Clone, Debug, Default)]
pub struct OnnxModel {
    tensors: HashMap<String, OnnxTensor>,
    convs: HashMap<String, ConvAttrs>,
    metadata: HashMap<String, String>,
}

impl OnnxModel {
    /// Reads and parses an `.onnx` file.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes).map_err(|e| Error::Model(format!("{}: {e}", path.display())))
    }

    /// Parses an ONNX model held in memory. Errors are plain messages.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model: {e}"))?;
        let graph = model.graph.ok_or("the ONNX model has no graph")?;
        let mut out = OnnxModel {
            metadata: model
                .metadata_props
                .into_iter()
                .map(|p| (p.key, p.value))
                .collect(),
            ..Default::default()
        };
        for t in graph.initializer {
            out.insert_tensor(t.name.clone(), &t)?;
        }
        for node in graph.node {
            out.take_node(node)?;
        }
        Ok(out)
    }

    fn take_node(&mut self, node: NodeProto) -> std::result::Result<(), String> {
        match node.op_type.as_str() {
            "Constant" => {
                let name = node.output.first().cloned().unwrap_or_default();
                let value = node.attribute.iter().find(|a| a.name == "value");
                if let Some(t) = value.and_then(|a| a.t.as_ref()) {
                    self.insert_tensor(name, t)?;
                }
            }
            "Conv" | "ConvTranspose" => {
                if let Some(weight) = node.input.get(1) {
                    self.convs
                        .insert(weight.clone(), conv_attrs(&node.attribute));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Keeps float tensors only: the networks need nothing else (shapes and indices in
    /// the graph are rebuilt by the Burn code).
    fn insert_tensor(&mut self, name: String, t: &TensorProto) -> std::result::Result<(), String> {
        if t.data_type != DATA_TYPE_FLOAT {
            return Ok(());
        }
        let dims = t
            .dims
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| format!("{name}: negative dimension {d}")))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let data = if t.raw_data.is_empty() {
            t.float_data.clone()
        } else {
            t.raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        let expected: usize = dims.iter().product();
        if data.len() != expected {
            return Err(format!("{name}: {} values for shape {dims:?}", data.len()));
        }
        self.tensors.insert(name, OnnxTensor { dims, data });
        Ok(())
    }

    /// A float tensor by name.
    pub fn tensor(&self, name: &str) -> Result<&OnnxTensor> {
        self.tensors
            .get(name)
            .ok_or_else(|| Error::Model(format!("ONNX weight {name} is missing")))
    }

    /// A float tensor by name, checked against the shape the network expects.
    pub fn tensor_shaped(&self, name: &str, dims: &[usize]) -> Result<&OnnxTensor> {
        let t = self.tensor(name)?;
        if t.dims != dims {
            return Err(Error::Model(format!(
                "ONNX weight {name} has shape {:?}, expected {dims:?}",
                t.dims
            )));
        }
        Ok(t)
    }

    /// The attributes of the convolution whose weight is `weight`.
    pub fn conv(&self, weight: &str) -> Result<&ConvAttrs> {
        self.convs
            .get(weight)
            .ok_or_else(|| Error::Model(format!("no Conv node uses the ONNX weight {weight}")))
    }

    /// A `metadata_props` value (PaddleOCR stores the recognizer's characters there).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// Number of float tensors found.
    pub fn tensor_count(&self) -> usize {
        self.tensors.len()
    }
}

fn conv_attrs(attrs: &[AttributeProto]) -> ConvAttrs {
    let ints = |name: &str| {
        attrs
            .iter()
            .find(|a| a.name == name)
            .map(|a| {
                a.ints
                    .iter()
                    .map(|&v| v.max(0) as usize)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let strides = ints("strides");
    let pads = ints("pads");
    let group = attrs
        .iter()
        .find(|a| a.name == "group")
        .map_or(1, |a| a.i.max(1) as usize);
    ConvAttrs {
        strides: [
            strides.first().copied().unwrap_or(1),
            strides.get(1).copied().unwrap_or(1),
        ],
        pads: [0, 1, 2, 3].map(|i| pads.get(i).copied().unwrap_or(0)),
        group,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded_model() -> Vec<u8> {
        let weight = TensorProto {
            dims: vec![2, 1],
            data_type: DATA_TYPE_FLOAT,
            raw_data: [1.5f32, -2.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            ..Default::default()
        };
        let constant = NodeProto {
            output: vec!["w".into()],
            op_type: "Constant".into(),
            attribute: vec![AttributeProto {
                name: "value".into(),
                t: Some(weight),
                ..Default::default()
            }],
            ..Default::default()
        };
        let conv = NodeProto {
            input: vec!["x".into(), "w".into()],
            op_type: "Conv".into(),
            attribute: vec![
                AttributeProto {
                    name: "strides".into(),
                    ints: vec![2, 1],
                    ..Default::default()
                },
                AttributeProto {
                    name: "group".into(),
                    i: 4,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        ModelProto {
            graph: Some(GraphProto {
                node: vec![constant, conv],
                initializer: vec![TensorProto {
                    dims: vec![3],
                    data_type: DATA_TYPE_FLOAT,
                    float_data: vec![1.0, 2.0, 3.0],
                    name: "b".into(),
                    ..Default::default()
                }],
            }),
            metadata_props: vec![StringStringEntryProto {
                key: "character".into(),
                value: "a\nb".into(),
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn reads_constants_initializers_conv_attributes_and_metadata() {
        let m = OnnxModel::parse(&encoded_model()).expect("parses");
        assert_eq!(m.tensor("w").unwrap().data, vec![1.5, -2.0]);
        assert_eq!(
            m.tensor_shaped("b", &[3]).unwrap().data,
            vec![1.0, 2.0, 3.0]
        );
        let conv = m.conv("w").unwrap();
        assert_eq!(conv.strides, [2, 1]);
        assert_eq!(conv.group, 4);
        assert_eq!(m.metadata("character"), Some("a\nb"));
    }

    #[test]
    fn names_the_missing_or_misshapen_tensor() {
        let m = OnnxModel::parse(&encoded_model()).unwrap();
        let missing = m.tensor("nope").unwrap_err().to_string();
        assert!(missing.contains("nope"), "{missing}");
        let wrong = m.tensor_shaped("b", &[4]).unwrap_err().to_string();
        assert!(wrong.contains("b") && wrong.contains("[3]"), "{wrong}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(OnnxModel::parse(b"\xff\xff\xff not protobuf").is_err());
    }
}
