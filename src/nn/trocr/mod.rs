//! TrOCR as Burn modules: a ViT/DeiT image encoder and the TrOCR text decoder, exactly as
//! `transformers`' `VisionEncoderDecoderModel` computes them. Tensors in, tensors out;
//! weights arrive through a [`params::ParamSource`] and decoding lives in [`generate`].

pub mod activation;
pub mod attention;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod generate;
pub mod kv_cache;
pub mod params;
pub mod per_image;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor};

use config::TrocrConfig;
use decoder::TrocrDecoder;
use encoder::VisionEncoder;
use kv_cache::{CrossKeysValues, SelfAttentionCache};
use params::{ParamSource, RandomSource, linear};

#[derive(Module, Debug)]
pub struct TrocrModel {
    pub encoder: VisionEncoder,
    /// `enc_to_dec_proj`: present when the encoder is wider or narrower than the decoder and
    /// no `cross_attention_hidden_size` lets the decoder read encoder states directly.
    pub enc_to_dec_proj: Option<Linear>,
    pub decoder: TrocrDecoder,
}

impl TrocrModel {
    /// A model with random weights (benchmarks, tests).
    pub fn init(config: &TrocrConfig, device: &Device) -> Self {
        match Self::build(&mut RandomSource::new(device), config) {
            Ok(model) => model,
            Err(never) => match never {},
        }
    }

    /// Builds every parameter from `source`, by its Hugging Face name.
    pub fn build<S: ParamSource>(source: &mut S, config: &TrocrConfig) -> Result<Self, S::Error> {
        let enc_to_dec_proj = if config.projects_encoder_states() {
            Some(linear(
                source,
                "enc_to_dec_proj",
                config.encoder.hidden_size,
                config.decoder.d_model,
                true,
            )?)
        } else {
            None
        };
        Ok(TrocrModel {
            encoder: VisionEncoder::build(source, &config.encoder)?,
            enc_to_dec_proj,
            decoder: TrocrDecoder::build(source, config)?,
        })
    }

    pub fn num_params(&self) -> usize {
        Module::num_params(self)
    }

    /// `[B, 3, H, W]` normalised pixels to the encoder's `last_hidden_state` `[B, S, C]`;
    /// [`crate::Error::Cancelled`] once `cancel` is (checked between encoder layers).
    pub fn encode(
        &self,
        pixel_values: Tensor<4>,
        cancel: &crate::cancel::CancelToken,
    ) -> crate::Result<Tensor<3>> {
        self.encoder.forward(pixel_values, cancel)
    }

    /// Cross-attention keys and values for every decoder layer, computed once per image;
    /// `cancel` is checked between layers and images.
    pub fn cross_keys_values(
        &self,
        encoder_states: Tensor<3>,
        cancel: &crate::cancel::CancelToken,
    ) -> crate::Result<CrossKeysValues> {
        let states = match &self.enc_to_dec_proj {
            Some(projection) => projection.forward(encoder_states),
            None => encoder_states,
        };
        self.decoder.cross_keys_values(states, cancel)
    }

    /// An empty self-attention cache sized for this decoder.
    pub fn new_cache(&self) -> SelfAttentionCache {
        SelfAttentionCache::new(self.decoder.layers.len())
    }

    /// Logits `[B, T, vocab]` of `input_ids` `[B, T]` in one pass, without a cache (what
    /// transformers returns for `model(pixel_values, decoder_input_ids=...)`).
    pub fn decoder_logits(
        &self,
        encoder_states: Tensor<3>,
        input_ids: Tensor<2, Int>,
    ) -> crate::Result<Tensor<3>> {
        let never = crate::cancel::CancelToken::new();
        let cross = self.cross_keys_values(encoder_states, &never)?;
        self.decoder
            .forward(input_ids, &cross, &mut self.new_cache(), &never)
    }

    /// `[height, width]` of the images `encode` accepts (its position table fits no other).
    pub fn image_size(&self) -> [usize; 2] {
        self.encoder.image_size
    }

    /// Largest number of positions the learned position table covers.
    pub fn max_positions(&self) -> usize {
        self.decoder.embed_positions.weight.dims()[0] - decoder::POSITION_OFFSET
    }
}

/// Names and shapes (PyTorch layout) of every tensor a checkpoint of `config` holds, in the
/// order the model reads them. Builds a zero-filled model on `device` to find out.
pub fn expected_tensors(config: &TrocrConfig, device: &Device) -> Vec<(String, Vec<usize>)> {
    let mut recorder = params::ShapeRecorder::new(device);
    match TrocrModel::build(&mut recorder, config) {
        Ok(_) => recorder.entries,
        Err(never) => match never {},
    }
}
