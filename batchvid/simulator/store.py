"""The simulator's memory across restarts: every task it created, one JSON line each.

A real gateway keeps rendering while batchvid is stopped; a rehearsal's simulator lives inside `batchvid run`
and would forget every task with it, so the resumed rehearsal would find its tasks gone (404) where the real
gateway would hand over the finished videos. Times are kept as wall-clock times (a task renders on while
nobody is running), and a task is on disk before its submit is answered.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

from .tasks import SimTask
from .video import Video

_KEPT = ("task_id", "family", "model", "body", "created_at", "fails", "seconds", "resolution", "aspect_ratio",
         "unknown_status", "veo_style", "extra")
#: what the answers repeat of a request; the rest (images as data URIs, URLs that may carry tokens) is not kept
_BODY_KEPT = ("prompt", "size", "remix_from_video_id")


def _to_wall(monotonic: float) -> float:
    return monotonic - time.monotonic() + time.time()


def _to_monotonic(wall: float) -> float:
    return wall - time.time() + time.monotonic()


class TaskStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def open(self) -> list[SimTask]:
        """The tasks kept so far (a line cut short by a kill is skipped); from now on new ones are added.

        Raises OSError when the file cannot be read or written: at start, not at the first submit."""
        self._file = self.path.open("a+", encoding="utf-8")
        self._file.seek(0)
        text = self._file.read()
        if text and not text.endswith("\n"):
            self._file.write("\n")  # end a line cut short by a kill, or the next task would join it
        tasks = []
        for line in text.splitlines():
            try:
                kept = json.loads(line)
                tasks.append(SimTask(
                    **{name: kept[name] for name in _KEPT},
                    start=_to_monotonic(kept["start"]), finish=_to_monotonic(kept["finish"]),
                    video=Video(kept["task_id"], kept["video_bytes"]),
                ))
            except (ValueError, KeyError, TypeError):
                continue
        return tasks

    def add(self, task: SimTask) -> None:
        kept: dict[str, Any] = {name: getattr(task, name) for name in _KEPT}
        kept["body"] = {key: task.body[key] for key in _BODY_KEPT if key in task.body}
        kept.update(start=_to_wall(task.start), finish=_to_wall(task.finish), video_bytes=task.video.size)
        if self._file is None:
            raise RuntimeError("TaskStore.add() before open()")
        self._file.write(json.dumps(kept, separators=(",", ":")) + "\n")
        self._file.flush()  # in the OS's hands before the answer leaves: a kill of this process loses nothing

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
