"""A new shot whose request is that of a done shot the manifest no longer has: most likely that shot renamed. Its
video is given to the new id (a hard link, else a copy) instead of being rendered and paid for again.

Only a done shot that no shot of the manifest has (not its own any more, or another manifest's in the same folder)
gives its video, each to one new shot; two shots of one manifest with one request are two takes, both rendered.
`--force ID` renders a copied shot anew.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Collection, Iterable
from pathlib import Path

from . import journal as j
from .durable import sync_folder
from .errors import FatalError

#: in the ledger's price_source of a copied shot: what it cost is counted once, on the shot it came from
SOURCE = "a copy of {donor}'s video (the same request, the same task): not rendered again"


def donors(rows: Iterable[j.Row], ids: Collection[str], out: Path) -> dict[str, j.Row]:
    """Request fingerprint -> a done row whose id the manifest does not have (`ids`: all of its shots, those --only
    left out among them) and whose video is in the folder, whole. Earlier versions (`<id>@<n>`) give nothing: their
    shot is in the manifest, with another request."""
    found: dict[str, j.Row] = {}
    for row in rows:
        if row.state == j.DONE and j.EARLIER not in row.id and row.id not in ids and row.fingerprint not in found:
            if _size(out / f"{row.id}.mp4") == row.bytes:
                found[row.fingerprint] = row
    return found


def copied_before(out: Path, shot_id: str, donor: j.Row) -> bool:
    """Whether the new shot's video is there already as the donor's copy (made, then the run stopped before the
    journal said so): it is the donor's size. Any other file of that name is not batchvid's to keep or replace."""
    return _size(out / f"{shot_id}.mp4") == donor.bytes


def as_copy(fresh: j.Row, donor: j.Row) -> j.Row:
    """The new shot's row, done with the donor's video, its task and its times; it costs nothing more."""
    return dataclasses.replace(
        fresh, state=j.DONE, task_id=donor.task_id, output=f"{fresh.id}.mp4", bytes=donor.bytes, sha256=donor.sha256,
        estimated_usd="0", billed_usd=None, price_source=SOURCE.format(donor=donor.id), error=None,
        submitted_at=donor.submitted_at, finished_at=donor.finished_at, gateway=donor.gateway, updated_at=j.now())


def make(out: Path, pairs: Iterable[tuple[str, j.Row]]) -> None:
    """Each (new id, donor) video made, before the journal says so (a crash in between: copied_before); synced."""
    made = False
    for shot_id, donor in pairs:
        target = out / f"{shot_id}.mp4"
        if os.path.lexists(target):
            continue
        source = out / f"{donor.id}.mp4"
        try:
            try:
                os.link(source, target)
            except OSError:  # a file system without hard links (FAT, some network shares): a copy, synced
                part = target.with_name(target.name + ".part")
                shutil.copyfile(source, part)
                with open(part, "rb") as written:
                    os.fsync(written.fileno())
                os.replace(part, target)
        except OSError as exc:
            raise FatalError(f"cannot copy {source.name} to {target.name}: {exc.strerror}") from None
        made = True
    if made:
        sync_folder(out)


def _size(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None
