"""Inkread from Python: the same models, results and JSON as the ``inkread`` command line.

    import inkread
    reader = inkread.Reader()                       # the catalog's default models
    reading = reader.read("page.jpg")               # a dict, as `inkread read --format json`
    print(reading["lines"][0]["text"])

Models live in the same store as the command line's (``INKREAD_HOME``, else
``~/.local/share/inkread``); missing default models are installed on first use.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _inkread, models
from ._inkread import InkreadError, __version__
from ._inkread import Reader as _NativeReader

__all__ = ["Reader", "InkreadError", "export", "models", "__version__"]

Source = Union[str, "os.PathLike[str]", bytes]


def export(reading: Dict[str, Any], format: str) -> str:
    """A reading in another format: "text", "json", "hocr", "page-xml" or "alto", exactly
    as ``inkread read --format`` writes it."""
    return _inkread.export_reading(json.dumps(reading), format)


def _source(source: Source) -> Union[str, bytes]:
    if isinstance(source, bytes):
        return source
    if isinstance(source, (bytearray, memoryview)):
        return bytes(source)
    return os.fspath(source)


class Reader:
    """Loads a detector and a recognizer once; reads one image after another.

    ``detector`` and ``recognizer`` are model ids (see ``inkread.models.list()``); ``None``
    takes what ``inkread read`` takes. ``device`` is ``"auto"`` (a GPU through wgpu when there
    is one), ``"gpu"`` or ``"cpu"``. ``mode`` is ``"auto"``, ``"page"`` or ``"line"``.
    The networks run without the GIL, so other Python threads go on meanwhile.
    """

    def __init__(
        self,
        detector: Optional[str] = None,
        recognizer: Optional[str] = None,
        device: str = "auto",
        mode: str = "auto",
    ) -> None:
        self._native = _NativeReader(detector, recognizer, device, mode)

    @property
    def detector(self) -> str:
        """The detector pages are read with (loaded when a page first needs it)."""
        return self._native.detector

    @property
    def recognizer(self) -> str:
        return self._native.recognizer

    @property
    def device(self) -> str:
        return self._native.device

    def read(
        self, source: Source, name: Optional[str] = None, mode: Optional[str] = None
    ) -> Dict[str, Any]:
        """Reads one image (a path or encoded bytes) as a dict; raises InkreadError if it
        cannot. A file of several pages (PDF, TIFF) is an error here: use ``read_pages``.
        ``mode`` ("auto", "page", "line") overrides the reader's own for this call."""
        pages = self.read_pages(source, name, mode)
        if len(pages) != 1:
            label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
            raise InkreadError(f"{label} has {len(pages)} pages: read_pages() reads them all")
        return pages[0]

    def read_pages(
        self, source: Source, name: Optional[str] = None, mode: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        """Reads every page of a file or of encoded bytes: a PDF or a multi-page TIFF gives
        one dict a page, its ``image`` named ``FILE#page=N`` as ``inkread read`` names it."""
        return [json.loads(page) for page in self._native.read_json(_source(source), name, mode)]

    def read_many(
        self, sources: Iterable[Source], mode: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        """Reads several files in one call, one dict a page in order (a PDF gives one for each
        of its pages). A file that cannot be read gives ``{"image": <source>, "error":
        <message>}`` in its place instead of raising."""
        items = [_source(s) for s in sources]
        results: List[Dict[str, Any]] = []
        for item, (pages, error) in zip(items, self._native.read_many_json(items, mode)):
            if error is not None:
                label = "<bytes>" if isinstance(item, bytes) else str(item)
                results.append({"image": label, "error": error})
            else:
                results.extend(json.loads(page) for page in pages)
        return results

    def __repr__(self) -> str:
        return (
            f"inkread.Reader(detector={self.detector!r}, recognizer={self.recognizer!r}, "
            f"device={self.device!r})"
        )
