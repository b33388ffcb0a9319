"""Both sides of every documented constraint, one shot at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import one_shot

URL = "https://example.com/a.png"
URL2 = "https://example.com/b.png"

CASES: list[tuple[str, dict[str, Any], str | None]] = [
    # Sora: 4/8/12 s, only 720x1280 or 1280x720, first frame, remix ids start with video_
    ("sora-2", {"duration": 12}, None),
    ("sora-2", {"duration": 5}, "duration: must be one of 4, 8, 12; got 5"),
    ("sora-2", {"seconds": "8", "size": "1280x720"}, None),
    ("sora-2", {"size": "1920x1080"}, "size: size must be one of 1280x720, 720x1280, not '1920x1080'"),
    ("sora-2", {"aspect_ratio": "1:1"}, "aspect_ratio: must be one of 16:9, 9:16; got '1:1'"),
    ("sora-2", {"resolution": "1080p"}, "resolution: must be one of 720p; got '1080p'"),
    ("sora-2", {"image": URL}, None),
    ("sora-2", {"last_image": URL, "image": URL}, "last_image: not supported by sora-2"),
    ("sora-2", {"remix_of": "video_123"}, None),
    ("sora-2", {"remix_of": "task_123"}, "remix_of: must be a video id starting with video_"),
    ("sora-2", {"seed": 1}, "seed: not supported by sora-2"),
    ("sora-2", {"audio": False}, "audio: sora-2 always makes sound"),
    ("sora-2", {"seconds": "8", "duration": 8}, "seconds: both 'seconds' and 'duration' given; keep one"),
    # Veo: 4/6/8 s, 16:9 or 9:16, 720p/1080p, last frame on 3.1 only
    ("veo-3.0-fast-generate-001", {"duration": 6, "resolution": "1080p"}, None),
    ("veo-3.0-fast-generate-001", {"duration": 5}, "duration: must be one of 4, 6, 8; got 5"),
    ("veo-3.0-fast-generate-001", {"aspect_ratio": "1:1"}, "aspect_ratio: must be one of 16:9, 9:16; got '1:1'"),
    ("veo-3.0-fast-generate-001", {"image": URL, "last_image": URL2},
     "last_image: not supported by veo-3.0-fast-generate-001"),
    ("veo-3.1-fast-generate-preview", {"image": URL, "last_image": URL2}, None),
    ("veo-3.1-fast-generate-preview", {"last_image": URL2}, "last_image: needs `image` too"),
    ("veo-3.1-fast-generate-preview", {"seed": 4294967295}, None),
    ("veo-3.1-fast-generate-preview", {"seed": 4294967296}, "seed: must be from 0 to 4294967295; got 4294967296"),
    ("veo-3.1-fast-generate-preview", {"person_generation": "everyone"},
     "person_generation: must be one of allow_all, allow_adult, dont_allow; got 'everyone'"),
    # Wan: 5 or 10 s, 480p/720p/1080p, i2v needs an image, seed 0-2147483647
    ("wan2.5-t2v-preview", {"duration": 10, "resolution": "1080p"}, None),
    ("wan2.5-t2v-preview", {"duration": 8}, "duration: must be one of 5, 10; got 8"),
    ("wan2.5-t2v-preview", {"resolution": "4k"}, "resolution: must be one of 480p, 720p, 1080p; got '4k'"),
    ("wan2.5-t2v-preview", {"image": URL}, "image: not supported by wan2.5-t2v-preview"),
    ("wan2.5-i2v-preview", {"image": URL}, None),
    ("wan2.5-i2v-preview", {}, "image: is required (wan2.5-i2v-preview is image-to-video)"),
    ("wan2.5-i2v-preview", {"image": URL, "seed": -1}, "seed: must be from 0 to 2147483647; got -1"),
    ("wan2.5-i2v-preview", {"image": URL, "audio_url": "http://x/a.mp3"}, "audio_url: must be an https URL"),
    ("wan2.5-i2v-preview", {"image": "ftp://x/a.png"},
     "image: must be a local image file, an http(s) URL or a data:image URI"),
    # Seedance 1.0 lite t2v: no image, no adaptive ratio
    ("doubao-seedance-1-0-lite-t2v-250428", {"aspect_ratio": "21:9"}, None),
    ("doubao-seedance-1-0-lite-t2v-250428", {"aspect_ratio": "adaptive"},
     "aspect_ratio: must be one of 16:9, 4:3, 1:1, 3:4, 9:16, 21:9; got 'adaptive'"),
    ("doubao-seedance-1-0-lite-t2v-250428", {"image": URL},
     "image: not supported by doubao-seedance-1-0-lite-t2v-250428"),
    # Seedance 1.0 lite i2v: first / first+last / reference images; needs one of them
    ("doubao-seedance-1-0-lite-i2v-250428", {"image": URL, "aspect_ratio": "adaptive"}, None),
    ("doubao-seedance-1-0-lite-i2v-250428", {"image": URL, "last_image": URL2}, None),
    ("doubao-seedance-1-0-lite-i2v-250428", {"reference_images": [URL, URL2], "prompt": "[图1] meets [图 2]"}, None),
    # the pages: "reference image mode requires using markers like [图1], [图2] in the prompt"
    ("doubao-seedance-1-0-lite-i2v-250428", {"reference_images": [URL, URL2], "prompt": "two friends meet"},
     "prompt: names none of its 2 reference image(s): write [图1], [图2]... where each figures (Seedance's "
     "reference image mode requires them)"),
    ("doubao-seedance-1-0-lite-i2v-250428", {"reference_images": [URL, URL2], "prompt": "[图1] meets [图3]"},
     "prompt: names [图3], but the shot has 2 reference image(s)"),
    ("doubao-seedance-1-0-lite-i2v-250428", {},
     "needs `image` or `reference_images` (this model is image-to-video)"),
    ("doubao-seedance-1-0-lite-i2v-250428", {"image": URL, "reference_images": [URL2]},
     "takes either frames (`image`) or `reference_images`, not both"),
    ("doubao-seedance-1-0-lite-i2v-250428", {"reference_images": [URL] * 5},
     "reference_images: takes at most 4 items; got 5"),
    # Seedance 1.0 pro: first frame only
    ("doubao-seedance-1-0-pro-250528", {"image": URL}, None),
    ("doubao-seedance-1-0-pro-250528", {"image": URL, "last_image": URL2},
     "last_image: not supported by doubao-seedance-1-0-pro-250528"),
    # Seedance 1.5 pro: no reference images, 480p/720p, 4-12 s
    ("doubao-seedance-1-5-pro-251215", {"duration": 4, "resolution": "480p"}, None),
    ("doubao-seedance-1-5-pro-251215", {"duration": 12}, None),
    ("doubao-seedance-1-5-pro-251215", {"duration": 3}, "duration: must be from 4 to 12; got 3"),
    ("doubao-seedance-1-5-pro-251215", {"duration": 13}, "duration: must be from 4 to 12; got 13"),
    ("doubao-seedance-1-5-pro-251215", {"resolution": "1080p"}, "resolution: must be one of 480p, 720p; got '1080p'"),
    ("doubao-seedance-1-5-pro-251215", {"reference_images": [URL]},
     "reference_images: not supported by doubao-seedance-1-5-pro-251215"),
    ("doubao-seedance-1-5-pro-251215-noAudio", {"image": URL, "last_image": URL2}, None),
    ("doubao-seedance-1-5-pro-251215-noAudio", {"audio": True},
     "audio: doubao-seedance-1-5-pro-251215-noAudio makes no sound"),
    # Vidu: 1-16 s, last frame needs a first frame, reference images on mix models only
    ("viduq3p-720p", {"duration": 1}, None),
    ("viduq3p-720p", {"duration": 16}, None),
    ("viduq3p-720p", {"duration": 17}, "duration: must be from 1 to 16; got 17"),
    ("viduq3p-720p", {"duration": 0}, "duration: must be from 1 to 16; got 0"),
    ("viduq3t-540p-offpeak", {"image": URL, "last_image": URL2}, None),
    ("viduq3t-540p", {"last_image": URL2}, "last_image: needs `image` too"),
    ("viduq3p-720p", {"reference_images": [URL]}, "reference_images: not supported by viduq3p-720p"),
    ("viduq3p-mix-720p", {"reference_images": [URL, URL2]}, None),
    ("viduq3p-mix-720p", {"image": URL, "reference_images": [URL]}, "image: not supported by viduq3p-mix-720p"),
    ("viduq3p-mix-720p", {}, "reference_images: is required"),
    ("viduq3p-1080p", {"resolution": "720p"}, "resolution: must be one of 1080p; got '720p'"),
    # every model: the prompt is required and bounded, unknown fields are named
    ("wan2.5-t2v-preview", {"prompt": ""}, "prompt: must not be empty"),
    ("wan2.5-t2v-preview", {"prompt": "x" * 20_001}, "prompt: is 20,001 characters; the limit is 20,000"),
    ("wan2.5-t2v-preview", {"size": "1280x720"}, "size: is not a field of wan2.5-t2v-preview"),
    ("wan2.5-t2v-preview", {"duration": "5"}, "duration: must be one of 5, 10; got '5' (write it without quotes)"),
]


@pytest.mark.parametrize(("model", "fields", "expected"), CASES)
def test_constraint(tmp_path: Path, model: str, fields: dict[str, Any], expected: str | None) -> None:
    shot, problems = one_shot(tmp_path, model, **fields)
    if expected is None:
        assert problems == []
        assert shot is not None
    else:
        assert shot is None
        assert [p.split(": ", 1)[1] if p.startswith("shot") else p for p in problems] == [expected]


def test_defaults_are_filled_from_the_model(tmp_path: Path) -> None:
    shot, _ = one_shot(tmp_path, "sora-2")
    assert shot is not None
    assert (shot.seconds, shot.resolution, shot.aspect_ratio) == (4, "720p", "9:16")
    shot, _ = one_shot(tmp_path, "veo-3.0-fast-generate-001")
    assert shot is not None and shot.seconds == 8
