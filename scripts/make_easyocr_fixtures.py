#!/usr/bin/env python3
"""Reference outputs for the Burn ports of EasyOCR's CRAFT detector and English CRNN.

Runs EasyOCR's own model classes (easyocr 1.7.2, PyTorch, eval mode, no quantisation) and
writes, under tests/fixtures/easyocr/:

  <case>.json            what was run: shapes, the source image, the files below
  <case>.output.f32      the network output (CRAFT: text and link maps; CRNN: logits)

and, for the synthetic cases only (images drawn here with PIL, so ours to commit):

  <case>.input.u8|.f32   the exact network input (CRAFT: the padded canvas as 0..255 bytes,
                         which the test normalises the same way; CRNN: the float tensor)
  <case>.pre.f32         CRAFT preprocessing reference (EasyOCR's resize + normalise of the
                         image inside the canvas, at a small canvas size so that it resizes)
  <case>.grey.u8         the synthetic line's grey pixels, to redo the CRNN preprocessing

The real cases come from the shared eval set, which is third-party: no pixels of it, not
even downsampled, are written. The Rust test reads the eval image again (named in the json
by its path relative to the eval directory) and reduces it with integer arithmetic that
this script and the test compute identically (an integer box average for the page, nearest
sampling and an integer grey for the line); a checksum of that reduced input is stored so a
changed eval file fails loudly instead of comparing against the wrong reference. Every raw
file is little-endian, row-major.

Needs: /work/venv with torch, torchvision, easyocr (pip install --no-deps easyocr),
opencv-python-headless, pillow. scikit-image is not needed: only easyocr.imgproc's image
loader uses it, and this script never calls that loader.

    /work/venv/bin/python scripts/make_easyocr_fixtures.py \
        --eval-dir ../shared/eval --model-dir /work/modelcache

(--eval-dir defaults to $INKREAD_SHARED_DIR/eval, else <repo>/../shared/eval.)
"""

import argparse
import json
import math
import os
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

# easyocr.imgproc imports skimage for its file loader only; give it an empty stand-in.
sys.modules.setdefault("skimage", types.ModuleType("skimage"))
sys.modules["skimage"].io = types.ModuleType("skimage.io")

import cv2  # noqa: E402
from easyocr import imgproc  # noqa: E402
from easyocr.craft import CRAFT  # noqa: E402
from easyocr.model.vgg_model import Model as CrnnModel  # noqa: E402
from easyocr.recognition import AlignCollate  # noqa: E402
from easyocr.utils import compute_ratio_and_resize  # noqa: E402

