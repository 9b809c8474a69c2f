"""Shared fixtures: the printed eval pages of ../shared and what the CLI reads on them.

These tests need `../shared` (beside the repository) and the `inkread` binary of the same
checkout; without them they fail loudly rather than skip (CI has both).
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("INKREAD_SHARED_DIR", REPO.parent / "shared"))
PRINTED = SHARED / "eval" / "pages" / "printed"
# These tests check the bindings, not the detectors: the fast print detector keeps the suite
# short (the default, auto, reads these pages with kraken-blla: about 3.6x as long a page).
DETECTOR = "ppocr-v4-det"


# A two-page scanned PDF that scripts/make_pdf_fixtures.py made (committed with the tests).
TWO_PAGE_PDF = REPO / "tests" / "fixtures" / "pdf" / "two_scans.pdf"


def inkread_binary() -> Path:
    explicit = os.environ.get("INKREAD_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "inkread"


@pytest.fixture(scope="session")
def printed_pages():
    pages = sorted(p for p in PRINTED.glob("*") if p.suffix in (".png", ".jpg"))
    assert pages, f"no printed eval pages in {PRINTED}: these tests need ../shared"
    return pages


@pytest.fixture(scope="session")
def cli_readings(printed_pages):
    """What `inkread read --format json --device cpu` gives for each printed page, by path."""
    binary = inkread_binary()
    assert binary.is_file(), f"{binary} is missing: build it with `cargo build` first"
    out = subprocess.run(
        [str(binary), "read", "--format", "json", "--device", "cpu", "--detector", DETECTOR]
        + list(map(str, printed_pages)),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    readings = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(readings) == len(printed_pages)
    return {r["image"]: r for r in readings}


def cli_read(*args) -> list:
    """What `inkread read --format json --device cpu ARGS` prints, one dict a page."""
    binary = inkread_binary()
    out = subprocess.run(
        [str(binary), "read", "--format", "json", "--device", "cpu", *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]
