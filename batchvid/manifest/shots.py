"""The manifest's `shots`: each one merged with the `defaults`, expanded by its matrix, and given an id."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .. import yamlsafe
from ..problems import did_you_mean
from ._base import Collector, RawShot, field_choices, kind_of, known_field, substitute
from .matrix import expand_matrix, matrix_names

MAX_SHOTS = 100_000


def _defaults(doc: yamlsafe.LineMap, out: Collector) -> yamlsafe.LineMap:
    node = doc.get("defaults")
    if node is None:
        return yamlsafe.LineMap()
    if not isinstance(node, yamlsafe.LineMap):
        out.add(doc.key_lines["defaults"], "`defaults` must be a mapping of shot fields")
        return yamlsafe.LineMap()
    for key in node:
        if key in ("id", "matrix"):
            out.add(node.key_lines[key], f"defaults: {key!r} cannot be a default")
        elif key != "model" and not known_field(str(key)):
            out.add(node.key_lines[key], f"defaults: unknown field {key!r}{did_you_mean(str(key), field_choices())}")
    return node


def read_shots(doc: yamlsafe.LineMap, out: Collector) -> list[RawShot]:
    items = doc.get("shots")
    if not isinstance(items, yamlsafe.LineList):
        return []
    defaults = _defaults(doc, out)
    shots: list[RawShot] = []
    for index, item in enumerate(items):
        line = items.item_lines[index]
        if not isinstance(item, yamlsafe.LineMap):
            out.add(line, f"shot #{index + 1} must be a mapping of fields, not {kind_of(item)}")
            continue
        shots.extend(_expand(item, defaults, out, f"#{index + 1}"))
        if len(shots) > MAX_SHOTS:
            out.add(line, f"more than {MAX_SHOTS:,} shots; split the batch into several manifests")
            break
    return shots


def _merge(shot: yamlsafe.LineMap, defaults: yamlsafe.LineMap) -> RawShot:
    fields: dict[str, Any] = {}
    lines: dict[str, int] = {}
    from_defaults: set[str] = set()
    for key, value in defaults.items():
        if key in ("id", "matrix"):
            continue
        fields[key], lines[key] = value, defaults.key_lines[key]
        from_defaults.add(key)
    for key, value in shot.items():
        if key == "matrix":
            continue
        if key == "params" and isinstance(value, dict) and isinstance(fields.get("params"), dict):
            value = {**fields["params"], **value}  # params merge one level: a shot adds to the defaults
        fields[key], lines[key] = value, shot.key_lines[key]
        from_defaults.discard(key)
    raw_id = fields.pop("id", None)
    return RawShot(
        id="" if raw_id is None else str(raw_id), fields=fields, line=shot.line,
        field_lines=lines, from_defaults=from_defaults,
    )


def _expand(item: yamlsafe.LineMap, defaults: yamlsafe.LineMap, out: Collector, position: str) -> list[RawShot]:
    """One shot, or a matrix's; `position` (`#3`) names a shot without an id (its own is derived later)."""
    base = _merge(item, defaults)
    if "id" in item and not isinstance(item["id"], str | int):
        out.add(item.key_lines["id"], "must be a string", shot=position, field="id")
        base.id = ""  # said once: its text would fail the id's own checks too
    label = base.id or position
    templates: dict[str, set[str]] = {}  # field -> the matrix values it names, filled in for each combination
    for key in list(base.fields):
        line = base.field_lines[key]
        if key != "model" and not known_field(key):
            if key not in base.from_defaults:  # a default's typo is reported once, at the defaults
                out.add(line, f"unknown field {key!r}{did_you_mean(key, field_choices())}", shot=label)
            del base.fields[key]
            continue
        names = matrix_names(base.fields[key])
        if names:
            templates[key] = names
        else:
            base.fields[key] = substitute(base.fields[key], line, out, shot=label, field=key)
    matrix = item.get("matrix")
    if matrix is None:
        for key, names in templates.items():
            out.add(base.field_lines[key], f"${{matrix.{min(names)}}}: the shot has no matrix", shot=label, field=key)
        return [base]
    return expand_matrix(base, matrix, item.key_lines["matrix"], out, label, templates)


def derive_ids(shots: list[RawShot]) -> None:
    """A shot without an id gets one from its content, stable when other shots move."""
    seen: dict[str, int] = {}
    for shot in shots:
        if shot.id:
            continue
        digest = hashlib.sha256(
            json.dumps(shot.fields, sort_keys=True, default=str).encode()
        ).hexdigest()[:10]
        base = f"shot-{digest}"
        seen[base] = seen.get(base, 0) + 1
        shot.id = base if seen[base] == 1 else f"{base}-{seen[base]}"


def check_ids(shots: list[RawShot], out: Collector) -> None:
    first: dict[str, int] = {}
    for shot in shots:
        if shot.id in first:
            out.add(shot.line, f"duplicate id (first on line {first[shot.id]})", shot=shot.id, field="id")
        else:
            first[shot.id] = shot.line
