"""Recognise a settled batch without reading the manifest again.

A run that ends with every shot of its manifest settled (done, failed or uncertain) records, in the
journal, a digest of everything its outcome depended on: batchvid's own files, the manifest's bytes,
the options of the command, the environment variables the manifest names, and the stamp (size, mtime,
ctime, inode) of every local file it read, each taken as the run read it, so that an edit made while the
run went on shows next time. Run the same command again and, when that digest still matches and every finished video
is still in place, nothing is left to do: the journal answers, without YAML, validation, prices or
network. This is the check `make` and `git status` make: any difference at all (a touched image, an
edited manifest, another batchvid) sends the run down the full path, which is always right; the record
only saves time. A run that takes the full path deletes the record before it changes anything.

The record also keeps the ledger's stamp as the run left it: the ledger is derived from the journal, so while its
file is the same one, untouched, it need not be written again to be checked (for 10,000 shots, a third of the time).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from . import __version__
from . import journal as j
from .images import FileStamp, file_stamp
from .ledger import FILE_NAME as LEDGER
from .packaged import schema_folder
from .plan import SETTLED_CATEGORIES, Plan, PlanLine, PlanOptions, carry_on, elsewhere

META_KEY = "settled"
_ENV_NAME = re.compile(rb"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # a superset of what manifest/_base.py substitutes
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


#: a file the batch was made from, with its stamp when it was read (None: it did not exist)
Input = tuple[Path, FileStamp | None]


@dataclass(frozen=True)
class Snapshot:
    """What a run was made from, taken as it read it: the manifest's bytes and its files' stamps."""

    manifest: bytes  # exactly the bytes that were parsed
    files: tuple[Input, ...] = ()


def stamp(path: Path) -> FileStamp | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return file_stamp(info)


def _read_if_size(path: Path, size: object) -> bytes | None:
    """The manifest's bytes, read only when it still has the recorded size (a huge file is never read here)."""
    try:
        return path.read_bytes() if path.stat().st_size == size else None
    except OSError:
        return None


def inputs_digest(salt: str, manifest: bytes, options: dict[str, Any], files: Iterable[Input]) -> str:
    digest = hashlib.sha256(salt.encode())
    digest.update(code_stamp())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    digest.update(manifest)
    for name in sorted(set(_ENV_NAME.findall(manifest))):
        # the values enter only the salted digest, never the journal itself
        value = os.environ.get(name.decode())
        digest.update(name + (b"\0unset" if value is None else b"=" + value.encode("utf-8", "surrogateescape")))
    for path, when_read in sorted(set(files), key=lambda item: str(item[0])):
        # a name's bytes as the file system has them (a folder named in Latin-1 is no UTF-8)
        digest.update(os.fsencode(path) + f"\0{when_read}\n".encode())
    return digest.hexdigest()


def forget(journal: j.Journal) -> None:
    if journal.meta(META_KEY) is not None:
        journal.set_meta(META_KEY, None)


def remember(journal: j.Journal, made_from: Snapshot, options: dict[str, Any], ids: Sequence[str],
             out: Path) -> None:
    """Record a settled batch (every one of `ids` done, failed or uncertain) made from these inputs, and the stamp of
    the ledger it left in `out`."""
    salt = secrets.token_hex(16)
    record = {"salt": salt, "digest": inputs_digest(salt, made_from.manifest, options, made_from.files),
              "size": len(made_from.manifest), "files": sorted({str(path) for path, _ in made_from.files}),
              "ids": list(ids), "ledger": ledger_stamp(out)}
    journal.set_meta(META_KEY, json.dumps(record, separators=(",", ":")))


def ledger_stamp(out: Path) -> list[int] | None:
    """The ledger file's size, modification time and inode: another file, or the same one written since, differs."""
    try:
        info = os.stat(out / LEDGER)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def restamp_ledger(journal: j.Journal, out: Path) -> None:
    """The ledger was written again (changed or gone since the record was made): the record keeps its new stamp."""
    record = json.loads(journal.meta(META_KEY) or "{}")
    record["ledger"] = ledger_stamp(out)
    journal.set_meta(META_KEY, json.dumps(record, separators=(",", ":")))


class Recalled(NamedTuple):
    rows: list[j.Row]  # the manifest's shots, in its order
    journal_rows: list[j.Row]  # every row of the journal (the ledger lists them all)
    plan: Plan
    ledger: list[int] | None  # the ledger's stamp as the settled run left it (ledger_stamp)


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
    data = _read_if_size(manifest, record.get("size"))
    now = [(Path(name), stamp(Path(name))) for name in files]
    if data is None or inputs_digest(salt, data, options, now) != expected:
        return None
    everything = journal.rows()
    by_id = {row.id: row for row in everything}
    rows, plan = [], Plan()
    for shot_id in ids:
        row = by_id.get(shot_id)
        if row is None or row.state not in (j.DONE, j.FAILED, j.UNCERTAIN):
            return None
        category, detail = carry_on(row, out, PlanOptions())  # checks that a done shot's video is there
        if category not in SETTLED_CATEGORIES:
            return None
        rows.append(row)
        plan.lines.append(PlanLine(shot_id, category, detail))
    plan.elsewhere = elsewhere(by_id, set(ids))
    ledger = record.get("ledger")
    return Recalled(rows, everything, plan, ledger if isinstance(ledger, list) else None)
