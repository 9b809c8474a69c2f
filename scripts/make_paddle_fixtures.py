#!/usr/bin/env python3
"""Reference outputs of PP-OCRv4's detector and recognizer (onnxruntime) for
tests/paddle_parity.rs.

Two kinds of input:
  * synthetic: a page and a line this script renders with PIL (committed as PNG, ours);
  * real: a page and a line of ../shared/eval, read again by the Rust test. Only the
    outputs are committed. Their network input is made with an integer nearest-neighbour
    resize both sides compute identically, so the parity does not depend on resize
    filters; a checksum of that input is stored to catch a changed file.

The synthetic page and line are also put through RapidOCR's own preprocessing (cv2
resize), stored as uint8, so the Rust preprocessing can be checked on its own.

Images are fed as RapidOCR feeds them: BGR channel order, (x/255 - 0.5) / 0.5.

Usage: /work/venv/bin/python scripts/make_paddle_fixtures.py
       [--models /work/modelcache] [--eval ../shared/eval]
"""

import argparse
import math
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from PIL import Image, ImageDraw, ImageFont
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "paddle"
DET_MODEL = "ppocr-v4-det/ch_PP-OCRv4_det_infer.onnx"
REC_MODEL = "ppocr-v4-rec/ch_PP-OCRv4_rec_infer.onnx"

# Real inputs, relative to the eval directory (PNG: decoding is exact everywhere).
REAL_PAGE = "pages/printed/fondue_05dracula_pdf_page_52.png"
REAL_LINE = "lines/printed/fondue_05dracula_pdf_page_52_002.png"

DET_FIXTURE_WIDTH = 256  # network input width for the real page (height follows, /32)
DET_SYNTH_SIZE = (224, 160)  # (w, h) network input for the synthetic page
REC_MAX_WIDTH = 128  # network input width cap for the line fixtures (16 timesteps)
DET_PRE_LIMIT = 160  # limit_side_len for the preprocessing check (RapidOCR uses 736)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"


def normalise(bgr_u8: np.ndarray) -> np.ndarray:
    """HWC uint8 → NCHW float32 as RapidOCR does."""
    x = (bgr_u8.astype(np.float32) / 255.0 - 0.5) / 0.5
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def nearest_resize(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    """Pixel (x, y) takes source ((2x+1)·W / 2w, (2y+1)·H / 2h), integer division."""
    src_h, src_w = rgb.shape[:2]
    xs = ((2 * np.arange(w) + 1) * src_w) // (2 * w)
    ys = ((2 * np.arange(h) + 1) * src_h) // (2 * h)
    return rgb[ys][:, xs]


def to_bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, :, ::-1])


def render_page(path: Path) -> np.ndarray:
    img = Image.new("RGB", (320, 240), (250, 248, 240))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 16)
    lines = [
        "Inkread reads pages locally.",
        "The quick brown fox jumps over",
        "the lazy dog, 1234567890.",
        "Detection then recognition;",
        "each line is cropped & read.",
    ]
    for i, text in enumerate(lines):
        draw.text((18, 20 + i * 42), text, fill=(20, 20, 30), font=font)
    img.save(path)
    return np.asarray(img)


