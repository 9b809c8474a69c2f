#!/usr/bin/env python3
"""The table of scripts/bench_all.sh: Inkread's time over each peer's, from its runs.jsonl.

    python3 scripts/bench_table.py OUT_DIR/runs.jsonl > OUT_DIR/table.md
    python3 scripts/bench_table.py --seconds-of FILE|-   (a helper of bench_all.sh)

`--seconds-of` reads one JSON document (kraken_segment_reference.py's page file, or
`inkread read --format json`) and prints `{"seconds": ..., "lines": ...}`: the
segmentation time of the page (kraken's `seconds`; Inkread's `timings_ms.detect`).
"""
import json
import statistics
import sys
from collections import defaultdict

# Issue 13's bars: the most Inkread's time may be over the peer's.
BARS = {
    "ppocr total": 1.2,
    "easyocr detect": 1.0,
    "trocr encoder": 1.5,
    "trocr job (batch 8)": 1.0,
}


def seconds_of(path):
    doc = json.load(sys.stdin if path == "-" else open(path))
    if "timings_ms" in doc:
        return {"seconds": doc["timings_ms"]["detect"] / 1e3, "lines": len(doc["lines"])}
    return {"seconds": doc["seconds"], "network_seconds": doc.get("network_seconds"),
            "lines": len(doc.get("lines", []))}


def ratio(ours, theirs):
    return f"{ours / theirs:.2f}" if theirs else "n/a"


def verdict(name, value):
    bar = BARS.get(name)
    if bar is None or value == "n/a":
        return ""
    return f"≤ {bar} " + ("met" if float(value) <= bar else "**not met**")


def page_rows(runs, suite, peer, stages):
    """Per page and summed over pages: Inkread's median seconds over the peer's."""
    by_page = defaultdict(dict)
    for r in runs:
        if r["suite"] == suite:
            key = "peer" if r["engine"] == peer else "inkread"
            by_page[r["page"]][key] = r
    rows, sums = [], defaultdict(float)
    for page, pair in sorted(by_page.items()):
        if len(pair) < 2:
            continue
        cells = []
        for stage in stages:
            ours, theirs = pair["inkread"][f"{stage}_s_median"], pair["peer"][f"{stage}_s_median"]
            sums[("inkread", stage)] += ours
            sums[("peer", stage)] += theirs
            cells.append(f"{ours:.2f} / {theirs:.2f} = {ratio(ours, theirs)}")
        lines = f'{pair["inkread"]["lines"]} / {pair["peer"]["lines"]}'
        rows.append(f"| {page} | {lines} | " + " | ".join(cells) + " |")
    total = [ratio(sums[("inkread", s)], sums[("peer", s)]) for s in stages]
    rows.append("| **all pages** | | " + " | ".join(
        f'{sums[("inkread", s)]:.2f} / {sums[("peer", s)]:.2f} = **{t}** {verdict(f"{suite} {s}", t)}'
        for s, t in zip(stages, total)) + " |")
    return rows


def trocr_rows(runs):
    groups = defaultdict(dict)
    for r in runs:
        if r["suite"] == "trocr":
            key = "peer" if r["engine"] == "torch" else "inkread"
            groups[(r["model"], r["batch"])][key] = r
    rows = []
    for (model, batch), pair in sorted(groups.items()):
        if len(pair) < 2:
            continue
        cells = []
        for stage, name in (("encoder", "trocr encoder"), ("generate", f"trocr job (batch {batch})")):
            ours, theirs = pair["inkread"][f"{stage}_s_median"], pair["peer"][f"{stage}_s_median"]
            value = ratio(ours, theirs)
            cells.append(f"{ours:.2f} / {theirs:.2f} = **{value}** {verdict(name, value)}")
        rows.append(f"| {model} | {batch} | " + " | ".join(cells) + " |")
    return rows


def kraken_rows(runs):
    pages = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if r["suite"] == "kraken":
            key = "peer" if r["engine"] == "kraken" else "inkread"
            pages[r["page"]][key].append(r["seconds"])
    rows = []
    for page, pair in sorted(pages.items()):
        if len(pair) < 2:
            continue
        ours, theirs = statistics.median(pair["inkread"]), statistics.median(pair["peer"])
        rows.append(f"| {page} | {ours:.2f} / {theirs:.2f} = **{ratio(ours, theirs)}** |")
    return rows


def table(runs):
    out = []
    for m in (r for r in runs if r["suite"] == "machine"):
        versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
        out += [f'Machine: {m["cpu"]}, {m["cores"]} cores; {m["threads"]} threads on every side; '
                f'Inkread {m["commit"]} on {m["device"]}; load average {m["load"]:.2f} at the start; '
                f"{versions}.", ""]
    loads = [r["load"] for r in runs if "load" in r and r["suite"] != "machine"]
    if loads:
        out += [f"Load average during the runs: {min(loads):.2f} to {max(loads):.2f}.", ""]
    sections = [
        ("PP-OCRv4 (Inkread / RapidOCR, seconds, medians)", "| page | lines | detect | recognize | total |",
         page_rows(runs, "ppocr", "rapidocr-onnxruntime", ("detect", "recognize", "total"))),
        ("CRAFT + CRNN (Inkread / EasyOCR, seconds, medians)", "| page | lines | detect | recognize | total |",
         page_rows(runs, "easyocr", "easyocr-pytorch", ("detect", "recognize", "total"))),
        ("TrOCR (Inkread / transformers, seconds, medians)", "| model | batch | encoder | job (encoder + 16 steps) |",
         trocr_rows(runs)),
        ("kraken blla segmentation (Inkread / kraken, seconds)", "| page | segmentation |",
         kraken_rows(runs)),
    ]
    for title, header, rows in sections:
        if rows:
            columns = header.count("|") - 1
            out += [f"### {title}", "", header, "|" + " --- |" * columns, *rows, ""]
    return "\n".join(out)


def main():
    if sys.argv[1] == "--seconds-of":
        print(json.dumps(seconds_of(sys.argv[2])))
        return
    with open(sys.argv[1]) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    print(table(runs))


if __name__ == "__main__":
    main()
