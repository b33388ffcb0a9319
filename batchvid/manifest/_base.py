"""What the manifest's readers share: the problems they collect, ${VAR} values, the raw shot they make."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import is_text
from ..families._base import VOCABULARY
from ..problems import ManifestInvalid, Problem

SHOT_META = ("id", "model", "matrix")
_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class RawShot:
    """One shot after defaults and expansion, before its model's rules are applied."""

    id: str
    fields: dict[str, Any]  # vocabulary and native fields, plus `model`
    line: int
    field_lines: dict[str, int]
    from_defaults: set[str]


class Collector:
    """A manifest's problems as they are found: all of them are reported at once, not the first alone."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.problems: list[Problem] = []

    def add(self, line: int, message: str, **where: Any) -> None:
        self.problems.append(Problem(self.path, line, message, **where))


def kind_of(value: Any) -> str:
    """What a YAML value is, in a manifest writer's words (not Python's)."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a date" if isinstance(value, dt.date) else type(value).__name__


def substituted(node: Mapping[str, Any], key: str, path: Path) -> Any:
    """`node[key]` read without a whole parse (status reads only run.out), with ${VAR} taken as parse() takes it."""
    out = Collector(path)
    value = substitute(node[key], line_of(node, key, 1), out)
    if out.problems:
        raise ManifestInvalid(out.problems)
    return value


def substitute(value: Any, line: int, out: Collector, **where: Any) -> Any:
    """${VAR} from the environment in every string; `$$` is a literal `$`."""
    if isinstance(value, str):
        if "$" not in value:
            return value

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1)
            if name not in os.environ:
                out.add(line, f"environment variable {name} is not set", **where)
                return ""
            text = os.environ[name]
            if not is_text(text):
                out.add(line, f"environment variable {name} holds bytes that are not UTF-8 text", **where)
                return ""
            return text

        return _ENV.sub(replace, value)
    if isinstance(value, list):
        return [substitute(item, line, out, **where) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, line, out, **where) for key, item in value.items()}
    return value


def known_field(key: str) -> bool:
    from ..families import FAMILIES

    return key in VOCABULARY or any(key in family.aliases for family in FAMILIES.values())


def field_choices() -> list[str]:
    from ..families import FAMILIES

    names = set(VOCABULARY) | set(SHOT_META)
    for family in FAMILIES.values():
        names |= set(family.aliases)
    return sorted(names)


def line_of(node: Any, key: str, fallback: int) -> int:
    lines = getattr(node, "key_lines", None)
    return lines.get(key, fallback) if isinstance(lines, dict) else fallback