def render_line(path: Path) -> np.ndarray:
    img = Image.new("RGB", (104, 40), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.text((6, 6), "Ink 42", fill=(0, 0, 0), font=ImageFont.truetype(FONT, 24))
    img.save(path)
    return np.asarray(img)


def rapid_det_resize(bgr: np.ndarray, limit: int) -> np.ndarray:
    """RapidOCR's DetPreProcess.resize with limit_type "min"."""
    h, w = bgr.shape[:2]
    ratio = 1.0
    if min(h, w) < limit:
        ratio = float(limit) / (h if h < w else w)
    rh = int(round(int(h * ratio) / 32) * 32)
    rw = int(round(int(w * ratio) / 32) * 32)
    return cv2.resize(bgr, (rw, rh))


def rapid_rec_resize(bgr: np.ndarray) -> np.ndarray:
    """RapidOCR's resize_norm_img before normalising and padding (height 48)."""
    h, w = bgr.shape[:2]
    resized_w = int(math.ceil(48 * w / float(h)))
    return cv2.resize(bgr, (resized_w, 48))


def rec_width(h: int, w: int) -> int:
    return min(REC_MAX_WIDTH, int(math.ceil(48 * w / h)))


def checksum(u8: np.ndarray) -> str:
    """Position-weighted sum of the uint8 input, as the Rust test computes it."""
    flat = u8.reshape(-1).astype(np.uint64)
    weights = (np.arange(flat.size, dtype=np.uint64) % 251) + 1
    return str(int((flat * weights).sum()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="/work/modelcache")
    ap.add_argument("--eval", default=str(ROOT.parent / "shared" / "eval"))
    args = ap.parse_args()
    models, eval_dir = Path(args.models), Path(args.eval)
    OUT.mkdir(parents=True, exist_ok=True)
    det = ort.InferenceSession(str(models / DET_MODEL), providers=["CPUExecutionProvider"])
    rec = ort.InferenceSession(str(models / REC_MODEL), providers=["CPUExecutionProvider"])
    chars = rec.get_modelmeta().custom_metadata_map["character"]
    assert chars.splitlines() == chars.split("\n"), "character list splits differently"

    def run(sess, x):
        return sess.run(None, {sess.get_inputs()[0].name: x})[0].astype(np.float32)

    # Synthetic page: network parity on a cv2-resized input, and the preprocessing check.
    page = render_page(OUT / "synthetic_page.png")
    page_in = cv2.resize(to_bgr(page), DET_SYNTH_SIZE)
    save_file(
        {
            "input_bgr": page_in,
            "prob": run(det, normalise(page_in)),
            "rapid_preprocessed_bgr": rapid_det_resize(to_bgr(page), DET_PRE_LIMIT),
        },
        str(OUT / "det_synthetic.safetensors"),
        metadata={"limit_side_len": str(DET_PRE_LIMIT)},
    )

    # Synthetic line.
    line = render_line(OUT / "synthetic_line.png")
    w = rec_width(*line.shape[:2])
    line_in = cv2.resize(to_bgr(line), (w, 48))
    save_file(
        {
            "input_bgr": line_in,
            "prob": run(rec, normalise(line_in)),
            "rapid_preprocessed_bgr": rapid_rec_resize(to_bgr(line)),
        },
        str(OUT / "rec_synthetic.safetensors"),
    )

    # Real page and line from the shared eval set: outputs and input checksums only.
    rgb = np.asarray(Image.open(eval_dir / REAL_PAGE).convert("RGB"))
    h = max(32, int(round(rgb.shape[0] * DET_FIXTURE_WIDTH / rgb.shape[1] / 32)) * 32)
    real_in = to_bgr(nearest_resize(rgb, DET_FIXTURE_WIDTH, h))
    save_file(
        {"prob": run(det, normalise(real_in))},
        str(OUT / "det_real.safetensors"),
        metadata={"source": REAL_PAGE, "checksum": checksum(real_in)},
    )

    rgb = np.asarray(Image.open(eval_dir / REAL_LINE).convert("RGB"))
    # Keep the line's left part, so the capped width does not squash the letters.
    rgb = rgb[:, : min(rgb.shape[1], math.ceil(rgb.shape[0] * REC_MAX_WIDTH / 48))]
    real_line = to_bgr(nearest_resize(rgb, rec_width(*rgb.shape[:2]), 48))
    prob = run(rec, normalise(real_line))
    save_file(
        {"prob": prob},
        str(OUT / "rec_real.safetensors"),
        metadata={"source": REAL_LINE, "checksum": checksum(real_line)},
    )
    best = prob[0].argmax(-1)
    classes = [""] + chars.splitlines() + [" "]
    text = "".join(classes[c] for i, c in enumerate(best) if c and (i == 0 or c != best[i - 1]))
    print("real line reads:", repr(text))
    for f in sorted(OUT.iterdir()):
        print(f"{f.name}: {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
