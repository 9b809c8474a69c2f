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
        [str(binary), "read", "--format", "json", "--device", "cpu", *map(str, printed_pages)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    readings = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(readings) == len(printed_pages)
    return {r["image"]: r for r in readings}
