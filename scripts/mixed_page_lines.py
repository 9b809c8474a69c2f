#!/usr/bin/env python3
"""Cuts the lines of mixed pages (printed letterhead + handwriting) into a lines set by type.

A page is mixed when its ground truth types some lines `…:Print` (or `…:Typewritten`) and
others `…:Handwritten` (eScriptorium's line types, kept in the eval pages' lines.json). Each
line's bounding box is cropped into OUT/mixed_print/ or OUT/mixed_handwritten/, with
OUT/manifest.tsv for `inkread eval lines`, so the `auto` recognizer's per-line choice can be
measured on both kinds of line of the same pages. For measuring only: the crops come from
the evaluation data, so they stay out of the repository and out of any training.

    python3 scripts/mixed_page_lines.py --pages ../shared/eval/pages/manifest.tsv --out /tmp/mixed
"""

import argparse
import csv
import json
from pathlib import Path

from PIL import Image

PRINTED = ("Print", "Typewritten")


def kind(line_type):
    sub = line_type.partition(":")[2]
    if sub in PRINTED:
        return "print"
    if sub == "Handwritten":
        return "handwritten"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    base = args.pages.parent
    rows = []
    with open(args.pages, newline="", encoding="utf-8") as f:
        for page in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            gt = json.loads((base / page["lines_json"]).read_text(encoding="utf-8"))
            kinds = [kind(l.get("type", "")) for l in gt["lines"]]
            if not ("print" in kinds and "handwritten" in kinds):
                continue
            image = Image.open(base / page["path"]).convert("RGB")
            stem = Path(page["path"]).stem
            for i, (line, k) in enumerate(zip(gt["lines"], kinds)):
                if k is None or not line["text"].strip():
                    continue
                name = f"mixed_{k}/{stem}_{i:03d}.png"
                (args.out / name).parent.mkdir(parents=True, exist_ok=True)
                image.crop(tuple(line["bbox"])).save(args.out / name)
                rows.append((name, line["text"]))
    with open(args.out / "manifest.tsv", "w", encoding="utf-8") as m:
        m.write("path\ttranscription\n")
        for name, text in rows:
            m.write(f"{name}\t{text}\n")
    counts = {k: sum(r[0].startswith(f"mixed_{k}/") for r in rows) for k in ("print", "handwritten")}
    print(f"{counts} lines: {args.out / 'manifest.tsv'}")


if __name__ == "__main__":
    main()
