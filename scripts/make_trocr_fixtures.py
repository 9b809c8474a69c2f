#!/usr/bin/env python3
"""Generate tiny random-weight TrOCR checkpoints and their reference outputs.

Every variant is written to tests/fixtures/trocr/<name>/ in the Hugging Face
layout (config.json, generation_config.json, preprocessor_config.json,
weights, tokenizer files) together with:

  image_0.png, image_1.png   two text lines rendered here with PIL
  reference.safetensors      float32 tensors computed by `transformers`
  reference.json             token ids, decoded texts, options, versions

The Rust parity tests compare the Burn implementation against these files, so
the outputs must be robust to tiny float differences: weights are drawn with
a large scale (peaky logits) and the script replays greedy and beam search
step by step, checking that every decision the search takes (argmax, top-k
boundaries, finished-beam ranking, early-stop test) is won by at least
MARGIN in log-probability. A seed whose outputs are too close is skipped.

Run from the repository root with the pinned packages of
scripts/requirements-fixtures.txt:

    python scripts/make_trocr_fixtures.py [--out tests/fixtures/trocr]

The output is bit-for-bit reproducible for the pinned versions (CPU torch).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL
import safetensors
import sentencepiece as spm
import tokenizers
import torch
import transformers
from PIL import Image, ImageDraw, ImageFont
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from tokenizers.processors import RobertaProcessing
from transformers import (
    AutoImageProcessor,
    AutoTokenizer,
    DeiTConfig,
    DeiTModel,
    RobertaTokenizer,
    RobertaTokenizerFast,
    TrOCRConfig,
    TrOCRForCausalLM,
    VisionEncoderDecoderConfig,
    VisionEncoderDecoderModel,
    ViTConfig,
    ViTModel,
    XLMRobertaTokenizer,
)

# Smallest log-probability gap accepted for any decision of greedy or beam search.
MARGIN = 1e-2
# Roberta-style special tokens, in id order 0..3 (fairseq dictionary order).
BOS, PAD, EOS, UNK = 0, 1, 2, 3
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
MAX_NEW_TOKENS = 12
NUM_BEAMS = 3

# Training text for the tokenizers (written for this project).
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a small notebook holds every thought of the morning",
    "handwriting is read one line at a time",
    "please return the library book before friday",
    "the garden needs water after a dry week",
    "seven bright lamps light the old harbour road",
    "we wrote the shopping list on the back of a letter",
    "reading notes by hand keeps the mind awake",
    "the river bends twice before it reaches the town",
    "tea with milk and two spoons of honey",
    "meeting moved to thursday at ten in room four",
    "remember to call the plumber about the kitchen sink",
    "her letters were short but always kind",
    "the train to the coast leaves at half past nine",
    "numbers like 42 and 1987 appear in old ledgers",
    "ink dries slowly on thick cream paper",
    "a recipe for bread: flour, water, salt and time",
    "the map shows three paths through the forest",
    "every page of the diary begins with the weather",
    "buy apples, onions, rice and a loaf of bread",
    "the choir sings on sunday evening in the hall",
    "a quiet room, a warm lamp and a good pen",
    "write the address clearly on the envelope",
    "the cat sleeps on the windowsill in the sun",
    "Inkread turns pages of notes into plain text",
    "Dear Anna, thank you for the lovely postcard!",
    "Monday: dentist at 3pm, then pick up the parcel.",
    "The lecture covered rivers, valleys and glaciers.",
]

# Lines rendered into the fixture images (two per variant, different sizes).
IMAGE_LINES = [
    ("the quick fox", (176, 40), 22),
    ("Inkread reads notes 42", (260, 56), 26),
]


@dataclass
class Variant:
    """Everything that distinguishes one fixture checkpoint."""

    name: str
    description: str
    encoder_type: str  # "vit" or "deit"
    encoder_hidden: int
    decoder_hidden: int
    cross_attention_hidden_size: int | None
    image_size: object  # int or [height, width], as written to the encoder config
    patch_size: int
    tied: bool
    scale_embedding: bool
    layernorm_embedding: bool
    activation: str
    weights: str  # "safetensors" or "bin"
    tokenizer: str  # "bpe_files", "tokenizer_json" or "sentencepiece"
    tokenizer_vocab: int
    resample: int  # PIL: 2 bilinear, 3 bicubic
    processor_size: dict
    with_pooler: bool  # VisionEncoderDecoderModel(config) adds an unused pooler
    greedy_min_new_tokens: int | None
    beam_length_penalty: float
    beam_early_stopping: bool
    beam_min_new_tokens: int | None
    eos_bias: bool  # push the EOS logit up so sequences end before the limit
    seed: int
    extra: dict = field(default_factory=dict)


VARIANTS = [
    Variant(
        name="vit_bpe_tied",
        description=(
            "trocr-base-like: ViT encoder (no qkv bias, CLS only, no pooler), "
            "cross_attention_hidden_size 48 != d_model 32, tied output projection, "
            "no embedding scale, layernorm_embedding, gelu, model.safetensors, "
            "RoBERTa byte-level BPE from vocab.json + merges.txt, bilinear resize "
            "to a non-square 32x64 (height x width)."
        ),
        encoder_type="vit",
        encoder_hidden=48,
        decoder_hidden=32,
        cross_attention_hidden_size=48,
        image_size=[32, 64],
        patch_size=8,
        tied=True,
        scale_embedding=False,
        layernorm_embedding=True,
        activation="gelu",
        weights="safetensors",
        tokenizer="bpe_files",
        tokenizer_vocab=400,
        resample=2,
        processor_size={"height": 32, "width": 64},
        with_pooler=False,
        greedy_min_new_tokens=None,
        beam_length_penalty=0.6,
        beam_early_stopping=False,
        beam_min_new_tokens=None,
        eos_bias=False,
        seed=1001,
    ),
    Variant(
        name="deit_spm_untied",
        description=(
            "trocr-small-like: DeiT encoder (qkv bias, CLS + distillation tokens, no "
            "pooler), cross_attention_hidden_size 48 != d_model 32, separate output "
            "projection, scaled embeddings, layernorm_embedding, relu, "
            "pytorch_model.bin, SentencePiece BPE with XLMRobertaTokenizer (fairseq "
            "offset), bicubic resize to 48x48, EOS made likely so lines end early, "
            "min_new_tokens in greedy and beam."
        ),
        encoder_type="deit",
        encoder_hidden=48,
        decoder_hidden=32,
        cross_attention_hidden_size=48,
        image_size=48,
        patch_size=8,
        tied=False,
        scale_embedding=True,
        layernorm_embedding=True,
        activation="relu",
        weights="bin",
        tokenizer="sentencepiece",
        tokenizer_vocab=200,
        resample=3,
        processor_size={"height": 48, "width": 48},
        with_pooler=False,
        greedy_min_new_tokens=3,
        beam_length_penalty=1.5,
        beam_early_stopping=True,
        beam_min_new_tokens=2,
        eos_bias=True,
        seed=2002,
    ),
    Variant(
        name="vit_fast_equal",
        description=(
            "ViT encoder (no qkv bias) saved with its unused pooler, encoder hidden "
            "== d_model == 32 and no cross_attention_hidden_size (no projection), "
            "tied output projection, scaled embeddings, no layernorm_embedding, "
            "gelu, model.safetensors, fast tokenizer.json only, bicubic 32x32."
        ),
        encoder_type="vit",
        encoder_hidden=32,
        decoder_hidden=32,
        cross_attention_hidden_size=None,
        image_size=32,
        patch_size=8,
        tied=True,
        scale_embedding=True,
        layernorm_embedding=False,
        activation="gelu",
        weights="safetensors",
        tokenizer="tokenizer_json",
        tokenizer_vocab=350,
        resample=3,
        processor_size={"height": 32, "width": 32},
        with_pooler=True,
        greedy_min_new_tokens=None,
        beam_length_penalty=1.0,
        beam_early_stopping=False,
        beam_min_new_tokens=None,
        eos_bias=False,
        seed=3003,
    ),
    Variant(
        name="deit_proj_relu",
        description=(
            "DeiT encoder (qkv bias, with pooler), encoder hidden 48 != d_model 32 "
            "and no cross_attention_hidden_size, so VisionEncoderDecoderModel adds "
            "enc_to_dec_proj; separate output projection, no embedding scale, no "
            "layernorm_embedding, relu, model.safetensors, RoBERTa BPE files, "
            "bilinear 32x32, EOS made likely."
        ),
        encoder_type="deit",
        encoder_hidden=48,
        decoder_hidden=32,
        cross_attention_hidden_size=None,
        image_size=32,
        patch_size=8,
        tied=False,
        scale_embedding=False,
        layernorm_embedding=False,
        activation="relu",
        weights="safetensors",
        tokenizer="bpe_files",
        tokenizer_vocab=400,
        resample=2,
        processor_size={"height": 32, "width": 32},
        with_pooler=True,
        greedy_min_new_tokens=None,
        beam_length_penalty=0.8,
        beam_early_stopping=True,
        beam_min_new_tokens=None,
        eos_bias=True,
        seed=4004,
    ),
]


# ----------------------------------------------------------------------------
# Tokenizers
# ----------------------------------------------------------------------------


def train_byte_level_bpe(vocab_size: int) -> Tokenizer:
    """A RoBERTa-style byte-level BPE trained on CORPUS; specials get ids 0..4.

    Unlike RoBERTa the base alphabet is only the byte symbols seen in CORPUS
    (not all 256), so nearly every id decodes to a readable word piece.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok


