"""The simulator's videos: a real, playable MP4 (made once with ffmpeg, shipped as package data),
made distinct per task and padded to any size with MP4 `free` boxes, which players skip."""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Iterator
from importlib import resources

CHUNK = 256 * 1024
_MAX_BOX = 2**32 - 1 - 8


@functools.cache
def tiny_mp4() -> bytes:
    return resources.files("batchvid.simulator").joinpath("data/tiny.mp4").read_bytes()


class Video:
    """One task's video, produced in chunks so a 500 MB video never sits in memory."""

    def __init__(self, task_id: str, size: int = 0) -> None:
        tag = f"batchvid-sim:{task_id}".encode()
        self.head = tiny_mp4() + struct.pack(">I", 8 + len(tag)) + b"free" + tag
        self.padding = max(0, size - len(self.head))
        if 0 < self.padding < 8:
            self.padding = 8
        self.size = len(self.head) + self.padding
        self._sha: str | None = None

    def chunks(self) -> Iterator[bytes]:
        yield self.head
        left = self.padding
        while left > 0:
            box = min(left, _MAX_BOX)
            header = struct.pack(">I", box) + b"free"
            yield header
            body = box - 8
            zeros = bytes(min(CHUNK, body))
            while body > 0:
                piece = zeros if body >= len(zeros) else zeros[:body]
                yield piece
                body -= len(piece)
            left -= box

    def read(self) -> bytes:
        return b"".join(self.chunks())

    @property
    def sha256(self) -> str:
        if self._sha is None:
            digest = hashlib.sha256()
            for chunk in self.chunks():
                digest.update(chunk)
            self._sha = digest.hexdigest()
        return self._sha
