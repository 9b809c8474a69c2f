#!/usr/bin/env python3
"""Turns the JSON reports of scripts/run_eval.sh into the Markdown tables of docs/EVAL.md.

    python3 scripts/eval_tables.py docs/eval/*.json
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


def main(paths):
    print("| run | set | " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * (len(COLUMNS) + 2))
    for path in paths:
        report = json.load(open(path))
        name = os.path.basename(path).removesuffix(".json")
        rows = sorted(report["sets"].items()) + [("overall", report["overall"])]
        for set_name, metrics in rows:
            cells = " | ".join(cell(k, metrics.get(k)) for k in COLUMNS)
            print(f"| {name} | {set_name} | {cells} |")


if __name__ == "__main__":
    main(sys.argv[1:])
