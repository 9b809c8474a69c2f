#!/usr/bin/env python3
"""Reference outputs for the Burn ports of EasyOCR's CRAFT detector and English CRNN.

Runs EasyOCR's own model classes (easyocr 1.7.2, PyTorch, eval mode, no quantisation) and
writes, under tests/fixtures/easyocr/:

  <case>.json            what was run: shapes, the source image, the files below
  <case>.input.u8|.f32   the exact network input (CRAFT: the padded canvas as 0..255 bytes,
                         which the test normalises the same way; CRNN: the float tensor)
  <case>.output.f32      the network output (CRAFT: text and link maps; CRNN: logits)
  <case>.pre.f32         CRAFT preprocessing reference (EasyOCR's resize + normalise of the
                         image inside the canvas, at a small canvas size so that it resizes)
  <case>.grey.u8         the synthetic line's grey pixels, to redo the CRNN preprocessing

Inputs are reproducible without committing third-party images: a synthetic page and line
drawn here with PIL, and real images read from the shared eval set, named by their path
relative to the eval directory. Every raw file is little-endian, row-major.

Needs: /work/venv with torch, torchvision, easyocr (pip install --no-deps easyocr),
opencv-python-headless, pillow. scikit-image is not needed: only easyocr.imgproc's image
loader uses it, and this script never calls that loader.

    /work/venv/bin/python scripts/make_easyocr_fixtures.py \
        --eval-dir ../shared/eval --model-dir /work/modelcache
"""

import argparse
import json
import math
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
CRAFT_MAX_SIDE = 320  # keeps committed fixtures small
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


def shrink(img, max_side):
    scale = max_side / max(img.size)
    if scale >= 1:
        return img
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.BILINEAR)


def write(out, name, array, dtype):
    np.ascontiguousarray(array, dtype=dtype).tofile(out / name)
    return name


def craft_case(out, net, case, img, source):
    """Network parity input/output plus a preprocessing reference at a smaller canvas."""
    rgb = np.asarray(img, dtype=np.uint8)
    canvas, ratio, _ = imgproc.resize_aspect_ratio(rgb, 2560, cv2.INTER_LINEAR, mag_ratio=1.0)
    assert ratio == 1.0, "fixture pages are below the canvas size, so nothing is resized"
    x = np.transpose(imgproc.normalizeMeanVariance(canvas), (2, 0, 1))[None]
    with torch.no_grad():
        y, _ = net(torch.from_numpy(x))
    maps = y[0].permute(2, 0, 1).numpy()  # [2, H/2, W/2]: text, link

    pre, pre_ratio, _ = imgproc.resize_aspect_ratio(
        rgb, CRAFT_PRE_CANVAS, cv2.INTER_LINEAR, mag_ratio=1.0
    )
    pre = np.transpose(imgproc.normalizeMeanVariance(pre), (2, 0, 1))
    meta = {
        "kind": "craft",
        "source": source,
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
    return meta


def easyocr_line_tensor(grey):
    """EasyOCR's recognizer input for one crop: resize to height 64, then AlignCollate."""
    h, w = grey.shape
    crop, ratio = compute_ratio_and_resize(grey, w, h, LINE_HEIGHT)
    max_width = math.ceil(ratio) * LINE_HEIGHT
    collate = AlignCollate(imgH=LINE_HEIGHT, imgW=max_width, keep_ratio_with_pad=True)
    return collate([Image.fromarray(crop, "L")])  # [1, 1, 64, W]


def crnn_case(out, net, case, img, source):
    grey = np.asarray(img.convert("L"), dtype=np.uint8)
    x = easyocr_line_tensor(grey)
    with torch.no_grad():
        logits = net(x, None)[0]  # [T, classes]
    meta = {
        "kind": "crnn",
        "source": source,
        "input_shape": list(x.shape[1:]),
        "input": write(out, f"{case}.input.f32", x[0].numpy(), "<f4"),
        "output_shape": list(logits.shape),
        "output": write(out, f"{case}.output.f32", logits.numpy(), "<f4"),
        "greedy": greedy_text(logits),
    }
    if source == "synthetic":  # real lines are read again from the eval set
        meta["grey_shape"] = list(grey.shape)
        meta["grey"] = write(out, f"{case}.grey.u8", grey, np.uint8)
    return meta


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
    ap.add_argument("--eval-dir", type=Path, default=root.parent / "shared/eval")
    ap.add_argument("--model-dir", type=Path, default=Path("/work/modelcache"))
    ap.add_argument("--out", type=Path, default=root / "tests/fixtures/easyocr")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    craft, crnn = load_craft(args.model_dir), load_crnn(args.model_dir)
    cases = {
        "craft_synthetic": craft_case(args.out, craft, "craft_synthetic", synthetic_page(), "synthetic"),
        "craft_real": craft_case(
            args.out,
            craft,
            "craft_real",
            shrink(real_image(args.eval_dir, REAL_PAGE), CRAFT_MAX_SIDE),
            f"{REAL_PAGE} (downsampled to {CRAFT_MAX_SIDE} px, PIL bilinear)",
        ),
        "crnn_synthetic": crnn_case(args.out, crnn, "crnn_synthetic", synthetic_line(), "synthetic"),
        "crnn_real": crnn_case(args.out, crnn, "crnn_real", real_image(args.eval_dir, REAL_LINE), REAL_LINE),
    }
    for name, meta in cases.items():
        (args.out / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(name, meta.get("greedy", ""), meta["output_shape"])


if __name__ == "__main__":
    main()
