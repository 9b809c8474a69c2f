#!/usr/bin/env python3
"""Times a whole printed page through PP-OCRv4 detection + recognition, Inkread (Burn) against
RapidOCR 1.4.4 (onnxruntime) on the same ONNX files, same page, same thread count. For
docs/BENCH.md.

    RAYON_NUM_THREADS=2 python3 scripts/bench_page.py INKREAD_BINARY PAGE.png [REPEATS]

Inkread's stage times come from `inkread read --format json` (`timings_ms`: detect,
recognize; model loading and image decoding are left out). RapidOCR's come from its own
`elapse` list (detection, recognition; the angle classifier is off, as Inkread has none).
Both shrink pages to a longest side of 2000 px before detection (RapidOCR's default
`max_side_len`, which Inkread follows since commit 729c7e0), so both do the same work;
RAPIDOCR_MAX_SIDE changes RapidOCR's side only (100000: no shrink, for comparisons with
Inkread builds older than that commit). Both run once untimed first. Needs `pip install rapidocr_onnxruntime==1.4.4`.
Prints one JSON line per engine with the medians and the runs.
"""
import json
import os
import statistics
import subprocess
import sys

# Inkread's device (INKREAD_DEVICE, `gpu` for the GPU variant of scripts/bench_all.sh).
DEVICE = os.environ.get("INKREAD_DEVICE", "cpu")


def inkread_runs(binary, page, repeats, detector="ppocr-v4-det", recognizer="ppocr-v4-rec",
                 device=DEVICE):
    """Stage times of `repeats` reads of `page` after an untimed one (also used by
    bench_easyocr.py)."""
    runs = []
    for _ in range(repeats + 1):
        out = subprocess.run(
            [binary, "read", "--mode", "page", "--device", device, "--format", "json",
             "--detector", detector, "--recognizer", recognizer, page],
            check=True, capture_output=True, text=True).stdout
        result = json.loads(out)
        t = result["timings_ms"]
        runs.append({"detect_s": t["detect"] / 1e3, "recognize_s": t["recognize"] / 1e3,
                     "lines": len(result["lines"])})
    return runs[1:]


def rapidocr_runs(page, repeats, threads, max_side):
    import onnxruntime  # noqa: F401  (fails early with a clear message when missing)
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1,
                      max_side_len=max_side)
    runs = []
    for _ in range(repeats + 1):
        result, elapse = engine(page, use_cls=False)
        det, _cls, rec = elapse
        runs.append({"detect_s": det, "recognize_s": rec, "lines": len(result or [])})
    return runs[1:]


def summary(engine, runs, threads, **extra):
    med = {k: statistics.median(r[k] for r in runs) for k in ("detect_s", "recognize_s")}
    return {"engine": engine, "threads": threads, "detect_s_median": med["detect_s"],
            "recognize_s_median": med["recognize_s"],
            "total_s_median": med["detect_s"] + med["recognize_s"],
            "lines": runs[0]["lines"], **extra, "runs": runs}


def main():
    binary, page = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    threads = int(os.environ.get("RAYON_NUM_THREADS", os.cpu_count() or 1))
    print(json.dumps(summary(f"inkread-burn-{DEVICE}", inkread_runs(binary, page, repeats), threads)))
    max_side = int(os.environ.get("RAPIDOCR_MAX_SIDE", 2000))
    runs = rapidocr_runs(page, repeats, threads, max_side)
    print(json.dumps(summary("rapidocr-onnxruntime", runs, threads, max_side_len=max_side)))


if __name__ == "__main__":
    main()
