"""Inkread on Spark (local[2]): the same text as the CLI, a bad file is an error row, and
the job survives a Python worker killed in the middle of it."""

import os
import signal
import sys
import threading
import time

import psutil
import pytest

# No skip: without pyspark this module fails to import, loudly (packaging/python/test.sh
# installs it).
import pyspark  # noqa: E402,F401

import inkread.spark  # noqa: E402
from conftest import DETECTOR, TWO_PAGE_PDF, cli_read  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    # Workers must run this environment's Python, where inkread is installed (a local
    # session reads PYSPARK_PYTHON, not spark.pyspark.python).
    os.environ["PYSPARK_PYTHON"] = sys.executable

    # local[2,4]: two task slots, and a failed task is retried (up to 4 attempts), as on a
    # cluster; plain local[2] never retries.
    session = (
        SparkSession.builder.master("local[2,4]")
        .appName("inkread-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.python.worker.reuse", "true")
        .getOrCreate()
    )
    yield session
    session.stop()


def images_df(spark, folder):
    return spark.read.format("binaryFile").load(str(folder)).repartition(3)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, printed_pages):
    """The printed pages plus one corrupt file, linked into one folder."""
    folder = tmp_path_factory.mktemp("scans")
    for page in printed_pages:
        (folder / page.name).symlink_to(page)
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    return folder


def by_name(rows):
    return {os.path.basename(r["path"]): r for r in rows}


def test_spark_reads_what_the_cli_reads(spark, folder, printed_pages, cli_readings):
    df = images_df(spark, folder)
    rows = by_name(inkread.spark.read_images(df, detector=DETECTOR).collect())
    assert len(rows) == len(printed_pages) + 1
    for page in printed_pages:
        row = rows[page.name]
        assert row["error"] is None, row["error"]
        expected = [l["text"] for l in cli_readings[str(page)]["lines"]]
        assert [l["text"] for l in row["lines"]] == expected
        assert row["text"] == "\n".join(expected)
        assert row["recognizer"] and row["detector"] and row["seconds"] > 0
    bad = rows["corrupt.png"]
    assert bad["lines"] is None and "corrupt.png" in bad["error"]


def test_paths_without_content_are_opened_by_the_workers(spark, printed_pages, cli_readings):
    df = spark.createDataFrame([(str(p),) for p in printed_pages[:2]], "path string")
    rows = by_name(inkread.spark.read_images(df, content_col=None, detector=DETECTOR).collect())
    for page in printed_pages[:2]:
        expected = [l["text"] for l in cli_readings[str(page)]["lines"]]
        assert [l["text"] for l in rows[page.name]["lines"]] == expected


def python_workers():
    """Spark's Python worker processes (forked by pyspark.daemon), oldest first."""
    workers = []
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "pyspark.daemon" in cmd:
            workers.extend(proc.children())
    return sorted(workers, key=lambda p: p.create_time())


def test_a_pdf_gives_one_row_a_page(spark):
    df = spark.read.format("binaryFile").load(str(TWO_PAGE_PDF))
    rows = inkread.spark.read_images(df, detector=DETECTOR).collect()
    cli = cli_read("--detector", DETECTOR, TWO_PAGE_PDF)
    assert sorted(r["path"].rsplit("#", 1)[1] for r in rows) == ["page=1", "page=2"]
    for row in rows:
        assert row["error"] is None
        page = int(row["path"].rsplit("=", 1)[1])
        assert row["text"] == "\n".join(l["text"] for l in cli[page - 1]["lines"])


def test_a_killed_worker_is_retried_and_each_page_read_once(spark, folder, printed_pages):
    killed = []

    def kill_one_worker_mid_run():
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            for worker in python_workers():
                # A worker busy for a few seconds is reading (or loading models): kill it.
                if time.time() - worker.create_time() > 3:
                    try:
                        os.kill(worker.pid, signal.SIGKILL)
                        killed.append(worker.pid)
                    except ProcessLookupError:
                        continue
                    break
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
    # Fresh workers for this job, so the one killed is busy with it.
    spark.sparkContext.setLocalProperty("inkread.test", "kill")
    killer.start()
    rows = inkread.spark.read_images(images_df(spark, folder), detector=DETECTOR).collect()
    killer.join(timeout=1)
    assert killed, "no Python worker was found to kill"
    names = [os.path.basename(r["path"]) for r in rows]
    assert sorted(names) == sorted([p.name for p in printed_pages] + ["corrupt.png"])
    assert all(r["error"] is None for r in rows if r["path"].endswith((".png", ".jpg")) and "corrupt" not in r["path"])
