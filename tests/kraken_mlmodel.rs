//! Reading kraken's CoreML files: a small model written here with the same layout kraken
//! writes (so these tests need no download) loads and runs, and every kind of damage gives
//! an error that names what is wrong, never a panic. The real blla.mlmodel, when it can be
//! had, must load, and a truncated copy must fail cleanly.

mod support;

use std::collections::HashMap;

use burn::tensor::{Device, Tensor};
use inkread::cancel::CancelToken;
use prost::Message;

use inkread::models::kraken::coreml::{
    BiDirectionalLstmLayerParams, ConvolutionLayerParams, CustomLayerParamValue, CustomLayerParams,
    LayerKind, LstmWeightParams, Metadata, Model, ModelDescription, NeuralNetwork,
    NeuralNetworkLayer, PermuteLayerParams, WeightParams,
};
use inkread::models::kraken::{BLLA_FILE, BLLA_MODEL_ID, KrakenModel, KrakenModelError};

const SPEC: &str = "[1,16,0,3 Cr{C_0}3,3,4,2,2 Gn{Gn_1}2 Lbx{L_2}3 Lby{L_3}2 O{l_4}2l4]";
const META: &str = r#"{"model_type": "segmentation", "class_mapping": {"aux": {"_start_separator": 0, "_end_separator": 1}, "baselines": {"default": 2}, "regions": {"text": 3}}}"#;

/// Deterministic small weights, different for every tensor.
fn values(n: usize, seed: usize) -> WeightParams {
    WeightParams {
        float_value: (0..n)
            .map(|i| (((i * 7 + seed * 13) % 17) as f32 - 8.0) / 40.0)
            .collect(),
        ..Default::default()
    }
}

fn layer(name: &str, kind: LayerKind) -> NeuralNetworkLayer {
    NeuralNetworkLayer {
        name: name.into(),
        input: vec![],
        output: vec![],
        layer: Some(kind),
    }
}

fn conv(out: usize, input: usize, k: usize, stride: usize, seed: usize) -> LayerKind {
    LayerKind::Convolution(ConvolutionLayerParams {
        output_channels: out as u64,
        kernel_channels: input as u64,
        kernel_size: vec![k as u64, k as u64],
        stride: vec![stride as u64, stride as u64],
        dilation_factor: vec![1, 1],
        has_bias: true,
        weights: Some(values(out * input * k * k, seed)),
        bias: Some(values(out, seed + 1)),
        ..Default::default()
    })
}

fn lstm_direction(input: usize, hidden: usize, seed: usize) -> LstmWeightParams {
    let m = |s| Some(values(hidden * input, seed + s));
    let r = |s| Some(values(hidden * hidden, seed + s));
    let b = |s| Some(values(hidden, seed + s));
    LstmWeightParams {
        input_gate_weight_matrix: m(0),
        forget_gate_weight_matrix: m(1),
        block_input_weight_matrix: m(2),
        output_gate_weight_matrix: m(3),
        input_gate_recursion_matrix: r(4),
        forget_gate_recursion_matrix: r(5),
        block_input_recursion_matrix: r(6),
        output_gate_recursion_matrix: r(7),
        input_gate_bias_vector: b(8),
        forget_gate_bias_vector: b(9),
        block_input_bias_vector: b(10),
        output_gate_bias_vector: b(11),
    }
}

fn bilstm(input: usize, hidden: usize, seed: usize) -> LayerKind {
    LayerKind::BiDirectionalLstm(BiDirectionalLstmLayerParams {
        input_vector_size: input as u64,
        output_vector_size: hidden as u64,
        params: None,
        weight_params: vec![
            lstm_direction(input, hidden, seed),
            lstm_direction(input, hidden, seed + 20),
        ],
    })
}

fn groupnorm(channels: usize, groups: i32) -> LayerKind {
    LayerKind::Custom(CustomLayerParams {
        class_name: "groupnorm".into(),
        weights: vec![values(channels, 3), values(channels, 4)],
        parameters: HashMap::from([(
            "num_groups".to_string(),
            CustomLayerParamValue { int_value: groups },
        )]),
    })
}

