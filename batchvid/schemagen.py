"""Writes schemas/ from the family registry, so the schemas and the adapters cannot drift apart.

Run `python -m batchvid.schemagen [DIR]` after changing a family; a test fails while the files in
schemas/ differ from what this produces. Validation reads the shipped files, not this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import runsettings
from .families import MODELS
from .families._base import VOCABULARY, Audio, Mode, ModelSpec

DRAFT = "https://json-schema.org/draft/2020-12/schema"
COMMON = "_common.json"
MAX_PROMPT_CHARS = 20_000  # far above any provider's limit, low enough to catch a pasted file

_IMAGE_PATTERN = r"^(https?://|data:image/(png|jpeg|webp);base64,)"


def common_schema() -> dict[str, Any]:
    image = {
        "type": "string",
        "pattern": _IMAGE_PATTERN,
        "x-message": "must be a local image file, an http(s) URL or a data:image URI",
        "description": VOCABULARY["image"],
    }
    return {
        "$schema": DRAFT,
        "$id": COMMON,
        "title": "Parts shared by every batchvid model schema",
        "$defs": {
            "id": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9._-]{1,120}$",
                "not": {"enum": [".", ".."]},
                "x-message": "must be 1-120 characters of A-Z a-z 0-9 . _ - (it names the output file)",
                "description": "Unique name of the shot; the output is <out>/<id>.mp4.",
            },
            "prompt": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_PROMPT_CHARS,
                "description": VOCABULARY["prompt"],
            },
            "image": image,
            "flag": {"type": "boolean"},
            "params": {"type": "object", "description": VOCABULARY["params"]},
        },
    }


def _ref(name: str, description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"$ref": f"{COMMON}#/$defs/{name}"}
    if description:
        schema["description"] = description
    return schema


def _durations(spec: ModelSpec) -> dict[str, Any]:
    values = list(spec.durations)
    text = f"{VOCABULARY['duration']} Default {spec.default_duration}."
    if len(values) > 3 and values == list(range(values[0], values[-1] + 1)):
        return {"type": "integer", "minimum": values[0], "maximum": values[-1], "description": text}
    return {"enum": values, "description": text}


def _audio(spec: ModelSpec) -> dict[str, Any]:
    if spec.audio is Audio.ALWAYS:
        return {"const": True, "x-message": f"{spec.id} always makes sound", "description": "Always on."}
    if spec.audio is Audio.NEVER:
        return {"const": False, "x-message": f"{spec.id} makes no sound", "description": "Always off."}
    return {"type": "boolean", "description": VOCABULARY["audio"] + " Default off."}


def _image_fields(spec: ModelSpec) -> dict[str, Any]:
    modes = spec.modes
    props: dict[str, Any] = {}
    if Mode.FIRST_FRAME in modes or Mode.FIRST_LAST in modes:
        props["image"] = _ref("image", VOCABULARY["image"])
    if Mode.FIRST_LAST in modes:
        props["last_image"] = _ref("image", VOCABULARY["last_image"])
    if Mode.REFERENCE in modes:
        props["reference_images"] = {
            "type": "array",
            "items": _ref("image"),
            "minItems": 1,
            "maxItems": spec.max_reference_images,
            "description": VOCABULARY["reference_images"] + f" At most {spec.max_reference_images}.",
        }
    if Mode.REMIX in modes:
        props["remix_of"] = {
            "type": "string",
            "pattern": "^video_",
            "x-message": "must be a video id starting with video_",
            "description": VOCABULARY["remix_of"],
        }
    return props


_EXTRA: dict[str, dict[str, Any]] = {
    "watermark": {"type": "boolean"},
    "camera_fixed": {"type": "boolean"},
    "smart_rewrite": {"type": "boolean"},
    "bgm": {"type": "boolean"},
    "audio_url": {"type": "string", "pattern": "^https://", "x-message": "must be an https URL"},
    "person_generation": {"enum": ["allow_all", "allow_adult", "dont_allow"]},
    "fps": {"enum": [24]},
}


def _properties(spec: ModelSpec) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": _ref("id"),
        "model": {"const": spec.id, "description": "Model id."},
        "prompt": _ref("prompt"),
        "duration": _durations(spec),
        "resolution": {
            "enum": list(spec.resolutions),
            "description": f"{VOCABULARY['resolution']} Default {spec.default_resolution}.",
        },
        "audio": _audio(spec),
        "params": _ref("params"),
    }
    if spec.aspect_ratios:
        props["aspect_ratio"] = {
            "enum": list(spec.aspect_ratios),
            "description": f"{VOCABULARY['aspect_ratio']} Default {spec.default_aspect_ratio}.",
        }
    if spec.seed_range:
        low, high = spec.seed_range
        props["seed"] = {"type": "integer", "minimum": low, "maximum": high, "description": VOCABULARY["seed"]}
    props.update(_image_fields(spec))
    for name in sorted(spec.extra_fields):
        props[name] = {**_EXTRA[name], "description": VOCABULARY[name]}
    # Vocabulary this model does not take: named, so the error says "not supported" rather than "unknown".
    for name in VOCABULARY:
        props.setdefault(name, False)
    return props


def _constraints(spec: ModelSpec) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    if spec.needs_image and Mode.REFERENCE in spec.modes and Mode.FIRST_FRAME in spec.modes:
        rules.append(
            {
                "anyOf": [{"required": ["image"]}, {"required": ["reference_images"]}],
                "x-message": "needs `image` or `reference_images` (this model is image-to-video)",
            }
        )
    if Mode.REFERENCE in spec.modes and spec.needs_image and Mode.FIRST_FRAME in spec.modes:
        rules.append(
            {
                "not": {"required": ["image", "reference_images"]},
                "x-message": "takes either frames (`image`) or `reference_images`, not both",
            }
        )
    return rules


def model_schema(spec: ModelSpec) -> dict[str, Any]:
    required = ["model", "prompt"]
    if spec.needs_image and Mode.FIRST_FRAME not in spec.modes:
        required.append("reference_images")
    elif spec.needs_image and Mode.REFERENCE not in spec.modes:
        required.append("image")
    modes = ", ".join(sorted(mode.value for mode in spec.modes))
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": f"{spec.id}.json",
        "title": f"{spec.id} shot",
        "description": f"A {spec.family} shot. Modes: {modes}. {spec.notes}".strip(),
        "type": "object",
        "properties": _properties(spec),
        "required": required,
        "additionalProperties": False,
    }
    if Mode.FIRST_LAST in spec.modes:
        schema["dependentRequired"] = {"last_image": ["image"]}
    if rules := _constraints(spec):
        schema["allOf"] = rules
    return schema


def manifest_schema() -> dict[str, Any]:
    """A loose schema of a whole manifest, for editors; each shot is checked strictly by its model's."""
    shot_props: dict[str, Any] = {
        "id": _ref("id"),
        "model": {"enum": sorted(MODELS), "description": "Model id (see `batchvid models`)."},
        "matrix": {
            "type": "object",
            "properties": {
                "exclude": {
                    "type": "array", "minItems": 1, "items": {"type": "object", "minProperties": 1},
                    "description": "Combinations to leave out, each a mapping of some varied fields to one of "
                    "their values: [{model: sora-2, duration: 10}].",
                },
            },
            "additionalProperties": {"type": "array", "minItems": 1, "uniqueItems": True},
            "description": "Expands the shot into every combination of these values; ids get suffixes. A name "
            "that is not a shot field is a value of your own, written into the shot's strings as ${matrix.NAME}.",
        },
    }
    shot_props.update({name: {"description": text} for name, text in VOCABULARY.items()})
    shot = {"type": "object", "properties": shot_props}
    endpoint: dict[str, Any] = {
        "type": "object",
        "properties": {
            "base_url": {"type": "string", "description": "Gateway base URL."},
            "api_key_env": {"type": "string", "description": "Environment variable holding the API key."},
        },
    }
    return {
        "$schema": DRAFT,
        "$id": "manifest.schema.json",
        "title": "batchvid manifest",
        "type": "object",
        "required": ["version", "shots"],
        "additionalProperties": False,
        "properties": {
            "version": {"const": 1},
            "defaults": {**shot, "description": "Merged into every shot; a shot's own value wins."},
            "shots": {"type": "array", "items": shot, "minItems": 1},
            "gateway": {
                **endpoint,
                "properties": {
                    **endpoint["properties"],
                    "families": {"type": "object", "additionalProperties": {
                        **endpoint,
                        "properties": {
                            **endpoint["properties"],
                            "rate": {**runsettings.RATE.schema, "description": "this family's own pace within the "
                                     "run's rate, as its provider allows (Vertex Veo preview: 10/min)"},
                            "concurrency": {**runsettings.CONCURRENCY.schema, "description": "this family's own "
                                            "limit of tasks in flight within the run's concurrency, as its provider "
                                            "renders at once (Vidu: 5 an organisation, the rest queued)"},
                        },
                    }},
                },
                "description": "Where to send requests (default https://llm.ai-nebula.com).",
            },
            "run": {
                "type": "object",
                "description": "Settings of `batchvid run`; command-line flags win.",
                "properties": {
                    "out": {"type": "string", "minLength": 1},
                    **{setting.name: setting.schema for setting in runsettings.IN_MANIFEST},
                },
                "additionalProperties": False,
            },
            "prices": {"type": "object", "description": "Price rows that override or add to the table."},
        },
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    files = {COMMON: common_schema(), "manifest.schema.json": manifest_schema()}
    files.update({f"{spec.id}.json": model_schema(spec) for spec in MODELS.values()})
    return files


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "schemas")
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*.json"):
        stale.unlink()
    for name, schema in all_schemas().items():
        (target / name).write_text(render(schema), encoding="utf-8")
    print(f"wrote {len(all_schemas())} schemas to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
