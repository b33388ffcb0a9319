"""A simulated task: what was asked, when it renders, how it ends. Times are time.monotonic()."""

from __future__ import annotations

import base64
import heapq
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .video import Video

_MARKER = re.compile(r"--(rs|resolution|ratio|dur|duration|fps|seed)\s+(\S+)")
PLACEHOLDER_PROMPT = "Generate a video"  # what the gateway substitutes for a Seedance body without content


class BadRequest(Exception):
    def __init__(self, message: str, code: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.message, self.code = message, code


@dataclass
class SimTask:
    task_id: str
    family: str
    model: str
    body: dict[str, Any]
    created_at: int
    start: float
    finish: float
    fails: bool
    seconds: int
    resolution: str
    video: Video
    aspect_ratio: str = "16:9"
    unknown_status: bool = False
    veo_style: str = "string"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def video_in_answer(self) -> bool:
        """Whether the poll answer carries the video itself (Veo's data: URI or bytesBase64Encoded), not a URL."""
        return self.family == "veo" and self.veo_style in ("data", "response-bytes")

    def phase(self, now: float) -> str:
        if now < self.start:
            return "queued"
        if now < self.finish:
            return "running"
        return "failed" if self.fails else "succeeded"

    def progress(self, now: float) -> int:
        if now >= self.finish:
            return 100
        if now < self.start:
            return 0
        return min(99, 20 + int(79 * (now - self.start) / max(self.finish - self.start, 1e-9)))


def new_id(family: str, model: str, rng: random.Random) -> str:
    raw = uuid.UUID(int=rng.getrandbits(128), version=4)
    if family == "sora":
        return f"video_{raw.hex}"
    if family == "seedance":
        return f"cgt-{time.strftime('%Y%m%d%H%M%S')}-{raw.hex[:5]}"
    if family == "vidu":
        return f"task_{raw.hex[:24]}"
    if family == "veo":
        name = f"projects/sim/locations/us-central1/publishers/google/models/{model}/operations/{raw}"
        return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
    return str(raw)


def _int(value: Any, what: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(str(value))
    except ValueError:
        raise BadRequest(f"{what} must be an integer") from None


def _text(value: Any, what: str, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string")
    return value


def read_request(family: str, model: str, body: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The gateway's own reading of a native body: seconds, resolution, ratio. Raises BadRequest."""
    if family == "seedance":
        return _read_seedance(model, body, notes)
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        raise BadRequest("prompt is required")
    return _READERS[family](model, body)


def _read_seedance(model: str, body: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Seedance's settings are markers in its text (`--dur 5 --rs 720p`), its prompt a content item."""
    metadata = body.get("metadata") or {}
    content = metadata.get("content") if isinstance(metadata, dict) else None
    # the gateway reads them into an object and a list of items, or refuses them
    if not isinstance(metadata, dict) or (content and not isinstance(content, list)):
        raise BadRequest("metadata must be an object, and its content a list of content items")
    if not content:
        notes.append(f"{model}: body without metadata.content; used the placeholder prompt")
        content = [{"type": "text", "text": PLACEHOLDER_PROMPT}]
    texts = [item.get("text") for item in content if isinstance(item, dict)]
    if any(part is not None and not isinstance(part, str) for part in texts):
        raise BadRequest("a content item's text must be a string")
    marks = {key: value for key, value in _MARKER.findall(" ".join(part for part in texts if part))}
    return {
        "seconds": _int(marks.get("dur", marks.get("duration")), "--dur", 5),
        "resolution": marks.get("rs", marks.get("resolution", "720p")),
        "aspect_ratio": marks.get("ratio", "16:9"),
        "fps": _int(marks.get("fps"), "--fps", 24),
    }


def _read_sora(model: str, body: dict[str, Any]) -> dict[str, Any]:
    seconds = _int(body.get("seconds"), "seconds", 4)
    if seconds not in (4, 8, 12):
        raise BadRequest("seconds must be 4, 8 or 12")
    size = _text(body.get("size"), "size", "720x1280")
    return {"seconds": seconds, "resolution": "720p", "aspect_ratio": "16:9" if size == "1280x720" else "9:16"}


def _read_veo(model: str, body: dict[str, Any]) -> dict[str, Any]:
    seconds = _int(body.get("durationSeconds", body.get("duration_seconds")), "durationSeconds", 8)
    return {"seconds": seconds, "resolution": _text(body.get("resolution"), "resolution", "720p")}


def _read_wan(model: str, body: dict[str, Any]) -> dict[str, Any]:
    if model.endswith("i2v-preview") and not body.get("image"):
        raise BadRequest("image is required for image-to-video", "InvalidParameter")
    seconds = _int(body.get("duration"), "duration", 5)
    if seconds not in (5, 10):
        raise BadRequest("duration must be 5 or 10", "InvalidParameter")
    return {"seconds": seconds, "resolution": _text(body.get("resolution"), "resolution", "720p")}


def _read_vidu(model: str, body: dict[str, Any]) -> dict[str, Any]:
    # the resolution is in the model id
    resolution = next((part for part in model.split("-") if part.endswith("p") and part[:-1].isdigit()), "720p")
    return {"seconds": _int(body.get("duration"), "duration", 5), "resolution": resolution}


_READERS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "sora": _read_sora, "veo": _read_veo, "wan": _read_wan, "vidu": _read_vidu}


class Scheduler:
    """Render slots: with a limit, extra tasks wait in a queue, as Vidu's upstream does."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._finishes: list[float] = []

    def keep(self, finish: float) -> None:
        """A task made before a restart holds its slot until it finishes."""
        if self.limit is not None and finish > time.monotonic():
            heapq.heappush(self._finishes, finish)

    def slot(self, now: float, render: float) -> tuple[float, float]:
        limit = self.limit
        while self._finishes and self._finishes[0] <= now:
            heapq.heappop(self._finishes)
        start = now
        if limit is not None and len(self._finishes) >= limit:
            start = heapq.heappop(self._finishes)
        finish = start + render
        heapq.heappush(self._finishes, finish)
        return start, finish
