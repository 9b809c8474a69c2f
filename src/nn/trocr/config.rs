//! The three JSON files of a Hugging Face TrOCR directory, read with serde.
//!
//! `config.json` holds a `VisionEncoderDecoder` configuration with an `encoder` (ViT or DeiT)
//! and a `decoder` (TrOCR) section; `generation_config.json` the decoding defaults;
//! `preprocessor_config.json` how pixels are prepared. Absent fields take the defaults of the
//! matching `transformers` classes, so a directory behaves as it does there.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A configuration file that cannot be read or does not describe a supported TrOCR model.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Which vision transformer reads the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum EncoderKind {
    /// One class token before the patches (trocr-base, trocr-large).
    #[serde(rename = "vit")]
    Vit,
    /// A class and a distillation token before the patches (trocr-small).
    #[serde(rename = "deit")]
    Deit,
}

impl EncoderKind {
    /// Learned tokens placed before the patch tokens.
    pub fn prefix_tokens(self) -> usize {
        match self {
            EncoderKind::Vit => 1,
            EncoderKind::Deit => 2,
        }
    }
}

/// The activation functions `transformers` names in `hidden_act` / `activation_function`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Activation {
    /// Exact GELU with erf.
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation of GELU.
    #[serde(alias = "gelu_new", alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    #[serde(rename = "gelu_tanh")]
    GeluTanh,
    #[serde(rename = "quick_gelu")]
    QuickGelu,
    #[serde(rename = "relu")]
    Relu,
    #[serde(alias = "swish")]
    #[serde(rename = "silu")]
    Silu,
    #[serde(rename = "tanh")]
    Tanh,
    #[serde(rename = "sigmoid")]
    Sigmoid,
}

/// `image_size` is either one number (square) or `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum ImageSize {
    Square(usize),
    Pair([usize; 2]),
}

impl ImageSize {
    fn height_width(self) -> [usize; 2] {
        match self {
            ImageSize::Square(side) => [side, side],
            ImageSize::Pair(pair) => pair,
        }
    }
}

/// The `encoder` section: a ViT or DeiT model (`ViTConfig` / `DeiTConfig` defaults).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EncoderConfig {
    pub model_type: EncoderKind,
    #[serde(default = "defaults::vit_hidden")]
    pub hidden_size: usize,
    #[serde(default = "defaults::twelve")]
    pub num_hidden_layers: usize,
    #[serde(default = "defaults::twelve")]
    pub num_attention_heads: usize,
    #[serde(default = "defaults::vit_intermediate")]
    pub intermediate_size: usize,
    #[serde(default = "defaults::gelu")]
    pub hidden_act: Activation,
    #[serde(default = "defaults::vit_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "defaults::image_size", deserialize_with = "image_size")]
    pub image_size: [usize; 2],
    #[serde(default = "defaults::patch")]
    pub patch_size: usize,
    #[serde(default = "defaults::channels")]
    pub num_channels: usize,
    #[serde(default = "defaults::yes")]
    pub qkv_bias: bool,
    /// Width of the pooler (`None`: `hidden_size`). The pooler is not used to read text, but
    /// checkpoints carry it and transformers counts it.
    #[serde(default)]
    pub pooler_output_size: Option<usize>,
    #[serde(default = "defaults::tanh")]
    pub pooler_act: Activation,
}

fn image_size<'de, D: serde::Deserializer<'de>>(de: D) -> Result<[usize; 2], D::Error> {
    ImageSize::deserialize(de).map(ImageSize::height_width)
}

impl EncoderConfig {
    /// Patches along height and width.
    pub fn patch_grid(&self) -> [usize; 2] {
        let [h, w] = self.image_size;
        [h / self.patch_size, w / self.patch_size]
    }

    /// Tokens the encoder returns per image: the prefix tokens and one per patch.
    pub fn sequence_length(&self) -> usize {
        let [gh, gw] = self.patch_grid();
        self.model_type.prefix_tokens() + gh * gw
    }