/// A model laid out as kraken writes one: `<name>_conv` + `<name>_act`, the group norm as a
/// custom layer, the y-LSTM as a permute named after the layer and `<name>_transposed`.
fn tiny_model() -> Model {
    Model {
        specification_version: 4,
        description: Some(ModelDescription {
            metadata: Some(Metadata {
                user_defined: HashMap::from([
                    ("vgsl".to_string(), SPEC.to_string()),
                    ("kraken_meta".to_string(), META.to_string()),
                ]),
            }),
        }),
        neural_network: Some(NeuralNetwork {
            layers: vec![
                layer("C_0_conv", conv(4, 3, 3, 2, 1)),
                layer("Gn_1", groupnorm(4, 2)),
                layer("L_2", bilstm(4, 3, 30)),
                layer(
                    "L_3",
                    LayerKind::Permute(PermuteLayerParams {
                        axis: vec![0, 3, 2, 1],
                    }),
                ),
                layer("L_3_transposed", bilstm(6, 2, 60)),
                layer("l_4_conv", conv(4, 4, 1, 1, 90)),
            ],
        }),
    }
}

fn parse(model: &Model) -> Result<KrakenModel, KrakenModelError> {
    KrakenModel::parse(&model.encode_to_vec())
}

fn network_error(model: &Model) -> KrakenModelError {
    let km = parse(model).expect("the file itself parses");
    km.network(&Device::flex())
        .expect_err("the network must not build")
}

fn layer_mut<'a>(model: &'a mut Model, name: &str) -> &'a mut NeuralNetworkLayer {
    model
        .neural_network
        .as_mut()
        .unwrap()
        .layers
        .iter_mut()
        .find(|l| l.name == name)
        .unwrap()
}

#[test]
fn a_kraken_style_model_loads_and_runs() {
    let km = parse(&tiny_model()).unwrap();
    assert_eq!(km.meta.class_mapping.baselines["default"], 2);
    assert_eq!(km.meta.class_mapping.aux["_end_separator"], 1);
    let device = Device::flex();
    let net = km.network(&device).unwrap();
    let out = net
        .forward(
            Tensor::<4>::ones([1, 3, 16, 22], &device),
            &CancelToken::new(),
        )
        .unwrap();
    // One stride-2 convolution: half the size, rounded up; four heatmaps.
    assert_eq!(out.dims(), [1, 4, 8, 11]);
    let values = out.into_data().try_into_vec::<f32>().unwrap();
    assert!(values.iter().all(|v| v.is_finite()));
    assert!(
        values.iter().any(|&v| v != values[0]),
        "output must depend on position"
    );
}

