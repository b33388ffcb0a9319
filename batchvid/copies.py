"""A shot whose request was rendered already, in this folder, gets that video (a hard link, else a copy) and its task
instead of being rendered and paid for again:

- a new id with the request of a done shot that the manifest no longer has: most likely that shot renamed (or
  another manifest's shot in the same folder, with the same request);
- a changed shot whose request is that of one of its own earlier versions (`<id>@<n>`): a prompt tried, then put
  back; or that of another shot's earlier version (a request moved from one shot to another).

Each video goes to one shot: two shots of one manifest with one request are two takes, both rendered. `--force ID`
renders a shot anew. The copy's row costs nothing: what was paid is counted once, on the row it came from.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from . import journal as j
from . import outvideos
from .durable import sync_folder
from .errors import FatalError

if TYPE_CHECKING:
    from .plan import PlanLine

#: the ledger's price_source of a copy
SOURCE = "a copy of {donor}'s video (the same request, the same task): not rendered again"
_SOURCE_START = SOURCE.split("{", 1)[0]


class Donors:
    """The done rows whose videos other shots may take: those that no shot of the manifest has, earlier versions
    (`<id>@<n>`) among them, the plan's own included."""

    def __init__(self, rows: Iterable[j.Row], ids: Collection[str], kept: Collection[str | None], out: Path,
                 moved: Mapping[str, Path]) -> None:
        """`ids`: the shots of this run: a row under one of their ids is their own, or was kept by the plan as an
        earlier version, under that name. `kept`: the tasks whose videos are shots' own takes (of this run, or left
        out by --only), unchanged: never given to another shot, which would be the same take. `moved`: the videos
        of rows still under another name (a dry plan's earlier versions, not renamed). Each video is given once:
        rows that share a task (copies) are one."""
        self._out, self._moved = out, moved
        self._by_request: dict[str, list[j.Row]] = {}
        given = set(kept)
        for row in rows:
            if row.state == j.DONE and row.id not in ids and row.task_id not in given and self._in_place(row):
                given.add(row.task_id)
                self._by_request.setdefault(row.fingerprint, []).append(row)

    def take(self, shot_id: str, fingerprint: str) -> j.Row | None:
        """The row whose video a new or changed shot takes, if any: one of its own earlier versions first. Each is
        taken once."""
        found = self._by_request.get(fingerprint)
        if not found:
            return None
        own = next((index for index, row in enumerate(found) if row.id.startswith(f"{shot_id}{j.EARLIER}")), 0)
        return found.pop(own)

    def _in_place(self, row: j.Row) -> bool:
        return outvideos.size_of(self._moved.get(row.id) or self._out / f"{row.id}.mp4") == row.bytes


def is_copy(row: j.Row) -> bool:
    """Whether the row's video was another's, given to it at no cost."""
    return row.estimated_usd == "0" and (row.price_source or "").startswith(_SOURCE_START)


def said(line: PlanLine, donor: j.Row) -> str:
    """What the plan says of a copy: what the shot was (its plan line's detail, for a changed one), and whose video
    it takes."""
    if donor.id.startswith(f"{line.shot_id}{j.EARLIER}"):
        whose = f"{line.detail}; the request of {donor.id} again"
    else:
        whose = (f"{line.detail}; " if line.detail else "") + (
            f"the same request as {donor.id}, done in this folder and not in this manifest")
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
