"""Reading the gateway's one answer envelope, shared by every family.

The query answer is `{task_id, status, url, format, metadata, error}` for every family (API-NOTES.md);
families differ in where the video and the failure reason hide inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import Billing, TaskState, TaskView, VideoSource

_STATES = {
    "submitted": TaskState.QUEUED,
    "queued": TaskState.QUEUED,
    "in_progress": TaskState.RUNNING,
    "succeeded": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
}


def dig(body: Any, *path: str | int) -> Any:
    """body[p0][p1]... or None when any step is missing or of the wrong type (the body is parsed JSON: objects
    are dicts, which isinstance checks far faster than an abstract Mapping, on every poll)."""
    node = body
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or len(node) <= step:
                return None
        elif not isinstance(node, dict) or step not in node:
            return None
        node = node[step]
    return node


def state_of(raw: Any) -> TaskState:
    # An unknown status is treated as still running: polling on is safe, guessing "failed" is not.
    return _STATES.get(str(raw).lower(), TaskState.RUNNING)


def first_url(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return str(value)
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str) and item:
                return item
    return None


def find_video_url(body: Mapping[str, Any]) -> str | None:
    """The video's URL, looked for in the order API-NOTES.md gives (the first place found wins)."""
    places: tuple[tuple[str | int, ...], ...] = (
        ("url",), ("metadata", "content", "video_url"), ("metadata", "output", "video_url"),
        ("metadata", "creations", 0, "url"),
    )
    for place in places:
        url = first_url(dig(body, *place))
        if url:
            return url
    for video in dig(body, "metadata", "response", "videos") or []:
        if not isinstance(video, dict):
            continue
        url = first_url(video.get("url"))
        if url:
            return url
        encoded = video.get("bytesBase64Encoded")
        if isinstance(encoded, str):
            return "data:video/mp4;base64," + encoded
    return None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def read_billing(body: Mapping[str, Any]) -> Billing:
    meta = body.get("metadata")
    if not isinstance(meta, dict):
        return Billing()
    tokens = dig(meta, "usage", "total_tokens")
    seconds = dig(meta, "usage", "duration")
    if seconds is None:
        seconds = meta.get("requested_seconds")
    return Billing(
        model_price=_text(meta.get("model_price")),
        seconds=_text(seconds),
        group_ratio=_text(meta.get("group_ratio")),
        total_tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
    )


def read_envelope(body: Mapping[str, Any]) -> TaskView:
    """The family-neutral reading; adapters refine the failure reason and the video's place."""
    raw = str(body.get("status", ""))
    state = state_of(raw)
    found = body.get("error")
    error: Mapping[str, Any] = found if isinstance(found, dict) else {}
    progress = body.get("progress")
    video = None
    if state is TaskState.SUCCEEDED:
        url = find_video_url(body)
        video = VideoSource(url=url) if url else None
    return TaskView(
        state=state,
        raw_status=raw,
        progress=progress if isinstance(progress, int) and not isinstance(progress, bool) else None,
        video=video,
        error_code=_text(error.get("code")),
        error_message=_text(error.get("message")),
        billing=read_billing(body),
    )
