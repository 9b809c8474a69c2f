#!/usr/bin/env python3
"""Saves a random-weight TrOCR checkpoint built by transformers from a real configuration.

Usage: save_trocr_checkpoint.py CONFIG_DIR OUT_DIR [safetensors|bin]

CONFIG_DIR holds a Hugging Face `config.json` (e.g. ../shared/models/trocr-base-handwritten);
OUT_DIR receives config.json, generation_config.json and model.safetensors (or
pytorch_model.bin). The Rust loading test uses it to prove every tensor name and shape
transformers writes is one the Burn model reads, with none missing or left over.
Weights are random: only names and shapes matter here.
"""

import shutil
import sys
from pathlib import Path

import torch
from transformers import VisionEncoderDecoderConfig, VisionEncoderDecoderModel


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    fmt = sys.argv[3] if len(sys.argv) == 4 else "safetensors"
    if fmt not in ("safetensors", "bin"):
        print(f"unknown format {fmt!r}", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    config = VisionEncoderDecoderConfig.from_pretrained(source)
    model = VisionEncoderDecoderModel(config=config).eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=(fmt == "safetensors"))
    preprocessor = source / "preprocessor_config.json"
    if preprocessor.is_file():
        shutil.copy(preprocessor, out / "preprocessor_config.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
