//! Loads RapidOCR's PP-OCRv4 ONNX exports into the Burn networks of [`crate::nn::paddle`],
//! by the weight names Paddle2ONNX gave them. Batch norms are folded into the convolution
//! before them; convolution strides, paddings and groups come from the graph's nodes.

use std::path::Path;

use burn::module::Param;
use burn::nn::Linear;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::{Device, Tensor, TensorData};

use crate::models::onnx::{OnnxModel, OnnxTensor};
use crate::nn::paddle::db::{DbHead, DbNet, RseLayer};
use crate::nn::paddle::layers::{
    Affine, ConvGeometry, LayerNorm, SqueezeExcite, conv_transpose2d, conv2d,
};
use crate::nn::paddle::lcnet::{LcBlock, LcNetV3, RepLayer};
use crate::nn::paddle::svtr::{SvtrBlock, SvtrNeck, SvtrRecognizer};
use crate::{Error, Result};

/// Batch-norm epsilon of every Paddle export (the nodes' `epsilon` attribute).
const BN_EPSILON: f32 = 1e-5;
/// Layer-norm epsilon of the SVTR blocks.
const LN_EPSILON: f32 = 1e-5;
/// Hard-sigmoid slopes: Paddle's `hardsigmoid` in the backbone, 0.2 in the DB neck.
const BACKBONE_SE_SLOPE: f32 = 1.0 / 6.0;
const NECK_SE_SLOPE: f32 = 0.2;
/// Attention heads of the SVTR neck (PP-OCRv4 `num_heads`; not a weight, so fixed here).
const SVTR_HEADS: usize = 8;
/// Blocks in PP-LCNetV3 (stages 2 to 6: 1 + 2 + 2 + 5 + 4).
const LCNET_BLOCKS: usize = 14;

/// Where a backbone's weights are in one export.
struct BackboneNames {
    stem: &'static str,
    stem_bn: &'static str,
    /// Number of the first block's depthwise `conv2d_N`; the rest follow, two per block.
    first_conv: usize,
    /// `(block, reduce conv, expand conv)` for the blocks with squeeze-and-excitation.
    se: [(usize, usize, usize); 2],
    taps: &'static [usize],
}

const DET_BACKBONE: BackboneNames = BackboneNames {
    stem: "conv2d_0.w_0",
    stem_bn: "batch_norm2d_0",
    first_conv: 394,
    se: [(10, 96, 97), (11, 107, 108)],
    taps: &[2, 4, 9, 13],
};

const REC_BACKBONE: BackboneNames = BackboneNames {
    stem: "conv2d_10.w_0",
    stem_bn: "batch_norm2d_2",
    first_conv: 157,
    se: [(10, 106, 107), (11, 117, 118)],
    taps: &[13],
};

/// Loads the PP-OCRv4 detector from `ch_PP-OCRv4_det_infer.onnx`.
pub fn load_detector(path: &Path, device: &Device) -> Result<DbNet> {
    detector_from(&OnnxModel::open(path)?, device)
}

/// Loads the PP-OCRv4 recognizer and its character list from `ch_PP-OCRv4_rec_infer.onnx`.
pub fn load_recognizer(path: &Path, device: &Device) -> Result<(SvtrRecognizer, Vec<String>)> {
    let model = OnnxModel::open(path)?;
    let charset = charset_from(&model)?;
    let net = recognizer_from(&model, device)?;
    let classes = net.head.weight.dims()[1];
    if classes != charset.len() {
        return Err(Error::Model(format!(
            "{}: the head has {classes} classes but the character list gives {}",
            path.display(),
            charset.len()
        )));
    }
    Ok((net, charset))
}

/// The CTC classes as RapidOCR orders them: the blank (as `""`), the characters of the
/// `character` metadata one per line, then a space.
pub fn charset_from(model: &OnnxModel) -> Result<Vec<String>> {
    let list = model
        .metadata("character")
        .ok_or_else(|| Error::Model("the ONNX model has no `character` metadata".into()))?;
    let mut classes = vec![String::new()];
    classes.extend(list.lines().map(halfwidth));
    classes.push(" ".into());
    Ok(classes)
}

