"""Recognise a settled batch without reading the manifest again.

A run that ends with every shot of its manifest settled (done, failed or uncertain) records, in the
journal, a digest of everything its outcome depended on: batchvid's own files, the manifest's bytes,
the options of the command, the environment variables the manifest names, and the stat of every local
file it read. Run the same command again and, when that digest still matches and every finished video
is still in place, nothing is left to do: the journal answers, without YAML, validation, prices or
network. This is the check `make` and `git status` make: any difference at all (a touched image, an
edited manifest, another batchvid) sends the run down the full path, which is always right; the record
only saves time. A run that takes the full path deletes the record before it changes anything.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from . import __version__
from . import journal as j
from .packaged import schema_folder
from .plan import PlanOptions, carry_on

META_KEY = "settled"
_ENV_NAME = re.compile(rb"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # a superset of what manifest.py substitutes
_OWN_FILES = (".py", ".json", ".yaml")


@functools.cache
def code_stamp() -> bytes:
    """A digest of batchvid's code, schemas and prices: another build must not trust this one's verdicts."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.suffix in _OWN_FILES and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    schemas = schema_folder()  # inside the package when installed, the top-level folder in a checkout
    for entry in sorted(schemas.iterdir(), key=lambda entry: entry.name):
        if entry.name.endswith(".json"):
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return digest.digest()


def _file_line(path: Path) -> bytes:
    try:
        info = path.stat()
    except OSError:
        return f"{path}\0missing\n".encode()
    return f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ino}\n".encode()


def inputs_digest(salt: str, manifest: Path, options: dict[str, Any], files: Iterable[Path]) -> str | None:
    """The digest of a run's inputs; None when the manifest cannot be read (the full path says why)."""
    try:
        data = manifest.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(salt.encode())
    digest.update(code_stamp())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    digest.update(data)
    for name in sorted(set(_ENV_NAME.findall(data))):
        # the values enter only the salted digest, never the journal itself
        value = os.environ.get(name.decode())
        digest.update(name + (b"\0unset" if value is None else b"=" + value.encode("utf-8", "surrogateescape")))
    for path in sorted(set(files)):
        digest.update(_file_line(path))
    return digest.hexdigest()


def forget(journal: j.Journal) -> None:
    if journal.meta(META_KEY) is not None:
        journal.set_meta(META_KEY, None)


def remember(journal: j.Journal, manifest: Path, options: dict[str, Any], files: Sequence[Path],
             ids: Sequence[str]) -> None:
    """Record a settled batch (every one of `ids` done, failed or uncertain)."""
    salt = secrets.token_hex(16)
    digest = inputs_digest(salt, manifest, options, files)
    if digest is None:
        return
    record = {"salt": salt, "digest": digest, "files": [str(path) for path in files], "ids": list(ids)}
    journal.set_meta(META_KEY, json.dumps(record, separators=(",", ":")))


class Recalled(NamedTuple):
    rows: list[j.Row]  # the manifest's shots, in its order
    journal_rows: list[j.Row]  # every row of the journal (the ledger lists them all)
    plan: j.Plan


def recall(journal: j.Journal, manifest: Path, options: dict[str, Any], out: Path) -> Recalled | None:
    """The batch's rows and plan when it is settled and nothing it depends on changed; else None."""
    text = journal.meta(META_KEY)
    if text is None:
        return None
    try:
        record = json.loads(text)
        salt, expected, files, ids = record["salt"], record["digest"], record["files"], record["ids"]
    except (ValueError, KeyError, TypeError):
        return None
    if inputs_digest(salt, manifest, options, [Path(name) for name in files]) != expected:
        return None
    everything = journal.rows()
    by_id = {row.id: row for row in everything}
    rows, plan = [], j.Plan()
    for shot_id in ids:
        row = by_id.get(shot_id)
        if row is None or row.state not in (j.DONE, j.FAILED, j.UNCERTAIN):
            return None
        category, detail = carry_on(row, out, PlanOptions())  # checks that a done shot's video is there
        if category not in j.SETTLED_CATEGORIES:
            return None
        rows.append(row)
        plan.lines.append(j.PlanLine(shot_id, category, detail))
    return Recalled(rows, everything, plan)
