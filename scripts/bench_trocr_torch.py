#!/usr/bin/env python3
"""Time TrOCR in PyTorch: the encoder alone and greedy generation of exactly N tokens.

The PyTorch side of `inkread bench trocr`: the model is built with random
weights from a real Hugging Face config (no download), and `generate` runs
greedy with the KV cache and min_new_tokens = max_new_tokens = N, so every
run does the encoder plus exactly N decoder steps whatever the weights say.

    python scripts/bench_trocr_torch.py --config ../shared/models/trocr-small-handwritten/config.json \
        --batch 1 --tokens 32 --threads 2 --repeats 3

Prints one JSON line: encoder_s_median, generate_s_median (encoder + N
steps), batch, tokens, threads, torch, plus the individual runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import VisionEncoderDecoderConfig, VisionEncoderDecoderModel


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="VisionEncoderDecoder config.json")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=32, help="decoder steps per run")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    return parser.parse_args()


def image_hw(encoder_config) -> tuple[int, int]:
    size = encoder_config.image_size
    if isinstance(size, (list, tuple)):
        return int(size[0]), int(size[1])
    return int(size), int(size)


def build_model(config_path: str, device: str) -> VisionEncoderDecoderModel:
    config = VisionEncoderDecoderConfig.from_json_file(config_path)
    torch.manual_seed(0)
    model = VisionEncoderDecoderModel(config).eval().to(device)
    return model


def token_id(config, name: str):
    """A special token's id from the top config, else the decoder's: transformers 5.x no
    longer gives the top-level VisionEncoderDecoderConfig these attributes at all."""
    return getattr(config, name, None) or getattr(config.decoder, name, None)


def timed(fn, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    model = build_model(args.config, args.device)
    height, width = image_hw(model.config.encoder)
    channels = model.config.encoder.num_channels
    gen = torch.Generator().manual_seed(1)
    pixel_values = torch.rand(args.batch, channels, height, width, generator=gen).mul(2).sub(1).to(args.device)

    decoder = model.config.decoder
    gen_kwargs = dict(
        max_new_tokens=args.tokens,
        min_new_tokens=args.tokens,
        num_beams=1,
        do_sample=False,
        use_cache=True,
        decoder_start_token_id=token_id(model.config, "decoder_start_token_id"),
        eos_token_id=token_id(model.config, "eos_token_id"),
        pad_token_id=token_id(model.config, "pad_token_id"),
    )

    def run_encoder():
        model.encoder(pixel_values=pixel_values)

    def run_generate():
        out = model.generate(pixel_values, **gen_kwargs)
        if out.shape != (args.batch, args.tokens + 1):
            raise SystemExit(f"generate returned shape {tuple(out.shape)}, expected {(args.batch, args.tokens + 1)}")

    encoder_runs, generate_runs = [], []
    with torch.inference_mode():
        for _ in range(args.warmup):
            run_encoder()
            run_generate()
        for _ in range(args.repeats):
            encoder_runs.append(timed(run_encoder, args.device))
        for _ in range(args.repeats):
            generate_runs.append(timed(run_generate, args.device))

    print(
        json.dumps(
            {
                "encoder_s_median": statistics.median(encoder_runs),
                "generate_s_median": statistics.median(generate_runs),
                "batch": args.batch,
                "tokens": args.tokens,
                "threads": args.threads,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "device": args.device,
                "config": args.config,
                "encoder_s_runs": encoder_runs,
                "generate_s_runs": generate_runs,
            }
        )
    )


if __name__ == "__main__":
    main()
