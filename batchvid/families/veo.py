"""Google Veo fast models (seeds/000, API-NOTES): camelCase body; submit answers only task_id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import Audio, Converter, Mode, ModelSpec, TaskView
from ._convert import to_int
from ._envelope import read_envelope

name = "veo"
video_kept = "about 12 h"  # Veo videos are kept about 12 h, then `url` is unusable (API-NOTES)


def _veo(model_id: str, modes: set[Mode]) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        family=name,
        modes=frozenset(modes),
        durations=(4, 6, 8),
        resolutions=("720p", "1080p"),
        aspect_ratios=("16:9", "9:16"),
        audio=Audio.ALWAYS,  # the fast models always make audio
        default_duration=8,  # the upstream default, always sent because the gateway does not guarantee it
        default_resolution="720p",
        default_aspect_ratio="16:9",
        seed_range=(0, 4294967295),
        extra_fields=frozenset({"watermark", "person_generation"}),
        notes="One video per task (sampleCount > 1 is not honoured).",
    )


models = (
    _veo("veo-3.0-fast-generate-001", {Mode.TEXT, Mode.FIRST_FRAME}),
    _veo("veo-3.1-fast-generate-preview", {Mode.TEXT, Mode.FIRST_FRAME, Mode.FIRST_LAST}),
)

aliases: dict[str, tuple[str, Converter | None]] = {
    "durationSeconds": ("duration", to_int),
    "duration_seconds": ("duration", to_int),
    "aspectRatio": ("aspect_ratio", None),
    "generateAudio": ("audio", None),
    "generate_audio": ("audio", None),
    "personGeneration": ("person_generation", None),
    "addWatermark": ("watermark", None),
    "add_watermark": ("watermark", None),
    "lastFrame": ("last_image", None),
    "last_frame": ("last_image", None),
}

_NATIVE = {
    "image": "image",
    "last_image": "lastFrame",
    "seed": "seed",
    "watermark": "addWatermark",
    "person_generation": "personGeneration",
}


def build_request(model: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "prompt": fields["prompt"],
        "durationSeconds": fields["duration"],
        "aspectRatio": fields["aspect_ratio"],
        "resolution": fields["resolution"],
        "generateAudio": True,
    }
    for ours, native in _NATIVE.items():
        if ours in fields:
            body[native] = fields[ours]
    return body


def read_task(body: Mapping[str, Any]) -> TaskView:
    return read_envelope(body)