def write_bpe_files(out: Path, vocab_size: int):
    """vocab.json + merges.txt + RobertaTokenizer (slow) config files."""
    tok = train_byte_level_bpe(vocab_size)
    tmp = out / "_bpe"
    tmp.mkdir()
    tok.model.save(str(tmp))
    slow = RobertaTokenizer(
        vocab_file=str(tmp / "vocab.json"),
        merges_file=str(tmp / "merges.txt"),
        clean_up_tokenization_spaces=False,
    )
    slow.save_pretrained(str(out))
    shutil.rmtree(tmp)
    return AutoTokenizer.from_pretrained(str(out), use_fast=False)


def write_tokenizer_json(out: Path, vocab_size: int):
    """A fast tokenizer saved as tokenizer.json only (no vocab.json/merges.txt)."""
    tok = train_byte_level_bpe(vocab_size)
    tok.post_processor = RobertaProcessing(("</s>", EOS), ("<s>", BOS))
    fast = RobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        clean_up_tokenization_spaces=False,
    )
    fast.save_pretrained(str(out), legacy_format=False)
    return AutoTokenizer.from_pretrained(str(out))


def write_sentencepiece(out: Path, vocab_size: int):
    """sentencepiece.bpe.model + XLMRobertaTokenizer, as trocr-small ships."""
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS),
        model_writer=buf,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        num_threads=1,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    model_path = out / "sentencepiece.bpe.model"
    model_path.write_bytes(buf.getvalue())
    slow = XLMRobertaTokenizer(vocab_file=str(model_path), clean_up_tokenization_spaces=True)
    slow.save_pretrained(str(out))
    return AutoTokenizer.from_pretrained(str(out), use_fast=False)


