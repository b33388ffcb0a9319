"""Where batchvid's own data files are, installed or in a source checkout (no heavy imports here)."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import FatalError

SCHEMA_PACKAGE = "batchvid.schemas"


def schema_folder() -> Traversable:
    """The installed package data, or the top-level schemas/ folder of a source checkout."""
    try:
        folder = resources.files(SCHEMA_PACKAGE)
        if folder.is_dir() and any(entry.name.endswith(".json") for entry in folder.iterdir()):
            return folder
    except (ModuleNotFoundError, OSError):
        pass
    source = Path(__file__).resolve().parent.parent / "schemas"
    if source.is_dir():
        return source
    raise FatalError("batchvid's schemas are missing; reinstall batchvid")
