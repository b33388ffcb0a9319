"""Printing helpers: plain tables and JSON on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


#: json's encoder in C, as json.dumps(ensure_ascii=False) without indent uses it
_encode = json.JSONEncoder(ensure_ascii=False).encode
_PLAIN = (str, int, float, bool, type(None))


def print_json(data: Any) -> None:
    """Indented two spaces, except that an object or a list of plain values within the document (a shot's row of an
    estimate, a model's durations) takes one line of its own: a batch's shots one a line, each line made by json's
    encoder in C (its indenting encoder is pure Python; a 10,000-shot estimate now takes about 60 % of the time).
    One write: json.dump() to a stream makes a write per token, 300,000 of them for a big batch."""
    parts: list[str] = []
    _layout(data, 0, parts)
    parts.append("\n")
    sys.stdout.write("".join(parts))


def _layout(value: Any, depth: int, parts: list[str]) -> None:
    if _one_line(value) and (depth or not value or isinstance(value, _PLAIN)):  # the whole document: spread out
        parts.append(_encode(value))
        return
    pad = "\n" + "  " * (depth + 1)
    if isinstance(value, dict):
        opening, closing = "{", "}"
        items: Iterable[tuple[str | None, Any]] = ((_key(key), item) for key, item in value.items())
    else:
        opening, closing, items = "[", "]", ((None, item) for item in value)
    parts.append(opening)
    for index, (key, item) in enumerate(items):
        parts.append(("," if index else "") + pad + ("" if key is None else _encode(key) + ": "))
        if _one_line(item):  # most items of a big output: no call deeper
            parts.append(_encode(item))
        else:
            _layout(item, depth + 1, parts)
    parts.append("\n" + "  " * depth + closing)


def _one_line(value: Any) -> bool:
    """A plain value, or an object or a list of plain values and empty ones only."""
    if isinstance(value, dict):
        return all(_plain(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    return True


def _plain(value: Any) -> bool:
    return isinstance(value, _PLAIN) or (isinstance(value, (dict, list, tuple)) and not value)


def _key(key: Any) -> str:
    """An object's key as json.dumps takes it: a string, or a number, true, false or null written as one."""
    return key if isinstance(key, str) else _encode(key)
