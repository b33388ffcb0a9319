"""Local image files -> data URIs, with the checks the documents state (type, size, dimensions)."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

_MAX_READ = 50 * 1024 * 1024  # no model takes more; never read a huge file whole
#: longer than any path a file system takes (4,096 bytes on Linux); a longer one is data, not a name
_MAX_NAME = 4096


class ImageProblem(ValueError):
    pass


#: (size, mtime, ctime in ns, inode) of a file, as git's index keeps them: one of them changes whenever its
#: content may have (ctime cannot be set back by hand)
FileStamp = tuple[int, int, int, int]


def file_stamp(info: os.stat_result) -> FileStamp:
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


@dataclass(frozen=True)
class LocalImage:
    data_uri: str
    mime: str
    size: int
    sha256: str
    dimensions: tuple[int, int] | None
    path: Path  # the file read, resolved
    stamp: FileStamp  # taken before it was read (see settled.py)


def sniff_mime(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        pos += 2 + length
    return None


def dimensions(data: bytes, mime: str) -> tuple[int, int] | None:
    if mime == "image/png":
        return _png_size(data)
    if mime == "image/jpeg":
        return _jpeg_size(data)
    return None


def resolve_inside(base: Path, relative: str) -> Path:
    """The file a manifest names, refused when it leaves the manifest's folder (symlinks included)."""
    if "\x00" in relative:
        raise ImageProblem("image path contains a NUL byte")
    root = base.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ImageProblem(f"image {relative!r} is outside the manifest's folder")
    return target


def read_local(base: Path, relative: str, max_bytes: int) -> LocalImage:
    if len(relative) > _MAX_NAME:  # no file has such a name: image data, pasted without its data: prefix
        raise ImageProblem(f"image {relative[:40]!r}... ({len(relative):,} characters) is no file name: an image's "
                           "own data goes in a data: URI (data:image/png;base64,...)")
    path = resolve_inside(base, relative)
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        forward = relative.replace("\\", "/")
        if forward != relative and os.path.isfile(base / forward):  # a path copied from Windows
            raise ImageProblem(f"image file {relative!r} not found: write it with / ({forward})") from None
        raise ImageProblem(f"image file {relative!r} not found") from None
    except OSError as exc:  # a folder on the way that may not be read, a name too long for the file system
        raise ImageProblem(f"image {relative!r} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ImageProblem(f"image {relative!r} is not a file")
    size = info.st_size
    if size > min(max_bytes, _MAX_READ):
        raise ImageProblem(f"image {relative!r} is {size / 2**20:.1f} MiB; this model takes at most "
                           f"{min(max_bytes, _MAX_READ) / 2**20:.0f} MiB")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageProblem(f"image {relative!r} cannot be read ({exc.strerror})") from None
    mime = sniff_mime(data[:16])
    if mime is None:
        raise ImageProblem(f"{relative!r} is not a PNG, JPEG or WebP image")
    return LocalImage(
        data_uri=f"data:{mime};base64," + base64.b64encode(data).decode("ascii"),
        mime=mime,
        size=size,
        sha256=hashlib.sha256(data).hexdigest(),
        dimensions=dimensions(data, mime),
        path=path,
        stamp=file_stamp(info),
    )