ENGLISH_G2_CHARACTERS = (
    "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

REAL_PAGE = "pages/printed/fondue_Turn_Screw_pdf_page_85.png"
REAL_LINE = "lines/printed/fondue_05dracula_pdf_page_52_002.png"
CRAFT_REAL_BOX = 8  # the real page is box-averaged by 8 (1650x2550 -> 206x318)
CRAFT_PRE_CANVAS = 128  # canvas for the preprocessing check, so that it really resizes
LINE_HEIGHT = 64


def strip_data_parallel(state_dict):
    return OrderedDict((k.removeprefix("module."), v) for k, v in state_dict.items())


def load_craft(model_dir):
    net = CRAFT()
    sd = torch.load(model_dir / "craft-mlt-25k/craft_mlt_25k.pth", map_location="cpu")
    net.load_state_dict(strip_data_parallel(sd))
    return net.eval()


def load_crnn(model_dir):
    net = CrnnModel(
        input_channel=1,
        output_channel=256,
        hidden_size=256,
        num_class=len(ENGLISH_G2_CHARACTERS) + 1,
    )
    sd = torch.load(model_dir / "easyocr-english-g2/english_g2.pth", map_location="cpu")
    net.load_state_dict(strip_data_parallel(sd))
    return net.eval()


def font(size):
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            pass
    return ImageFont.load_default(size)


def synthetic_page():
    img = Image.new("RGB", (300, 220), "white")
    draw = ImageDraw.Draw(img)
    lines = ["Inkread reads pages.", "CRAFT finds words,", "links them in lines.", "12 + 30 = 42"]
    for i, text in enumerate(lines):
        draw.text((14, 16 + 48 * i), text, fill=(20, 20, 30), font=font(24))
    return img


def synthetic_line():
    img = Image.new("RGB", (330, 44), "white")
    ImageDraw.Draw(img).text((6, 6), "Hello World 2024!", fill="black", font=font(28))
    return img


def real_image(eval_dir, rel):
    return Image.open(eval_dir / rel).convert("RGB")


def box_average(rgb, k):
    """Mean of each k×k block, rounded half up in integers; a partial last row/column of
    blocks is dropped. The Rust test computes the same bytes."""
    h, w = (rgb.shape[0] // k) * k, (rgb.shape[1] // k) * k
    blocks = rgb[:h, :w].astype(np.uint32).reshape(h // k, k, w // k, k, 3)
    area = k * k
    return ((blocks.sum(axis=(1, 3)) + area // 2) // area).astype(np.uint8)


def nearest_resize(arr, w, h):
    """Pixel (x, y) takes source ((2x+1)·W / 2w, (2y+1)·H / 2h), integer division."""
    src_h, src_w = arr.shape[:2]
    xs = ((2 * np.arange(w) + 1) * src_w) // (2 * w)
    ys = ((2 * np.arange(h) + 1) * src_h) // (2 * h)
    return arr[ys][:, xs]


def integer_grey(rgb):
    """(299 R + 587 G + 114 B + 500) / 1000 in integers."""
    r, g, b = (rgb[..., c].astype(np.uint32) for c in range(3))
    return ((299 * r + 587 * g + 114 * b + 500) // 1000).astype(np.uint8)


def reduce_line(rgb):
    """The real line at the CRNN's height: nearest sampling to 64 rows, width floor(w·64/h),
    then the integer grey."""
    h, w = rgb.shape[:2]
    return integer_grey(nearest_resize(rgb, max(1, w * LINE_HEIGHT // h), LINE_HEIGHT))


def pad_line_tensor(grey):
    """[1, 1, 64, W] in -1..1, padded right to a multiple of 64 by repeating the last
    column: EasyOCR's NormalizePAD on an input that needs no resizing."""
    h, w = grey.shape
    width = max(1, math.ceil(w / LINE_HEIGHT)) * LINE_HEIGHT
    padded = np.concatenate([grey, np.repeat(grey[:, -1:], width - w, axis=1)], axis=1)
    x = (padded.astype(np.float32) / 255.0 - 0.5) / 0.5
    return torch.from_numpy(np.ascontiguousarray(x[None, None]))


def checksum(u8):
    """Position-weighted sum of the uint8 bytes, as the Rust test computes it."""
    flat = u8.reshape(-1).astype(np.uint64)
    weights = (np.arange(flat.size, dtype=np.uint64) % 251) + 1
    return str(int((flat * weights).sum()))


def write(out, name, array, dtype):
    np.ascontiguousarray(array, dtype=dtype).tofile(out / name)
    return name


def craft_maps(net, rgb):
    """EasyOCR's CRAFT input for an image below the canvas size (padded, not resized) and
    the network's text and link maps, [2, H/2, W/2]."""
    canvas, ratio, _ = imgproc.resize_aspect_ratio(rgb, 2560, cv2.INTER_LINEAR, mag_ratio=1.0)
    assert ratio == 1.0, "fixture pages are below the canvas size, so nothing is resized"
    x = np.transpose(imgproc.normalizeMeanVariance(canvas), (2, 0, 1))[None]
    with torch.no_grad():
        y, _ = net(torch.from_numpy(x))
    return canvas, y[0].permute(2, 0, 1).numpy()


def craft_synthetic_case(out, net, case, img):
    """Network parity input/output plus a preprocessing reference at a smaller canvas."""
    rgb = np.asarray(img, dtype=np.uint8)
    canvas, maps = craft_maps(net, rgb)
    pre, pre_ratio, _ = imgproc.resize_aspect_ratio(
        rgb, CRAFT_PRE_CANVAS, cv2.INTER_LINEAR, mag_ratio=1.0
    )
    pre = np.transpose(imgproc.normalizeMeanVariance(pre), (2, 0, 1))
    return {
        "kind": "craft",
        "source": "synthetic",
        "image": [img.height, img.width],
        "input_shape": list(canvas.shape),  # H, W, 3 bytes (the padded canvas)
        "input": write(out, f"{case}.input.u8", canvas.round(), np.uint8),
        "output_shape": list(maps.shape),
        "output": write(out, f"{case}.output.f32", maps, "<f4"),
        "pre_canvas_size": CRAFT_PRE_CANVAS,
        "pre_ratio": pre_ratio,
        "pre_shape": list(pre.shape),
        "pre": write(out, f"{case}.pre.f32", pre, "<f4"),
    }


def craft_real_case(out, net, case, eval_dir):
    """Outputs only: the test box-averages the eval page itself and checks the checksum."""
    reduced = box_average(np.asarray(real_image(eval_dir, REAL_PAGE), dtype=np.uint8), CRAFT_REAL_BOX)
    canvas, maps = craft_maps(net, reduced)
    return {
        "kind": "craft",
        "source": REAL_PAGE,
        "box": CRAFT_REAL_BOX,
        "image": list(reduced.shape[:2]),
        "checksum": checksum(reduced),
        "input_shape": list(canvas.shape),
        "output_shape": list(maps.shape),
        "output": write(out, f"{case}.output.f32", maps, "<f4"),
    }


def easyocr_line_tensor(grey):
    """EasyOCR's recognizer input for one crop: resize to height 64, then AlignCollate."""
    h, w = grey.shape
    crop, ratio = compute_ratio_and_resize(grey, w, h, LINE_HEIGHT)
    max_width = math.ceil(ratio) * LINE_HEIGHT
    collate = AlignCollate(imgH=LINE_HEIGHT, imgW=max_width, keep_ratio_with_pad=True)
    return collate([Image.fromarray(crop, "L")])  # [1, 1, 64, W]


def crnn_logits(net, x):
    with torch.no_grad():
        return net(x, None)[0]  # [T, classes]


def crnn_synthetic_case(out, net, case, img):
    grey = np.asarray(img.convert("L"), dtype=np.uint8)
    x = easyocr_line_tensor(grey)
    logits = crnn_logits(net, x)
    return {
        "kind": "crnn",
        "source": "synthetic",
        "input_shape": list(x.shape[1:]),
        "input": write(out, f"{case}.input.f32", x[0].numpy(), "<f4"),
        "output_shape": list(logits.shape),
        "output": write(out, f"{case}.output.f32", logits.numpy(), "<f4"),
        "greedy": greedy_text(logits),
        "grey_shape": list(grey.shape),
        "grey": write(out, f"{case}.grey.u8", grey, np.uint8),
    }


def crnn_real_case(out, net, case, eval_dir):
    """Logits of the reduced line (the test rebuilds its input), and what EasyOCR's own
    preprocessing of the full line reads: text only."""
    img = real_image(eval_dir, REAL_LINE)
    reduced = reduce_line(np.asarray(img, dtype=np.uint8))
    x = pad_line_tensor(reduced)
    logits = crnn_logits(net, x)
    easyocr_read = crnn_logits(net, easyocr_line_tensor(np.asarray(img.convert("L"), dtype=np.uint8)))
    return {
        "kind": "crnn",
        "source": REAL_LINE,
        "grey_shape": list(reduced.shape),
        "checksum": checksum(reduced),
        "input_shape": list(x.shape[1:]),
        "output_shape": list(logits.shape),
        "output": write(out, f"{case}.output.f32", logits.numpy(), "<f4"),
        "reduced_greedy": greedy_text(logits),
        "greedy": greedy_text(easyocr_read),
    }


def greedy_text(logits):
    best = logits.argmax(-1).tolist()
    chars, prev = [], 0
    for idx in best:
        if idx != prev and idx != 0:
            chars.append(ENGLISH_G2_CHARACTERS[idx - 1])
        prev = idx
    return "".join(chars)


def main():
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(os.environ.get("INKREAD_SHARED_DIR", root.parent / "shared"))
    ap.add_argument("--eval-dir", type=Path, default=shared / "eval")
    ap.add_argument("--model-dir", type=Path, default=Path("/work/modelcache"))
    ap.add_argument("--out", type=Path, default=root / "tests/fixtures/easyocr")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    craft, crnn = load_craft(args.model_dir), load_crnn(args.model_dir)
    for stale in ("craft_real.input.u8", "craft_real.pre.f32", "crnn_real.input.f32"):
        (args.out / stale).unlink(missing_ok=True)  # eval pixels: never again in the repo
    cases = {
        "craft_synthetic": craft_synthetic_case(args.out, craft, "craft_synthetic", synthetic_page()),
        "craft_real": craft_real_case(args.out, craft, "craft_real", args.eval_dir),
        "crnn_synthetic": crnn_synthetic_case(args.out, crnn, "crnn_synthetic", synthetic_line()),
        "crnn_real": crnn_real_case(args.out, crnn, "crnn_real", args.eval_dir),
    }
    for name, meta in cases.items():
        (args.out / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(name, meta.get("greedy", ""), meta["output_shape"])


if __name__ == "__main__":
    main()
