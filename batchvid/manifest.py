"""manifest.yaml -> raw shots: structure, defaults, matrix expansion, ${ENV} values, ids.

Nothing here knows a model's rules; validate.py checks each expanded shot against its schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import re
from argparse import ArgumentTypeError
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import runsettings, yamlsafe
from .families._base import VOCABULARY
from .problems import ManifestInvalid, Problem, did_you_mean

MAX_MANIFEST_BYTES = 20 * 1024 * 1024
MAX_SHOTS = 100_000
MAX_MATRIX = 10_000
#: the matrix key that lists combinations to leave out (no shot field has this name)
EXCLUDE = "exclude"
DEFAULT_BASE_URL = "https://llm.ai-nebula.com"
DEFAULT_KEY_ENV = "BATCHVID_API_KEY"

TOP_KEYS = ("version", "defaults", "shots", "gateway", "run", "prices")
SHOT_META = ("id", "model", "matrix")
_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: a matrix's value in a string: `${matrix.NAME}` (`$$` is a literal `$` here too)
_MATRIX_REF = re.compile(r"\$\$|\$\{matrix\.([A-Za-z_][A-Za-z0-9_]*)\}")
_BASE_URL = re.compile(r"https?://[^/\s?#]+(/\S*)?", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def base_url_problem(value: object) -> str | None:
    """What keeps `value` from being a gateway's base URL (None: nothing): an http(s) URL with a host, nothing blank
    in it, and no user name or password, which aiohttp would send beside the API key's header and refuse to."""
    if not isinstance(value, str) or _BASE_URL.fullmatch(value) is None:
        return f"must be an http(s) URL like https://gateway.example, not {value!r}"
    if "@" in urlsplit(value).netloc:  # not shown: the password would be on the screen
        return (f"must not hold a user name or password: the API key goes in the environment ({DEFAULT_KEY_ENV}, or "
                "the variable api_key_env names)")
    return None


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


@dataclass
class RawShot:
    """One shot after defaults and expansion, before its model's rules are applied."""

    id: str
    fields: dict[str, Any]  # vocabulary and native fields, plus `model`
    line: int
    field_lines: dict[str, int]
    from_defaults: set[str]


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


class _Collector:
    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.problems: list[Problem] = []

    def add(self, line: int, message: str, **where: Any) -> None:
        self.problems.append(Problem(self.path, line, message, **where))


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


def parse(path: Path) -> RawManifest:
    source, text = read_source(path)
    try:
        doc = yamlsafe.load(text)
    except yamlsafe.YamlProblem as exc:
        raise ManifestInvalid([Problem(str(path), exc.line, exc.message)]) from None
    out = _Collector(path)
    if not isinstance(doc, yamlsafe.LineMap):
        raise ManifestInvalid([Problem(str(path), 1, f"the manifest is {kind_of(doc)}; it must be a mapping "
                                       "with `version: 1` and `shots:`")])
    _check_top(doc, out)
    gateway = _gateway(doc.get("gateway"), doc, out)
    run = _run(doc.get("run"), doc, out)
    shots = _shots(doc, out)
    _derive_ids(shots)
    _check_ids(shots, out)
    return RawManifest(
        path, shots, gateway, run, doc.get("prices"), doc.key_lines.get("prices", 0), out.problems, source
    )


def _check_top(doc: yamlsafe.LineMap, out: _Collector) -> None:
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


