"""One run per output folder. flock is released by the kernel when a process dies, even by kill -9,
so a stale lock never blocks."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO

from .errors import FatalError

try:
    import fcntl
except ImportError:  # Windows: validate, estimate and status work there; a run is refused with the way out
    fcntl = None  # type: ignore[assignment]

#: why a run is refused where there is no flock (Windows): its guarantees rest on it and on POSIX signals
NOT_POSIX = ("batchvid run needs Linux or macOS: its one-run-per-folder lock and its saving of state on Ctrl-C and "
             "SIGTERM are POSIX's. On Windows, run it under WSL (validate, estimate and status work here)")
FILE_NAME = ".batchvid.lock"
#: how long a run waits for the lock before it says another holds it: `status` takes it shared for an instant
TAKE_TRIES, TAKE_PAUSE = 10, 0.02


def check_supported() -> None:
    """Refuse a run where there is no flock: called before the run asks anything or makes its folder."""
    if fcntl is None:
        raise FatalError(NOT_POSIX)


class FolderLock:
    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME
        self._file: IO[str] | None = None

    def __enter__(self) -> FolderLock:
        check_supported()
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
        if not _take(handle):
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise FatalError(f"another batchvid run (pid {holder}) is using {self.path.parent}; "
                             "wait for it or stop it first")
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()


def holder(folder: Path) -> str | None:
    """The pid of the run using `folder` now (as it wrote it), or None; the lock file is neither made nor written."""
    if fcntl is None:  # no run can be at work here
        return None
    try:
        handle = open(folder / FILE_NAME, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return handle.read().strip() or "unknown"
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def _take(handle: IO[str]) -> bool:
    for attempt in range(TAKE_TRIES):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            if attempt + 1 < TAKE_TRIES:
                time.sleep(TAKE_PAUSE)
    return False
