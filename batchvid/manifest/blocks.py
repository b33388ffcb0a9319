"""The manifest's `gateway` block (where each family's requests go, with which key variable, and the family's own
pace and limit) and its `run` block (the run's settings, checked as their flags are)."""

from __future__ import annotations

import re
from argparse import ArgumentTypeError
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import runsettings, yamlsafe
from ..baseurl import DEFAULT_BASE_URL, base_url_problem
from ..keys import DEFAULT_KEY_ENV
from ..problems import did_you_mean
from ._base import Collector, substitute


def out_problem(value: object) -> str | None:
    """What keeps `value` from being run.out (None: nothing), as `validate` and `status` say it."""
    if isinstance(value, str) and value.strip():
        return None
    shown = repr(value)
    return f"run: out: {shown[:60] + '...' if len(shown) > 60 else shown}: want a folder name"


@dataclass(frozen=True)
class Endpoint:
    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = DEFAULT_KEY_ENV
    #: a family's own pace (requests per second; None: the run's --rate alone), as its provider allows: Vertex Veo
    #: preview takes 10 requests a minute, and a pace found from 429s alone draws some on the way
    rate: float | None = None
    #: a family's own limit of tasks in flight (None: --concurrency alone), as its provider renders at once: Vidu
    #: runs 5 tasks an organisation and queues the rest, and a queued task would hold a slot another family could use
    concurrency: int | None = None


#: what a gateway block and each of its families take; `rate` and `concurrency` a family only (the whole gateway's
#: are the run's settings)
_ENDPOINT_KEYS = ("base_url", "api_key_env")
_FAMILY_SETTINGS: dict[str, runsettings.Setting[Any]] = {
    "rate": runsettings.RATE, "concurrency": runsettings.CONCURRENCY}
_FAMILY_KEYS = (*_ENDPOINT_KEYS, *_FAMILY_SETTINGS)
_RUN_WIDE = {"rate": "the whole gateway's pace", "concurrency": "the whole run's limit of tasks in flight"}


@dataclass(frozen=True)
class GatewayConfig:
    default: Endpoint = Endpoint()
    families: Mapping[str, Endpoint] = field(default_factory=dict)

    def for_family(self, family: str) -> Endpoint:
        return self.families.get(family, self.default)

    def own_settings(self) -> list[str]:
        """The families' own settings that are given, as written (gateway.families.vidu.concurrency)."""
        return [f"gateway.families.{family}.{key}" for family, endpoint in sorted(self.families.items())
                for key in _FAMILY_SETTINGS if getattr(endpoint, key) is not None]


def _endpoint(node: Any, base: Endpoint, line: int, out: Collector, what: str,
              known: tuple[str, ...] = _ENDPOINT_KEYS) -> Endpoint:
    if node is None:
        return base
    if not isinstance(node, yamlsafe.LineMap):
        out.add(line, f"{what} must be a mapping")
        return base
    values = dict(base.__dict__)
    for key, value in node.items():
        where = node.key_lines[key]
        if key not in known:
            if key in _FAMILY_SETTINGS:
                out.add(where, f"{what}: {key}: {_RUN_WIDE[key]} is run.{key} (or --{key}); a family's own goes "
                        f"in gateway.families.FAMILY.{key}")
            elif key != "families":
                out.add(where, f"{what}: unknown key {key!r}{did_you_mean(str(key), known)}")
            continue
        value = substitute(value, where, out)
        if key == "base_url" and (problem := base_url_problem(value)) is not None:
            out.add(where, f"{what}: base_url {problem}")
        elif key == "api_key_env" and not (isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value)):
            out.add(where, f"{what}: api_key_env must name an environment variable (the key itself never "
                    "goes in a manifest)")
        elif key in _FAMILY_SETTINGS:
            try:  # read as the run's setting is
                values[key] = _FAMILY_SETTINGS[key].parse(str(value))
            except ArgumentTypeError as exc:
                out.add(where, f"{what}: {key}: {exc}")
        else:
            values[key] = value.rstrip("/") if key == "base_url" else value
    return Endpoint(**values)


def read_gateway(node: Any, doc: yamlsafe.LineMap, out: Collector) -> GatewayConfig:
    line = doc.key_lines.get("gateway", 1)
    default = _endpoint(node, Endpoint(), line, out, "gateway")
    families: dict[str, Endpoint] = {}
    raw_families = node.get("families") if isinstance(node, Mapping) else None
    if isinstance(raw_families, yamlsafe.LineMap):
        from ..families import FAMILIES

        for name, sub in raw_families.items():
            where = raw_families.key_lines[name]
            if name not in FAMILIES:
                out.add(where, f"gateway.families: unknown family {name!r}{did_you_mean(str(name), FAMILIES)}")
                continue
            families[name] = _endpoint(sub, default, where, out, f"gateway.families.{name}", _FAMILY_KEYS)
    elif raw_families is not None:
        out.add(line, "gateway.families must be a mapping of family name to base_url / api_key_env / rate / "
                "concurrency")
    return GatewayConfig(default, families)


def read_run(node: Any, doc: yamlsafe.LineMap, out: Collector) -> dict[str, Any]:
    if node is None:
        return {}
    if not isinstance(node, yamlsafe.LineMap):
        out.add(doc.key_lines["run"], "`run` must be a mapping")
        return {}
    settings = {}
    for key, value in node.items():
        line = node.key_lines[key]
        if key not in runsettings.RUN_KEYS:
            out.add(line, f"run: unknown key {key!r}{did_you_mean(str(key), runsettings.RUN_KEYS)}")
            continue
        known = len(out.problems)
        settings[key] = value = substitute(value, line, out)
        if len(out.problems) > known:
            continue  # an unset variable: said already
        if key == "out":
            if (problem := out_problem(value)) is not None:
                out.add(line, problem)
        elif value is not None:  # checked as its flag will be, so that `validate` finds it before a run does
            try:
                runsettings.BY_NAME[key].parse(str(value))
            except ArgumentTypeError as exc:
                out.add(line, f"run: {key}: {exc}")
    return settings
