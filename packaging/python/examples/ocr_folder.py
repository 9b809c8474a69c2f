"""Reads a folder of scans with Spark and writes Parquet plus one PAGE-XML file per page.

    python packaging/python/examples/ocr_folder.py SCANS_FOLDER OUT_FOLDER [--master local[2]]

On a cluster, submit it with spark-submit instead (see docs/SCALE.md for the model store).
"""

import argparse
import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

import inkread
import inkread.spark


def main() -> None:
    args = parse_args()
    # Local runs: the workers use this Python (where inkread is installed) unless told.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = SparkSession.builder.master(args.master).appName("inkread-ocr-folder").getOrCreate()
    images = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", args.glob)
        .load(args.scans)
    )
    results = inkread.spark.read_images(
        images, detector=args.detector, recognizer=args.recognizer, model_store=args.model_store
    ).cache()
    out = Path(args.out)
    results.drop("reading").write.mode("overwrite").parquet(str(out / "readings.parquet"))
    write_page_xml(results, out / "page-xml")
    failed = results.filter("error is not null").count()
    print(f"read {results.count() - failed} images, {failed} failed; results in {out}")
    spark.stop()


def write_page_xml(results, folder: Path) -> None:
    # One file per page, named after the image; written on the driver, a page at a time.
    import json

    folder.mkdir(parents=True, exist_ok=True)
    for row in results.select("path", "reading").where("reading is not null").toLocalIterator():
        name = Path(row["path"]).stem + ".xml"
        (folder / name).write_text(inkread.export(json.loads(row["reading"]), "page-xml"))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scans", help="folder of images (searched recursively)")
    parser.add_argument("out", help="output folder: readings.parquet and page-xml/")
    parser.add_argument("--master", default=os.environ.get("SPARK_MASTER", "local[2]"))
    parser.add_argument("--glob", default="*.{png,jpg,jpeg,tif,tiff,webp,bmp}")
    parser.add_argument("--detector")
    parser.add_argument("--recognizer")
    parser.add_argument("--model-store", help="INKREAD_HOME for the executors")
    return parser.parse_args()


if __name__ == "__main__":
    main()