    pub fn pooler_width(&self) -> usize {
        self.pooler_output_size.unwrap_or(self.hidden_size)
    }
}

/// The `decoder` section (`TrOCRConfig` defaults), including the generation fields older
/// checkpoints keep there.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DecoderConfig {
    #[serde(default = "defaults::vocab")]
    pub vocab_size: usize,
    #[serde(default = "defaults::d_model")]
    pub d_model: usize,
    #[serde(default = "defaults::twelve")]
    pub decoder_layers: usize,
    #[serde(default = "defaults::sixteen")]
    pub decoder_attention_heads: usize,
    #[serde(default = "defaults::ffn")]
    pub decoder_ffn_dim: usize,
    #[serde(default = "defaults::gelu")]
    pub activation_function: Activation,
    #[serde(default = "defaults::positions")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub scale_embedding: bool,
    #[serde(default = "defaults::yes")]
    pub use_learned_position_embeddings: bool,
    #[serde(default = "defaults::yes")]
    pub layernorm_embedding: bool,
    /// Width of the encoder states the cross-attention keys and values read. When absent and
    /// the encoder width differs from `d_model`, the model projects encoder states first.
    #[serde(default)]
    pub cross_attention_hidden_size: Option<usize>,
    /// Output projection shares the token embedding (transformers' default: true).
    #[serde(default = "defaults::yes")]
    pub tie_word_embeddings: bool,
    #[serde(default = "defaults::pad")]
    pub pad_token_id: u32,
    #[serde(default)]
    pub bos_token_id: u32,
    #[serde(default = "defaults::eos")]
    pub eos_token_id: u32,
    #[serde(default = "defaults::eos")]
    pub decoder_start_token_id: u32,
    #[serde(default)]
    pub max_length: Option<usize>,
    #[serde(default)]
    pub num_beams: Option<usize>,
    #[serde(default)]
    pub length_penalty: Option<f32>,
    #[serde(default)]
    pub early_stopping: Option<bool>,
}

/// The whole `config.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TrocrConfig {
    pub encoder: EncoderConfig,
    pub decoder: DecoderConfig,
}

impl TrocrConfig {
    /// Parses `config.json` text and checks the sizes fit together.
    pub fn from_json_str(text: &str) -> Result<Self, String> {
        let config: TrocrConfig = serde_json::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Whether encoder states pass through `enc_to_dec_proj` before the decoder, as
    /// `VisionEncoderDecoderModel` decides it.
    pub fn projects_encoder_states(&self) -> bool {
        self.encoder.hidden_size != self.decoder.d_model
            && self.decoder.cross_attention_hidden_size.is_none()
    }

    /// Width of the states the decoder's cross-attention keys and values read.
    pub fn cross_attention_width(&self) -> usize {
        self.decoder
            .cross_attention_hidden_size
            .unwrap_or(self.decoder.d_model)
    }

    fn validate(&self) -> Result<(), String> {
        let (e, d) = (&self.encoder, &self.decoder);
        let checks: [(bool, String); 6] = [
            (
                e.num_attention_heads > 0 && e.hidden_size % e.num_attention_heads == 0,
                format!(
                    "encoder hidden_size {} is not divisible by num_attention_heads {}",
                    e.hidden_size, e.num_attention_heads
                ),
            ),
            (
                d.decoder_attention_heads > 0 && d.d_model % d.decoder_attention_heads == 0,
                format!(
                    "decoder d_model {} is not divisible by decoder_attention_heads {}",
                    d.d_model, d.decoder_attention_heads
                ),
            ),
            (
                e.patch_size > 0
                    && e.image_size[0] % e.patch_size == 0
                    && e.image_size[1] % e.patch_size == 0,
                format!(
                    "image_size {:?} is not a multiple of patch_size {}",
                    e.image_size, e.patch_size
                ),
            ),
            (
                d.cross_attention_hidden_size.is_none_or(|w| w == e.hidden_size),
                format!(
                    "cross_attention_hidden_size {:?} differs from the encoder hidden_size {}",
                    d.cross_attention_hidden_size, e.hidden_size
                ),
            ),
            (
                d.use_learned_position_embeddings,
                "sinusoidal decoder positions (use_learned_position_embeddings = false) are not supported".to_string(),
            ),
            (
                (d.decoder_start_token_id as usize) < d.vocab_size
                    && (d.eos_token_id as usize) < d.vocab_size,
                format!(
                    "special token ids exceed the vocabulary size {}",
                    d.vocab_size
                ),
            ),
        ];
        match checks.into_iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err(message),
            None => Ok(()),
        }
    }
}