def write_tokenizer(variant: Variant, out: Path):
    writers = {
        "bpe_files": write_bpe_files,
        "tokenizer_json": write_tokenizer_json,
        "sentencepiece": write_sentencepiece,
    }
    tok = writers[variant.tokenizer](out, variant.tokenizer_vocab)
    expected = {"<s>": BOS, "<pad>": PAD, "</s>": EOS, "<unk>": UNK}
    for piece, idx in expected.items():
        if tok.convert_tokens_to_ids(piece) != idx:
            raise SystemExit(f"{variant.name}: tokenizer puts {piece} at {tok.convert_tokens_to_ids(piece)}")
    return tok


# ----------------------------------------------------------------------------
# Images and preprocessing
# ----------------------------------------------------------------------------


def render_line(text: str, size: tuple[int, int], font_size: int) -> Image.Image:
    """Dark blue ink on cream paper so the three channels differ."""
    img = Image.new("RGB", size, (250, 244, 228))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=font_size)
    draw.text((6, (size[1] - font_size) // 2 - 2), text, fill=(20, 30, 110), font=font)
    return img


def write_images(out: Path) -> list[Image.Image]:
    images = []
    for i, (text, size, font_size) in enumerate(IMAGE_LINES):
        path = out / f"image_{i}.png"
        render_line(text, size, font_size).save(path, format="PNG")
        # Read back, exactly as a user of the model directory would.
        images.append(Image.open(path).convert("RGB"))
    return images


def write_preprocessor(variant: Variant, out: Path):
    processor_type = "ViTImageProcessor" if variant.encoder_type == "vit" else "DeiTImageProcessor"
    cfg = {
        "image_processor_type": processor_type,
        "do_resize": True,
        "size": variant.processor_size,
        "resample": variant.resample,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    }
    if variant.encoder_type == "deit":
        # DeiTImageProcessor crops by default; TrOCR checkpoints switch it off.
        cfg["do_center_crop"] = False
        cfg["crop_size"] = {"height": 224, "width": 224}
    (out / "preprocessor_config.json").write_text(json.dumps(cfg, indent=2) + "\n")


# ----------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------


def build_config(variant: Variant, vocab_size: int) -> VisionEncoderDecoderConfig:
    enc_cls = ViTConfig if variant.encoder_type == "vit" else DeiTConfig
    encoder = enc_cls(
        hidden_size=variant.encoder_hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=2 * variant.encoder_hidden,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-12,
        image_size=variant.image_size,
        patch_size=variant.patch_size,
        num_channels=3,
        qkv_bias=variant.encoder_type == "deit",
    )
    decoder = TrOCRConfig(
        vocab_size=vocab_size,
        d_model=variant.decoder_hidden,
        decoder_layers=2,
        decoder_attention_heads=4,
        decoder_ffn_dim=2 * variant.decoder_hidden,
        activation_function=variant.activation,
        max_position_embeddings=64,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        init_std=0.02,
        decoder_layerdrop=0.0,
        use_cache=True,
        scale_embedding=variant.scale_embedding,
        use_learned_position_embeddings=True,
        layernorm_embedding=variant.layernorm_embedding,
        cross_attention_hidden_size=variant.cross_attention_hidden_size,
        tie_word_embeddings=variant.tied,
        pad_token_id=PAD,
        bos_token_id=BOS,
        eos_token_id=EOS,
        decoder_start_token_id=EOS,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = EOS
    config.pad_token_id = PAD
    config.eos_token_id = EOS
    config.bos_token_id = BOS
    config.vocab_size = vocab_size
    return config


def build_model(variant: Variant, config: VisionEncoderDecoderConfig) -> VisionEncoderDecoderModel:
    if variant.with_pooler:
        # What `VisionEncoderDecoderModel(config)` and `from_pretrained` build.
        return VisionEncoderDecoderModel(config)
    # What the original TrOCR conversion built: encoder without pooling layer.
    enc_cls = ViTModel if variant.encoder_type == "vit" else DeiTModel
    encoder = enc_cls(config.encoder, add_pooling_layer=False)
    decoder = TrOCRForCausalLM(config.decoder)
    return VisionEncoderDecoderModel(config=config, encoder=encoder, decoder=decoder)


def randomize(model: VisionEncoderDecoderModel, seed: int):
    """Large-scale random weights: peaky logits keep argmax decisions robust.

    Every tensor gets non-trivial values (biases and LayerNorm affine too) so a
    parameter that is loaded into the wrong place changes the outputs.
    """
    gen = torch.Generator().manual_seed(seed)

    def normal(shape, std):
        return torch.randn(shape, generator=gen, dtype=torch.float32) * std

    with torch.no_grad():
        for name, p in model.named_parameters():  # tied tensors appear once
            if "layernorm" in name.lower() or "layer_norm" in name:
                value = 1.0 + normal(p.shape, 0.1) if name.endswith("weight") else normal(p.shape, 0.1)
            elif name.endswith("bias"):
                value = normal(p.shape, 0.1)
            elif "embed_tokens" in name:
                value = normal(p.shape, 1.0)
            elif "embed_positions" in name:
                value = normal(p.shape, 1.0)
            elif "position_embeddings" in name:
                # Small, so the image content rather than the position dominates.
                value = normal(p.shape, 0.1)
            elif name.endswith("cls_token") or name.endswith("distillation_token"):
                value = normal(p.shape, 0.5)
            elif "patch_embeddings" in name:
                fan_in = int(np.prod(p.shape[1:]))
                value = normal(p.shape, 3.0 / math.sqrt(fan_in))
            elif "output_projection" in name:
                value = normal(p.shape, 3.0 / math.sqrt(p.shape[1]))
            elif any(k in name for k in ("q_proj", "k_proj", "query", "key")) and p.dim() == 2:
                # Sharp attention: near-uniform weights would average the image away.
                value = normal(p.shape, 3.0 / math.sqrt(p.shape[1]))
            elif p.dim() >= 2:
                fan_in = int(np.prod(p.shape[1:]))
                value = normal(p.shape, 1.0 / math.sqrt(fan_in))
            else:
                raise SystemExit(f"no init rule for {name} {tuple(p.shape)}")
            p.copy_(value)


def bias_eos(model: VisionEncoderDecoderModel, pixel_values: torch.Tensor, strength: float):
    """Move the EOS output row towards the decoder's typical final state.

    Only used on untied variants, so the start token (also id 2) keeps its
    input embedding.
    """
    with torch.no_grad():
        ids = torch.tensor([[EOS, 10, 11, 12, 13, 14, 15, 16]] * pixel_values.shape[0])
        out = model(pixel_values=pixel_values, decoder_input_ids=ids, output_hidden_states=True)
        mean_state = out.decoder_hidden_states[-1].mean(dim=(0, 1))
        row = model.decoder.output_projection.weight[EOS]
        row.add_(strength * mean_state / mean_state.norm())


# ----------------------------------------------------------------------------
# Step-by-step replay of greedy and beam search with margin checks
# ----------------------------------------------------------------------------


class TooClose(Exception):
    """A search decision was won by less than MARGIN."""


def check_gap(a: float, b: float, what: str, margins: list):
    gap = abs(a - b)
    margins.append(gap)
    if gap < MARGIN:
        raise TooClose(f"{what}: {a:.6f} vs {b:.6f}")


def next_logits(model, pixel_values, ids):
    with torch.no_grad():
        return model(pixel_values=pixel_values, decoder_input_ids=ids).logits[:, -1, :].float()


def replay_greedy(model, pixel_values, max_new, min_new):
    """Greedy decoding as `generate` does it; returns ids and the smallest gap."""
    batch = pixel_values.shape[0]
    ids = torch.full((batch, 1), EOS, dtype=torch.long)
    finished = torch.zeros(batch, dtype=torch.bool)
    margins = []
    for step in range(max_new):
        logits = next_logits(model, pixel_values, ids)
        if min_new is not None and step < min_new:
            logits[:, EOS] = -math.inf
        logp = torch.log_softmax(logits, dim=-1)
        for b in range(batch):
            if not finished[b]:
                top = torch.topk(logp[b], 2).values
                check_gap(top[0].item(), top[1].item(), f"greedy step {step} row {b}", margins)
        nxt = torch.argmax(logits, dim=-1)
        nxt = torch.where(finished, torch.full_like(nxt, PAD), nxt)
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        finished |= nxt == EOS
        if finished.all():
            break
    return ids, min(margins)


def replay_beam(model, pixel_values, max_new, min_new, num_beams, length_penalty, early_stopping):
    """Beam search mirroring transformers 4.57 `_beam_search` (vectorised form).

    Returns (sequences, sequence scores, smallest gap of any decision).
    """
    batch = pixel_values.shape[0]
    prompt_len = 1
    max_length = prompt_len + max_new
    keep = 2 * num_beams  # max(2, 1 + number of EOS ids) * num_beams
    pv = pixel_values.repeat_interleave(num_beams, dim=0)
    running = torch.full((batch, num_beams, max_length), PAD, dtype=torch.long)
    running[:, :, 0] = EOS
    run_scores = torch.zeros(batch, num_beams)
    run_scores[:, 1:] = -1e9
    fin_seqs = running.clone()
    fin_scores = torch.full((batch, num_beams), -1e9)
    fin_done = torch.zeros(batch, num_beams, dtype=torch.bool)
    fin_len = torch.zeros(batch, num_beams, dtype=torch.long)
    unsatisfied = torch.ones(batch, dtype=torch.bool)
    margins = []
    cur_len = prompt_len
    while True:
        logits = next_logits(model, pv, running[:, :, :cur_len].reshape(batch * num_beams, cur_len))
        logp = torch.log_softmax(logits, dim=-1)
        if min_new is not None and cur_len - prompt_len < min_new:
            logp[:, EOS] = -math.inf  # applied after log_softmax: no renormalisation
        vocab = logp.shape[-1]
        acc = (logp.view(batch, num_beams, vocab) + run_scores[:, :, None]).view(batch, -1)
        top_scores, top_idx = torch.topk(acc, keep + 1)
        beam_of, token_of = top_idx // vocab, top_idx % vocab
        hits = (token_of == EOS) | (cur_len + 1 >= max_length)
        new_running = running.clone()
        new_scores = torch.full((batch, num_beams), -1e9)
        for b in range(batch):
            check_gap(top_scores[b, keep - 1].item(), top_scores[b, keep].item(), f"beam top-k {cur_len} row {b}", margins)
            live = [k for k in range(keep) if not hits[b, k]]
            if len(live) > num_beams:
                check_gap(
                    top_scores[b, live[num_beams - 1]].item(),
                    top_scores[b, live[num_beams]].item(),
                    f"beam running cut {cur_len} row {b}",
                    margins,
                )
            # Finished candidates: only among the first num_beams of the top-k.
            cands = []
            if unsatisfied[b] and not (fin_done[b].all() and early_stopping):
                for k in range(num_beams):
                    if hits[b, k]:
                        score = top_scores[b, k].item() / ((cur_len + 1 - prompt_len) ** length_penalty)
                        seq = running[b, beam_of[b, k]].clone()
                        seq[cur_len] = token_of[b, k]
                        cands.append((score, seq, cur_len + 1))
            pool = [(fin_scores[b, j].item(), fin_seqs[b, j], fin_len[b, j].item(), fin_done[b, j].item()) for j in range(num_beams)]
            pool += [(s, q, n, True) for s, q, n in cands]
            real = sorted([p[0] for p in pool if p[3]], reverse=True)
            if cands and len(real) > num_beams:
                check_gap(real[num_beams - 1], real[num_beams], f"finished cut {cur_len} row {b}", margins)
            if len(real) > 1 and cands:
                check_gap(real[0], real[1], f"finished best {cur_len} row {b}", margins)
            pool.sort(key=lambda p: (not p[3], -p[0]))
            for j in range(num_beams):
                fin_scores[b, j], fin_seqs[b, j], fin_len[b, j], fin_done[b, j] = (
                    pool[j][0],
                    pool[j][1],
                    pool[j][2],
                    pool[j][3],
                )
            fin_scores[b][~fin_done[b]] = -1e9
            for j, k in enumerate(live[:num_beams]):
                new_running[b, j] = running[b, beam_of[b, k]]
                new_running[b, j, cur_len] = token_of[b, k]
                new_scores[b, j] = top_scores[b, k]
        running, run_scores = new_running, new_scores
        cur_len += 1
        if cur_len >= max_length:
            break
        for b in range(batch):
            if not unsatisfied[b]:
                continue
            best_possible = run_scores[b, 0].item() / ((cur_len - prompt_len) ** length_penalty)
            if fin_done[b].all():
                worst = fin_scores[b].min().item()
                check_gap(best_possible, worst, f"early-stop test {cur_len} row {b}", margins)
                unsatisfied[b] = best_possible > worst
        all_done = fin_done.all() and early_stopping
        if not unsatisfied.any() or all_done:
            break
    best = torch.argmax(torch.where(fin_done, fin_scores, torch.full_like(fin_scores, -2e9)), dim=1)
    out_len = int(max(fin_len[b, best[b]].item() for b in range(batch)))
    seqs = torch.stack([fin_seqs[b, best[b], :out_len] for b in range(batch)])
    scores = [fin_scores[b, best[b]].item() for b in range(batch)]
    return seqs, scores, min(margins) if margins else math.inf


# ----------------------------------------------------------------------------
# Reference outputs
# ----------------------------------------------------------------------------


def hf_greedy(model, pixel_values, max_new, min_new):
    kwargs = dict(max_new_tokens=max_new, num_beams=1, do_sample=False, use_cache=True)
    if min_new is not None:
        kwargs["min_new_tokens"] = min_new
    with torch.no_grad():
        out = model.generate(pixel_values, output_scores=True, return_dict_in_generate=True, **kwargs)
    seqs = out.sequences
    probs = torch.zeros(seqs.shape[0], seqs.shape[1] - 1)
    for t, step_scores in enumerate(out.scores):
        p = torch.softmax(step_scores.float(), dim=-1)
        chosen = seqs[:, t + 1]
        probs[:, t] = p.gather(1, chosen[:, None])[:, 0]
    # After EOS the row only receives padding: those probabilities mean nothing.
    for b in range(seqs.shape[0]):
        eos_at = (seqs[b, 1:] == EOS).nonzero()
        if len(eos_at):
            probs[b, int(eos_at[0]) + 1 :] = 0.0
    return seqs, probs, kwargs


def hf_beam(model, pixel_values, max_new, min_new, length_penalty, early_stopping):
    kwargs = dict(
        max_new_tokens=max_new,
        num_beams=NUM_BEAMS,
        do_sample=False,
        length_penalty=length_penalty,
        early_stopping=early_stopping,
        num_return_sequences=1,
        use_cache=True,
    )
    if min_new is not None:
        kwargs["min_new_tokens"] = min_new
    with torch.no_grad():
        out = model.generate(pixel_values, output_scores=True, return_dict_in_generate=True, **kwargs)
    return out.sequences, out.sequences_scores, kwargs


def ended_with_eos(seqs: torch.Tensor) -> list[bool]:
    return [bool((row[1:] == EOS).any()) for row in seqs]


def evaluate(variant, model, pixel_values):
    """Run every check; raise TooClose when a decision is too close to call."""
    g_ids, g_probs, g_opts = hf_greedy(model, pixel_values, MAX_NEW_TOKENS, variant.greedy_min_new_tokens)
    r_ids, g_margin = replay_greedy(model, pixel_values, MAX_NEW_TOKENS, variant.greedy_min_new_tokens)
    if not torch.equal(g_ids, r_ids):
        raise SystemExit(f"{variant.name}: greedy replay differs\n{g_ids}\n{r_ids}")
    b_ids, b_scores, b_opts = hf_beam(
        model,
        pixel_values,
        MAX_NEW_TOKENS,
        variant.beam_min_new_tokens,
        variant.beam_length_penalty,
        variant.beam_early_stopping,
    )
    rb_ids, rb_scores, b_margin = replay_beam(
        model,
        pixel_values,
        MAX_NEW_TOKENS,
        variant.beam_min_new_tokens,
        NUM_BEAMS,
        variant.beam_length_penalty,
        variant.beam_early_stopping,
    )
    if not torch.equal(b_ids, rb_ids):
        raise SystemExit(f"{variant.name}: beam replay differs\n{b_ids}\n{rb_ids}")
    if not np.allclose(b_scores.numpy(), rb_scores, atol=1e-4):
        raise SystemExit(f"{variant.name}: beam scores differ {b_scores} {rb_scores}")
    return dict(
        greedy=(g_ids, g_probs, g_opts, g_margin),
        beam=(b_ids, b_scores, b_opts, b_margin),
    )


def outputs_wanted(variant, results) -> bool:
    """Outputs that test something: rows differ, vary, and end as planned."""
    g_ids = results["greedy"][0]
    rows = [[t for t in row[1:].tolist() if t not in (PAD, EOS)] for row in g_ids]
    if rows[0] == rows[1] or min(len(set(r)) for r in rows) < 2:
        return False
    eos = ended_with_eos(g_ids)
    if variant.eos_bias:
        # Rows end at different steps (or one runs to the limit), so padding
        # after EOS is exercised; beam search must finish a row on EOS too.
        ends = [int((row[1:] == EOS).nonzero()[0]) if e else None for row, e in zip(g_ids, eos)]
        return any(eos) and ends[0] != ends[1] and any(ended_with_eos(results["beam"][0]))
    return not any(eos)


def save_checkpoint(variant, model, out: Path):
    model.save_pretrained(str(out), safe_serialization=variant.weights == "safetensors")
    gen_cfg = {
        "bos_token_id": BOS,
        "decoder_start_token_id": EOS,
        "eos_token_id": EOS,
        "pad_token_id": PAD,
        "use_cache": True,
    }
    (out / "generation_config.json").write_text(json.dumps(gen_cfg, indent=2) + "\n")


def load_checkpoint(out: Path) -> VisionEncoderDecoderModel:
    model, info = VisionEncoderDecoderModel.from_pretrained(
        str(out), attn_implementation="eager", output_loading_info=True
    )
    # A checkpoint saved without the encoder pooler (as the original TrOCR
    # conversion did) reloads with a fresh, unused pooler: not a problem.
    info["missing_keys"] = [k for k in info["missing_keys"] if not k.startswith("encoder.pooler.")]
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise SystemExit(f"{out}: checkpoint does not reload cleanly: {bad}")
    return model.eval()


def make_variant(variant: Variant, root: Path, versions: dict):
    out = root / variant.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tok = write_tokenizer(variant, out)
    vocab_size = len(tok)
    write_preprocessor(variant, out)
    images = write_images(out)
    processor = AutoImageProcessor.from_pretrained(str(out), use_fast=False)
    pixel_values = processor(images=images, return_tensors="pt").pixel_values.float()

    config = build_config(variant, vocab_size)
    attempts = []
    for attempt in range(60):
        seed = variant.seed + attempt
        torch.manual_seed(seed)
        model = build_model(variant, config).eval()
        randomize(model, seed)
        strengths = [round(1.0 + 0.125 * i, 3) for i in range(17)] if variant.eos_bias else [0.0]
        for strength in strengths:
            if strength:
                model = build_model(variant, config).eval()
                randomize(model, seed)
                bias_eos(model, pixel_values, strength)
            for f in out.glob("model.safetensors"):
                f.unlink()
            for f in out.glob("pytorch_model.bin"):
                f.unlink()
            save_checkpoint(variant, model, out)
            reloaded = load_checkpoint(out)
            try:
                results = evaluate(variant, reloaded, pixel_values)
            except TooClose as err:
                attempts.append(f"seed {seed} eos {strength}: {err}")
                continue
            if outputs_wanted(variant, results):
                write_reference(variant, out, reloaded, tok, processor, pixel_values, results, seed, strength, versions)
                print(f"{variant.name}: seed {seed}, eos strength {strength}, {len(attempts)} rejected", file=sys.stderr)
                return
            attempts.append(f"seed {seed} eos {strength}: outputs too uniform or EOS pattern not as wanted")
    raise SystemExit(f"{variant.name}: no seed passed the checks:\n" + "\n".join(attempts[-10:]))


def write_reference(variant, out, model, tok, processor, pixel_values, results, seed, strength, versions):
    batch = pixel_values.shape[0]
    decoder_input_ids = torch.tensor([[EOS, 5, 17, 42, 9, 100], [EOS, 100, 9, 42, 17, 5]])
    with torch.no_grad():
        enc = model.encoder(pixel_values=pixel_values).last_hidden_state
        logits = model(pixel_values=pixel_values, decoder_input_ids=decoder_input_ids).logits
    tensors = {
        "pixel_values": pixel_values.contiguous(),
        "encoder_last_hidden_state": enc.contiguous(),
        "decoder_logits": logits.float().contiguous(),
        "greedy_token_probs": results["greedy"][1].contiguous(),
    }
    if hasattr(model, "enc_to_dec_proj"):
        with torch.no_grad():
            tensors["encoder_projected"] = model.enc_to_dec_proj(enc).contiguous()
    save_file(tensors, str(out / "reference.safetensors"), metadata={"format": "pt"})

    g_ids, _, g_opts, g_margin = results["greedy"]
    b_ids, b_scores, b_opts, b_margin = results["beam"]
    names = sorted(p.name for p in out.iterdir())
    ref = {
        "variant": variant.name,
        "description": variant.description,
        "versions": versions,
        "seed": seed,
        "eos_bias_strength": strength,
        "margin_required": MARGIN,
        "files": [n for n in names if n not in ("reference.json",)] + ["reference.json"],
        "weights_file": "model.safetensors" if variant.weights == "safetensors" else "pytorch_model.bin",
        "tokenizer_kind": variant.tokenizer,
        "vocab_size": len(tok),
        "special_ids": {
            "bos_token_id": BOS,
            "pad_token_id": PAD,
            "eos_token_id": EOS,
            "decoder_start_token_id": EOS,
            "unk_token_id": UNK,
            "mask_token_id": tok.mask_token_id,
        },
        "images": [f"image_{i}.png" for i in range(batch)],
        "image_texts": [line[0] for line in IMAGE_LINES],
        "image_sizes_wh": [list(line[1]) for line in IMAGE_LINES],
        "decoder_input_ids": decoder_input_ids.tolist(),
        "greedy": {
            "options": {k: v for k, v in g_opts.items() if k != "use_cache"},
            "ids": g_ids.tolist(),
            "texts": tok.batch_decode(g_ids, skip_special_tokens=True),
            "ended_with_eos": ended_with_eos(g_ids),
            "min_logprob_margin": g_margin,
        },
        "beam": {
            "options": {k: v for k, v in b_opts.items() if k != "use_cache"},
            "ids": b_ids.tolist(),
            "texts": tok.batch_decode(b_ids, skip_special_tokens=True),
            "sequence_scores": b_scores.tolist(),
            "ended_with_eos": ended_with_eos(b_ids),
            "min_logprob_margin": b_margin,
        },
        "tensors": {name: list(t.shape) for name, t in tensors.items()},
        "has_enc_to_dec_proj": hasattr(model, "enc_to_dec_proj"),
        "has_pooler": variant.with_pooler,
    }
    (out / "reference.json").write_text(json.dumps(ref, indent=2) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="tests/fixtures/trocr", help="output root")
    parser.add_argument("--only", nargs="*", help="generate only these variants")
    args = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    random.seed(0)
    np.random.seed(0)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    transformers.logging.set_verbosity_error()
    versions = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "sentencepiece": spm.__version__,
        "safetensors": safetensors.__version__,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
    }
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    for variant in VARIANTS:
        if args.only and variant.name not in args.only:
            continue
        make_variant(variant, root, versions)


if __name__ == "__main__":
    main()
