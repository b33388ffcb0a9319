from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
