"""Doubao Seedance (seeds/000, 002, API-NOTES): everything rides in metadata.content.

Settings are text markers after the prompt (`--rs 720p --ratio 16:9 --dur 5 ...`); images are
`image_url` items with a role. A body without `content` silently becomes a placeholder prompt at the
gateway, so build_request always writes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._base import Audio, Converter, Mode, ModelSpec, TaskView
from ._envelope import read_envelope

name = "seedance"
video_kept = "about 24 h"  # its signed URLs expire after about 24 h (API-NOTES)

_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")
_EXTRA = frozenset({"watermark", "camera_fixed", "fps"})


def _seedance(
    model_id: str,
    modes: set[Mode],
    *,
    durations: range,
    resolutions: tuple[str, ...] = ("480p", "720p", "1080p"),
    ratios: tuple[str, ...] = _RATIOS,
    audio: Audio = Audio.NEVER,
    references: int = 0,
    notes: str = "",
) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        family=name,
        modes=frozenset(modes),
        durations=tuple(durations),
        resolutions=resolutions,
        aspect_ratios=ratios,
        audio=audio,
        default_duration=5,
        default_resolution="720p",
        default_aspect_ratio="16:9",
        seed_range=(-1, 4294967295),
        extra_fields=_EXTRA,
        max_reference_images=references,
        notes=notes,
    )


_PRO15 = {Mode.TEXT, Mode.FIRST_FRAME, Mode.FIRST_LAST}
_ONE_ZERO = "Durations 2-12 s come from the upstream (BytePlus) documents, not the gateway's pages."

models = (
    _seedance(
        "doubao-seedance-1-0-lite-t2v-250428",
        {Mode.TEXT},
        durations=range(2, 13),
        ratios=_RATIOS[:-1],  # no image input and no adaptive ratio
        notes=_ONE_ZERO,
    ),
    _seedance(
        "doubao-seedance-1-0-lite-i2v-250428",
        {Mode.FIRST_FRAME, Mode.FIRST_LAST, Mode.REFERENCE},
        durations=range(2, 13),
        references=4,
        notes="Reference images are named [图1], [图2]... in the prompt. " + _ONE_ZERO,
    ),
    _seedance(
        "doubao-seedance-1-0-pro-250528",
        {Mode.TEXT, Mode.FIRST_FRAME},
        durations=range(2, 13),
        notes=_ONE_ZERO,
    ),
    _seedance(
        "doubao-seedance-1-5-pro-251215",
        _PRO15,
        durations=range(4, 13),
        resolutions=("480p", "720p"),
        audio=Audio.ALWAYS,
    ),
    _seedance(
        "doubao-seedance-1-5-pro-251215-noAudio",
        _PRO15,
        durations=range(4, 13),
        resolutions=("480p", "720p"),
        audio=Audio.NEVER,
    ),
)

aliases: dict[str, tuple[str, Converter | None]] = {
    "ratio": ("aspect_ratio", None),
    "rs": ("resolution", None),
    "dur": ("duration", None),
    "cf": ("camera_fixed", None),
    "wm": ("watermark", None),
}


#: every setting's marker, short or long form, and the field that sets it: the short forms are the aliases above
_MARKER_FIELD = {**{marker: field for marker, (field, _) in aliases.items()}, "resolution": "resolution",
                 "rt": "aspect_ratio", "duration": "duration", "fps": "fps", "framepersecond": "fps", "seed": "seed",
                 "watermark": "watermark", "camerafixed": "camera_fixed"}
#: a marker as a prompt may already hold one (the gateway's pages teach writing them)
_MARKER_IN_TEXT = re.compile(rf"(?<!\S)--({'|'.join(_MARKER_FIELD)})(?:\s+(\S+))?(?!\S)", re.IGNORECASE)


def marker_in(prompt: str) -> tuple[str, str] | None:
    """(the marker a prompt holds, the field that sets it), or None. batchvid writes every marker itself, after the
    prompt: one already in it would make two, and the one the provider takes could render, and bill, another
    duration or resolution than the estimate's."""
    found = _MARKER_IN_TEXT.search(prompt)
    if found is None:
        return None
    return found.group(0).strip(), _MARKER_FIELD[found.group(1).lower()]


#: how a prompt names its reference images: [图1], [图2]... ("图" is "image")
_REFERENCE_IN_TEXT = re.compile(r"\[图\s*(\d+)\s*\]")


def reference_problem(prompt: str, references: int) -> str | None:
    """What keeps a prompt from naming its `references` reference images as the pages require ("reference image mode
    requires using markers like [图1], [图2] in the prompt"), or None. Without them the provider is not told how the
    images figure in the video, and a video that leaves them out is paid for all the same."""
    named = {int(number) for number in _REFERENCE_IN_TEXT.findall(prompt)}
    if not named:
        return (f"names none of its {references} reference image(s): write [图1]"
                f"{', [图2]' if references > 1 else ''}... where each figures (Seedance's reference image mode "
                "requires them)")
    beyond = sorted(n for n in named if not 1 <= n <= references)
    if beyond:
        return f"names [图{beyond[0]}], but the shot has {references} reference image(s)"
    return None


def _flag(value: Any) -> str:
    return "true" if value else "false"


def markers(fields: Mapping[str, Any]) -> str:
    parts = [
        f"--rs {fields['resolution']}",
        f"--ratio {fields['aspect_ratio']}",
        f"--dur {fields['duration']}",
    ]
    if "fps" in fields:
        parts.append(f"--fps {fields['fps']}")
    if "seed" in fields:
        parts.append(f"--seed {fields['seed']}")
    if "watermark" in fields:
        parts.append(f"--wm {_flag(fields['watermark'])}")
    if "camera_fixed" in fields:
        parts.append(f"--cf {_flag(fields['camera_fixed'])}")
    return " ".join(parts)


def _image(url: str, role: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, "role": role}


def build_request(model: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": f"{fields['prompt']} {markers(fields)}"}]
    if "image" in fields:
        content.append(_image(fields["image"], "first_frame"))
    if "last_image" in fields:
        content.append(_image(fields["last_image"], "last_frame"))
    for url in fields.get("reference_images", ()):
        content.append(_image(url, "reference_image"))
    return {"model": model, "metadata": {"content": content}}


def read_task(body: Mapping[str, Any]) -> TaskView:
    return read_envelope(body)
