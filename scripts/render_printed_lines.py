#!/usr/bin/env python3
"""Renders printed text lines, as a scanner sees them, with their transcriptions.

They are the printed half of the calibration data of the `auto` recognizer
(scripts/calibrate_auto.py): lines of print that are not in ../shared/eval. The text comes
from a lines manifest (the training set's transcriptions); the fonts from the system
(Debian: fonts-liberation2 fonts-freefont-ttf fonts-urw-base35 fonts-crosextra-caladea
fonts-crosextra-carlito; DejaVu is always there). Output: OUT/print/NNNN.png and
OUT/manifest-print.tsv (path, transcription), readable by `inkread eval lines` and, as
training data beside the handwriting (so that a handwriting model keeps reading print),
by `inkread train recognizer --data` (use `--split train`).

    python3 scripts/render_printed_lines.py --texts ../shared/train/manifest.tsv \\
        --out /tmp/calib --count 600 --seed 7
"""

import argparse
import csv
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FAMILIES = (
    "Liberation Serif", "Liberation Sans", "Liberation Mono", "FreeSerif", "FreeSans",
    "Nimbus Roman", "Nimbus Sans", "C059", "P052", "Caladea", "Carlito", "DejaVu Serif",
    "DejaVu Sans",
)


def font_files():
    """Regular-style font files of the families above that are installed."""
    out = subprocess.run(
        ["fc-list", "--format", "%{file}\t%{family}\t%{style}\n"],
        capture_output=True, text=True, check=True,
    ).stdout
    found = []
    for row in out.splitlines():
        path, family, style = (row.split("\t") + ["", ""])[:3]
        upright = style.split(",")[0] in ("Regular", "Book", "Roman")
        if upright and path.endswith((".ttf", ".otf")) and any(f in family for f in FAMILIES):
            found.append(path)
    if not found:
        sys.exit("no fonts of the expected families are installed (see the docstring)")
    return sorted(set(found))


def texts(manifest, rng, split=None):
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        lines = [r["transcription"].strip() for r in rows if split is None or r.get("split") == split]
    lines = [t for t in lines if 3 <= len(t) <= 70]
    rng.shuffle(lines)
    return lines


def render(text, font_path, rng):
    size = rng.randint(26, 46)
    font = ImageFont.truetype(font_path, size)
    left, top, right, bottom = font.getbbox(text)
    pad_x, pad_y = rng.randint(4, 20), rng.randint(4, 14)
    paper = rng.randint(215, 255)
    image = Image.new("L", (right - left + 2 * pad_x, bottom - top + 2 * pad_y), paper)
    ink = rng.randint(0, 70)
    ImageDraw.Draw(image).text((pad_x - left, pad_y - top), text, font=font, fill=ink)
    if rng.random() < 0.5:
        image = image.rotate(rng.uniform(-0.8, 0.8), resample=Image.BICUBIC, fillcolor=paper)
    return scanned(image, rng, blur=0.9, noise=10)


def scanned(image, rng, blur, noise):
    """A greyscale line as a scanner returns it: up to `blur` px of blur, up to `noise` grey
    levels of sensor noise (seeded from the same generator, so a run is repeatable), RGB."""
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, blur)))
    grain = np.random.default_rng(rng.randrange(2**32)).normal(0, rng.uniform(0, noise), image.size[::-1])
    pixels = np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).convert("RGB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", required=True, help="a lines manifest whose transcriptions to render")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--count", type=int, default=600)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--split", help="only the rows of this split (training data: train, so that "
                    "no validation transcription is rendered)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    fonts = font_files()
    (args.out / "print").mkdir(parents=True, exist_ok=True)
    with open(args.out / "manifest-print.tsv", "w", encoding="utf-8") as manifest:
        manifest.write("path\ttranscription\tfont\n")
        for i, text in enumerate(texts(args.texts, rng, args.split)[: args.count]):
            font = rng.choice(fonts)
            name = f"print/{i:04d}.png"
            render(text, font, rng).save(args.out / name)
            manifest.write(f"{name}\t{text}\t{Path(font).name}\n")
    print(f"{i + 1} lines in {len(fonts)} fonts: {args.out / 'manifest-print.tsv'}")


if __name__ == "__main__":
    main()
