#!/usr/bin/env python3
"""Reference outputs for the Burn port of kraken's baseline segmenter (blla).

Runs kraken 7.1.1's own code (its CoreML loader, its input transforms, its torch network in
eval mode on the CPU) and writes, under tests/fixtures/kraken/:

  synthetic.json         what was run: shapes, the files below
  synthetic.png          a page drawn here with PIL (ours to commit)
  synthetic.pre.f32      kraken's input tensor for it, [3, h, w], at a reduced input height
                         (kraken's transforms with height PRE_HEIGHT instead of 1800), to
                         check the Lanczos resize, the scaling and the inversion
  synthetic.out.f32      the network's logits for that tensor, [4, h/4, w/4]
  synthetic.lines.json   kraken's whole segmentation of the page (SegmentationTaskModel,
                         default config): baselines and boundary polygons in reading order
  <case>.json            real eval pages: the page's path relative to the eval directory, a
  <case>.out.f32         checksum of its decoded pixels, the input size kraken used, and the
                         network's logits at kraken's real input height (1800), subsampled
                         every SUB-th row and column to keep the fixture small

No pixels of the eval pages, not even downsampled, are written: the Rust test reads the
page again from the shared eval set, checks the checksum, and runs the whole chain
(preparation at 1800 rows and network). Every raw file is little-endian f32, row-major.

Needs a venv with kraken==7.1.1 (pip install kraken==7.1.1), and blla.mlmodel, which
that wheel contains:

    /work/venv-kraken/bin/python scripts/make_kraken_fixtures.py --eval-dir ../shared/eval

(--eval-dir defaults to $INKREAD_SHARED_DIR/eval, else <repo>/../shared/eval.)
"""

import argparse
import json
import logging
import os
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

from kraken.configs import SegmentationInferenceConfig  # noqa: E402
from kraken.lib.dataset import ImageInputTransforms  # noqa: E402
from kraken.tasks import SegmentationTaskModel  # noqa: E402
from kraken.models.loaders import load_coreml  # noqa: E402

PRE_HEIGHT = 128
SUB = 4
REAL_PAGES = {
    "printed_page": "pages/printed/fondue_Turn_Screw_pdf_page_85.png",
}


def checksum(data: bytes) -> str:
    """Position-weighted byte sum, the same as tests/kraken_parity.rs computes."""
    a = np.frombuffer(data, dtype=np.uint8).astype(np.uint64)
    w = (np.arange(a.size, dtype=np.uint64) % np.uint64(251)) + np.uint64(1)
    return str(int((a * w).sum()))


def font(size):
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            pass
    return ImageFont.load_default(size)


def synthetic_page():
    """A small page with a few slanted and straight lines of text and a rule."""
    img = Image.new("RGB", (420, 300), (250, 247, 238))
    draw = ImageDraw.Draw(img)
    lines = ["Dear friend, the letter", "came on Tuesday with", "news of the harvest.", "Yours ever, A."]
    for i, text in enumerate(lines):
        draw.text((24 + 6 * i, 30 + 58 * i), text, fill=(30, 30, 70), font=font(30))
    draw.line((20, 270, 400, 262), fill=(120, 60, 40), width=2)
    return img


def model():
    path = resources.files("kraken").joinpath("blla.mlmodel")
    net = load_coreml(str(path))[0]
    net.eval()
    return net


def transforms(net, height):
    _, channels, _, width = net.input
    return ImageInputTransforms(1, height, width, channels, (0, 0), valid_norm=False)


def forward(net, tensor):
    with torch.no_grad():
        o, _ = net.nn(tensor.unsqueeze(0))
    return o[0]


def write(out_dir, name, array):
    np.ascontiguousarray(array, dtype="<f4").tofile(out_dir / name)
    return name


def main():
    repo = Path(__file__).resolve().parent.parent
    shared = Path(os.environ.get("INKREAD_SHARED_DIR", repo.parent / "shared"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval-dir", type=Path, default=shared / "eval")
    ap.add_argument("--out", type=Path, default=repo / "tests/fixtures/kraken")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    net = model()

    img = synthetic_page()
    img.save(args.out / "synthetic.png")
    pre = transforms(net, PRE_HEIGHT)(img)
    out = forward(net, pre)
    meta = {
        "image": "synthetic.png",
        "pre_height": PRE_HEIGHT,
        "pre": write(args.out, "synthetic.pre.f32", pre.numpy()),
        "pre_shape": list(pre.shape),
        "out": write(args.out, "synthetic.out.f32", out.numpy()),
        "out_shape": list(out.shape),
    }
    (args.out / "synthetic.json").write_text(json.dumps(meta, indent=1) + "\n")
    seg = SegmentationTaskModel.load_model().predict(img, SegmentationInferenceConfig())
    lines = [{"baseline": l.baseline, "boundary": l.boundary} for l in seg.lines]
    (args.out / "synthetic.lines.json").write_text(json.dumps(lines) + "\n")
    print("synthetic", meta["pre_shape"], meta["out_shape"])

    for case, rel in REAL_PAGES.items():
        path = args.eval_dir / rel
        if not path.is_file():
            print(f"SKIP {case}: {path} is missing")
            continue
        page = Image.open(path).convert("RGB")
        tf = transforms(net, net.input[2])
        scaled = tf.transforms[1](tf.transforms[0](page))  # mode, then the Lanczos resize
        pre = tf(page)
        out = forward(net, pre)
        sub = out[:, ::SUB, ::SUB]
        meta = {
            "source": rel,
            "checksum": checksum(page.tobytes()),
            "page": [page.height, page.width],
            "pre_shape": list(pre.shape),
            "scaled_checksum": checksum(scaled.tobytes()),
            "pre_sum": float(pre.double().sum()),
            "out_shape": list(out.shape),
            "sub": SUB,
            "out": write(args.out, f"{case}.out.f32", sub.numpy()),
            "sub_shape": list(sub.shape),
        }
        (args.out / f"{case}.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(case, meta["pre_shape"], meta["out_shape"])


if __name__ == "__main__":
    main()
