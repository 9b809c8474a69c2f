//! The subset of VGSL (kraken's network description language) that kraken's segmentation
//! models use, parsed into layers with their names and sizes.
//!
//! A spec looks like `[1,1800,0,3 Cr{C_0}7,7,64,2,2 Gn{Gn_1}32 ... Lbx{L_15}32 O{l_16}2l4]`:
//! the input (batch, height, width, channels; 0 = any), then one block per layer. A block's
//! `{name}` is the name its weights carry in the model file; an unnamed block gets the name
//! kraken gives it, `<type>_<index>`, so both kinds of file find their weights.

/// A spec kraken could write but Inkread cannot run, or one that is not VGSL at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VgslError {
    #[error("VGSL spec must be one sequential block `[...]`, got {0:?}")]
    NotSequential(String),
    #[error("VGSL input block {0:?} is not `batch,height,width,channels`")]
    BadInput(String),
    #[error("VGSL block {block:?}: {reason}")]
    BadBlock { block: String, reason: String },
    #[error("VGSL block {block:?} ({what}) is not supported by Inkread's segmenter")]
    Unsupported { block: String, what: &'static str },
}

/// What a convolution applies after itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu,
    Linear,
    Softmax,
}

/// Which axis a recurrent layer runs along.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// Along each row (width is time).
    X,
    /// Along each column (height is time).
    Y,
}

/// Which way(s) an LSTM reads its sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Reverse,
    Both,
}

impl Direction {
    pub fn count(self) -> usize {
        if self == Direction::Both { 2 } else { 1 }
    }
}

/// One layer of the network, with the size of what it produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VgslLayer {
    /// `C<act>{name}<ky>,<kx>,<out>[,<sy>,<sx>][,<dy>,<dx>]`; padding `dilation*(k-1)/2`.
    Conv {
        name: String,
        activation: Activation,
        kernel: [usize; 2],
        input: usize,
        output: usize,
        stride: [usize; 2],
        dilation: [usize; 2],
    },
    /// `Gn{name}<groups>`.
    GroupNorm {
        name: String,
        channels: usize,
        groups: usize,
    },
    /// `L<dir><axis>{name}<hidden>`: an LSTM per row (x) or per column (y).
    Lstm {
        name: String,
        direction: Direction,
        axis: Axis,
        input: usize,
        hidden: usize,
    },
    /// `Do...`: dropout, nothing at inference.
    Dropout,
}

impl VgslLayer {
    /// The name its weights carry in the model file (dropout has none).
    pub fn name(&self) -> Option<&str> {
        match self {
            VgslLayer::Conv { name, .. }
            | VgslLayer::GroupNorm { name, .. }
            | VgslLayer::Lstm { name, .. } => Some(name),
            VgslLayer::Dropout => None,
        }
    }
}

/// A parsed spec: the input it expects and its layers in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VgslSpec {
    /// Input height the model was trained for (0: any).
    pub height: usize,
    /// Input width (0: any).
    pub width: usize,
    pub channels: usize,
    pub layers: Vec<VgslLayer>,
}

impl VgslSpec {
    /// Channels of the network's output.
    pub fn output_channels(&self) -> usize {
        self.layers
            .iter()
            .rev()
            .find_map(|l| match l {
                VgslLayer::Conv { output, .. } => Some(*output),
                VgslLayer::Lstm {
                    direction, hidden, ..
                } => Some(direction.count() * hidden),
                _ => None,
            })
            .unwrap_or(self.channels)
    }

    /// Parses a spec, following channel counts from layer to layer.
    pub fn parse(spec: &str) -> Result<Self, VgslError> {
        let inner = spec
            .trim()
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(|| VgslError::NotSequential(spec.to_string()))?;
        let mut blocks = inner.split_whitespace();
        let input = blocks.next().unwrap_or_default();
        let dims = numbers(input).ok_or_else(|| VgslError::BadInput(input.to_string()))?;
        let [_batch, height, width, channels] = dims[..] else {
            return Err(VgslError::BadInput(input.to_string()));
        };
        if channels == 0 {
            return Err(VgslError::BadInput(input.to_string()));
        }
        let mut layers = Vec::new();
        let mut current = channels;
        for (index, block) in blocks.enumerate() {
            let layer = parse_block(block, index, current)?;
            current = match &layer {
                VgslLayer::Conv { output, .. } => *output,
                VgslLayer::Lstm {
                    direction, hidden, ..
                } => direction.count() * hidden,
                _ => current,
            };
            layers.push(layer);
        }
        Ok(VgslSpec {
            height,
            width,
            channels,
            layers,
        })
    }
}

