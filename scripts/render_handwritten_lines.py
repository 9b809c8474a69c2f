#!/usr/bin/env python3
"""Renders text lines in handwriting fonts, as synthetic training lines for a recognizer.

Real handwritten lines are few and come from few hands (../shared/train: one English hand,
Hooker's); script fonts add many more hands, in English as in French, at the price of being
too regular. Each line is drawn word by word with its own size, baseline and spacing jitter,
then leaned by a random shear; the trainer's own augmentation (elastic warp, stroke
thickness, blur, noise) comes on top. Text comes from a lines manifest (use `--split train`
so that no validation transcription is rendered); fonts from scripts/fetch_handwriting_fonts.sh.
A font that lacks a character of a line is not used for that line (fontTools reads the cmap).
Output: OUT/hand/NNNN.png and OUT/manifest-hand.tsv (path, transcription, font), readable by
`inkread train recognizer --data`.

    bash scripts/fetch_handwriting_fonts.sh /tmp/hwfonts
    python3 scripts/render_handwritten_lines.py --texts ../shared/train/manifest.tsv \\
        --fonts /tmp/hwfonts --out /tmp/synth --count 3000 --seed 3 --split train
"""

import argparse
import random
import sys
from pathlib import Path

import numpy as np
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_printed_lines import scanned, texts  # noqa: E402  (a sibling script, not a package)


def load_fonts(folder):
    """(path, set of code points) of every .woff/.ttf/.otf font in the folder."""
    fonts = []
    for path in sorted(Path(folder).iterdir()):
        if path.suffix in (".woff", ".ttf", ".otf"):
            fonts.append((str(path), set(TTFont(path).getBestCmap())))
    if not fonts:
        sys.exit(f"no fonts in {folder} (run scripts/fetch_handwriting_fonts.sh)")
    return fonts


def covering(fonts, text):
    needed = {ord(c) for c in text if not c.isspace()}
    return [path for path, cmap in fonts if needed <= cmap]


def draw_words(text, font_path, rng):
    """The line drawn word by word on a transparent canvas: each word its own size and lift."""
    size = rng.randint(30, 52)
    words = text.split(" ")
    space = size * rng.uniform(0.25, 0.5)
    canvas = Image.new("L", (int(size * (len(text) + 4) * 1.2), size * 4), 0)
    draw = ImageDraw.Draw(canvas)
    x, baseline = size, size * 2.2
    wobble = rng.uniform(0, 0.06) * size
    for word in words:
        if word:
            font = ImageFont.truetype(font_path, max(12, round(size * rng.uniform(0.92, 1.08))))
            y = baseline + rng.uniform(-wobble, wobble)
            draw.text((x, y), word, font=font, fill=255, anchor="ls")
            x += font.getlength(word)
        x += space * rng.uniform(0.7, 1.4)
    box = canvas.getbbox()
    return canvas.crop(box) if box else None


def shear(mask, lean):
    """Leans the strokes right by `lean` (x shift per pixel of height; negative leans left)."""
    width, height = mask.size
    # Output (x, y) samples input (x + lean * y - c, y); c keeps both ends inside the canvas.
    c = max(lean, 0.0) * height
    size = (width + int(abs(lean) * height) + 1, height)
    return mask.transform(size, Image.AFFINE, (1, lean, -c, 0, 1, 0), resample=Image.BICUBIC)


def render(text, font_path, rng):
    ink = rng.randint(5, 90)
    mask = draw_words(text, font_path, rng)
    if mask is None:
        return None
    mask = shear(mask, rng.uniform(-0.15, 0.4))
    if rng.random() < 0.3:
        mask = mask.filter(ImageFilter.MaxFilter(3))  # a broader nib
    box = mask.getbbox()
    if box is None:
        return None
    mask = mask.crop(box)
    pad_x, pad_y = rng.randint(4, 24), rng.randint(4, 16)
    width, height = mask.size[0] + 2 * pad_x, mask.size[1] + 2 * pad_y
    paper = rng.randint(185, 250)
    # Paper that darkens towards one side, as old pages do.
    ramp = np.linspace(0, rng.uniform(-25, 25), width, dtype=np.float32)[None, :]
    page = np.full((height, width), paper, dtype=np.float32) + ramp
    alpha = np.zeros((height, width), dtype=np.float32)
    alpha[pad_y:pad_y + mask.size[1], pad_x:pad_x + mask.size[0]] = np.asarray(mask) / 255.0
    pixels = page * (1 - alpha) + ink * alpha
    return scanned(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)), rng, blur=0.8, noise=8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", required=True, help="a lines manifest whose transcriptions to render")
    ap.add_argument("--fonts", required=True, help="a folder of fonts (fetch_handwriting_fonts.sh)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--split", help="only the rows of this split (training data: train)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    fonts = load_fonts(args.fonts)
    (args.out / "hand").mkdir(parents=True, exist_ok=True)
    written = 0
    with open(args.out / "manifest-hand.tsv", "w", encoding="utf-8") as manifest:
        manifest.write("path\ttranscription\tfont\n")
        for text in texts(args.texts, rng, args.split):
            if written == args.count:
                break
            usable = covering(fonts, text)
            font = rng.choice(usable) if usable else None
            image = render(text, font, rng) if font else None
            if image is None:
                continue
            name = f"hand/{written:05d}.png"
            image.save(args.out / name)
            manifest.write(f"{name}\t{text}\t{Path(font).stem}\n")
            written += 1
    print(f"{written} lines in {len(fonts)} fonts: {args.out / 'manifest-hand.tsv'}")


if __name__ == "__main__":
    main()