def _endpoint(node: Any, base: Endpoint, line: int, out: _Collector, what: str,
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
        value = _substitute(value, where, out)
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


def _gateway(node: Any, doc: yamlsafe.LineMap, out: _Collector) -> GatewayConfig:
    line = doc.key_lines.get("gateway", 1)
    default = _endpoint(node, Endpoint(), line, out, "gateway")
    families: dict[str, Endpoint] = {}
    raw_families = node.get("families") if isinstance(node, Mapping) else None
    if isinstance(raw_families, yamlsafe.LineMap):
        from .families import FAMILIES

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


def _run(node: Any, doc: yamlsafe.LineMap, out: _Collector) -> dict[str, Any]:
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
        settings[key] = value = _substitute(value, line, out)
        if len(out.problems) > known:
            continue  # an unset variable: said already
        if key == "out":
            if not isinstance(value, str) or not value.strip():
                out.add(line, f"run: out: {value!r}: want a folder name")
        elif value is not None:  # checked as its flag will be, so that `validate` finds it before a run does
            try:
                runsettings.BY_NAME[key].parse(str(value))
            except ArgumentTypeError as exc:
                out.add(line, f"run: {key}: {exc}")
    return settings


def substituted(node: Mapping[str, Any], key: str, path: Path) -> Any:
    """`node[key]` read without a whole parse (status reads only run.out), with ${VAR} taken as parse() takes it."""
    out = _Collector(path)
    value = _substitute(node[key], _line_of(node, key, 1), out)
    if out.problems:
        raise ManifestInvalid(out.problems)
    return value


def _substitute(value: Any, line: int, out: _Collector, **where: Any) -> Any:
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
            return os.environ[name]

        return _ENV.sub(replace, value)
    if isinstance(value, list):
        return [_substitute(item, line, out, **where) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, line, out, **where) for key, item in value.items()}
    return value


def _known_field(key: str) -> bool:
    from .families import FAMILIES

    return key in VOCABULARY or any(key in family.aliases for family in FAMILIES.values())


def _field_choices() -> list[str]:
    from .families import FAMILIES

    names = set(VOCABULARY) | set(SHOT_META)
    for family in FAMILIES.values():
        names |= set(family.aliases)
    return sorted(names)


def _defaults(doc: yamlsafe.LineMap, out: _Collector) -> yamlsafe.LineMap:
    node = doc.get("defaults")
    if node is None:
        return yamlsafe.LineMap()
    if not isinstance(node, yamlsafe.LineMap):
        out.add(doc.key_lines["defaults"], "`defaults` must be a mapping of shot fields")
        return yamlsafe.LineMap()
    for key in node:
        if key in ("id", "matrix"):
            out.add(node.key_lines[key], f"defaults: {key!r} cannot be a default")
        elif key != "model" and not _known_field(str(key)):
            out.add(node.key_lines[key], f"defaults: unknown field {key!r}{did_you_mean(str(key), _field_choices())}")
    return node


def _shots(doc: yamlsafe.LineMap, out: _Collector) -> list[RawShot]:
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


def _expand(item: yamlsafe.LineMap, defaults: yamlsafe.LineMap, out: _Collector, position: str) -> list[RawShot]:
    """One shot, or a matrix's; `position` (`#3`) names a shot without an id (its own is derived later)."""
    base = _merge(item, defaults)
    if "id" in item and not isinstance(item["id"], str | int):
        out.add(item.key_lines["id"], "must be a string", shot=position, field="id")
        base.id = ""  # said once: its text would fail the id's own checks too
    label = base.id or position
    templates: dict[str, set[str]] = {}  # field -> the matrix values it names, filled in for each combination
    for key in list(base.fields):
        line = base.field_lines[key]
        if key != "model" and not _known_field(key):
            if key not in base.from_defaults:  # a default's typo is reported once, at the defaults
                out.add(line, f"unknown field {key!r}{did_you_mean(key, _field_choices())}", shot=label)
            del base.fields[key]
            continue
        names = _matrix_names(base.fields[key])
        if names:
            templates[key] = names
        else:
            base.fields[key] = _substitute(base.fields[key], line, out, shot=label, field=key)
    matrix = item.get("matrix")
    if matrix is None:
        for key, names in templates.items():
            out.add(base.field_lines[key], f"${{matrix.{min(names)}}}: the shot has no matrix", shot=label, field=key)
        return [base]
    return _matrix(base, matrix, item.key_lines["matrix"], out, label, templates)


def _matrix_names(value: Any) -> set[str]:
    """The matrix values a field's strings name as ${matrix.NAME}."""
    if isinstance(value, str):
        return {match.group(1) for match in _MATRIX_REF.finditer(value) if match.group(1)} if "$" in value else set()
    if isinstance(value, list | dict):
        return set().union(*map(_matrix_names, value.values() if isinstance(value, dict) else value))
    return set()


