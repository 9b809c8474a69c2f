#!/usr/bin/env python3
"""kraken 7.1.1's own segmentation of the eval pages, to compare Inkread's blla port against.

Runs kraken's `SegmentationTaskModel` with its default `blla.mlmodel` (network and Python
post-processing, CPU, `--threads` torch threads) on every page of a pages manifest and
writes one JSON per page under --out: kraken's lines in reading order (baseline and
boundary polygon in page pixels) and the time spent, split into network and the rest.
Line coordinates only: no pixels of the third-party pages.

    /work/venv-kraken/bin/python scripts/kraken_segment_reference.py \\
        ../shared/eval/pages/manifest.tsv --out /tmp/kraken-ref --threads 2
"""

import argparse
import csv
import json
import logging
import time
import warnings
from pathlib import Path

import torch
from PIL import Image

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

from kraken.configs import SegmentationInferenceConfig  # noqa: E402
from kraken.lib.vgsl import spred  # noqa: E402
from kraken.tasks import SegmentationTaskModel  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", default=None, help="only this set (first path component)")
    ap.add_argument("--page", default=None, help="only pages whose path contains this")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    task = SegmentationTaskModel.load_model()
    config = SegmentationInferenceConfig()

    # Time the network apart from the post-processing by wrapping kraken's own method.
    spent = {"network": 0.0}
    original = spred.VGSLSegmentationInference._compute_segmentation_map

    def timed(self, im):
        t = time.perf_counter()
        r = original(self, im)
        spent["network"] += time.perf_counter() - t
        return r

    spred.VGSLSegmentationInference._compute_segmentation_map = timed

    rows = list(csv.DictReader(open(args.manifest), delimiter="\t"))
    for row in rows:
        rel = row["path"]
        if args.set and rel.split("/")[0] != args.set:
            continue
        if args.page and args.page not in rel:
            continue
        im = Image.open(args.manifest.parent / rel)
        im.load()
        spent["network"] = 0.0
        t = time.perf_counter()
        seg = task.predict(im, config)
        total = time.perf_counter() - t
        lines = [
            {"baseline": [list(map(int, p)) for p in l.baseline],
             "boundary": [list(map(int, p)) for p in l.boundary]}
            for l in seg.lines
        ]
        out = {
            "source": rel,
            "size": list(im.size),
            "seconds": total,
            "network_seconds": spent["network"],
            "lines": lines,
        }
        name = rel.replace("/", "__").rsplit(".", 1)[0] + ".json"
        (args.out / name).write_text(json.dumps(out) + "\n")
        print(f"{rel}\t{len(lines)} lines\t{total:.1f}s (network {spent['network']:.1f}s)", flush=True)


if __name__ == "__main__":
    main()
