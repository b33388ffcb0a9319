"""A validated shot: vocabulary fields with defaults filled, ready to price and to send."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from .errors import redact
from .families import FAMILIES, MODELS, Family
from .families._base import ModelSpec

_DIGESTS: dict[str, str] = {}  # data URI -> sha256; local images are shared strings, hashed once


def _content_digest(value: str) -> str:
    """A data: URI as the sha256 of its text (images fingerprinted by content); any other text as it is."""
    if not value.startswith("data:"):
        return value
    digest = _DIGESTS.get(value)
    if digest is None:
        digest = _DIGESTS[value] = "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return digest


def _without_query(value: str) -> str:
    """An http(s) URL without its query and user name (a signed URL's signature is a credential)."""
    return redact(value) if value[:8].lower().startswith(("http://", "https://")) else value


def _each_text(value: Any, change: Callable[[str], str]) -> Any:
    """The JSON value with `change` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_each_text(item, change) for item in value]
    if isinstance(value, dict):
        return {key: _each_text(item, change) for key, item in value.items()}
    return value


T = TypeVar("T")


class once(Generic[T]):  # used like functools.cached_property, and named like it
    """functools.cached_property without its lock: Python 3.11 takes a lock at each first read, and a batch of
    10,000 shots makes 40,000 of them (4 % of the CPU time of `estimate`). Shots are read from one thread."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> once[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> once[T] | T:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)  # found there, before this, from now on
        return value


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def overridden(body: Mapping[str, Any], extra: Mapping[str, Any]) -> str | None:
    """The first field of `extra` (dotted) that deep_merge would lay over one of `body`'s own, or None."""
    for key, value in extra.items():
        if key not in body:
            continue
        if isinstance(value, Mapping) and isinstance(body[key], dict):
            inner = overridden(body[key], value)
            if inner is not None:
                return f"{key}.{inner}"
        else:
            return str(key)
    return None


@dataclass(frozen=True, eq=False)
class Shot:
    id: str
    model: str
    fields: Mapping[str, Any]
    line: int

    @once  # read several times a request; a shot's fields never change
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    @once
    def family(self) -> Family:
        return FAMILIES[self.spec.family]

    @once
    def seconds(self) -> int:
        return int(self.fields["duration"])

    @once
    def resolution(self) -> str:
        return str(self.fields["resolution"])

    @property
    def aspect_ratio(self) -> str | None:
        value = self.fields.get("aspect_ratio")
        return None if value is None else str(value)

    def request(self) -> dict[str, Any]:
        """The native JSON body; `params` are merged last, verbatim."""
        body = self.family.build_request(self.model, self.fields)
        return deep_merge(body, self.fields.get("params") or {})

    @once
    def _sent(self) -> dict[str, Any]:
        """The request with each data: URI as the sha256 of its text (an image's data would make it huge)."""
        result: dict[str, Any] = _each_text(self.request(), _content_digest)
        return result

    @once
    def _canonical(self) -> str:
        """The request as the fingerprint hashes it (sorted keys, no blanks, ASCII): changed, it is another shot."""
        return json.dumps(self._sent, sort_keys=True, separators=(",", ":"))

    def fingerprint(self) -> str:
        return hashlib.sha256(self._canonical.encode()).hexdigest()[:32]

    def record(self) -> str:
        """What the journal keeps of what was sent: the request as the fingerprint has it, as readable JSON (a prompt
        in Chinese stays Chinese), each URL without its query (a signed image URL's signature is a credential)."""
        canonical = self._canonical
        if "\\u" not in canonical and "http" not in canonical.lower():
            return canonical  # nothing escaped, no URL to cut: the same text, without a second walk and dump
        kept = _each_text(self._sent, _without_query)
        return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
