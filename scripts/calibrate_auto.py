#!/usr/bin/env python3
"""Calibrates recognizers' line confidences for the `auto` recognizer.

`auto` reads every line with a print and a handwriting recognizer and keeps the reading
that is more likely right. Raw confidences do not say that: a print model is sure of
itself on handwriting it misreads. This script measures, for each recognizer, how the
share of characters read right grows with its confidence, on two sets that are not the
evaluation data: the validation lines of ../shared/train (handwriting) and printed lines
rendered by scripts/render_printed_lines.py. It fits a monotone curve (isotonic
regression, each set weighted equally) and writes it as knots (confidence, expected
character accuracy) to OUT/RECOGNIZER.json, the format `calibration.json` in a model
folder and `calibration` in the catalog take. It also prints what `auto` would score on
these sets with raw and with calibrated confidences.

    python3 scripts/calibrate_auto.py --inkread target/release/inkread \\
        --train ../shared/train/manifest.tsv --printed /tmp/calib/manifest-print.tsv \\
        --work /tmp/calib --recognizers ppocr-v4-rec hw-crnn-1
"""

import argparse
import csv
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np

KNOTS = 16


def handwriting_manifest(train_manifest, work):
    """The validation rows of the training manifest, as an eval lines manifest in WORK."""
    link = work / "train"
    if not link.exists():
        link.symlink_to(Path(train_manifest).resolve().parent)
    out = work / "manifest-handwriting.tsv"
    with open(train_manifest, newline="", encoding="utf-8") as f, open(out, "w", encoding="utf-8") as o:
        o.write("path\ttranscription\n")
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row["split"] == "val":
                o.write(f"train/{row['path']}\t{row['transcription']}\n")
    return out


def rust_debug_string(s):
    """Decodes a string as Rust's `{:?}` writes it."""
    s = re.sub(r"\\u\{([0-9a-f]+)\}", lambda m: "\\u%04x" % int(m.group(1), 16) if int(m.group(1), 16) < 0x10000 else chr(int(m.group(1), 16)), s)
    s = s.replace("\\'", "'").replace("\\0", "\\u0000")
    return json.loads(s)


def read_lines(inkread, manifest, recognizer, cache):
    """(reference, hypothesis, confidence) for every line, from `inkread eval lines -v`."""
    if not cache.exists():
        run = subprocess.run(
            [inkread, "eval", "lines", str(manifest), "--recognizer", recognizer, "--device", "cpu", "-v"],
            capture_output=True, text=True,
        )
        if run.returncode != 0:
            raise SystemExit(f"inkread eval failed for {recognizer}: {run.stderr[-2000:]}")
        rows = [l for l in run.stderr.splitlines() if l.count("\t") == 3]
        cache.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = []
    for row in cache.read_text(encoding="utf-8").splitlines():
        _, ref, hyp, conf = row.split("\t")
        out.append((rust_debug_string(ref), rust_debug_string(hyp), float(conf)))
    return out


def edits(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def isotonic(x, y, w):
    """Pool-adjacent-violators: the non-decreasing fit of y on x (weights w)."""
    order = np.argsort(x, kind="stable")
    blocks = []  # [sum w*y, sum w, count]
    for i in order:
        blocks.append([w[i] * y[i], w[i], 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            a, b = blocks.pop(-2), blocks.pop()
            blocks.append([a[0] + b[0], a[1] + b[1], a[2] + b[2]])
    fitted = np.concatenate([[s / n] * c for s, n, c in blocks])
    return np.asarray(x)[order], fitted


def knots(conf, fitted):
    """At most KNOTS points of the fit at confidence quantiles, for linear interpolation."""
    qs = np.unique(np.quantile(conf, np.linspace(0, 1, KNOTS)))
    return [[round(float(q), 4), round(float(np.interp(q, conf, fitted)), 4)] for q in qs]


def calibrate(lines_by_set):
    x, y, w = [], [], []
    for lines in lines_by_set.values():
        for ref, hyp, conf in lines:
            x.append(conf)
            y.append(max(0.0, 1.0 - edits(ref, hyp) / max(1, len(ref))))
            w.append(1.0 / len(lines))
    conf, fitted = isotonic(np.array(x), np.array(y), np.array(w))
    return knots(conf, fitted)


def cer(pairs):
    return 100.0 * sum(edits(r, h) for r, h in pairs) / max(1, sum(len(r) for r, _ in pairs))


def report(results, curves, print_id, hand_id):
    def expected(rec, conf):
        ks = np.array(curves[rec])
        return float(np.interp(conf, ks[:, 0], ks[:, 1]))

    print(f"{'set':<12} {print_id:>14} {hand_id:>14} {'auto raw':>10} {'auto calib':>11} {'oracle':>8}")
    for name in results[print_id]:
        p, h = results[print_id][name], results[hand_id][name]
        raw = [(rp, hp if cp > ch else hh) for (rp, hp, cp), (_, hh, ch) in zip(p, h)]
        cal = [
            (rp, hp if expected(print_id, cp) > expected(hand_id, ch) else hh)
            for (rp, hp, cp), (_, hh, ch) in zip(p, h)
        ]
        best = [(rp, min((hp, hh), key=lambda t: edits(rp, t))) for (rp, hp, _), (_, hh, _) in zip(p, h)]
        print(
            f"{name:<12} {cer([(r, t) for r, t, _ in p]):>14.2f} {cer([(r, t) for r, t, _ in h]):>14.2f}"
            f" {cer(raw):>10.2f} {cer(cal):>11.2f} {cer(best):>8.2f}"
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inkread", default=os.environ.get("INKREAD", "target/release/inkread"))
    ap.add_argument("--train", required=True, help="../shared/train/manifest.tsv (its val rows are used)")
    ap.add_argument("--printed", required=True, type=Path, help="from scripts/render_printed_lines.py")
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--recognizers", nargs=2, required=True, metavar=("PRINT", "HANDWRITING"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sets = {"handwriting": handwriting_manifest(args.train, args.work), "print": args.printed}
    results, curves = {}, {}
    for rec in args.recognizers:
        results[rec] = {
            name: read_lines(args.inkread, manifest, rec, args.work / f"lines-{rec}-{name}.tsv")
            for name, manifest in sets.items()
        }
        curves[rec] = calibrate(results[rec])
        out = args.work / f"{rec}.json"
        out.write_text(json.dumps({"knots": curves[rec], "fitted_on": {
            n: len(v) for n, v in results[rec].items()}}, indent=1) + "\n")
        print(f"{rec}: {out}: {curves[rec]}")
    report(results, curves, *args.recognizers)


if __name__ == "__main__":
    main()
