"""Inkread on Apache Spark: read a DataFrame of images with the same models and results as
the command line, one Reader per Python worker process.

    df = spark.read.format("binaryFile").load("scans/*.jpg")
    out = inkread.spark.read_images(df)             # path, text, lines, ..., error, seconds

The executors' Python (``PYSPARK_PYTHON``) must have ``inkread`` installed.

Where executors find their models (``model_store``):

- a shared folder every executor can read (NFS, a mounted bucket): pass its path, or set
  ``spark.executorEnv.INKREAD_HOME``; nothing is downloaded if the models are there;
- otherwise each executor installs the missing models once into its own store (its
  ``INKREAD_HOME``, else ``~/.local/share/inkread``) on first use, from PyPI;
- or ship a store as an archive: ``spark-submit --archives models.tar.gz#inkread-models``
  and ``model_store="inkread-models"`` (a path relative to the executor's work folder).
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

__all__ = ["read_images", "COLUMNS", "OUTPUT_SCHEMA_DDL"]

COLUMNS = ["path", "text", "lines", "detector", "recognizer", "reading", "error", "seconds"]

# One row per page (an image file has one, a PDF one a page). `reading` is the whole reading
# as `inkread read --format json` prints it, for exports (PAGE-XML, ALTO) with inkread.export.
OUTPUT_SCHEMA_DDL = (
    "path string, text string, "
    "lines array<struct<text: string, confidence: float, "
    "polygon: array<array<float>>, baseline: array<array<float>>>>, "
    "detector string, recognizer string, reading string, error string, seconds double"
)

# The Reader of this worker process, by its options: Spark reuses Python workers across
# tasks (spark.python.worker.reuse, on by default), so models load once per process.
_READERS: Dict[Tuple[Any, ...], Any] = {}


def _reader(options: Tuple[Any, ...]):
    reader = _READERS.get(options)
    if reader is None:
        import inkread

        detector, recognizer, device, mode, store = options
        if store is not None:
            os.environ["INKREAD_HOME"] = os.path.abspath(store)
        reader = inkread.Reader(detector=detector, recognizer=recognizer, device=device, mode=mode)
        _READERS[options] = reader
    return reader


def _row(path: str, reading: Optional[dict], error: Optional[str], seconds: float, reader) -> dict:
    import json

    lines = []
    if reading is not None:
        lines = [
            {
                "text": line["text"],
                "confidence": float(line["confidence"]),
                "polygon": [[float(x), float(y)] for x, y in line["polygon"]],
                "baseline": (
                    [[float(x), float(y)] for x, y in line["baseline"]]
                    if line.get("baseline")
                    else None
                ),
            }
            for line in reading["lines"]
        ]
    return {
        "path": path,
        "text": "\n".join(line["text"] for line in lines) if reading is not None else None,
        "lines": lines if reading is not None else None,
        "detector": reader.detector if reader is not None else None,
        "recognizer": reader.recognizer if reader is not None else None,
        "reading": json.dumps(reading) if reading is not None else None,
        "error": error,
        "seconds": seconds,
    }


def read_images(
    df,
    path_col: str = "path",
    content_col: Optional[str] = "content",
    detector: Optional[str] = None,
    recognizer: Optional[str] = None,
    device: str = "cpu",
    mode: str = "auto",
    model_store: Optional[str] = None,
):
    """Reads every image of ``df`` and returns a DataFrame with OUTPUT_SCHEMA_DDL's columns.

    ``content_col`` holds the encoded bytes (as ``binaryFile`` gives them); when it is None
    or absent, each worker opens ``path_col`` itself (a path it can see). A file that cannot
    be read becomes a row with ``error`` set, never a failed job. ``device`` defaults to the
    CPU: executors rarely share a GPU well; pass "auto" where they have one each.
    """
    has_content = content_col is not None and content_col in df.columns
    columns = [path_col] + ([content_col] if has_content else [])
    options = (detector, recognizer, device, mode, model_store)

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd

        reader, setup_error = None, None
        for batch in batches:
            if reader is None and setup_error is None:
                try:
                    reader = _reader(options)
                except Exception as e:  # a worker without models: every row says why
                    setup_error = f"cannot load the models: {e}"
            rows = []
            for record in batch.itertuples(index=False):
                path = str(record[0])
                source = (lambda: bytes(record[1])) if has_content else (lambda: _local_path(path))
                rows.extend(_read_file(reader, path, source, setup_error))
            yield pd.DataFrame(rows, columns=COLUMNS)

    return df.select(*columns).mapInPandas(run, OUTPUT_SCHEMA_DDL)


def _read_file(reader, path: str, source, setup_error: Optional[str]) -> List[dict]:
    """The rows of one file: one a page (a PDF's pages are ``PATH#page=N``, as the command
    line names them), or one row with the error."""
    if reader is None:
        return [_row(path, None, setup_error, 0.0, None)]
    started = time.perf_counter()
    try:
        pages = reader.read_pages(source(), name=path)
    except Exception as e:
        return [_row(path, None, str(e), time.perf_counter() - started, reader)]
    each = (time.perf_counter() - started) / len(pages)
    if len(pages) == 1:
        return [_row(path, pages[0], None, each, reader)]
    return [_row(f"{path}#page={i}", page, None, each, reader) for i, page in enumerate(pages, 1)]


def _local_path(path: str) -> str:
    # binaryFile paths are URIs; a worker opening files itself needs a local path.
    from urllib.parse import unquote, urlparse

    parsed = urlparse(path)
    return unquote(parsed.path) if parsed.scheme == "file" else path
