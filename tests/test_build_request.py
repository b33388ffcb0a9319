"""Each family's request body against the bodies shown in the API documents (seeds/)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import one_shot

CAT = "A cute little cat playing in the garden, sunny and warm"


def body(tmp_path: Path, model: str, **fields: Any) -> dict[str, Any]:
    shot, problems = one_shot(tmp_path, model, **fields)
    assert shot is not None, problems
    return shot.request()


def test_sora_text_to_video_matches_seed_000_example_1(tmp_path: Path) -> None:
    assert body(tmp_path, "sora-2", prompt=CAT, duration=4, aspect_ratio="9:16") == {
        "model": "sora-2", "prompt": CAT, "seconds": "4", "size": "720x1280",
    }


def test_sora_native_names_give_example_2(tmp_path: Path) -> None:
    assert body(tmp_path, "sora-2", prompt=CAT, seconds="8", size="1280x720") == {
        "model": "sora-2", "prompt": CAT, "seconds": "8", "size": "1280x720",
    }


def test_sora_first_frame_and_remix_match_examples_3_and_4(tmp_path: Path) -> None:
    image = "data:image/png;base64,iVBORw0KGgoAAxxxx"
    assert body(tmp_path, "sora-2", prompt=CAT, image=image)["input_reference"] == image
    remix = body(tmp_path, "sora-2", prompt="Change the video to a night scene with stars",
                 remix_of="video_69095b4ce0048190893a01510c0c98b0")
    assert remix == {
        "model": "sora-2", "prompt": "Change the video to a night scene with stars", "seconds": "4",
        "size": "720x1280", "remix_from_video_id": "video_69095b4ce0048190893a01510c0c98b0",
    }


def test_wan_i2v_uses_the_documented_fields(tmp_path: Path) -> None:
    assert body(
        tmp_path, "wan2.5-i2v-preview", prompt="A kitten slowly opens its eyes, ears twitching gently",
        image="https://example.com/cat.jpg", duration=5, resolution="720p", smart_rewrite=True, audio=True,
        seed=12345,
    ) == {
        "model": "wan2.5-i2v-preview", "prompt": "A kitten slowly opens its eyes, ears twitching gently",
        "image": "https://example.com/cat.jpg", "duration": 5, "resolution": "720p", "smart_rewrite": True,
        "generate_audio": True, "seed": 12345,
    }


def test_wan_audio_url(tmp_path: Path) -> None:
    got = body(tmp_path, "wan2.5-i2v-preview", image="https://x/c.jpg", audio_url="https://example.com/audio.mp3")
    assert got["audio_url"] == "https://example.com/audio.mp3"


def test_veo_is_camel_case_and_always_sends_duration(tmp_path: Path) -> None:
    got = body(tmp_path, "veo-3.1-fast-generate-preview", prompt="p", image="https://x/a.png",
               last_image="https://x/b.png", seed=7, watermark=False, person_generation="allow_adult")
    assert got == {
        "model": "veo-3.1-fast-generate-preview", "prompt": "p", "durationSeconds": 8, "aspectRatio": "16:9",
        "resolution": "720p", "generateAudio": True, "image": "https://x/a.png", "lastFrame": "https://x/b.png",
        "seed": 7, "addWatermark": False, "personGeneration": "allow_adult",
    }


def test_seedance_puts_everything_in_metadata_content(tmp_path: Path) -> None:
    got = body(tmp_path, "doubao-seedance-1-0-lite-i2v-250428", prompt="Day becomes night",
               image="https://x/first.png", last_image="https://x/last.png", duration=5, resolution="720p",
               aspect_ratio="adaptive", seed=11, watermark=False, camera_fixed=False)
    assert got == {
        "model": "doubao-seedance-1-0-lite-i2v-250428",
        "metadata": {"content": [
            {"type": "text",
             "text": "Day becomes night --rs 720p --ratio adaptive --dur 5 --seed 11 --wm false --cf false"},
            {"type": "image_url", "image_url": {"url": "https://x/first.png"}, "role": "first_frame"},
            {"type": "image_url", "image_url": {"url": "https://x/last.png"}, "role": "last_frame"},
        ]},
    }
    assert "prompt" not in got  # the gateway ignores a top-level prompt for Seedance


def test_seedance_reference_images_carry_their_role(tmp_path: Path) -> None:
    got = body(tmp_path, "doubao-seedance-1-0-lite-i2v-250428", prompt="[图1] on [图2]",
               reference_images=["https://x/1.png", "https://x/2.png"])
    roles = [item.get("role") for item in got["metadata"]["content"]]
    assert roles == [None, "reference_image", "reference_image"]


def test_vidu_text_to_video_matches_seed_004(tmp_path: Path) -> None:
    prompt = " camera, and, slow camera push-in. "
    assert body(tmp_path, "viduq3p-720p", prompt=prompt, aspect_ratio="16:9", duration=5, audio=False, seed=42,
                bgm=False) == {
        "model": "viduq3p-720p", "prompt": prompt, "aspect_ratio": "16:9", "duration": 5,
        "extra_body": {"audio": False, "seed": 42, "bgm": False},
    }


def test_vidu_single_image_matches_seed_004(tmp_path: Path) -> None:
    prompt = " camera, natural motion, camera. "
    assert body(tmp_path, "viduq3t-540p", prompt=prompt, image="https://example.com/source.png", duration=5,
                seed=42) == {
        "model": "viduq3t-540p", "prompt": prompt, "image": "https://example.com/source.png", "duration": 5,
        "extra_body": {"seed": 42},
    }


def test_vidu_first_last_and_mix_match_seed_004(tmp_path: Path) -> None:
    prompt = ", keep identity stable, action. "
    assert body(tmp_path, "viduq3p-1080p-offpeak", prompt=prompt, image="https://example.com/head.png",
                last_image="https://example.com/tail.png", duration=6) == {
        "model": "viduq3p-1080p-offpeak", "prompt": prompt, "image": "https://example.com/head.png",
        "last_image": "https://example.com/tail.png", "duration": 6,
    }
    mix_prompt = "A @Image1 walking through a beach in the visual style of @Image2"
    refs = ["https://example.com/ref-1.png", "https://example.com/ref-2.png"]
    assert body(tmp_path, "viduq3p-mix-720p", prompt=mix_prompt, reference_images=refs, aspect_ratio="16:9",
                duration=5, audio=False, seed=42) == {
        "model": "viduq3p-mix-720p", "prompt": mix_prompt, "reference_image_urls": refs, "aspect_ratio": "16:9",
        "duration": 5, "extra_body": {"audio": False, "seed": 42},
    }


def test_params_pass_native_fields_verbatim_and_merge_last(tmp_path: Path) -> None:
    got = body(tmp_path, "wan2.5-t2v-preview", params={"user": "u-1", "extra": {"a": 1}})
    assert got["user"] == "u-1" and got["extra"] == {"a": 1}
    assert body(tmp_path, "doubao-seedance-1-0-pro-250528", params={"metadata": {"user": "u-1"}})["metadata"][
        "user"] == "u-1"  # one level deep: beside the content batchvid writes


@pytest.mark.parametrize(("model", "params", "field"), [
    ("wan2.5-t2v-preview", {"duration": 10}, "duration"),  # estimated for 5 s, billed for 10
    ("sora-2", {"seconds": "12"}, "seconds"),
    ("viduq3p-720p", {"model": "viduq3p-1080p"}, "model"),  # Vidu's resolution is in the model id
    ("doubao-seedance-1-0-pro-250528", {"metadata": {"content": [{"type": "text", "text": "x --dur 12"}]}},
     "metadata.content"),
    ("veo-3.1-fast-generate-preview", {"duration_seconds": 8}, "duration_seconds"),  # the gateway's other spelling
])
def test_params_cannot_replace_what_batchvid_writes_from_the_shots_fields(
        tmp_path: Path, model: str, params: dict[str, Any], field: str) -> None:
    """The model's rules and the estimate are checked on the shot's own fields: a params value laid over them
    would be sent, and billed, unchecked."""
    shot, problems = one_shot(tmp_path, model, params=params)
    assert shot is None and problems == [
        f"shot 's' ({model}): params: {field} is written by batchvid from the shot's own fields: set those instead "
        "(a value here would go around the model's rules and the estimate)"]


def test_fingerprint_changes_with_the_request_and_not_otherwise(tmp_path: Path) -> None:
    a, _ = one_shot(tmp_path, "wan2.5-t2v-preview", seed=1)
    b, _ = one_shot(tmp_path, "wan2.5-t2v-preview", seed=1)
    c, _ = one_shot(tmp_path, "wan2.5-t2v-preview", seed=2)
    assert a and b and c
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def _fingerprint_as_defined(request: object) -> str:
    """The journal's fingerprint, spelled out: the request as canonical JSON, every data URI replaced by the hash
    of its text. Journals written by earlier versions hold it: a change here would call every shot "changed"."""
    def without_payloads(value: object) -> object:
        if isinstance(value, str) and value.startswith("data:"):
            return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
        if isinstance(value, list):
            return [without_payloads(item) for item in value]
        if isinstance(value, dict):
            return {key: without_payloads(item) for key, item in value.items()}
        return value

    canonical = json.dumps(without_payloads(request), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@pytest.mark.parametrize(("model", "fields"), [
    ("wan2.5-t2v-preview", {"seed": 3}),
    ("wan2.5-t2v-preview", {"prompt": 'a sign that reads "data: none"'}),  # the marker in text, not in a URI
    ("sora-2", {"image": "data:image/png;base64,iVBORw0KGgoAAxxxx"}),
    ("doubao-seedance-1-0-lite-i2v-250428", {"image": "data:image/png;base64,iVBORw0KGgoAAyyyy",
                                             "last_image": "https://x/b.png"}),
])
def test_the_fingerprint_is_the_request_with_images_hashed(tmp_path: Path, model: str,
                                                            fields: dict[str, object]) -> None:
    shot, problems = one_shot(tmp_path, model, **fields)
    assert shot is not None, problems
    assert shot.fingerprint() == _fingerprint_as_defined(shot.request())


def _record_as_defined(request: object) -> str:
    """What the journal keeps of a request: as the fingerprint has it, but readable (non-ASCII text as it is) and each
    http(s) URL without its query and user."""
    from batchvid.errors import redact

    def kept(value: object) -> object:
        if isinstance(value, str) and value.startswith("data:"):
            return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
        if isinstance(value, str) and value[:8].lower().startswith(("http://", "https://")):
            return redact(value)
        if isinstance(value, list):
            return [kept(item) for item in value]
        if isinstance(value, dict):
            return {key: kept(item) for key, item in value.items()}
        return value

    return json.dumps(kept(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(("model", "fields"), [
    ("wan2.5-t2v-preview", {"seed": 3}),  # the usual shot: its record is the fingerprint's own text
    ("wan2.5-t2v-preview", {"prompt": "un chat, 猫"}),
    ("wan2.5-t2v-preview", {"prompt": r"a sign that reads \u732b, not a cat"}),
    ("wan2.5-t2v-preview", {"prompt": "see http: the protocol"}),
    ("wan2.5-i2v-preview", {"image": "https://user:pw@images.example/c.png?X-Amz-Signature=s3cr3t"}),
    ("sora-2", {"image": "data:image/png;base64,iVBORw0KGgoAAxxxx"}),
])
def test_the_record_is_the_request_as_sent_without_credentials(tmp_path: Path, model: str,
                                                                fields: dict[str, object]) -> None:
    shot, problems = one_shot(tmp_path, model, **fields)
    assert shot is not None, problems
    assert shot.record() == _record_as_defined(shot.request())
    assert "s3cr3t" not in shot.record() and "pw@" not in shot.record()