def _filled(value: Any, chosen: Mapping[str, Any]) -> Any:
    """`value` with each ${matrix.NAME} replaced by the combination's value, `$` in it doubled so that the ${VAR}
    pass after this one leaves it as it is (and `$$` kept for that pass)."""
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            return "$$" if name is None else _text(chosen[name]).replace("$", "$$")

        return _MATRIX_REF.sub(replace, value)
    if isinstance(value, list):
        return [_filled(item, chosen) for item in value]
    if isinstance(value, dict):
        return {key: _filled(item, chosen) for key, item in value.items()}
    return value


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _matrix(base: RawShot, matrix: Any, line: int, out: _Collector, label: str,
            templates: Mapping[str, set[str]]) -> list[RawShot]:
    """A shot for each combination of the matrix's values: of fields, and of names that the shot's strings use
    as ${matrix.NAME} (`templates`: field -> names), which are no field of their own."""
    # the problems are shown after "matrix: " (their field)
    varied = {key: values for key, values in matrix.items() if key != EXCLUDE} if isinstance(matrix, dict) else {}
    if not varied:
        out.add(line, "must map fields to lists of values", shot=label, field="matrix")
        return []
    named = set().union(*templates.values())
    for key, names in templates.items():
        if missing := sorted(names - set(map(str, varied))):
            hint = did_you_mean(missing[0], [str(name) for name in varied])
            out.add(base.field_lines[key], f"${{matrix.{missing[0]}}}: the matrix has no {missing[0]}{hint}",
                    shot=label, field=key)
            return []
    count = 1
    for key, values in varied.items():
        if (problem := _axis_problem(key, values, named)) is not None:
            out.add(line, problem, shot=label, field="matrix")
            return []
        count *= len(values)
    is_field = {key for key in varied if key == "model" or _known_field(str(key))}
    if count > MAX_MATRIX:
        out.add(line, f"makes {count:,} shots; the limit is {MAX_MATRIX:,} per shot", shot=label, field="matrix")
        return []
    axes: list[tuple[str, list[tuple[Any, str, str]]]] = []  # (field, [(value, id suffix, exact text)])
    for key, values in varied.items():
        slugs = _axis_slugs(str(key), values, line, out, label)
        if slugs is None:
            return []
        axes.append((str(key), list(zip(values, slugs, map(_exact, values), strict=True))))
    rules = _exclusions(matrix, axes, line, out, label)
    if rules is None:
        return []
    shots = []
    for combo in itertools.product(*(values for _, values in axes)):
        if any(all(combo[index][2] == wanted for index, wanted in rule.items()) for rule in rules):
            continue
        chosen = {key: (value, slug) for (key, _), (value, slug, _) in zip(axes, combo, strict=True)}
        shots.append(_combination(base, chosen, is_field, templates, line, out, label))
    if not shots:
        out.add(_line_of(matrix, EXCLUDE, line), "exclude leaves out every combination", shot=label, field="matrix")
    return shots


def _combination(base: RawShot, chosen: Mapping[str, tuple[Any, str]], is_field: set[str],
                 templates: Mapping[str, set[str]], line: int, out: _Collector, label: str) -> RawShot:
    """The shot of one combination (`chosen`: axis -> its value and id suffix) of the matrix on `line`."""
    fields = dict(base.fields)
    lines = dict(base.field_lines)
    values = {key: _substitute(value, line, out, shot=label, field=key) for key, (value, _) in chosen.items()}
    for key, value in values.items():  # in the matrix's order, as before
        if key in is_field:  # the others are values of the user's own, for ${matrix.NAME} alone
            fields[key], lines[key] = value, line
    for key in templates:
        if key not in values:  # a field the matrix varies takes the matrix's value
            fields[key] = _substitute(_filled(base.fields[key], values), lines[key], out, shot=label, field=key)
    return RawShot(
        id=f"{base.id}-{'-'.join(slug for _, slug in chosen.values())}" if base.id else "", fields=fields,
        line=base.line, field_lines=lines, from_defaults=base.from_defaults - chosen.keys(),
    )


