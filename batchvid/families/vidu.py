"""Vidu Q3 (seeds/004): resolution in the model id; audio, seed and bgm ride in extra_body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import Audio, Converter, Mode, ModelSpec, TaskView
from ._envelope import read_envelope

name = "vidu"
video_kept = ""  # not published

_RESOLUTIONS = ("540p", "720p", "1080p")
_RATIOS = ("16:9", "9:16", "1:1")


def _vidu(model_id: str, resolution: str, modes: set[Mode], references: int = 0) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        family=name,
        modes=frozenset(modes),
        durations=tuple(range(1, 17)),
        resolutions=(resolution,),
        aspect_ratios=_RATIOS,
        audio=Audio.OPTIONAL,
        default_duration=5,
        default_resolution=resolution,
        default_aspect_ratio="16:9",
        seed_range=(0, 2147483647),
        extra_fields=frozenset({"bgm"}),
        max_reference_images=references,
        notes="-offpeak models cost half and may take up to 48 h." if "offpeak" in model_id else "",
    )


_FRAMES = {Mode.TEXT, Mode.FIRST_FRAME, Mode.FIRST_LAST}


def _all_models() -> tuple[ModelSpec, ...]:
    specs = []
    for tier in ("viduq3p", "viduq3t"):
        for res in _RESOLUTIONS:
            specs.append(_vidu(f"{tier}-{res}", res, _FRAMES))
            specs.append(_vidu(f"{tier}-{res}-offpeak", res, _FRAMES))
    # The page shows the reference-image ("mix") form for viduq3p at 720p only.
    specs.append(_vidu("viduq3p-mix-720p", "720p", {Mode.REFERENCE}, references=7))
    return tuple(specs)


models = _all_models()

aliases: dict[str, tuple[str, Converter | None]] = {
    "reference_image_urls": ("reference_images", None),
}

_EXTRA_BODY = {"audio": "audio", "seed": "seed", "bgm": "bgm"}


def build_request(model: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "prompt": fields["prompt"], "duration": fields["duration"]}
    for key in ("image", "last_image"):
        if key in fields:
            body[key] = fields[key]
    if "reference_images" in fields:
        body["reference_image_urls"] = list(fields["reference_images"])
    # With an image the frame follows it; the page sends aspect_ratio for text and references only.
    if "image" not in fields:
        body["aspect_ratio"] = fields["aspect_ratio"]
    extra = {native: fields[ours] for ours, native in _EXTRA_BODY.items() if ours in fields}
    if extra:
        body["extra_body"] = extra
    return body


def read_task(body: Mapping[str, Any]) -> TaskView:
    return read_envelope(body)
