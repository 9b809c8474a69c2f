"""Pages per second for the CLI, the Python package and Spark local[1] / local[2], on the
same pages, one after the other in one run (docs/SCALE.md).

    python packaging/python/bench/scale.py PAGE... [--detector ID] [--out results.json]

Each engine reads every page once after loading its models; model loading is timed apart.
Spark's figure includes starting the job but not the JVM (the session is started first);
each of its Python workers loads the models once, which is counted.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path


def cli(binary, pages, detector):
    started = time.perf_counter()
    subprocess.run([binary, "read", "--device", "cpu", "--format", "json",
                    "--detector", detector, *pages], check=True, capture_output=True)
    return time.perf_counter() - started


def python_package(pages, detector):
    import inkread

    started = time.perf_counter()
    reader = inkread.Reader(detector=detector, device="cpu")
    loaded = time.perf_counter()
    for page in pages:
        reader.read(page)
    done = time.perf_counter()
    return done - loaded, loaded - started


def spark(master, folder, detector):
    from pyspark.sql import SparkSession

    import inkread.spark

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (SparkSession.builder.master(master).appName("inkread-scale")
               .config("spark.ui.enabled", "false").getOrCreate())
    df = session.read.format("binaryFile").load(folder)
    n = df.count()
    started = time.perf_counter()
    rows = inkread.spark.read_images(df.repartition(max(2, n // 2)), detector=detector).collect()
    elapsed = time.perf_counter() - started
    session.stop()
    assert all(r["error"] is None for r in rows), [r["error"] for r in rows]
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("pages", nargs="+")
    parser.add_argument("--binary", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "inkread"))
    parser.add_argument("--detector", default="auto")
    parser.add_argument("--out")
    args = parser.parse_args()
    pages = [str(Path(p).resolve()) for p in args.pages]
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / "inkread-scale-pages"
    folder.mkdir(exist_ok=True)
    for p in pages:
        link = folder / Path(p).name
        if not link.exists():
            link.symlink_to(p)
    n = len(pages)
    results = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
               "pages": n, "detector": args.detector, "load_before": os.getloadavg()[0]}
    results["cli_s"] = cli(args.binary, pages, args.detector)
    results["python_s"], results["python_load_models_s"] = python_package(pages, args.detector)
    results["python_max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for master in ("local[1]", "local[2]"):
        results[f"spark_{master}_s"] = spark(master, str(folder), args.detector)
    results["load_after"] = os.getloadavg()[0]
    for key in [k for k in results if k.endswith("_s") and not k.startswith("python_load")]:
        results[key.replace("_s", "_pages_per_s")] = n / results[key]
    print(json.dumps(results, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