/// `a,b,c` as numbers, or `None` when any is not one.
fn numbers(s: &str) -> Option<Vec<usize>> {
    s.split(',').map(|p| p.parse().ok()).collect()
}

/// Splits `Cr{C_0}7,7,64` into the type letters (`Cr`), the name (`C_0`) and the rest.
fn split_block(block: &str) -> Result<(&str, Option<&str>, &str), VgslError> {
    let bad = |reason: &str| VgslError::BadBlock {
        block: block.to_string(),
        reason: reason.to_string(),
    };
    let head_end = block
        .find(|c: char| c == '{' || c.is_ascii_digit() || c == '.' || c == ',')
        .unwrap_or(block.len());
    let (head, rest) = block.split_at(head_end);
    if let Some(named) = rest.strip_prefix('{') {
        let close = named.find('}').ok_or_else(|| bad("unclosed `{`"))?;
        let name = &named[..close];
        if name.is_empty() {
            return Err(bad("empty name"));
        }
        Ok((head, Some(name), &named[close + 1..]))
    } else {
        Ok((head, None, rest))
    }
}

fn parse_block(block: &str, index: usize, input: usize) -> Result<VgslLayer, VgslError> {
    let bad = |reason: String| VgslError::BadBlock {
        block: block.to_string(),
        reason,
    };
    let unsupported = |what| VgslError::Unsupported {
        block: block.to_string(),
        what,
    };
    if block.starts_with(['[', '(']) {
        return Err(unsupported("nested series or parallel blocks"));
    }
    let (head, name, args) = split_block(block)?;
    // kraken's default name: the block's type letters, an underscore, its index.
    let name_or = |kind: &str| name.map_or_else(|| format!("{kind}_{index}"), str::to_string);
    let args_of = |expected: &[usize]| -> Result<Vec<usize>, VgslError> {
        let v = numbers(args).ok_or_else(|| bad(format!("arguments {args:?} are not numbers")))?;
        if !expected.contains(&v.len()) {
            return Err(bad(format!(
                "expected {expected:?} numbers, got {}",
                v.len()
            )));
        }
        if v.contains(&0) {
            return Err(bad("sizes must not be 0".into()));
        }
        Ok(v)
    };
    match head {
        "Gn" => {
            let v = args_of(&[1])?;
            if !input.is_multiple_of(v[0]) {
                return Err(bad(format!(
                    "{input} channels do not split into {} groups",
                    v[0]
                )));
            }
            Ok(VgslLayer::GroupNorm {
                name: name_or("Gn"),
                channels: input,
                groups: v[0],
            })
        }
        "Do" => Ok(VgslLayer::Dropout),
        h if h.starts_with('C') => {
            let activation = match &h[1..] {
                "s" => Activation::Sigmoid,
                "t" => Activation::Tanh,
                "r" => Activation::Relu,
                "lr" => Activation::LeakyRelu,
                "l" => Activation::Linear,
                "m" => Activation::Softmax,
                a if a.starts_with('T') => return Err(unsupported("transposed convolution")),
                _ => return Err(bad(format!("unknown activation in {h:?}"))),
            };
            let v = args_of(&[3, 5, 7])?;
            Ok(VgslLayer::Conv {
                name: name_or("C"),
                activation,
                kernel: [v[0], v[1]],
                input,
                output: v[2],
                stride: if v.len() >= 5 { [v[3], v[4]] } else { [1, 1] },
                dilation: if v.len() == 7 { [v[5], v[6]] } else { [1, 1] },
            })
        }
        h if h.starts_with('L') => {
            let mut chars = h[1..].chars();
            let direction = match chars.next() {
                Some('f') => Direction::Forward,
                Some('r') => Direction::Reverse,
                Some('b') => Direction::Both,
                _ => return Err(bad("LSTM direction must be f, r or b".into())),
            };
            let axis = match chars.next() {
                Some('x') => Axis::X,
                Some('y') => Axis::Y,
                _ => return Err(bad("LSTM axis must be x or y".into())),
            };
            match chars.as_str() {
                "" => {}
                "s" => return Err(unsupported("summarizing LSTM")),
                _ => return Err(unsupported("legacy (clstm/ocropy) LSTM")),
            }
            let v = args_of(&[1])?;
            Ok(VgslLayer::Lstm {
                name: name_or("L"),
                direction,
                axis,
                input,
                hidden: v[0],
            })
        }
        "O" => parse_output(block, name, args, index, input),
        "G" | "Gf" | "Gr" | "Gb" => Err(unsupported("GRU")),
        "Mp" => Err(unsupported("max pooling")),
        "S" => Err(unsupported("reshape")),
        "A" => Err(unsupported("addition")),
        "I" => Err(unsupported("identity")),
        "W" => Err(unsupported("wav2vec2 masking")),
        _ => Err(bad(format!("unknown layer type {head:?}"))),
    }
}

