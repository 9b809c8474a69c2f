"""Writes tests/fixtures/preprocess/: a small deterministic RGB image and Pillow's resize of
it with every filter, up and down, so Rust can check its resampler against Pillow bit for bit.

Run: python scripts/gen_preprocess_fixtures.py   (needs numpy + pillow only)
"""
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "preprocess"
FILTERS = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}
# (width, height): width shrinks, height grows, as for a text line going into TrOCR.
# (Pillow 13 runs the vertical pass first when the height shrinks and the width barely
# changes or grows; that case is not reproduced by the Rust resampler yet.)
SIZES = [(29, 23), (40, 50)]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1234)
    src = rng.integers(0, 256, size=(17, 61, 3), dtype=np.uint8)
    # Smooth part plus hard edges, so both ringing and averaging show up.
    src[:, :20] = np.linspace(0, 255, 20, dtype=np.uint8)[None, :, None]
    img = Image.fromarray(src, "RGB")
    img.save(OUT / "source.png")
    for code, name in FILTERS.items():
        for w, h in SIZES:
            img.resize((w, h), resample=code).save(OUT / f"{name}_{w}x{h}.png")


if __name__ == "__main__":
    main()