/// Decoding settings: `generation_config.json`, falling back to `config.json` (top level,
/// then the decoder section), then to transformers' `GenerationConfig` defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationConfig {
    pub decoder_start_token_id: u32,
    pub bos_token_id: u32,
    pub eos_token_id: u32,
    pub pad_token_id: u32,
    /// Maximum total length including the start token (transformers' `max_length`).
    pub max_length: usize,
    /// `max_new_tokens` when the file sets it; it overrides `max_length` as in transformers.
    pub max_new_tokens: Option<usize>,
    pub min_new_tokens: usize,
    pub num_beams: usize,
    pub length_penalty: f32,
    pub early_stopping: bool,
}

impl GenerationConfig {
    /// Tokens `generate` may add after the start token.
    pub fn new_token_budget(&self) -> usize {
        self.max_new_tokens
            .unwrap_or_else(|| self.max_length.saturating_sub(1))
    }

    /// The options `generate` takes, as transformers would decode with this configuration.
    pub fn generate_options(&self) -> super::generate::GenerateOptions {
        super::generate::GenerateOptions {
            num_beams: self.num_beams,
            max_new_tokens: self.new_token_budget(),
            min_new_tokens: self.min_new_tokens,
            length_penalty: self.length_penalty,
            early_stopping: self.early_stopping,
        }
    }

    pub fn special_tokens(&self) -> super::generate::SpecialTokens {
        super::generate::SpecialTokens {
            decoder_start: self.decoder_start_token_id,
            eos: self.eos_token_id,
            pad: self.pad_token_id,
        }
    }
}

/// Fields of `generation_config.json` or of a `config.json` level that may carry them.
#[derive(Debug, Default, Deserialize)]
struct GenerationFields {
    decoder_start_token_id: Option<u32>,
    bos_token_id: Option<u32>,
    eos_token_id: Option<EosIds>,
    pad_token_id: Option<u32>,
    max_length: Option<usize>,
    max_new_tokens: Option<usize>,
    min_new_tokens: Option<usize>,
    num_beams: Option<usize>,
    length_penalty: Option<f32>,
    early_stopping: Option<EarlyStopping>,
}

/// `eos_token_id` may be one id or a list; the first is used.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum EosIds {
    One(u32),
    Many(Vec<u32>),
}

impl EosIds {
    fn first(&self) -> Option<u32> {
        match self {
            EosIds::One(id) => Some(*id),
            EosIds::Many(ids) => ids.first().copied(),
        }
    }
}

/// `early_stopping` may be `true`, `false` or `"never"` (which acts like false here).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum EarlyStopping {
    Flag(bool),
    #[allow(dead_code)]
    Word(String),
}

impl EarlyStopping {
    fn as_bool(&self) -> bool {
        matches!(self, EarlyStopping::Flag(true))
    }
}