/// The dictionary spells Latin punctuation both plainly and in its full-width CJK forms
/// (`，` `：` `！`); readers of Latin text expect the ASCII ones, which every font has.
fn halfwidth(class: &str) -> String {
    class
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Builds the detector from a parsed export.
pub fn detector_from(m: &OnnxModel, device: &Device) -> Result<DbNet> {
    let l = Loader { m, device };
    let (backbone, stage_channels) = l.backbone(&DET_BACKBONE)?;
    let mut lateral = Vec::new();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut neck_width = None;
    for (i, &c) in stage_channels.iter().enumerate() {
        let (lat, c_lat) = l.conv(&format!("conv2d_{}.w_0", 131 + i), true, c)?;
        let base = 135 + 6 * i;
        let (input, c_neck) = l.rse(base, c_lat)?;
        if *neck_width.get_or_insert(c_neck) != c_neck {
            return Err(misshapen(
                &format!("conv2d_{base}.w_0"),
                "all stages must reach the same neck width",
            ));
        }
        let (output, _) = l.rse(base + 3, c_neck)?;
        lateral.push(lat);
        inputs.push(input);
        outputs.push(output);
    }
    let fused = outputs.iter().map(|o| o.conv.weight.dims()[0]).sum();
    let (conv, c_head) = l.conv_bn("conv2d_159.w_0", "batch_norm_0", fused)?;
    let (up1, c_up) = l.conv_transpose_bn("conv2d_transpose_0", Some("batch_norm_1"), c_head)?;
    let (up2, _) = l.conv_transpose_bn("conv2d_transpose_1", None, c_up)?;
    Ok(DbNet {
        backbone,
        lateral,
        inputs,
        outputs,
        head: DbHead { conv, up1, up2 },
    })
}

/// Builds the recognizer from a parsed export.
pub fn recognizer_from(m: &OnnxModel, device: &Device) -> Result<SvtrRecognizer> {
    let l = Loader { m, device };
    let (backbone, channels) = l.backbone(&REC_BACKBONE)?;
    let c_backbone = *channels.last().unwrap_or(&0);
    let (conv1, c) = l.conv_bn("conv2d_142.w_0", "batch_norm2d_148", c_backbone)?;
    let (conv2, width) = l.conv_bn("conv2d_143.w_0", "batch_norm2d_149", c)?;
    let blocks = (0..2)
        .map(|j| l.svtr_block(43 + 2 * j, 77 + 4 * j, width))
        .collect::<Result<Vec<_>>>()?;
    let norm = l.layer_norm("layer_norm_47", width)?;
    let (conv3, c3) = l.conv_bn("conv2d_144.w_0", "batch_norm2d_150", width)?;
    let (conv4, c4) = l.conv_bn("conv2d_145.w_0", "batch_norm2d_151", c_backbone + c3)?;
    let (conv1x1, c_out) = l.conv_bn("conv2d_146.w_0", "batch_norm2d_152", c4)?;
    let head = l.linear("linear_85", c_out)?;
    Ok(SvtrRecognizer {
        backbone,
        pool: [3, 2],
        neck: SvtrNeck {
            conv1,
            conv2,
            blocks,
            norm,
            conv3,
            conv4,
            conv1x1,
        },
        head,
    })
}

fn misshapen(name: &str, why: &str) -> Error {
    Error::Model(format!("ONNX weight {name} is misshapen: {why}"))
}

/// Turns named ONNX tensors into Burn layers on one device.
struct Loader<'a> {
    m: &'a OnnxModel,
    device: &'a Device,
}

