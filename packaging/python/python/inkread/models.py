"""The model catalog and store shared with the ``inkread models`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from . import _inkread


def list() -> List[Dict[str, Any]]:  # noqa: A001 - mirrors `inkread models list`
    """Every catalog model: id, name, role, kind, what it reads, licence, size, installed."""
    return json.loads(_inkread.list_models_json())


def pull(model_id: str) -> List[Path]:
    """Installs a model if missing ("default": the default detector and recognizer);
    returns the folders it is in. Raises InkreadError when no source has it."""
    return [Path(p) for p in _inkread.pull_model(model_id)]


def store() -> Path:
    """The model store in use (INKREAD_HOME, else the user's data folder)."""
    return Path(_inkread.store_path())