def _axis_problem(key: Any, values: Any, named: set[str]) -> str | None:
    """What is wrong with one of a matrix's axes (None: nothing): a field that cannot vary, or a name that is no
    field and that no string of the shot uses (`named`: those that some do), or values that are no list."""
    if key in ("id", "matrix"):
        return f"{key!r} cannot vary"
    if key != "model" and not _known_field(str(key)) and key not in named:
        return (f"{key!r} cannot vary{did_you_mean(str(key), _field_choices())}; a value of your own goes in the "
                f"shot as ${{matrix.{key}}}")
    if not isinstance(values, list) or not values:
        return f"{key} must be a non-empty list"
    if key in named and not all(isinstance(value, str | int | float) for value in values):
        return f"{key}: a value that goes in ${{matrix.{key}}} must be text or a number"
    return None


def _exclusions(matrix: dict[Any, Any], axes: list[tuple[str, list[tuple[Any, str, str]]]], line: int, out: _Collector,
                label: str) -> list[dict[int, str]] | None:
    """The matrix's `exclude` (as GitHub Actions has it): combinations to leave out, each a mapping of some axes to
    one of their values, as {axis index: the value's exact text}; None (and a problem) when one is wrong. A value
    not among its axis's values would leave nothing out: a typo, said rather than ignored."""
    if EXCLUDE not in matrix:
        return []
    given = matrix[EXCLUDE]
    line = _line_of(matrix, EXCLUDE, line)
    if not isinstance(given, list) or not given or not all(isinstance(rule, dict) and rule for rule in given):
        out.add(line, "exclude must be a list of combinations to leave out, like [{model: sora-2, duration: 12}]",
                shot=label, field="matrix")
        return None
    index = {key: at for at, (key, _) in enumerate(axes)}
    rules = []
    for number, rule in enumerate(given):
        where = given.item_lines[number] if isinstance(given, yamlsafe.LineList) else line
        wanted: dict[int, str] = {}
        for key, value in rule.items():
            if key not in index:
                out.add(where, f"exclude: the matrix does not vary {key!r} (it varies {', '.join(index)})",
                        shot=label, field="matrix")
                return None
            exact = _exact(value)
            if exact not in {known for _, _, known in axes[index[key]][1]}:
                out.add(where, f"exclude: {value!r} is not one of the matrix's {key} values", shot=label,
                        field="matrix")
                return None
            wanted[index[key]] = exact
        rules.append(wanted)
    return rules


def _line_of(node: Any, key: str, fallback: int) -> int:
    lines = getattr(node, "key_lines", None)
    return lines.get(key, fallback) if isinstance(lines, dict) else fallback


def _exact(value: Any) -> str:
    """A value's identity within a matrix: 1 and '1' differ, key order in a mapping does not."""
    return json.dumps(value, sort_keys=True, default=str)


def _axis_slugs(key: str, values: list[Any], line: int, out: _Collector, label: str) -> list[str] | None:
    """The id suffix of each value of one matrix axis, distinct within it; None (and a problem) for a value listed
    twice. Suffixes are cut at 40 characters, so long prompts that start alike (or 'a b' and 'a_b') would share one:
    a later value then gets a digest of itself added. The first keeps the plain suffix, so a value added to the
    list never renames a shot already run."""
    taken: set[str] = set()
    seen: set[str] = set()
    slugs = []
    for value in values:
        exact = _exact(value)
        if exact in seen:
            out.add(line, f"{key} lists {value!r} twice", shot=label, field="matrix")
            return None
        seen.add(exact)
        slug = _slug(value)
        if slug in taken:
            slug = f"{slug}.{hashlib.sha256(exact.encode()).hexdigest()[:6]}"
        taken.add(slug)
        slugs.append(slug)
    return slugs


def _slug(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else str(value)
    slug = _UNSAFE.sub("_", text).strip("_.")
    return slug[:40] or "x"


def _derive_ids(shots: list[RawShot]) -> None:
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


def _check_ids(shots: list[RawShot], out: _Collector) -> None:
    first: dict[str, int] = {}
    for shot in shots:
        if shot.id in first:
            out.add(shot.line, f"duplicate id (first on line {first[shot.id]})", shot=shot.id, field="id")
        else:
            first[shot.id] = shot.line