/// `O{name}2l<n>`: a heatmap output, which kraken builds as a 1x1 convolution whose sigmoid
/// it leaves to the caller (the network returns logits).
fn parse_output(
    block: &str,
    name: Option<&str>,
    args: &str,
    index: usize,
    input: usize,
) -> Result<VgslLayer, VgslError> {
    let bad = |reason: &str| VgslError::BadBlock {
        block: block.to_string(),
        reason: reason.to_string(),
    };
    let mut chars = args.chars();
    let dim = chars.next();
    let kind = chars.next();
    let rest = chars.as_str();
    if dim != Some('2') {
        return Err(VgslError::Unsupported {
            block: block.to_string(),
            what: "non-heatmap output",
        });
    }
    if !matches!(kind, Some('l' | 's')) {
        return Err(bad("heatmap outputs are `l` or `s`"));
    }
    let output: usize = rest
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| bad("output size is not a positive number"))?;
    let kind = kind.unwrap_or('l');
    Ok(VgslLayer::Conv {
        name: name.map_or_else(|| format!("{kind}_{index}"), str::to_string),
        // `l` is trained with a sigmoid loss: logits out. (`s` would be softmax, which kraken
        // segmenters do not use; it is kept as logits too, the caller decides.)
        activation: Activation::Linear,
        kernel: [1, 1],
        input,
        output,
        stride: [1, 1],
        dilation: [1, 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLLA: &str = "[1,1800,0,3 Cr{C_0}7,7,64,2,2 Gn{Gn_1}32 Cr{C_2}3,3,128,2,2 Gn{Gn_3}32 \
        Cr{C_4}3,3,128 Gn{Gn_5}32 Cr{C_6}3,3,256 Gn{Gn_7}32 Cr{C_8}3,3,256 Gn{Gn_9}32 \
        Lbx{L_10}32 Lby{L_11}32 Cr{C_12}1,1,32 Gn{Gn_13}32 Lby{L_14}32 Lbx{L_15}32 O{l_16}2l4]";

    #[test]
    fn parses_blla_with_channel_counts() {
        let spec = VgslSpec::parse(BLLA).unwrap();
        assert_eq!((spec.height, spec.width, spec.channels), (1800, 0, 3));
        assert_eq!(spec.layers.len(), 17);
        assert_eq!(
            spec.layers[0],
            VgslLayer::Conv {
                name: "C_0".into(),
                activation: Activation::Relu,
                kernel: [7, 7],
                input: 3,
                output: 64,
                stride: [2, 2],
                dilation: [1, 1],
            }
        );
        assert_eq!(
            spec.layers[11],
            VgslLayer::Lstm {
                name: "L_11".into(),
                direction: Direction::Both,
                axis: Axis::Y,
                input: 64,
                hidden: 32,
            }
        );
        assert_eq!(spec.layers[12].name(), Some("C_12"));
        assert_eq!(spec.output_channels(), 4);
        let VgslLayer::Conv { input, .. } = &spec.layers[16] else {
            panic!("output is a conv");
        };
        assert_eq!(*input, 64);
    }

    #[test]
    fn unnamed_blocks_get_krakens_default_names() {
        let spec = VgslSpec::parse("[1,0,0,1 Cr3,3,8 Gn2 Lfx4 O2l1]").unwrap();
        let names: Vec<_> = spec.layers.iter().filter_map(|l| l.name()).collect();
        assert_eq!(names, ["C_0", "Gn_1", "L_2", "l_3"]);
    }

    #[test]
    fn rejects_what_it_cannot_run() {
        for (spec, fragment) in [
            ("1,2,3,4", "sequential"),
            ("[1,0,0 Cr3,3,8]", "input"),
            ("[1,0,0,1 Cr3,3]", "expected"),
            ("[1,0,0,1 Cr3,3,0]", "not be 0"),
            ("[1,0,0,1 Mp2,2]", "max pooling"),
            ("[1,0,0,1 Lbxs4]", "summarizing"),
            ("[1,0,0,3 Gn2]", "groups"),
            ("[1,0,0,1 O1c10]", "non-heatmap"),
            ("[1,0,0,1 Cx3,3,8]", "activation"),
            ("[1,0,0,1 Cr{C_0 3,3,8]", "unclosed"),
            ("[1,0,0,1 Q7]", "unknown layer"),
        ] {
            let err = VgslSpec::parse(spec).unwrap_err().to_string();
            assert!(err.contains(fragment), "{spec}: {err}");
        }
    }
}
