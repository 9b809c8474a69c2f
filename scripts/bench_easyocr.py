#!/usr/bin/env python3
"""Times pages through CRAFT detection + the english_g2 CRNN, Inkread (Burn) against EasyOCR
(PyTorch) with the same weights, same pages, same thread count. For docs/BENCH.md and
scripts/bench_all.sh.

    RAYON_NUM_THREADS=2 python3 scripts/bench_easyocr.py INKREAD_BINARY MODELS_DIR PAGE... \
        [--repeats N] [--device cpu]

MODELS_DIR is Inkread's model folder (`$INKREAD_HOME/models`, where `inkread models
install craft-mlt-25k easyocr-english-g2` puts the two `.pth` files); EasyOCR reads the
same files from there and downloads nothing.

The same work on both sides: CRAFT on the page scaled to a longest side of 1280 (Inkread's
default; EasyOCR's `canvas_size` is set to it), then the recognizer on the lines found,
16 lines a batch (Inkread's batch; EasyOCR's `batch_size` is set to it). Each engine groups
CRAFT's boxes into lines its own way, so the line counts can differ a little; they are
printed. Inkread's stage times come from `inkread read --format json` (`timings_ms`);
EasyOCR's from timing its `detect` and `recognize` calls. Model loading and image decoding
are left out of both. EasyOCR runs with `quantize=False`: by default it turns its
recognizer's LSTM and linear layers into int8 on the CPU, which Inkread does not do
(CRAFT has neither, so detection is unaffected). Each engine runs once untimed first. Prints one JSON line per engine
and page with the medians and the runs. Needs `pip install easyocr`.
"""
import argparse
import json
import os
import statistics
import time

from bench_page import inkread_runs

BATCH = 16
CANVAS = 1280


def easyocr_reader(models_dir, threads):
    import torch
    import easyocr

    torch.set_num_threads(threads)
    # EasyOCR looks for `<storage>/<file name>`; Inkread keeps each model in its own folder.
    storage = os.path.join(os.environ.get("TMPDIR", "/tmp"), "inkread-bench-easyocr")
    os.makedirs(storage, exist_ok=True)
    for model, name in (("craft-mlt-25k", "craft_mlt_25k.pth"),
                        ("easyocr-english-g2", "english_g2.pth")):
        link = os.path.join(storage, name)
        if not os.path.exists(link):
            os.symlink(os.path.join(models_dir, model, name), link)
    return easyocr.Reader(["en"], gpu=False, model_storage_directory=storage,
                          download_enabled=False, verbose=False, quantize=False)


def easyocr_runs(reader, page, repeats):
    import cv2

    image = cv2.imread(page)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    runs = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        horizontal, free = reader.detect(image, canvas_size=CANVAS, mag_ratio=1.0)
        detected = time.perf_counter()
        result = reader.recognize(grey, horizontal[0], free[0], batch_size=BATCH,
                                  contrast_ths=0.0)
        done = time.perf_counter()
        runs.append({"detect_s": detected - started, "recognize_s": done - detected,
                     "lines": len(result)})
    return runs[1:]


def summary(engine, page, runs, threads):
    med = {k: statistics.median(r[k] for r in runs) for k in ("detect_s", "recognize_s")}
    return {"engine": engine, "page": os.path.basename(page), "threads": threads,
            "detect_s_median": med["detect_s"], "recognize_s_median": med["recognize_s"],
            "total_s_median": med["detect_s"] + med["recognize_s"],
            "lines": runs[0]["lines"], "runs": runs}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("models_dir")
    parser.add_argument("pages", nargs="+")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    threads = int(os.environ.get("RAYON_NUM_THREADS", os.cpu_count() or 1))
    reader = easyocr_reader(args.models_dir, threads)
    for page in args.pages:
        runs = inkread_runs(args.binary, page, args.repeats, "craft-mlt-25k",
                            "easyocr-english-g2", args.device)
        print(json.dumps(summary(f"inkread-burn-{args.device}", page, runs, threads)), flush=True)
        runs = easyocr_runs(reader, page, args.repeats)
        print(json.dumps(summary("easyocr-pytorch", page, runs, threads)), flush=True)


if __name__ == "__main__":
    main()
