"""Getting a finished video onto disk: streamed, size-capped, verified, then renamed into place.

Sources: a URL on object storage (no Authorization header, ever), a data: URI (Veo), or the
gateway's base64 endpoint (Sora), decoded as it arrives so a large video never sits in memory.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from .durable import sync_folder
from .errors import TRUST_ADVICE, FatalError, redact, untrusted

CHUNK = 256 * 1024
#: a chunk this large is hashed and written in a worker thread (both let go of the GIL), so the event loop
#: keeps polling and submitting while a big video streams in; a smaller one costs less than the thread hop
THREADED_WRITE = 64 * 1024
_B64_KEY = re.compile(rb'"base64"\s*:\s*"')
_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/=]")
_MAX_PREFIX = 1024 * 1024


class DiskError(FatalError):
    """The output folder cannot take the video (full, read-only): the whole run stops, the task is kept."""


class DownloadError(Exception):
    """A video could not be fetched. `expired`: ask the gateway for a fresh URL; `final`: do not retry; `lasting`:
    no wait within the run will help (the next run may: the way out is the user's)."""

    def __init__(self, message: str, *, expired: bool = False, final: bool = False, lasting: bool = False) -> None:
        super().__init__(message)
        self.expired = expired
        self.final = final
        self.lasting = lasting


@dataclass(frozen=True)
class Saved:
    path: Path
    size: int
    sha256: str


class PartFile:
    """<final>.part, written, hashed and capped; `place()` verifies and renames it into place."""

    def __init__(self, final: Path, max_bytes: int) -> None:
        self.final = final
        self.part = final.with_name(final.name + ".part")
        self.max_bytes = max_bytes
        self.size = 0
        self._sha = hashlib.sha256()
        try:
            self._file = open(self.part, "wb")  # noqa: SIM115 - closed in place() or discard()
        except OSError as exc:
            raise DiskError(f"cannot write {self.part}: {exc.strerror}; the task is kept, run again") from None
        self._head = b""

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if self.size > self.max_bytes:
            raise DownloadError(f"video is over the {self.max_bytes:,} byte limit", final=True)
        if len(self._head) < 16:
            self._head += data[: 16 - len(self._head)]
        self._sha.update(data)
        try:
            self._file.write(data)
        except OSError as exc:
            raise DiskError(f"cannot write {self.part}: {exc.strerror}; the task is kept, run again "
                            "when there is room") from None

    async def put(self, data: bytes) -> None:
        """write(), off the event loop when the chunk is large. One at a time: awaited before the next read,
        so memory stays bounded by one chunk whatever the video's size."""
        if len(data) < THREADED_WRITE:
            self.write(data)
        else:
            await asyncio.get_running_loop().run_in_executor(None, self.write, data)

    def discard(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass  # the data is thrown away anyway
        self.part.unlink(missing_ok=True)

    async def place(self, expected_size: int | None = None) -> Saved:
        problem = None
        if self.size == 0:
            problem = "the video is empty"
        elif expected_size is not None and self.size != expected_size:
            problem = f"got {self.size:,} bytes of {expected_size:,}"
        elif self._head[4:8] != b"ftyp":
            problem = "not an MP4 file (no ftyp box)"
        if problem:
            self.discard()
            raise DownloadError(problem)
        try:
            if self.size < THREADED_WRITE:
                self._settle()
            else:  # a large video's sync waits for the disk: off the event loop
                await asyncio.get_running_loop().run_in_executor(None, self._settle)
        except OSError as exc:
            self.discard()
            raise DiskError(f"cannot write {self.part}: {exc.strerror}; the task is kept, run again") from None
        return Saved(self.final, self.size, self._sha.hexdigest())

    def _settle(self) -> None:
        """Synced to the disk, then renamed into place, the rename synced too. The journal says `done` only after
        this, and it syncs its commits: a power cut must not leave a `done` row whose video never reached the disk,
        as by then the gateway may have let the paid video go (Veo keeps one about 12 h)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.part, self.final)
        sync_folder(self.final.parent)


async def from_url(session: aiohttp.ClientSession, url: str, part: PartFile, proxy: str | None = None) -> Saved:
    if not url[:8].lower().startswith(("http://", "https://")):
        scheme = urlsplit(url).scheme.lower()  # urlsplit forgives a blank before the scheme; a request would not
        what = f"has scheme {scheme or 'none'!r}"
        if scheme in ("http", "https"):
            what = "does not start with http:// or https://"
        raise DownloadError(f"refusing a video URL that {what}", final=True)
    try:
        # a fresh header set: no Authorization ever leaves for object storage
        async with session.get(url, headers={}, proxy=proxy) as resp:
            if resp.status in (401, 403, 404, 410):
                raise DownloadError(f"storage answered HTTP {resp.status} for {redact(url)}", expired=True)
            if resp.status != 200:
                raise DownloadError(f"storage answered HTTP {resp.status} for {redact(url)}")
            length = resp.content_length
            if length is not None and length > part.max_bytes:
                raise DownloadError(f"video of {length:,} bytes is over the limit", final=True)
            async for chunk in resp.content.iter_chunked(CHUNK):
                await part.put(chunk)
            return await part.place(length)
    except aiohttp.ClientConnectorCertificateError as exc:  # retrying will not help: the way out is the user's
        said = untrusted(f"the storage host {_host(url)}", exc.certificate_error)
        raise DownloadError(f"{said}: {TRUST_ADVICE}", lasting=True) from None
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:  # nothing reached the storage
        reason = why_unconnected(exc, session.timeout.connect)
        raise DownloadError(f"cannot connect to the storage host {_host(url)} ({reason})") from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise DownloadError(f"download of {redact(url)} failed: {type(exc).__name__}") from None


def why_unconnected(exc: aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError,
                    connect_timeout: float | None) -> str:
    """Why no connection was made, for people: the system's words ("Connection refused"), or that none came in
    time."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"no connection within {connect_timeout:g} s" if connect_timeout else "no connection in time"
    # older aiohttp leaves os_error unset on certificate errors
    return getattr(getattr(exc, "os_error", None), "strerror", None) or str(exc) or type(exc).__name__


def _host(url: str) -> str:
    """scheme://host:port of a URL, without credentials it may hold."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


async def from_data_uri(uri: str, part: PartFile) -> Saved:
    header, _, payload = uri.partition(",")
    if ";base64" not in header:
        raise DownloadError("a data: URI video must be base64", final=True)
    if len(payload) * 3 // 4 > part.max_bytes:
        raise DownloadError(f"data: URI video is over the {part.max_bytes:,} byte limit", final=True)
    step = 4 * 64 * 1024
    try:
        for start in range(0, len(payload), step):
            await part.put(base64.b64decode(payload[start:start + step]))
    except (binascii.Error, ValueError):
        raise DownloadError("the data: URI is not valid base64", final=True) from None
    return await part.place()


class Base64JsonSink:
    """Decodes the `base64` string of a JSON body as it streams; keeps the rest to read `size`."""

    def __init__(self) -> None:
        self.state = "prefix"
        self.prefix = bytearray()
        self.suffix = bytearray()
        self._carry = b""

    def feed(self, chunk: bytes) -> bytes:
        """The video bytes this piece of the answer completes (often none)."""
        video = b""
        if self.state == "prefix":
            self.prefix += chunk
            match = _B64_KEY.search(self.prefix)
            if match is None:
                if len(self.prefix) > _MAX_PREFIX:
                    raise DownloadError("no base64 field in the download answer")
                return video
            chunk = bytes(self.prefix[match.end():])
            del self.prefix[match.end() - 1:]  # keep the opening quote's place: prefix + '""' + suffix
            self.state = "value"
        if self.state == "value":
            end = _closing_quote(chunk)
            text, rest = (chunk, b"") if end < 0 else (chunk[:end], chunk[end + 1:])
            video = self._decode(text, final=end >= 0)
            if end < 0:
                return video
            self.state = "suffix"
            chunk = rest
        if self.state == "suffix":
            self.suffix += chunk
            if len(self.suffix) > _MAX_PREFIX:
                raise DownloadError("the download answer has too much after the video")
        return video

    def _decode(self, text: bytes, final: bool) -> bytes:
        data = self._carry + text
        if not final and data.endswith(b"\\"):
            data, tail = data[:-1], b"\\"
        else:
            tail = b""
        data = data.replace(b"\\n", b"").replace(b"\\r", b"").replace(b"\\t", b"")
        data = _NOT_B64.sub(b"", data)
        usable = len(data) if final else len(data) - len(data) % 4
        try:
            video = base64.b64decode(data[:usable])
        except (binascii.Error, ValueError):
            raise DownloadError("the download answer's base64 is not valid") from None
        self._carry = data[usable:] + tail
        return video

    def finish(self) -> int | None:
        """The declared size, after checking the whole answer arrived."""
        if self.state == "prefix":
            raise DownloadError("no base64 field in the download answer")
        if self.state != "suffix":
            raise DownloadError("the download answer ended before the video did")
        try:
            rest = json.loads(bytes(self.prefix) + b'""' + bytes(self.suffix))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DownloadError("the download answer is not valid JSON") from None
        size = rest.get("size") if isinstance(rest, dict) else None
        return size if isinstance(size, int) and not isinstance(size, bool) else None


def _closing_quote(chunk: bytes) -> int:
    """Index of the string's closing quote; base64 holds no quotes, only escaped slashes."""
    index = chunk.find(b'"')
    while index > 0 and chunk[index - 1:index] == b"\\":
        index = chunk.find(b'"', index + 1)
    return index


async def from_base64_stream(chunks: AsyncIterator[bytes], part: PartFile) -> Saved:
    sink = Base64JsonSink()
    async for chunk in chunks:
        await part.put(sink.feed(chunk))
    return await part.place(sink.finish())
