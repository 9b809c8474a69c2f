#!/usr/bin/env python3
"""The adaptation curve of docs/TRAIN.md: how fast a trained recognizer learns one hand.

The Hooker letters' validation pages (one writer, never trained on) are split by page: the
first pages, in name order, give the k lines to learn from (k = 0, 10, 25, 50, 100), the
remaining pages are read to measure. For each k it fine-tunes the base model with
`inkread train recognizer` (no augmentation beyond the default, seeded) and scores the held-out
lines with `inkread eval lines`; k = 0 scores the base model itself. Results: one JSON line
per k on stdout, and the eval reports (scores only) in OUT. The manifests it writes hold
the training set's transcriptions, so they go to a temporary folder, never into OUT.

    scripts/adaptation_curve.py --bin target/debug/inkread --base hw-crnn-1 --out docs/train

`--lr` and `--epochs` set the fine-tuning recipe, `--ks` which k to run (the split stays the
same); adapted models are named `BASE-adapt-K-lrLR-eEPOCHS`.
"""

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

KS = [0, 10, 25, 50, 100]


def hooker_val(manifest: Path):
    with manifest.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = [r for r in rows if r["path"].startswith("hooker/") and r["split"] == "val"]
    for r in rows:
        r["page"] = r["note"].split(";")[0].removeprefix("page=")
        r["path"] = str((manifest.parent / r["path"]).resolve())
    return sorted(rows, key=lambda r: (r["page"], r["path"]))


def write(rows, path: Path, hold_out: int = 0):
    """A manifest of `rows`; with `hold_out` N, every Nth row validates instead."""
    with path.open("w", encoding="utf-8") as f:
        f.write("path\ttranscription\tsplit\n")
        for i, r in enumerate(rows):
            split = "val" if hold_out and i % hold_out == hold_out - 1 else "train"
            f.write(f"{r['path']}\t{r['transcription']}\t{split}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/debug/inkread")
    ap.add_argument("--base", required=True, help="the trained model to adapt")
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--out", default="docs/train")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", default="1e-4", help="peak learning rate of each fine-tuning")
    ap.add_argument("--ks", default=",".join(map(str, KS)), help="the k to run, e.g. 0,50")
    ap.add_argument("--hold-out", type=int, default=0,
                    help="every Nth of the k lines validates (early stopping) instead of training")
    ap.add_argument("--patience", type=int, help="epochs without a better validation CER [epochs]")
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = hooker_val(Path(args.shared) / "train" / "manifest.tsv")
    # Pages to learn from come first; every k takes the first k lines of them, and the
    # lines of the pages after the last one any k touches are read.
    pages = sorted({r["page"] for r in rows})
    learn_pages, seen = [], 0
    for page in pages:
        if seen >= max(KS):
            break
        learn_pages.append(page)
        seen += sum(r["page"] == page for r in rows)
    learn = [r for r in rows if r["page"] in learn_pages]
    test = [r for r in rows if r["page"] not in learn_pages]
    scratch = Path(tempfile.mkdtemp(prefix="inkread-adapt-"))
    test_manifest = scratch / "test.tsv"
    write(test, test_manifest)
    for k in ks:
        model = args.base
        if k > 0:
            model = f"{args.base}-adapt-{k}-lr{args.lr}-e{args.epochs}" + (
                f"-h{args.hold_out}" if args.hold_out else "")
            data = scratch / f"learn_{k}.tsv"
            write(learn[:k], data, args.hold_out)
            subprocess.run([args.bin, "train", "recognizer", "--base", args.base, "--data", str(data),
                            "--out", model, "--epochs", str(args.epochs), "--batch", "8",
                            "--lr", args.lr, "--seed", "1", "--patience", str(args.patience or args.epochs),
                            "--device", "cpu"], check=True)
        report = out / f"adapt_{model}.json"
        with report.open("w") as f:
            subprocess.run([args.bin, "eval", "lines", str(test_manifest), "--recognizer", model,
                            "--format", "json", "--device", "cpu"], check=True, stdout=f)
        overall = json.loads(report.read_text())["overall"]
        print(json.dumps({"k": k, "lr": args.lr, "epochs": args.epochs, "hold_out": args.hold_out,
                          "test_lines": len(test),
                          "model": model, **overall}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
