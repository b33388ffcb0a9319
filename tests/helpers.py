from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchvid.problems import ManifestInvalid
from batchvid.shot import Shot
from batchvid.validate import load_batch


def one_shot(tmp_path: Path, model: str, **fields: Any) -> tuple[Shot | None, list[str]]:
    """Validate a single shot; return it, or the problems (without the path prefix)."""
    doc = {"version": 1, "shots": [{"id": "s", "model": model, "prompt": "p", **fields}]}
    path = tmp_path / "one.yaml"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    try:
        batch = load_batch(path)
    except ManifestInvalid as exc:
        return None, [str(p).split(": ", 1)[1] for p in exc.problems]
    return batch.shots[0], []


def alternating(count: int, **models: str) -> str:
    """A manifest of `count` shots of each model, taken in turn: the keyword is the ids' prefix (v=MODEL: v00,
    v01, ...)."""
    shots = "".join(f"  - {{id: {prefix}{i:02d}, model: {model}, prompt: shot {i}}}\n"
                    for i in range(count) for prefix, model in models.items())
    return f"version: 1\nshots:\n{shots}"


#: for tests that name the file a descriptor is open on (Linux's /proc)
needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads a descriptor's file name from /proc")


def note_syncs(monkeypatch: pytest.MonkeyPatch, note: Callable[[str], None]) -> None:
    """Each os.fsync noted by the path of the file or folder it syncs, then made."""
    real = os.fsync

    def fsync(handle: int) -> None:
        note(os.readlink(f"/proc/self/fd/{handle}"))
        real(handle)

    monkeypatch.setattr(os, "fsync", fsync)
