//! CRAFT (Baek et al. 2019) as EasyOCR ships it: a VGG16-BN encoder, a U-Net decoder and a
//! head that predicts, at half the input resolution, a character "region" (text) score and
//! an "affinity" (link) score between neighbouring characters.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use super::TensorSource;
use super::layers::{ConvSpec, load_conv, split_input_channels};
use crate::Result;
use crate::cancel::CancelToken;
use crate::nn::banded::{
    conv2d_module as conv_in_bands, conv2d_module_relu, conv2d_module_relu_pooled,
    conv2d_pair_relu, conv2d_pair_relu_pooled,
};
use crate::nn::max_pool::{self, Window};
use crate::nn::step_clock::{Clock, Steps};
use crate::nn::{bilinear, pointwise};

/// The input's height and width must be multiples of this (four 2× poolings plus the
/// decoder's exact 2× upsampling).
pub const CRAFT_STRIDE_MULTIPLE: usize = 32;

/// CRAFT with weights loaded; see [`Craft::forward`].
#[derive(Module, Debug)]
pub struct Craft {
    /// The twelve VGG16-BN 3×3 convolutions CRAFT uses, batch norm folded in.
    vgg: Vec<Conv2d>,
    /// fc6 (3×3, dilation 6) and fc7 (1×1), without activations, as in EasyOCR.
    fc6: Conv2d,
    fc7: Conv2d,
    /// Decoder stages: each a 1×1 then a 3×3 convolution, both followed by ReLU.
    up: Vec<DoubleConv>,
    /// Head: 3×3, 3×3, 3×3, 1×1 (all with ReLU), then 1×1 to the two maps.
    head: Vec<Conv2d>,
}

/// A decoder stage: a 1×1 layer on the concatenation of the map from below (upsampled to the
/// skip connection's size) and the skip connection, then a 3×3 layer, both with ReLU. The
/// 1×1 layer is kept as its two shares, one per part of the concatenation (see `Craft::squeeze`).
#[derive(Module, Debug)]
struct DoubleConv {
    /// The 1×1 layer's share for the map from below, without the bias.
    from_below: Conv2d,
    /// Its share for the skip connection, with the bias.
    from_skip: Conv2d,
    conv: Conv2d,
}

/// CRAFT's output for a batch: `[batch, height / 2, width / 2]` each.
#[derive(Clone, Debug)]
pub struct CraftMaps {
    pub text: Tensor<3>,
    pub link: Tensor<3>,
}

/// VGG16-BN layer indices in torchvision's `features` (which EasyOCR splits into slices).
/// CRAFT keeps twelve of VGG16's thirteen convolutions: its slice4 stops at layer 38.
const VGG_LAYERS: [(&str, usize, [usize; 2]); 12] = [
    ("slice1", 0, [3, 64]),
    ("slice1", 3, [64, 64]),
    ("slice1", 7, [64, 128]),
    ("slice1", 10, [128, 128]),
    ("slice2", 14, [128, 256]),
    ("slice2", 17, [256, 256]),
    ("slice3", 20, [256, 256]),
    ("slice3", 24, [256, 512]),
    ("slice3", 27, [512, 512]),
    ("slice4", 30, [512, 512]),
    ("slice4", 34, [512, 512]),
    ("slice4", 37, [512, 512]),
];

/// Decoder input and output channels: `[in (skip + upsampled), mid, out]`.
const UP_CHANNELS: [[usize; 3]; 4] = [
    [1024 + 512, 512, 256],
    [512 + 256, 256, 128],
    [256 + 128, 128, 64],
    [128 + 64, 64, 32],
];