impl GenerationFields {
    /// Field by field, `self` wins over `other`.
    fn or(self, other: GenerationFields) -> GenerationFields {
        GenerationFields {
            decoder_start_token_id: self.decoder_start_token_id.or(other.decoder_start_token_id),
            bos_token_id: self.bos_token_id.or(other.bos_token_id),
            eos_token_id: self.eos_token_id.or(other.eos_token_id),
            pad_token_id: self.pad_token_id.or(other.pad_token_id),
            max_length: self.max_length.or(other.max_length),
            max_new_tokens: self.max_new_tokens.or(other.max_new_tokens),
            min_new_tokens: self.min_new_tokens.or(other.min_new_tokens),
            num_beams: self.num_beams.or(other.num_beams),
            length_penalty: self.length_penalty.or(other.length_penalty),
            early_stopping: self.early_stopping.or(other.early_stopping),
        }
    }

    fn from_decoder(d: &DecoderConfig) -> GenerationFields {
        GenerationFields {
            decoder_start_token_id: Some(d.decoder_start_token_id),
            bos_token_id: Some(d.bos_token_id),
            eos_token_id: Some(EosIds::One(d.eos_token_id)),
            pad_token_id: Some(d.pad_token_id),
            max_length: d.max_length,
            max_new_tokens: None,
            min_new_tokens: None,
            num_beams: d.num_beams,
            length_penalty: d.length_penalty,
            early_stopping: d.early_stopping.map(EarlyStopping::Flag),
        }
    }

    fn finish(self) -> GenerationConfig {
        GenerationConfig {
            decoder_start_token_id: self.decoder_start_token_id.unwrap_or(2),
            bos_token_id: self.bos_token_id.unwrap_or(0),
            eos_token_id: self.eos_token_id.and_then(|e| e.first()).unwrap_or(2),
            pad_token_id: self.pad_token_id.unwrap_or(1),
            max_length: self.max_length.unwrap_or(20),
            max_new_tokens: self.max_new_tokens,
            min_new_tokens: self.min_new_tokens.unwrap_or(0),
            num_beams: self.num_beams.unwrap_or(1).max(1),
            length_penalty: self.length_penalty.unwrap_or(1.0),
            early_stopping: self.early_stopping.is_some_and(|e| e.as_bool()),
        }
    }
}

/// `preprocessor_config.json` (`ViTImageProcessor` / `DeiTImageProcessor` fields).
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessorConfig {
    pub height: u32,
    pub width: u32,
    /// PIL resampling filter id (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming).
    pub resample: u8,
    pub do_resize: bool,
    pub do_rescale: bool,
    pub rescale_factor: f32,
    pub do_normalize: bool,
    pub image_mean: [f32; 3],
    pub image_std: [f32; 3],
}

impl Default for PreprocessorConfig {
    /// `ViTImageProcessor()` with no arguments.
    fn default() -> Self {
        PreprocessorConfig {
            height: 224,
            width: 224,
            resample: 2,
            do_resize: true,
            do_rescale: true,
            rescale_factor: 1.0 / 255.0,
            do_normalize: true,
            image_mean: [0.5; 3],
            image_std: [0.5; 3],
        }
    }
}

/// `size` as written: a number, `{height, width}`, or `{shortest_edge}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeField {
    Side(u32),
    HeightWidth { height: u32, width: u32 },
    ShortestEdge { shortest_edge: u32 },
}

/// Mean and std are either one number for all channels or three.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ChannelValues {
    One(f32),
    Three([f32; 3]),
}

