"""One run per output folder. flock is released by the kernel when a process dies, even by kill -9,
so a stale lock never blocks."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from .errors import FatalError

FILE_NAME = ".batchvid.lock"


class FolderLock:
    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME
        self._file: IO[str] | None = None

    def __enter__(self) -> FolderLock:
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise FatalError(f"another batchvid run (pid {holder}) is using {self.path.parent}; "
                             "wait for it or stop it first") from None
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