impl Craft {
    /// Reads every weight by its EasyOCR name (`basenet.slice1.0.weight`, ...).
    pub fn load(src: &mut dyn TensorSource, device: &Device) -> Result<Self> {
        let mut vgg = Vec::with_capacity(12);
        for (slice, index, channels) in &VGG_LAYERS {
            let conv = format!("basenet.{slice}.{index}");
            let bn = format!("basenet.{slice}.{}", index + 1);
            vgg.push(load_conv(
                src,
                ConvSpec::new(&conv, *channels, 3, 1).batch_norm(&bn),
                device,
            )?);
        }
        let fc6 = ConvSpec::new("basenet.slice5.1", [512, 1024], 3, 6).dilation(6);
        let fc7 = ConvSpec::new("basenet.slice5.2", [1024, 1024], 1, 0);
        let mut up = Vec::with_capacity(4);
        for (i, [c_in, mid, out]) in UP_CHANNELS.iter().enumerate() {
            let stage = format!("upconv{}.conv", i + 1);
            let (c0, b1) = (format!("{stage}.0"), format!("{stage}.1"));
            let (c3, b4) = (format!("{stage}.3"), format!("{stage}.4"));
            let squeeze = load_conv(
                src,
                ConvSpec::new(&c0, [*c_in, *mid], 1, 0).batch_norm(&b1),
                device,
            )?;
            // The map from below comes first in EasyOCR's concatenation: fc7's 1024
            // channels, then each stage's output.
            let below = if i == 0 { 1024 } else { UP_CHANNELS[i - 1][2] };
            let (from_below, from_skip) = split_input_channels(&squeeze, below)
                .ok_or_else(|| crate::Error::Model(format!("{stage}: {c_in} channels")))?;
            up.push(DoubleConv {
                from_below,
                from_skip,
                conv: load_conv(
                    src,
                    ConvSpec::new(&c3, [*mid, *out], 3, 1).batch_norm(&b4),
                    device,
                )?,
            });
        }
        let head_specs = [
            ("conv_cls.0", [32, 32], 3, 1),
            ("conv_cls.2", [32, 32], 3, 1),
            ("conv_cls.4", [32, 16], 3, 1),
            ("conv_cls.6", [16, 16], 1, 0),
            ("conv_cls.8", [16, 2], 1, 0),
        ];
        let head = head_specs
            .iter()
            .map(|(name, ch, k, p)| load_conv(src, ConvSpec::new(name, *ch, *k, *p), device))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            vgg,
            fc6: load_conv(src, fc6, device)?,
            fc7: load_conv(src, fc7, device)?,
            up,
            head,
        })
    }

    /// `x`: `[batch, 3, H, W]`, ImageNet-normalised on the 0..255 scale, H and W multiples
    /// of [`CRAFT_STRIDE_MULTIPLE`]. Returns raw scores (not clamped), as EasyOCR uses them.
    /// The convolutions run in bands of rows with `cancel` checked between them (a page
    /// takes seconds on a CPU, one full-resolution convolution a large part of one), but
    /// for the decoder's 1×1 layers, each a tenth of a second at most, checked before.
    pub fn forward(&self, x: Tensor<4>, cancel: &CancelToken) -> Result<CraftMaps> {
        self.forward_in_steps(x, cancel, &Steps::untimed())
    }

    /// [`Self::forward`], each step's time reported to `clock` (for measurements).
    pub fn forward_timed(
        &self,
        x: Tensor<4>,
        cancel: &CancelToken,
        clock: Clock,
    ) -> Result<CraftMaps> {
        self.forward_in_steps(x, cancel, &Steps::timed(clock))
    }

    fn forward_in_steps(
        &self,
        x: Tensor<4>,
        cancel: &CancelToken,
        steps: &Steps,
    ) -> Result<CraftMaps> {
        let [half, quarter, eighth, sixteenth] = self.encode(x, cancel, steps)?;
        let fc = steps.run("fc6 3x3 max-pool", || max_pool(sixteenth.clone(), 3, 1, 1));
        let fc = steps.run("fc6", || conv_in_bands(&self.fc6, fc, cancel))?;
        let fc = steps.run("fc7", || conv_in_bands(&self.fc7, fc, cancel))?;
        let mut y = fc;
        for (stage, skip) in [sixteenth, eighth, quarter].into_iter().enumerate() {
            let squeezed = self.squeeze(stage, y, skip, cancel, steps)?;
            let conv = &self.up[stage].conv;
            y = steps.run(&format!("stage {stage} 3x3"), || {
                conv2d_module_relu(conv, squeezed, cancel)
            })?;
        }
        let squeezed = self.squeeze(3, y, half, cancel, steps)?;
        // The last stage's 3 × 3 layer and the head's three share bands in pairs: only
        // the head's output is needed, not the 1/2-resolution maps between them.
        let [first, second, third, pointwise, last] = &self.head[..] else {
            return Err(crate::Error::Model("CRAFT's head has five layers".into()));
        };
        let y = steps.run("stage 3 3x3 + head 0", || {
            conv2d_pair_relu(&self.up[3].conv, first, squeezed, cancel)
        })?;
        let y = steps.run("head 1 + 2", || conv2d_pair_relu(second, third, y, cancel))?;
        let y = steps.run("head 3", || conv2d_module_relu(pointwise, y, cancel))?;
        let maps = steps.run("head last", || conv_in_bands(last, y, cancel))?;
        let [b, _, h, w] = maps.dims();
        Ok(CraftMaps {
            text: maps.clone().narrow(1, 0, 1).reshape([b, h, w]),
            link: maps.narrow(1, 1, 1).reshape([b, h, w]),
        })
    }

    /// VGG16-BN features at 1/2, 1/4, 1/8 and 1/16 of the input. The first three are taken
    /// after their ReLU (EasyOCR's in-place ReLU rewrites them), the last one before.
    fn encode(&self, x: Tensor<4>, cancel: &CancelToken, steps: &Steps) -> Result<[Tensor<4>; 4]> {
        let v = &self.vgg;
        // The ReLUs applied as the convolutions write their rows; the 2×2 max-pool, where
        // nothing else needs the map before it, run band by band with its convolution.
        let conv = |i: usize, x: Tensor<4>| {
            steps.run(&format!("vgg {i}"), || conv2d_module_relu(&v[i], x, cancel))
        };
        let pair = |i: usize, x: Tensor<4>| {
            let label = format!("vgg {i} + {}", i + 1);
            steps.run(&label, || conv2d_pair_relu(&v[i], &v[i + 1], x, cancel))
        };
        let pool = |y: Tensor<4>| max_pool(y, 2, 2, 0);
        let conv_pool = |i: usize, x| {
            let label = format!("vgg {i} + max-pool");
            steps.run(&label, || {
                conv2d_module_relu_pooled(&v[i], x, &pool, 2, cancel)
            })
        };
        // Consecutive layers share their bands where only the second one's output is
        // needed: the maps between them (325 MB at full resolution) are never made whole.
        let x = steps.run("vgg 0 + 1 + max-pool", || {
            conv2d_pair_relu_pooled(&v[0], &v[1], x, &pool, 2, cancel)
        })?;
        let half = pair(2, x)?;
        let x = steps.run("max-pool 1/2", || max_pool(half.clone(), 2, 2, 0));
        let quarter = pair(4, x)?;
        let eighth = pair(7, conv_pool(6, quarter.clone())?)?;
        let x = conv(10, conv_pool(9, eighth.clone())?)?;
        let sixteenth = steps.run("vgg 11", || conv_in_bands(&v[11], x, cancel))?;
        Ok([half, quarter, eighth, sixteenth])
    }

    /// A decoder stage's 1×1 layer on `below` (upsampled bilinearly to `skip`'s size, as
    /// EasyOCR does) concatenated with `skip`, with its ReLU. The 1×1 layer and the
    /// upsampling are both linear and act on different axes, so the share for `below` runs
    /// before the upsampling, on a quarter of the pixels, and the concatenation is never
    /// made.
    fn squeeze(
        &self,
        stage: usize,
        below: Tensor<4>,
        skip: Tensor<4>,
        cancel: &CancelToken,
        steps: &Steps,
    ) -> Result<Tensor<4>> {
        let block = &self.up[stage];
        let label = |what: &str| format!("stage {stage} {what}");
        let from_below = steps.run(&label("1x1 from below"), || {
            one_by_one(&block.from_below, below, cancel)
        })?;
        let from_skip = steps.run(&label("1x1 from skip"), || {
            one_by_one(&block.from_skip, skip, cancel)
        })?;
        steps.run(&label("upsample + add + relu"), || {
            bilinear::add_resized_relu(from_skip, from_below)
        })
    }
}

/// A 1 × 1 layer whole, as one product on our kernel (the largest here takes about 0.1 s,
/// well within what a Cancel may wait), else in bands.
fn one_by_one(conv: &Conv2d, x: Tensor<4>, cancel: &CancelToken) -> Result<Tensor<4>> {
    cancel.check()?;
    match pointwise::forward_then(conv, x, |_| {}) {
        Ok(y) => Ok(y),
        Err(x) => conv_in_bands(conv, x, cancel),
    }
}

fn max_pool(x: Tensor<4>, kernel: usize, stride: usize, padding: usize) -> Tensor<4> {
    let window = Window::new([kernel, kernel], [stride, stride]).with_padding([padding, padding]);
    max_pool::max_pool2d(x, window)
}