impl Loader<'_> {
    fn tensor<const D: usize>(&self, data: Vec<f32>, dims: [usize; D]) -> Tensor<D> {
        Tensor::from_data(TensorData::new(data, dims), self.device)
    }

    fn dims4(&self, name: &str, t: &OnnxTensor) -> Result<[usize; 4]> {
        <[usize; 4]>::try_from(t.dims.as_slice())
            .map_err(|_| misshapen(name, &format!("shape {:?} is not 4-D", t.dims)))
    }

    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let t = self.m.tensor(name)?;
        if t.data.len() != len {
            return Err(misshapen(
                name,
                &format!("shape {:?}, expected {len} values", t.dims),
            ));
        }
        Ok(t.data.clone())
    }

    fn scalar(&self, name: &str) -> Result<f32> {
        Ok(self.vector(name, 1)?[0])
    }

    /// The convolution whose weight is `weight` (bias `<prefix>.b_0` if `bias`), checked
    /// to take `c_in` channels. Returns it and its output channels.
    fn conv(&self, weight: &str, bias: bool, c_in: usize) -> Result<(Conv2d, usize)> {
        let (w, dims) = self.conv_weight(weight, c_in)?;
        let b = if bias {
            Some(self.vector(&bias_name(weight), dims[0])?)
        } else {
            None
        };
        self.build_conv(weight, w, dims, b)
    }

    /// A convolution with bias followed by a learnable affine (`scale * y + bias`, two
    /// scalars), folded into one: the affine costs two passes over the map otherwise.
    fn conv_affine(&self, weight: &str, c_in: usize, affine: Affine) -> Result<(Conv2d, usize)> {
        let (mut w, dims) = self.conv_weight(weight, c_in)?;
        let mut b = self.vector(&bias_name(weight), dims[0])?;
        w.iter_mut().for_each(|v| *v *= affine.scale);
        b.iter_mut()
            .for_each(|v| *v = *v * affine.scale + affine.bias);
        self.build_conv(weight, w, dims, Some(b))
    }

    /// A convolution without bias followed by a batch norm, folded into one.
    fn conv_bn(&self, weight: &str, bn: &str, c_in: usize) -> Result<(Conv2d, usize)> {
        let (mut w, dims) = self.conv_weight(weight, c_in)?;
        let (scale, shift) = self.batch_norm(bn, dims[0])?;
        let per_out = w.len() / dims[0];
        for (o, chunk) in w.chunks_mut(per_out).enumerate() {
            chunk.iter_mut().for_each(|v| *v *= scale[o]);
        }
        self.build_conv(weight, w, dims, Some(shift))
    }

    fn conv_weight(&self, weight: &str, c_in: usize) -> Result<(Vec<f32>, [usize; 4])> {
        let t = self.m.tensor(weight)?;
        let dims = self.dims4(weight, t)?;
        let groups = self.m.conv(weight)?.group;
        if dims[1] * groups != c_in || dims[0] % groups != 0 {
            return Err(misshapen(
                weight,
                &format!("shape {dims:?} with {groups} groups does not take {c_in} channels"),
            ));
        }
        Ok((t.data.clone(), dims))
    }

    fn build_conv(
        &self,
        weight: &str,
        w: Vec<f32>,
        dims: [usize; 4],
        bias: Option<Vec<f32>>,
    ) -> Result<(Conv2d, usize)> {
        let attrs = self.m.conv(weight)?;
        let geometry = ConvGeometry {
            stride: attrs.strides,
            pads: attrs.pads,
            groups: attrs.group,
        };
        let bias = bias.map(|b| self.tensor(b, [dims[0]]));
        Ok((conv2d(self.tensor(w, dims), bias, geometry), dims[0]))
    }

    /// A batch norm as a per-channel `(scale, shift)`.
    fn batch_norm(&self, bn: &str, channels: usize) -> Result<(Vec<f32>, Vec<f32>)> {
        let gamma = self.vector(&format!("{bn}.w_0"), channels)?;
        let beta = self.vector(&format!("{bn}.b_0"), channels)?;
        let mean = self.vector(&format!("{bn}.w_1"), channels)?;
        let var = self.vector(&format!("{bn}.w_2"), channels)?;
        let scale: Vec<f32> = gamma
            .iter()
            .zip(&var)
            .map(|(g, v)| g / (v + BN_EPSILON).sqrt())
            .collect();
        let shift = beta
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        Ok((scale, shift))
    }

    /// `<prefix>.w_0` transposed convolution plus its `<prefix>.b_0` bias, with an optional
    /// batch norm after it folded in.
    fn conv_transpose_bn(
        &self,
        prefix: &str,
        bn: Option<&str>,
        c_in: usize,
    ) -> Result<(ConvTranspose2d, usize)> {
        let name = format!("{prefix}.w_0");
        let t = self.m.tensor(&name)?;
        let dims = self.dims4(&name, t)?;
        if dims[0] != c_in {
            return Err(misshapen(
                &name,
                &format!("shape {dims:?} does not take {c_in} channels"),
            ));
        }
        let c_out = dims[1];
        let mut w = t.data.clone();
        let mut bias = self.vector(&format!("{prefix}.b_0"), c_out)?;
        if let Some(bn) = bn {
            let (scale, shift) = self.batch_norm(bn, c_out)?;
            let kernel = dims[2] * dims[3];
            for (i, v) in w.iter_mut().enumerate() {
                *v *= scale[(i / kernel) % c_out];
            }
            for (o, b) in bias.iter_mut().enumerate() {
                *b = *b * scale[o] + shift[o];
            }
        }
        let stride = self.m.conv(&name)?.strides;
        let layer = conv_transpose2d(self.tensor(w, dims), self.tensor(bias, [c_out]), stride);
        Ok((layer, c_out))
    }

    fn affine(&self, prefix: &str) -> Result<Affine> {
        Ok(Affine {
            scale: self.scalar(&format!("{prefix}.w_0"))?,
            bias: self.scalar(&format!("{prefix}.w_1"))?,
        })
    }

    fn squeeze_excite(
        &self,
        reduce: usize,
        expand: usize,
        c: usize,
        slope: f32,
        residual: bool,
    ) -> Result<SqueezeExcite> {
        let (reduce, c_mid) = self.conv(&format!("conv2d_{reduce}.w_0"), true, c)?;
        let expand_name = format!("conv2d_{expand}.w_0");
        let (expand, c_back) = self.conv(&expand_name, true, c_mid)?;
        if c_back != c {
            return Err(misshapen(
                &expand_name,
                &format!("gives {c_back} channels for a {c}-channel map"),
            ));
        }
        Ok(SqueezeExcite {
            reduce,
            expand,
            slope,
            residual,
        })
    }

    /// One re-parameterised layer: block convolution number `k` (counting depthwise and
    /// pointwise alike) with its affine, and its activation unless `plain`.
    fn rep_layer(
        &self,
        conv: usize,
        k: usize,
        c_in: usize,
        depthwise: bool,
    ) -> Result<(RepLayer, usize)> {
        let name = format!("conv2d_{conv}.w_0");
        let affine = self.affine(&format!("mobile_one_block_{k}"))?;
        let (layer, c_out) = self.conv_affine(&name, c_in, affine)?;
        // PaddleOCR skips the activation after a depthwise convolution of stride 2.
        let plain = depthwise && layer.stride == [2, 2];
        let act = if plain {
            None
        } else {
            Some(self.affine(&format!("whswish_b_{}", k + 1))?)
        };
        let rep = RepLayer { conv: layer, act };
        Ok((rep, c_out))
    }

    /// The backbone and the channels of each tapped stage.
    fn backbone(&self, names: &BackboneNames) -> Result<(LcNetV3, Vec<usize>)> {
        let (stem, mut c) = self.conv_bn(names.stem, names.stem_bn, 3)?;
        let mut blocks = Vec::with_capacity(LCNET_BLOCKS);
        let mut tapped = Vec::new();
        for i in 0..LCNET_BLOCKS {
            let (depthwise, c_dw) = self.rep_layer(names.first_conv + 2 * i, 2 * i, c, true)?;
            let se = match names.se.iter().find(|(block, _, _)| *block == i) {
                Some(&(_, reduce, expand)) => {
                    Some(self.squeeze_excite(reduce, expand, c_dw, BACKBONE_SE_SLOPE, false)?)
                }
                None => None,
            };
            let (pointwise, c_pw) =
                self.rep_layer(names.first_conv + 2 * i + 1, 2 * i + 1, c_dw, false)?;
            blocks.push(LcBlock {
                depthwise,
                se,
                pointwise,
            });
            c = c_pw;
            if names.taps.contains(&i) {
                tapped.push(c);
            }
        }
        let net = LcNetV3 {
            stem,
            blocks,
            taps: names.taps.to_vec(),
        };
        Ok((net, tapped))
    }

    /// A neck RSE layer: `conv2d_{base}` then the squeeze-excite `conv2d_{base+1,base+2}`.
    fn rse(&self, base: usize, c_in: usize) -> Result<(RseLayer, usize)> {
        let (conv, c) = self.conv(&format!("conv2d_{base}.w_0"), false, c_in)?;
        let se = self.squeeze_excite(base + 1, base + 2, c, NECK_SE_SLOPE, true)?;
        Ok((RseLayer { conv, se }, c))
    }

    fn linear(&self, prefix: &str, d_in: usize) -> Result<Linear> {
        let name = format!("{prefix}.w_0");
        let t = self.m.tensor(&name)?;
        let [rows, d_out] = <[usize; 2]>::try_from(t.dims.as_slice())
            .map_err(|_| misshapen(&name, &format!("shape {:?} is not 2-D", t.dims)))?;
        if rows != d_in {
            return Err(misshapen(
                &name,
                &format!("shape {:?} does not take {d_in} features", t.dims),
            ));
        }
        let bias = self.vector(&format!("{prefix}.b_0"), d_out)?;
        Ok(Linear {
            weight: Param::from_tensor(self.tensor(t.data.clone(), [d_in, d_out])),
            bias: Some(Param::from_tensor(self.tensor(bias, [d_out]))),
        })
    }

    fn layer_norm(&self, prefix: &str, width: usize) -> Result<LayerNorm> {
        Ok(LayerNorm {
            gamma: Param::from_tensor(
                self.tensor(self.vector(&format!("{prefix}.w_0"), width)?, [width]),
            ),
            beta: Param::from_tensor(
                self.tensor(self.vector(&format!("{prefix}.b_0"), width)?, [width]),
            ),
            epsilon: LN_EPSILON,
        })
    }

    /// SVTR block from `layer_norm_{ln}`, `layer_norm_{ln+1}` and `linear_{lin..lin+3}`.
    fn svtr_block(&self, ln: usize, lin: usize, width: usize) -> Result<SvtrBlock> {
        if !width.is_multiple_of(SVTR_HEADS) {
            return Err(misshapen(
                &format!("linear_{lin}.w_0"),
                &format!("width {width} is not a multiple of {SVTR_HEADS} heads"),
            ));
        }
        let qkv = self.linear(&format!("linear_{lin}"), width)?;
        if qkv.weight.dims()[1] != 3 * width {
            return Err(misshapen(
                &format!("linear_{lin}.w_0"),
                "expected query, key and value side by side",
            ));
        }
        let fc1 = self.linear(&format!("linear_{}", lin + 2), width)?;
        let hidden = fc1.weight.dims()[1];
        Ok(SvtrBlock {
            norm1: self.layer_norm(&format!("layer_norm_{ln}"), width)?,
            qkv,
            proj: self.linear(&format!("linear_{}", lin + 1), width)?,
            norm2: self.layer_norm(&format!("layer_norm_{}", ln + 1), width)?,
            fc1,
            fc2: self.linear(&format!("linear_{}", lin + 3), hidden)?,
            heads: SVTR_HEADS,
        })
    }
}

fn bias_name(weight: &str) -> String {
    match weight.strip_suffix(".w_0") {
        Some(prefix) => format!("{prefix}.b_0"),
        None => format!("{weight}.bias"),
    }
}

#[cfg(test)]
mod tests {
    use super::halfwidth;

    #[test]
    fn full_width_punctuation_becomes_ascii() {
        assert_eq!(halfwidth("，"), ",");
        assert_eq!(halfwidth("！"), "!");
        assert_eq!(halfwidth("Ａ"), "A");
        assert_eq!(halfwidth("中"), "中");
    }
}
