"""Converters from a document's native field values to the shared vocabulary."""

from __future__ import annotations

from typing import Any


def to_int(value: Any) -> Any:
    """Documents write seconds as "4" or 4; the vocabulary uses integers."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def size_to_aspect(sizes: dict[str, str]) -> Any:
    def convert(value: Any) -> Any:
        if str(value) not in sizes:
            raise ValueError(f"size must be one of {', '.join(sizes)}, not {value!r}")
        return sizes[str(value)]

    return convert
