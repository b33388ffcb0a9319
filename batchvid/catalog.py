"""Model id -> family adapter, capabilities and the JSON Schema shipped in schemas/.

The schemas ship inside the wheel as the package `batchvid.schemas` (pyproject maps the top-level
schemas/ folder there), so an installed batchvid reads them with importlib.resources.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import FatalError, InputError
from .families import FAMILIES, MODELS, Family
from .families._base import ModelSpec
from .packaged import schema_folder
from .problems import did_you_mean

__all__ = ["FAMILIES", "MODELS", "Family", "ModelSpec", "family", "schema", "validator"]


def family(model_id: str) -> Family:
    return FAMILIES[MODELS[model_id].family]


@functools.cache
def schema_files() -> dict[str, dict[str, Any]]:
    """Every shipped schema file by name."""
    try:
        return {
            entry.name: json.loads(entry.read_text(encoding="utf-8"))
            for entry in schema_folder().iterdir()
            if entry.name.endswith(".json")
        }
    except (OSError, ValueError) as exc:
        raise FatalError(f"batchvid's schemas are broken ({exc}); reinstall batchvid") from exc


def schema(name: str) -> dict[str, Any]:
    """The schema of one model id, or `manifest` for the whole manifest."""
    files = schema_files()
    file_name = "manifest.schema.json" if name == "manifest" else f"{name}.json"
    if file_name not in files:
        raise InputError(f"no schema for {name!r}{did_you_mean(name, MODELS)}; see `batchvid models`")
    return files[file_name]


@functools.cache
def _registry() -> Registry:
    pairs = [
        (name, Resource.from_contents(contents, default_specification=DRAFT202012))
        for name, contents in schema_files().items()
    ]
    return Registry().with_resources(pairs)


@functools.cache
def validator(model_id: str) -> Draft202012Validator:
    """A compiled validator per model, built once per process."""
    return Draft202012Validator(schema(model_id), registry=_registry())


@functools.cache
def id_prompt_validator(model_id: str) -> Draft202012Validator:
    """Only a shot's `id` and `prompt`, as its model's schema defines them."""
    properties = schema(model_id)["properties"]
    subset = {"type": "object", "properties": {name: _inline(properties[name]) for name in ("id", "prompt")}}
    # refs inlined: resolving them through the registry would cost more than the check, for every shot
    return Draft202012Validator(subset)


def _inline(part: dict[str, Any]) -> dict[str, Any]:
    """A property schema with its `$ref` into a shipped file replaced by the target."""
    if "$ref" not in part:
        return part
    file_name, _, pointer = part["$ref"].partition("#")
    target: Any = schema_files()[file_name]
    for step in pointer.strip("/").split("/"):
        target = target[step]
    rest = {key: value for key, value in part.items() if key != "$ref"}
    return {**_inline(target), **rest}


_PLAIN_STRING_KEYS = {"type", "pattern", "minLength", "maxLength", "description", "x-message", "not"}


@functools.cache
def _plain_string_checks(model_id: str) -> dict[str, tuple[re.Pattern[str] | None, int, float, frozenset[str]]] | None:
    """id and prompt as (pattern, min, max, forbidden values), when their schemas say no more than that."""
    checks = {}
    for name, part in id_prompt_validator(model_id).schema["properties"].items():
        forbidden = part.get("not", {}).get("enum", []) if isinstance(part.get("not"), dict) else None
        if part.get("type") != "string" or set(part) - _PLAIN_STRING_KEYS or forbidden is None and "not" in part:
            return None
        pattern = re.compile(part["pattern"]) if "pattern" in part else None
        checks[name] = (pattern, part.get("minLength", 0), part.get("maxLength", math.inf), frozenset(forbidden or ()))
    return checks


def plain_strings_ok(model_id: str, values: dict[str, Any]) -> bool:
    """A fast proof that id and prompt are valid (a shot's hot path); False means: ask jsonschema."""
    checks = _plain_string_checks(model_id)
    if checks is None:
        return False
    for name, value in values.items():
        pattern, low, high, forbidden = checks[name]
        if not isinstance(value, str) or not low <= len(value) <= high or value in forbidden:
            return False
        if pattern is not None and pattern.search(value) is None:
            return False
    return True
