#!/usr/bin/env python3
"""Turns the reports of scripts/run_eval.sh into the Markdown tables of docs/EVAL.md.

    python3 scripts/eval_tables.py docs/eval/*.json            # one row per run and set
    python3 scripts/eval_tables.py --pages printed docs/eval/pages_ppocr-v4-det_ppocr-v4-rec.log
                                                               # one row per page of a set
"""
import json
import os
import sys

COLUMNS = ["n", "cer", "wer", "cer_nocase", "wer_nocase", "precision", "recall", "f1",
           "page_cer", "seconds_per_item"]


def cell(key, value):
    if value is None:
        return "-"
    if key == "n":
        return str(value)
    if key == "seconds_per_item":
        return f"{value:.1f}"
    return f"{100 * value:.1f}"


def summary(paths):
    print("| run | set | " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * (len(COLUMNS) + 2))
    for path in paths:
        report = json.load(open(path))
        name = os.path.basename(path).removesuffix(".json")
        rows = sorted(report["sets"].items()) + [("overall", report["overall"])]
        for set_name, metrics in rows:
            cells = " | ".join(cell(k, metrics.get(k)) for k in COLUMNS)
            print(f"| {name} | {set_name} | {cells} |")


def per_page(set_name, log_path):
    """Rows from `inkread eval pages -v` lines: path, lines read/annotated, cer%, page_cer%, s."""
    print("| page | lines read / annotated | CER | page CER | seconds |")
    print("|---|---|---|---|---|")
    for line in open(log_path):
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 5 or f"/{set_name}/" not in fields[0]:
            continue
        path, lines, cer, page_cer, seconds = fields
        read, annotated = lines.split()[2], lines.split()[4]
        page = os.path.splitext(os.path.basename(path))[0]
        print(f"| {page} | {read} / {annotated} | {cer.split()[1]} | {page_cer.split()[1]} "
              f"| {seconds.rstrip('s')} |")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--pages":
        per_page(sys.argv[2], sys.argv[3])
    else:
        summary(sys.argv[1:])
