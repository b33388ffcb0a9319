"""What every family adapter provides, and the small value types they share.

An adapter is a plain module (like a pre-commit language plugin) with the names of `Family`:
pure functions, no I/O, no retries, no state. The scheduler decides when, the gateway sends,
the adapter only shapes bodies.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# The shared vocabulary of a shot, whatever its model. Each adapter maps it to its native body.
VOCABULARY: dict[str, str] = {
    "prompt": "What the video shows: scene, action, camera.",
    "duration": "Length of the video in seconds.",
    "resolution": "Output resolution, e.g. 720p.",
    "aspect_ratio": "Frame shape, e.g. 16:9.",
    "image": "First frame: a local file (relative to the manifest), an https URL or a data URI.",
    "last_image": "Last frame (needs `image`): a local file, an https URL or a data URI.",
    "reference_images": "Reference images (a list of local files, URLs or data URIs).",
    "audio": "Generate sound with the video.",
    "audio_url": "An https URL of an audio track to use.",
    "seed": "Random seed, for reproducible results.",
    "watermark": "Add the provider's watermark.",
    "camera_fixed": "Keep the camera still.",
    "smart_rewrite": "Let the provider expand the prompt.",
    "remix_of": "Id of an earlier video to remix (starts with video_).",
    "person_generation": "Whether people may be generated (allow_all, allow_adult, dont_allow).",
    "fps": "Frames per second of the output.",
    "bgm": "Add background music.",
    "params": "Native request fields batchvid does not write itself, passed through verbatim.",
}

IMAGE_FIELDS = ("image", "last_image", "reference_images")


class Mode(enum.StrEnum):
    TEXT = "text-to-video"
    FIRST_FRAME = "first-frame"
    FIRST_LAST = "first-last-frame"
    REFERENCE = "reference-images"
    REMIX = "remix"


class Audio(enum.StrEnum):
    ALWAYS = "always"  # the model always makes sound; audio: false is refused
    NEVER = "never"  # silent model; audio: true is refused
    OPTIONAL = "optional"


@dataclass(frozen=True)
class ModelSpec:
    """Everything the documents say one model accepts."""

    id: str
    family: str
    modes: frozenset[Mode]
    durations: tuple[int, ...]
    resolutions: tuple[str, ...]
    aspect_ratios: tuple[str, ...]
    audio: Audio
    default_duration: int
    default_resolution: str
    default_aspect_ratio: str | None
    #: (min, max) of the seed, or None when the model takes no seed
    seed_range: tuple[int, int] | None = None
    #: vocabulary fields beyond the common ones (prompt, duration, resolution, ...)
    extra_fields: frozenset[str] = frozenset()
    max_image_bytes: int = 10 * 1024 * 1024
    max_reference_images: int = 0
    notes: str = ""

    @property
    def needs_image(self) -> bool:
        return Mode.TEXT not in self.modes and Mode.REMIX not in self.modes


class TaskState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class VideoSource:
    """Where a finished video is: a URL (http(s) or data:), or the gateway's base64 endpoint."""

    url: str | None = None
    via_download_endpoint: bool = False


@dataclass(frozen=True)
class Billing:
    """Billing figures the gateway reported, when it did."""

    model_price: str | None = None  # USD per second, as the gateway wrote it
    seconds: str | None = None
    group_ratio: str | None = None
    total_tokens: int | None = None


@dataclass(frozen=True)
class TaskView:
    """One poll answer, read into the same shape for every family."""

    state: TaskState
    raw_status: str = ""
    progress: int | None = None
    video: VideoSource | None = None
    error_code: str | None = None
    error_message: str | None = None
    billing: Billing = field(default_factory=Billing)


#: converts a native field's value to the vocabulary; raises ValueError with a message
Converter = Callable[[Any], Any]


class Family(Protocol):
    @property
    def name(self) -> str:
        """The family's name, e.g. "sora"."""

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        """Every model it serves."""

    @property
    def video_kept(self) -> str:
        """How long the gateway keeps a finished video ("about 24 h"), as API-NOTES says; "" where not known."""

    @property
    def aliases(self) -> Mapping[str, tuple[str, Converter | None]]:
        """Native field -> (vocabulary field, converter): a document's own names are accepted too."""

    def build_request(self, model: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body to POST for one validated shot (fields use the vocabulary, defaults filled)."""
        ...

    def read_task(self, body: Mapping[str, Any]) -> TaskView:
        """Read a poll (or submit) answer."""
        ...