#[test]
fn truncated_files_are_decode_errors() {
    let bytes = tiny_model().encode_to_vec();
    for cut in [1, 7, bytes.len() / 2, bytes.len() - 3] {
        match KrakenModel::parse(&bytes[..cut]) {
            Err(KrakenModelError::Decode(_)) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn wrong_convolution_sizes_name_the_layer() {
    let mut m = tiny_model();
    if let Some(LayerKind::Convolution(c)) = &mut layer_mut(&mut m, "l_4_conv").layer {
        c.weights.as_mut().unwrap().float_value.pop();
    }
    match network_error(&m) {
        KrakenModelError::WrongSize {
            layer,
            what,
            expected,
            found,
        } => {
            assert_eq!((layer.as_str(), what), ("l_4_conv", "weights"));
            assert_eq!((expected, found), (16, 15));
        }
        other => panic!("{other:?}"),
    }
    let mut m = tiny_model();
    if let Some(LayerKind::Convolution(c)) = &mut layer_mut(&mut m, "C_0_conv").layer {
        c.output_channels = 5;
    }
    let err = network_error(&m).to_string();
    assert!(
        err.contains("C_0_conv") && err.contains("output channels"),
        "{err}"
    );
}

#[test]
fn wrong_lstm_and_group_norm_sizes_name_the_layer() {
    let mut m = tiny_model();
    if let Some(LayerKind::BiDirectionalLstm(l)) = &mut layer_mut(&mut m, "L_3_transposed").layer {
        l.weight_params[1]
            .forget_gate_recursion_matrix
            .as_mut()
            .unwrap()
            .float_value
            .push(0.5);
    }
    let err = network_error(&m);
    assert!(
        matches!(&err, KrakenModelError::WrongSize { layer, what: "recurrent weights", .. } if layer == "L_3_transposed"),
        "{err:?}"
    );
    let mut m = tiny_model();
    if let Some(LayerKind::BiDirectionalLstm(l)) = &mut layer_mut(&mut m, "L_2").layer {
        l.weight_params.pop();
    }
    let err = network_error(&m).to_string();
    assert!(err.contains("L_2") && err.contains("directions"), "{err}");
    let mut m = tiny_model();
    layer_mut(&mut m, "Gn_1").layer = Some(groupnorm(3, 2));
    let err = network_error(&m).to_string();
    assert!(err.contains("Gn_1") && err.contains("scale"), "{err}");
}

#[test]
fn unsupported_and_missing_layers_name_the_layer() {
    // A layer type this reader does not know (prost leaves the oneof empty).
    let mut m = tiny_model();
    layer_mut(&mut m, "C_0_conv").layer = None;
    match parse(&m) {
        Err(KrakenModelError::UnsupportedLayer { layer, .. }) => assert_eq!(layer, "C_0_conv"),
        other => panic!("{other:?}"),
    }
    // A custom layer other than group norm.
    let mut m = tiny_model();
    if let Some(LayerKind::Custom(c)) = &mut layer_mut(&mut m, "Gn_1").layer {
        c.class_name = "instancenorm".into();
    }
    let err = network_error(&m).to_string();
    assert!(
        err.contains("Gn_1") && err.contains("instancenorm"),
        "{err}"
    );
    // The wrong kind of layer under a spec layer's name.
    let mut m = tiny_model();
    layer_mut(&mut m, "L_2").layer = Some(groupnorm(4, 2));
    let err = network_error(&m).to_string();
    assert!(
        err.contains("L_2") && err.contains("bidirectional LSTM"),
        "{err}"
    );
    // A spec layer with no weights in the file.
    let mut m = tiny_model();
    layer_mut(&mut m, "l_4_conv").name = "something_else".into();
    match network_error(&m) {
        KrakenModelError::MissingLayer { layer } => assert_eq!(layer, "l_4_conv"),
        other => panic!("{other:?}"),
    }
    // float16 weights are reported, not misread.
    let mut m = tiny_model();
    if let Some(LayerKind::Convolution(c)) = &mut layer_mut(&mut m, "C_0_conv").layer {
        let w = c.weights.as_mut().unwrap();
        w.float16_value = vec![0; 2 * w.float_value.len()];
        w.float_value.clear();
    }
    assert!(matches!(
        network_error(&m),
        KrakenModelError::UnsupportedEncoding { .. }
    ));
}

#[test]
fn bad_metadata_and_specs_are_reported() {
    let with_meta = |key: &str, value: Option<&str>| {
        let mut m = tiny_model();
        let meta = &mut m
            .description
            .as_mut()
            .unwrap()
            .metadata
            .as_mut()
            .unwrap()
            .user_defined;
        match value {
            Some(v) => meta.insert(key.to_string(), v.to_string()),
            None => meta.remove(key),
        };
        parse(&m)
    };
    assert!(matches!(
        with_meta("kraken_meta", None),
        Err(KrakenModelError::MissingMetadata(_))
    ));
    assert!(matches!(
        with_meta("kraken_meta", Some("{not json")),
        Err(KrakenModelError::Meta(_))
    ));
    assert!(matches!(
        with_meta("kraken_meta", Some(r#"{"model_type": ["recognition"]}"#)),
        Err(KrakenModelError::NotSegmentation(_))
    ));
    match with_meta("vgsl", Some("[1,16,0,3 Cr{C_0}3,3,4 Mp{M_1}2,2 O{l_2}2l4]")) {
        Err(e @ KrakenModelError::Spec(_)) => assert!(e.to_string().contains("Mp{M_1}2,2"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        with_meta("vgsl", Some("")),
        Err(KrakenModelError::Spec(_))
    ));
    let mut m = tiny_model();
    m.neural_network = None;
    assert!(matches!(parse(&m), Err(KrakenModelError::NoNetwork)));
}

#[test]
fn the_real_blla_model_loads_and_a_truncated_copy_fails_cleanly() {
    let Some(path) = support::model_file(BLLA_MODEL_ID, BLLA_FILE) else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let km = KrakenModel::parse(&bytes).unwrap();
    assert_eq!(km.spec.height, 1800);
    assert_eq!(km.spec.output_channels(), 4);
    assert_eq!(km.layer_weights().unwrap().len(), km.spec.layers.len());
    for cut in [100, bytes.len() / 3, bytes.len() - 10] {
        let err = KrakenModel::parse(&bytes[..cut])
            .and_then(|m| m.layer_weights().map(|_| ()))
            .expect_err("a truncated file must not load");
        eprintln!("cut at {cut}: {err}");
    }
}
