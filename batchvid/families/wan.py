"""Ali Wanxiang 2.5 (seeds/003): flat body; status in metadata.output.task_status; price per second."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ._base import Audio, Converter, Mode, ModelSpec, TaskState, TaskView
from ._convert import to_int
from ._envelope import dig, read_envelope

name = "wan"
video_kept = "about 24 h"  # its signed URLs expire after about 24 h (API-NOTES)


def _wan(model_id: str, modes: set[Mode], aspect_ratios: tuple[str, ...]) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        family=name,
        modes=frozenset(modes),
        durations=(5, 10),
        resolutions=("480p", "720p", "1080p"),
        aspect_ratios=aspect_ratios,
        audio=Audio.OPTIONAL,
        default_duration=5,
        default_resolution="720p",
        default_aspect_ratio="16:9" if aspect_ratios else None,
        seed_range=(0, 2147483647),
        extra_fields=frozenset({"audio_url", "smart_rewrite"}),
        max_image_bytes=5 * 1024 * 1024,  # InvalidParameter.ImageSize: "compress image to under 5MB"
        notes="Billed per second at the resolution's price; audio_url overrides audio.",
    )


models = (
    _wan("wan2.5-t2v-preview", {Mode.TEXT}, ("16:9", "9:16", "1:1", "4:3", "3:4")),
    # image-to-video: the frame's shape follows the image, so no aspect_ratio
    _wan("wan2.5-i2v-preview", {Mode.FIRST_FRAME}, ()),
)

aliases: dict[str, tuple[str, Converter | None]] = {
    "generate_audio": ("audio", None),
    "seconds": ("duration", to_int),
}

_PASSED = ("image", "seed", "smart_rewrite", "audio_url")


def build_request(model: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "prompt": fields["prompt"],
        "duration": fields["duration"],
        "resolution": fields["resolution"],
    }
    if "aspect_ratio" in fields:
        body["aspect_ratio"] = fields["aspect_ratio"]
    for key in _PASSED:
        if key in fields:
            body[key] = fields[key]
    if "audio" in fields:
        body["generate_audio"] = fields["audio"]
    return body


def read_task(body: Mapping[str, Any]) -> TaskView:
    view = read_envelope(body)
    output = dig(body, "metadata", "output") or {}
    upstream = str(output.get("task_status", "")).upper() if isinstance(output, dict) else ""
    if upstream == "FAILED" and view.state is not TaskState.FAILED:
        view = replace(view, state=TaskState.FAILED)
    elif upstream == "PENDING" and view.state is TaskState.RUNNING:
        # the gateway says in_progress for a task its provider has queued (seeds/003): told apart, as Vidu's queue
        # is, so that a provider rendering only so many at once is found (queues.py)
        view = replace(view, state=TaskState.QUEUED)
    if view.state is TaskState.FAILED and isinstance(output, dict):
        view = replace(
            view,
            error_code=view.error_code if output.get("code") is None else str(output["code"]),
            error_message=str(output.get("message") or view.error_message or "") or None,
        )
    return view
