"""manifest.yaml -> raw shots: structure, defaults, matrix expansion, ${ENV} values, ids.

Nothing here knows a model's rules; validate.py checks each expanded shot against its schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import yamlsafe
from ..problems import ManifestInvalid, Problem, did_you_mean
from ._base import Collector, RawShot, kind_of, substituted
from .blocks import Endpoint, GatewayConfig, out_problem, read_gateway, read_run
from .shots import check_ids, derive_ids, read_shots

__all__ = ["Endpoint", "GatewayConfig", "RawManifest", "RawShot", "out_problem", "parse", "substituted"]

MAX_MANIFEST_BYTES = 20 * 1024 * 1024
TOP_KEYS = ("version", "defaults", "shots", "gateway", "run", "prices")


@dataclass
class RawManifest:
    path: Path
    shots: list[RawShot]
    gateway: GatewayConfig
    run: dict[str, Any]
    prices: Any
    prices_line: int
    problems: list[Problem]  # structural problems; shots are still checked so that all are reported
    source: bytes = b""  # the bytes parsed (the settled record digests exactly these)


def read_source(path: Path) -> tuple[bytes, str]:
    """The manifest's bytes and their text, refused with a Problem when either is unusable."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            what = "a folder, not a manifest: give its YAML file" if path.is_dir() else "not a regular file"
            raise ManifestInvalid([Problem(str(path), 1, what)])
        if size > MAX_MANIFEST_BYTES:
            raise ManifestInvalid(
                [Problem(str(path), 1, f"manifest is {size / 2**20:.0f} MiB; the limit is "
                         f"{MAX_MANIFEST_BYTES / 2**20:.0f} MiB")]
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestInvalid([Problem(str(path), 1, "no such file")]) from None
    except OSError as exc:
        raise ManifestInvalid([Problem(str(path), 1, f"cannot read: {exc.strerror}")]) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ManifestInvalid([Problem(str(path), 1, "UTF-16 text; save the manifest as UTF-8")])
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise ManifestInvalid([Problem(str(path), line, "binary data (a NUL byte); a manifest is UTF-8 text")])
    try:
        return data, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestInvalid([Problem(str(path), line, "not UTF-8 text; save the manifest as UTF-8")]) from None


def parse(path: Path) -> RawManifest:
    source, text = read_source(path)
    try:
        doc = yamlsafe.load(text)
    except yamlsafe.YamlProblem as exc:
        raise ManifestInvalid([Problem(str(path), exc.line, exc.message)]) from None
    out = Collector(path)
    if not isinstance(doc, yamlsafe.LineMap):
        raise ManifestInvalid([Problem(str(path), 1, f"the manifest is {kind_of(doc)}; it must be a mapping "
                                       "with `version: 1` and `shots:`")])
    _check_top(doc, out)
    gateway = read_gateway(doc.get("gateway"), doc, out)
    run = read_run(doc.get("run"), doc, out)
    shots = read_shots(doc, out)
    derive_ids(shots)
    check_ids(shots, out)
    return RawManifest(
        path, shots, gateway, run, doc.get("prices"), doc.key_lines.get("prices", 0), out.problems, source
    )


def _check_top(doc: yamlsafe.LineMap, out: Collector) -> None:
    for key in doc:
        if key not in TOP_KEYS:
            out.add(doc.key_lines[key], f"unknown top-level key {key!r}{did_you_mean(str(key), TOP_KEYS)}")
    if "version" not in doc:
        out.add(1, "missing `version: 1`")
    elif doc["version"] != 1:
        out.add(doc.key_lines["version"], f"version must be 1, not {doc['version']!r}")
    shots = doc.get("shots")
    if "shots" not in doc:
        out.add(1, "missing `shots:` (a list of shots)")
    elif not isinstance(shots, list) or not shots:
        out.add(doc.key_lines["shots"], "`shots` must be a non-empty list")