impl ChannelValues {
    fn per_channel(self) -> [f32; 3] {
        match self {
            ChannelValues::One(v) => [v; 3],
            ChannelValues::Three(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
struct PreprocessorFields {
    size: Option<SizeField>,
    resample: Option<u8>,
    do_resize: Option<bool>,
    do_rescale: Option<bool>,
    rescale_factor: Option<f32>,
    do_normalize: Option<bool>,
    image_mean: Option<ChannelValues>,
    image_std: Option<ChannelValues>,
}

impl PreprocessorConfig {
    pub fn from_json_str(text: &str) -> Result<Self, serde_json::Error> {
        let fields: PreprocessorFields = serde_json::from_str(text)?;
        let default = PreprocessorConfig::default();
        let (height, width) = match fields.size {
            None => (default.height, default.width),
            Some(SizeField::Side(side)) => (side, side),
            Some(SizeField::HeightWidth { height, width }) => (height, width),
            Some(SizeField::ShortestEdge { shortest_edge }) => (shortest_edge, shortest_edge),
        };
        Ok(PreprocessorConfig {
            height,
            width,
            resample: fields.resample.unwrap_or(default.resample),
            do_resize: fields.do_resize.unwrap_or(default.do_resize),
            do_rescale: fields.do_rescale.unwrap_or(default.do_rescale),
            rescale_factor: fields.rescale_factor.unwrap_or(default.rescale_factor),
            do_normalize: fields.do_normalize.unwrap_or(default.do_normalize),
            image_mean: fields
                .image_mean
                .map_or(default.image_mean, ChannelValues::per_channel),
            image_std: fields
                .image_std
                .map_or(default.image_std, ChannelValues::per_channel),
        })
    }
}

/// A model directory in the Hugging Face layout, its configuration read.
#[derive(Debug, Clone)]
pub struct TrocrModelDir {
    pub dir: PathBuf,
    pub config: TrocrConfig,
    pub generation: GenerationConfig,
    pub preprocessor: PreprocessorConfig,
}

impl TrocrModelDir {
    /// Reads `config.json` (required), `generation_config.json` and
    /// `preprocessor_config.json` (optional: defaults as in transformers).
    pub fn open(dir: &Path) -> Result<Self, ConfigError> {
        let config_path = dir.join("config.json");
        let config_text = read_text(&config_path)?;
        let config =
            TrocrConfig::from_json_str(&config_text).map_err(|message| ConfigError::Invalid {
                path: config_path.clone(),
                message,
            })?;
        let generation = read_generation(dir, &config_path, &config_text, &config)?;
        let preprocessor_path = dir.join("preprocessor_config.json");
        let preprocessor = match read_optional(&preprocessor_path)? {
            Some(text) => {
                PreprocessorConfig::from_json_str(&text).map_err(|source| ConfigError::Json {
                    path: preprocessor_path.clone(),
                    source,
                })?
            }
            // Without a processor file, images go to the size the encoder was made for.
            None => PreprocessorConfig {
                height: config.encoder.image_size[0] as u32,
                width: config.encoder.image_size[1] as u32,
                ..PreprocessorConfig::default()
            },
        };
        check_image_size(&preprocessor, &config, &preprocessor_path)?;
        Ok(TrocrModelDir {
            dir: dir.to_path_buf(),
            config,
            generation,
            preprocessor,
        })
    }
}

/// The encoder's position table fits one image size only; a processor resizing to another
/// would make every image fail later, so the directory is rejected now.
fn check_image_size(
    preprocessor: &PreprocessorConfig,
    config: &TrocrConfig,
    path: &Path,
) -> Result<(), ConfigError> {
    let resized = [preprocessor.height as usize, preprocessor.width as usize];
    if preprocessor.do_resize && resized != config.encoder.image_size {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "images are resized to {resized:?} (height, width) but the encoder expects {:?}",
                config.encoder.image_size
            ),
        });
    }
    Ok(())
}

fn read_generation(
    dir: &Path,
    config_path: &Path,
    config_text: &str,
    config: &TrocrConfig,
) -> Result<GenerationConfig, ConfigError> {
    let top_level: GenerationFields = parse(config_path, config_text)?;
    let generation_path = dir.join("generation_config.json");
    let from_file = match read_optional(&generation_path)? {
        Some(text) => parse::<GenerationFields>(&generation_path, &text)?,
        None => GenerationFields::default(),
    };
    Ok(from_file
        .or(top_level)
        .or(GenerationFields::from_decoder(&config.decoder))
        .finish())
}

fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    serde_json::from_str(text).map_err(|source| ConfigError::Json {
        path: path.to_path_buf(),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Serde defaults, named after the transformers values they copy.
mod defaults {
    use super::Activation;

    pub fn yes() -> bool {
        true
    }
    pub fn twelve() -> usize {
        12
    }
    pub fn sixteen() -> usize {
        16
    }
    pub fn vit_hidden() -> usize {
        768
    }
    pub fn vit_intermediate() -> usize {
        3072
    }
    pub fn vit_eps() -> f64 {
        1e-12
    }
    pub fn image_size() -> [usize; 2] {
        [224, 224]
    }
    pub fn patch() -> usize {
        16
    }
    pub fn channels() -> usize {
        3
    }
    pub fn gelu() -> Activation {
        Activation::Gelu
    }
    pub fn tanh() -> Activation {
        Activation::Tanh
    }
    pub fn vocab() -> usize {
        50265
    }
    pub fn d_model() -> usize {
        1024
    }
    pub fn ffn() -> usize {
        4096
    }
    pub fn positions() -> usize {
        512
    }
    pub fn pad() -> u32 {
        1
    }
    pub fn eos() -> u32 {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_as_number_or_pair() {
        let square = PreprocessorConfig::from_json_str(r#"{"size": 384, "resample": 3}"#).unwrap();
        assert_eq!(
            (square.height, square.width, square.resample),
            (384, 384, 3)
        );
        let pair =
            PreprocessorConfig::from_json_str(r#"{"size": {"height": 64, "width": 96}}"#).unwrap();
        assert_eq!((pair.height, pair.width), (64, 96));
        assert!(pair.do_rescale);
    }

    #[test]
    fn generation_falls_back_to_the_decoder_section() {
        let dir = tempfile::tempdir().unwrap();
        let config = r#"{"encoder": {"model_type": "deit", "hidden_size": 384, "image_size": 224},
            "decoder": {"d_model": 256, "decoder_attention_heads": 8, "cross_attention_hidden_size": 384,
                        "max_length": 40, "num_beams": 4, "eos_token_id": 2, "vocab_size": 100}}"#;
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        std::fs::write(
            dir.path().join("generation_config.json"),
            r#"{"pad_token_id": 1, "length_penalty": 2.0}"#,
        )
        .unwrap();
        let opened = TrocrModelDir::open(dir.path()).unwrap();
        let g = &opened.generation;
        assert_eq!((g.max_length, g.num_beams, g.length_penalty), (40, 4, 2.0));
        assert_eq!(g.generate_options().max_new_tokens, 39);
        assert_eq!(opened.preprocessor, PreprocessorConfig::default()); // 224 = image_size
        assert!(!opened.config.projects_encoder_states());
    }

    #[test]
    fn processor_size_must_match_the_encoder() {
        let dir = tempfile::tempdir().unwrap();
        let config = r#"{"encoder": {"model_type": "vit", "image_size": 384}, "decoder": {}}"#;
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        std::fs::write(
            dir.path().join("preprocessor_config.json"),
            r#"{"size": 224}"#,
        )
        .unwrap();
        let err = TrocrModelDir::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("encoder expects"), "{err}");
    }

    #[test]
    fn missing_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = TrocrModelDir::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn unknown_activation_is_an_error() {
        let text =
            r#"{"encoder": {"model_type": "vit"}, "decoder": {"activation_function": "mish"}}"#;
        assert!(TrocrConfig::from_json_str(text).is_err());
    }

    #[test]
    fn mismatched_cross_attention_width_is_an_error() {
        let text = r#"{"encoder": {"model_type": "vit", "hidden_size": 768},
                       "decoder": {"cross_attention_hidden_size": 384}}"#;
        let err = TrocrConfig::from_json_str(text).unwrap_err();
        assert!(err.contains("cross_attention_hidden_size"), "{err}");
    }
}
