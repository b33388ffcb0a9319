"""Sora 2 (seeds/001): seconds + size, input_reference, remix; no URL, base64 download endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ._base import Audio, Converter, Mode, ModelSpec, TaskState, TaskView, VideoSource
from ._convert import size_to_aspect, to_int
from ._envelope import read_envelope

name = "sora"
video_kept = ""  # fetched through the gateway's download endpoint: no time is published

_SIZES = {"1280x720": "16:9", "720x1280": "9:16"}
_SIZE_OF = {aspect: size for size, aspect in _SIZES.items()}

models = (
    ModelSpec(
        id="sora-2",
        family=name,
        modes=frozenset({Mode.TEXT, Mode.FIRST_FRAME, Mode.REMIX}),
        durations=(4, 8, 12),
        resolutions=("720p",),
        aspect_ratios=("16:9", "9:16"),
        audio=Audio.ALWAYS,
        default_duration=4,
        default_resolution="720p",
        default_aspect_ratio="9:16",  # the document's default size is 720x1280
        notes="Only 1280x720 or 720x1280; an input image must have exactly the output's dimensions.",
    ),
)

aliases: dict[str, tuple[str, Converter | None]] = {
    "seconds": ("duration", to_int),
    "size": ("aspect_ratio", size_to_aspect(_SIZES)),
    "input_reference": ("image", None),
    "remix_from_video_id": ("remix_of", None),
}


def build_request(model: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "prompt": fields["prompt"],
        "seconds": str(fields["duration"]),
        "size": _SIZE_OF[fields["aspect_ratio"]],
    }
    if "image" in fields:
        body["input_reference"] = fields["image"]
    if "remix_of" in fields:
        body["remix_from_video_id"] = fields["remix_of"]
    return body


def read_task(body: Mapping[str, Any]) -> TaskView:
    view = read_envelope(body)
    if view.state is TaskState.SUCCEEDED:
        # Sora has no URL: the video comes from GET /v1/video/generations/download?id=TASK as base64.
        return replace(view, video=VideoSource(via_download_endpoint=True))
    if view.state is TaskState.FAILED and body.get("failure_reason") and not view.error_message:
        return replace(view, error_message=str(body["failure_reason"]))
    return view

