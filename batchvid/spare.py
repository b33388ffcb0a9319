"""Task ids that the journal could not take (a full disk), kept in a spare file that the run made room for at its
start, so that the next run follows those tasks by itself instead of calling their shots uncertain.

The journal keeps a task id before the task is polled; when the disk is full that commit fails. The ids are printed
then, as `--adopt` flags, but a batch left to run overnight has nobody reading. The spare file's bytes are written
when the run starts, so writing over them later takes no new room (on the usual file systems: one that copies on
write may still refuse, and the printed flags remain the way out). The next run reads it, follows the tasks as with
`--adopt`, and blanks it. A shot kept with an empty task id is one whose `submitting` reached the journal but
whose POST never left (the run stopped first): the next run sends it as pending, instead of calling it uncertain.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from . import journal as j

log = logging.getLogger("batchvid")

FILE_NAME = ".batchvid-spare"
#: room for the ids of a few hundred tasks (a commit holds the ids of one event-loop turn: a handful)
SIZE = 64 * 1024
#: the task id kept for a shot whose POST never left
NEVER_SENT = ""


class Spare:
    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME
        #: ids an earlier run kept that this run did not take up (shots that `--only` left out): kept on
        self._carried: dict[str, str] = {}

    def read(self) -> dict[str, str]:
        """The task ids an earlier run kept here, by shot id ({} when there are none, or they cannot be read)."""
        try:
            text = self.path.read_bytes().rstrip(b"\0").decode("utf-8")
            tasks = json.loads(text)["tasks"] if text else {}
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            return {}
        if not isinstance(tasks, dict):
            return {}
        return {shot: task for shot, task in tasks.items() if isinstance(shot, str) and isinstance(task, str)}

    def untaken(self, journal: j.Journal) -> dict[str, str]:
        """The ids kept here whose shots are still uncertain: those a run's plan did not take up (`--only` left them
        out); the others are in the journal now."""
        return {shot: task for shot, task in self.read().items()
                if (row := journal.row(shot)) is not None and row.state in (j.SUBMITTING, j.UNCERTAIN)}

    def make_room(self, carried: Mapping[str, str]) -> None:
        """Blank the file, its SIZE bytes written out so that they are this run's (without room: no spare), but for
        `carried`, ids of an earlier run that this one did not take up."""
        self._carried = dict(carried)
        try:
            with open(self.path, "wb") as handle:
                handle.write(bytes(SIZE))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            log.debug("no spare file for task ids: %s", exc)
            return
        if self._carried:
            self.keep({})

    def keep(self, tasks: Mapping[str, str], unsent: Iterable[str] = ()) -> bool:
        """Write the task ids, and an empty one for each shot of `unsent` (with those carried over), over the file's
        bytes, in place; False when they could not all be kept."""
        kept = {**self._carried, **dict.fromkeys(unsent, NEVER_SENT), **tasks}
        text = json.dumps({"tasks": dict(sorted(kept.items()))}, separators=(",", ":")).encode()
        if len(text) > SIZE:
            return False
        try:
            with open(self.path, "r+b") as handle:
                if os.fstat(handle.fileno()).st_size < SIZE:  # no room was made for it
                    return False
                handle.write(text + bytes(SIZE - len(text)))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            return False
        return True
