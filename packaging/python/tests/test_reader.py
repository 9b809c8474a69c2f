"""The Python Reader gives what the command line gives, from paths and from bytes."""

import threading
import time

import pytest

import inkread
from conftest import DETECTOR, TWO_PAGE_PDF, cli_read


@pytest.fixture(scope="module")
def reader():
    return inkread.Reader(detector=DETECTOR, device="cpu")


def same_lines(ours, theirs):
    assert [l["text"] for l in ours["lines"]] == [l["text"] for l in theirs["lines"]]
    for a, b in zip(ours["lines"], theirs["lines"]):
        flat = lambda polygon: [c for point in polygon for c in point]  # noqa: E731
        assert flat(a["polygon"]) == pytest.approx(flat(b["polygon"]), abs=1e-3)
        assert a["confidence"] == pytest.approx(b["confidence"], abs=1e-4)


def test_reads_every_printed_page_as_the_cli_does(reader, printed_pages, cli_readings):
    for page in printed_pages:
        reading = reader.read(page)
        assert set(reading) >= {"image", "width", "height", "lines", "timings_ms"}
        same_lines(reading, cli_readings[str(page)])


def test_bytes_read_like_the_file(reader, printed_pages):
    page = printed_pages[0]
    from_file = reader.read(str(page))
    from_bytes = reader.read(page.read_bytes(), name="in memory")
    assert from_bytes["image"] == "in memory"
    same_lines(from_bytes, from_file)


def test_bad_input_raises_inkread_error_with_the_reason(reader, tmp_path):
    with pytest.raises(inkread.InkreadError, match="not an image"):
        reader.read(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(inkread.InkreadError, match="No such file"):
        reader.read(tmp_path / "missing.png")


def test_read_many_keeps_going_past_a_bad_file(reader, printed_pages, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff this is not a JPEG")
    results = reader.read_many([printed_pages[1], bad])
    assert "error" not in results[0] and results[0]["lines"]
    assert results[1]["image"] == str(bad) and "bad.jpg" in results[1]["error"]


def test_the_gil_is_released_while_reading(reader, printed_pages):
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.01)

    thread = threading.Thread(target=count)
    thread.start()
    started = time.perf_counter()
    reader.read(printed_pages[0])
    elapsed = time.perf_counter() - started
    done.set()
    thread.join()
    # Holding the GIL for the whole read would leave the counter at a tick or two.
    assert len(ticks) > 0.25 * elapsed / 0.01, (len(ticks), elapsed)


def test_models_share_the_cli_store(reader):
    models = {m["id"]: m for m in inkread.models.list()}
    assert models[reader.recognizer]["installed"]
    assert models[reader.detector]["installed"]
    assert models[reader.recognizer]["role"] == "recognizer"
    assert inkread.models.pull(reader.recognizer)[0].is_dir()
    with pytest.raises(inkread.InkreadError, match="no-such-model"):
        inkread.models.pull("no-such-model")


def test_exports_match_the_cli_formats(reader, printed_pages):
    reading = reader.read(printed_pages[0])
    page_xml = inkread.export(reading, "page-xml")
    assert "<PcGts" in page_xml and reading["lines"][0]["text"].split()[0] in page_xml
    assert inkread.export(reading, "text").strip() == "\n".join(l["text"] for l in reading["lines"])
    with pytest.raises(inkread.InkreadError, match="unknown format"):
        inkread.export(reading, "docx")


def test_unknown_options_are_clear_errors():
    with pytest.raises(inkread.InkreadError, match="unknown device"):
        inkread.Reader(device="tpu")
    with pytest.raises(inkread.InkreadError, match="unknown mode"):
        inkread.Reader(mode="paragraph")


def test_a_pdf_gives_every_page_as_the_cli_does(reader):
    pages = reader.read_pages(TWO_PAGE_PDF)
    cli = cli_read("--detector", DETECTOR, TWO_PAGE_PDF)
    assert [p["image"] for p in pages] == [f"{TWO_PAGE_PDF}#page={n}" for n in (1, 2)]
    assert [p["image"] for p in cli] == [p["image"] for p in pages]
    for ours, theirs in zip(pages, cli):
        assert ours["lines"], "each page of the fixture has text"
        same_lines(ours, theirs)
    from_bytes = reader.read_pages(TWO_PAGE_PDF.read_bytes(), name="scan.pdf")
    assert [p["image"] for p in from_bytes] == ["scan.pdf#page=1", "scan.pdf#page=2"]
    with pytest.raises(inkread.InkreadError, match="has 2 pages: read_pages"):
        reader.read(TWO_PAGE_PDF)
    many = reader.read_many([TWO_PAGE_PDF, b"not an image"])
    assert [m["image"] for m in many[:2]] == [p["image"] for p in pages]
    assert "error" in many[2]


def test_mode_can_change_per_call(printed_pages):
    page = printed_pages[0]
    line_reader = inkread.Reader(detector=DETECTOR, device="cpu", mode="line")
    whole = line_reader.read(page)
    assert len(whole["lines"]) == 1, "mode=line reads the image as one line"
    # The detector loads when a call first asks for a page.
    as_page = line_reader.read(page, mode="page")
    assert len(as_page["lines"]) > 5
    assert line_reader.detector == DETECTOR
    with pytest.raises(inkread.InkreadError, match="unknown mode"):
        line_reader.read(page, mode="paragraph")
