"""A shot whose request was rendered already, in this folder, gets that video (a hard link, else a copy) and its task
instead of being rendered and paid for again:

- a new id with the request of a done shot that the manifest no longer has: most likely that shot renamed (or
  another manifest's shot in the same folder, with the same request);
- a changed shot whose request is that of one of its own earlier versions (`<id>@<n>`): a prompt tried, then put
  back.

Each video goes to one shot: two shots of one manifest with one request are two takes, both rendered. `--force ID`
renders a shot anew. The copy's row costs nothing: what was paid is counted once, on the row it came from.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from . import journal as j
from .durable import sync_folder
from .errors import FatalError

if TYPE_CHECKING:
    from .plan import PlanLine

#: the ledger's price_source of a copy
SOURCE = "a copy of {donor}'s video (the same request, the same task): not rendered again"
_SOURCE_START = SOURCE.split("{", 1)[0]


class Donors:
    """The done rows whose videos other shots may take, found on the first question (most plans ask none)."""

    def __init__(self, rows: Iterable[j.Row], ids: Collection[str], out: Path) -> None:
        """`ids`: every shot of the manifest, those --only left out among them: their videos are theirs."""
        self._rows, self._ids, self._out = list(rows), ids, out  # as they stand before the plan changes any
        self._elsewhere: dict[str, j.Row] | None = None  # request fingerprint -> a row the manifest does not have
        self._earlier: dict[tuple[str, str], j.Row] = {}  # (shot id, fingerprint) -> one of its earlier versions

    def take(self, shot_id: str, fingerprint: str, category: str) -> j.Row | None:
        """The row whose video a new or changed shot takes, if any (each is taken once)."""
        if self._elsewhere is None:
            self._find()
        assert self._elsewhere is not None
        if category == "changed" and (earlier := self._earlier.pop((shot_id, fingerprint), None)) is not None:
            return earlier
        return self._elsewhere.pop(fingerprint, None)

    def _find(self) -> None:
        self._elsewhere = {}
        for row in self._rows:
            if row.state != j.DONE:
                continue
            base, earlier, _ = row.id.partition(j.EARLIER)
            if earlier:
                key = (base, row.fingerprint)
                if key not in self._earlier and self._in_place(row):
                    self._earlier[key] = row
            elif row.id not in self._ids and row.fingerprint not in self._elsewhere and self._in_place(row):
                self._elsewhere[row.fingerprint] = row

    def _in_place(self, row: j.Row) -> bool:
        try:
            return os.stat(self._out / f"{row.id}.mp4").st_size == row.bytes
        except OSError:
            return False


def is_copy(row: j.Row) -> bool:
    """Whether the row's video was another's, given to it at no cost."""
    return row.estimated_usd == "0" and (row.price_source or "").startswith(_SOURCE_START)


def said(line: PlanLine, donor: j.Row) -> str:
    """What the plan says of a copy: what the shot was (its plan line's detail, for a changed one), and whose video
    it takes."""
    if j.EARLIER in donor.id:
        whose = f"{line.detail}; the request of {donor.id} again"
    else:
        whose = f"the same request as {donor.id}, done in this folder and not in this manifest"
    return f"{whose}: its video, not rendered again (--force {line.shot_id} renders it anew)"


def as_copy(fresh: j.Row, donor: j.Row) -> j.Row:
    """The shot's new row, done with the donor's video, its task and its times; it costs nothing more."""
    return dataclasses.replace(
        fresh, state=j.DONE, task_id=donor.task_id, output=f"{fresh.id}.mp4", bytes=donor.bytes, sha256=donor.sha256,
        estimated_usd="0", billed_usd=None, price_source=SOURCE.format(donor=donor.id), error=None,
        submitted_at=donor.submitted_at, finished_at=donor.finished_at, gateway=donor.gateway, updated_at=j.now())


def make(out: Path, pairs: Iterable[tuple[str, j.Row]]) -> None:
    """Each (shot id, donor) video made, once the journal says so, and synced."""
    made = False
    for shot_id, donor in pairs:
        target, source = out / f"{shot_id}.mp4", out / f"{donor.id}.mp4"
        try:
            try:
                os.link(source, target)
            except FileExistsError:
                continue
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
