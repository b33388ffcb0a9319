"""Each raw shot against its model: aliases, images, the model's JSON Schema, defaults filled.

Every problem of every shot is collected; nothing is sent while any exists.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from jsonschema import ValidationError

from . import catalog, collector, images
from .errors import InputError
from .families import FAMILIES, MODELS, seedance
from .families._base import IMAGE_FIELDS, ModelSpec
from .manifest import RawManifest, RawShot, parse
from .manifest._base import kind_of
from .problems import ManifestInvalid, Problem, did_you_mean
from .shot import Shot, overridden

_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Batch:
    manifest: RawManifest
    shots: tuple[Shot, ...]
    #: the local files the shots were made from (images), resolved, each stamped before it was read
    files: tuple[tuple[Path, images.FileStamp], ...] = ()
    #: the manifest's shots that --only left out of this batch
    left_out: tuple[Shot, ...] = ()


def only(batch: Batch, words: list[str], manifest: Path) -> Batch:
    """The batch cut down to the shots --only names (ids or fnmatch patterns, comma-separated), in the manifest's
    order; a pattern that matches no shot is an error (a typo would otherwise quietly run or price nothing)."""
    patterns = [pattern.strip() for word in words for pattern in word.split(",") if pattern.strip()]
    if not patterns:
        raise InputError("--only: give the ids (or patterns) of the shots")
    for pattern in patterns:
        if not any(fnmatchcase(shot.id, pattern) for shot in batch.shots):
            hint = "" if any(c in pattern for c in "*?[") else did_you_mean(pattern, (shot.id for shot in batch.shots))
            raise InputError(f"--only: no shot in {manifest} matches {pattern!r}{hint}")
    chosen = tuple(shot for shot in batch.shots if any(fnmatchcase(shot.id, pattern) for pattern in patterns))
    kept = {shot.id for shot in chosen}
    return dataclasses.replace(batch, shots=chosen, left_out=tuple(shot for shot in batch.shots
                                                                   if shot.id not in kept))


def load_batch(path: Path) -> Batch:
    """Parse and validate a manifest; raise ManifestInvalid with every problem."""
    with collector.paused():
        raw = parse(path)
        checker = _ShotChecker(raw)
        checker.problems.extend(raw.problems)
        shots = [shot for shot in (checker.check(item) for item in raw.shots) if shot is not None]
        checker.problems.extend(_price_problems(raw))
    if checker.problems:
        raise ManifestInvalid(checker.problems)
    files = sorted({(image.path, image.stamp) for image in checker.images.values()
                    if isinstance(image, images.LocalImage)})
    return Batch(raw, tuple(shots), tuple(files))


def _price_problems(raw: RawManifest) -> list[Problem]:
    """The manifest's `prices:` block, read as estimate and run will read it: `validate` finds what they refuse."""
    if raw.prices is None:
        return []
    from .pricing import PriceProblems, builtin_table

    try:
        builtin_table().merged(raw.prices, "prices")
    except PriceProblems as exc:  # each at its own line, where the block has one
        return [Problem(str(raw.path), line or raw.prices_line, said.removeprefix("prices: "), field="prices")
                for line, said in exc.problems]
    except InputError as exc:
        return [Problem(str(raw.path), raw.prices_line, str(exc).removeprefix("prices: "), field="prices")]
    return []


class _ShotChecker:
    def __init__(self, raw: RawManifest) -> None:
        self.raw = raw
        self.folder = raw.path.parent
        self.problems: list[Problem] = []
        self.images: dict[tuple[str, int], images.LocalImage | str] = {}
        self._verdicts: dict[tuple[str, bool, Any], list[Problem_]] = {}
        self._local_by_uri: dict[str, images.LocalImage] = {}  # for checks that need the file behind a URI

    def add(self, raw: RawShot, field: str | None, message: str, model: str | None = None) -> None:
        line = raw.field_lines.get(field or "", raw.line) if field else raw.line
        if field in raw.from_defaults:
            message += " (set in defaults)"
        self.problems.append(
            Problem(str(self.raw.path), line, message, shot=raw.id, model=model, field=field)
        )

    def check(self, raw: RawShot) -> Shot | None:
        model = raw.fields.get("model")
        if model is None:
            self.add(raw, None, "model: is required (set it on the shot or in defaults)")
            return None
        if not isinstance(model, str):  # a list or a mapping cannot even be looked up
            self.add(raw, "model", f"must be a model id (text), not {kind_of(model)}; see `batchvid models`")
            return None
        if model not in MODELS:
            self.add(raw, "model", f"unknown model {model!r}{did_you_mean(str(model), MODELS)}; "
                     "see `batchvid models`")
            return None
        spec = MODELS[model]
        before = len(self.problems)
        fields = self._normalise(raw, spec)
        for key in IMAGE_FIELDS:
            if key in fields:
                fields[key] = self._image(raw, spec, key, fields[key])
        self._fill_defaults(fields, spec)
        for field, message in self._schema_problems(spec, raw.id, fields):
            self.add(raw, field, message, model)
        self._check_sora_frame(raw, spec, fields)
        self._check_seedance_prompt(raw, spec, fields)
        if len(self.problems) == before and spec.family == "seedance" and fields.get("reference_images"):
            # only on a shot the schema took: the images are then a list of at most the model's number
            problem = seedance.reference_problem(fields["prompt"], len(fields["reference_images"]))
            if problem is not None:
                self.add(raw, "prompt", problem, spec.id)
        if len(self.problems) > before or not self._params_add_only(raw, spec, fields):
            return None
        fields.pop("model")
        return Shot(raw.id, model, fields, raw.line)

    def _schema_problems(self, spec: ModelSpec, shot_id: str, fields: dict[str, Any]) -> list[Problem_]:
        """The model's schema verdict. Thousands of shots differ only in id and prompt: the rest of a
        shot is judged once per distinct value set, and id and prompt are judged for every shot."""
        has_prompt = "prompt" in fields
        key = (spec.id, has_prompt, _freeze({k: v for k, v in fields.items() if k != "prompt"}))
        verdict = self._verdicts.get(key)
        if verdict is None:
            stand_in = {**fields, "id": "x", **({"prompt": "p"} if has_prompt else {})}
            verdict = self._verdicts[key] = [
                found for error in catalog.validator(spec.id).iter_errors(stand_in) for found in _describe(error, spec)
            ]
        own = {"id": shot_id, **({"prompt": fields["prompt"]} if has_prompt else {})}
        if catalog.plain_strings_ok(spec.id, own):
            return verdict
        return verdict + [
            found for error in catalog.id_prompt_validator(spec.id).iter_errors(own) for found in _describe(error, spec)
        ]

    def _normalise(self, raw: RawShot, spec: ModelSpec) -> dict[str, Any]:
        """Native names -> vocabulary; fields the model does not take are reported and left out."""
        family = catalog.family(spec.id)
        properties = catalog.schema(spec.id)["properties"]
        fields: dict[str, Any] = {}
        for key, value in raw.fields.items():
            name = key
            if key in family.aliases:
                name, convert = family.aliases[key]
                if name in raw.fields:
                    self.add(raw, key, f"both {key!r} and {name!r} given; keep one", spec.id)
                    continue
                try:
                    value = convert(value) if convert else value
                except ValueError as exc:
                    self.add(raw, key, str(exc), spec.id)
                    continue
                raw.field_lines.setdefault(name, raw.field_lines.get(key, raw.line))
            if key in raw.from_defaults and name == "resolution" and len(spec.resolutions) == 1:
                continue  # the model id fixes the resolution (Vidu): a batch-wide default does not apply
            if properties.get(name, True) is False or name not in properties:
                if key in raw.from_defaults:
                    continue  # a default that does not apply to this model is left out, not an error
                if properties.get(name) is False:
                    self.add(raw, key, f"not supported by {spec.id}", spec.id)
                else:
                    self.add(raw, key, f"is not a field of {spec.id}", spec.id)
                continue
            fields[name] = value
        return fields

    def _image(self, raw: RawShot, spec: ModelSpec, key: str, value: Any) -> Any:
        if isinstance(value, list):
            return [self._image(raw, spec, key, item) for item in value]
        if not isinstance(value, str) or _URL_SCHEME.match(value) or value.startswith("data:"):
            return value  # the schema judges URLs, data URIs and wrong types
        cache_key = (value, spec.max_image_bytes)
        if cache_key not in self.images:
            try:
                self.images[cache_key] = images.read_local(self.folder, value, spec.max_image_bytes)
            except images.ImageProblem as exc:
                self.images[cache_key] = str(exc)
        found = self.images[cache_key]
        if isinstance(found, images.LocalImage):
            self._local_by_uri[found.data_uri] = found
        if isinstance(found, str):
            self.add(raw, key, found, spec.id)
            return "data:image/png;base64,"  # a placeholder that passes the schema; the problem is recorded
        return found.data_uri

    def _params_add_only(self, raw: RawShot, spec: ModelSpec, fields: dict[str, Any]) -> bool:
        """`params` add native fields; they do not replace those batchvid writes from the shot's own, which the model's
        rules and the estimate were checked on (a `seconds: 12` there would be billed for 12 s, estimated for 4)."""
        params = fields.get("params")
        if not params or not isinstance(params, dict):
            return True
        family = FAMILIES[spec.family]
        body = family.build_request(spec.id, {k: v for k, v in fields.items() if k != "params"})
        # a document's other name for a field (Veo's duration_seconds beside durationSeconds) would override it too
        field = overridden(body, params) or next((str(key) for key in params if key in family.aliases), None)
        if field is not None:
            self.add(raw, "params", f"{field} is written by batchvid from the shot's own fields: set those instead (a "
                     "value here would go around the model's rules and the estimate)", spec.id)
        return field is None

    def _check_seedance_prompt(self, raw: RawShot, spec: ModelSpec, fields: dict[str, Any]) -> None:
        """A Seedance prompt holds no setting's marker: batchvid writes them after it, from the shot's fields."""
        prompt = fields.get("prompt")
        if spec.family != "seedance" or not isinstance(prompt, str) or "--" not in prompt:
            return
        found = seedance.marker_in(prompt)
        if found is not None:
            marker, field = found
            self.add(raw, "prompt", f"holds the marker {marker!r}: set {field} on the shot instead (batchvid writes "
                     "the markers from the shot's fields; a second one could render, and bill, other than the "
                     "estimate)", spec.id)

    def _check_sora_frame(self, raw: RawShot, spec: ModelSpec, fields: dict[str, Any]) -> None:
        """Sora takes only an image of exactly the output's dimensions (seeds/001)."""
        if spec.family != "sora" or not isinstance(fields.get("image"), str):
            return
        local = self._local_by_uri.get(fields["image"])
        if local is None or local.dimensions is None:
            return
        want = (1280, 720) if fields.get("aspect_ratio") == "16:9" else (720, 1280)
        if local.dimensions != want:
            width, height = local.dimensions
            self.add(raw, "image", f"is {width}x{height}; sora-2 needs exactly {want[0]}x{want[1]} "
                     f"for aspect_ratio {fields.get('aspect_ratio')}", spec.id)

    @staticmethod
    def _fill_defaults(fields: dict[str, Any], spec: ModelSpec) -> None:
        fields.setdefault("duration", spec.default_duration)
        fields.setdefault("resolution", spec.default_resolution)
        if spec.default_aspect_ratio is not None:
            fields.setdefault("aspect_ratio", spec.default_aspect_ratio)


Problem_ = tuple[str | None, str]  # (field, message)


def _freeze(value: Any) -> Any:
    """A hashable stand-in that tells apart what JSON Schema tells apart (True is not 1)."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(_freeze(v) for v in value))
    return (type(value).__name__, value)


def _field_name(error: ValidationError) -> str | None:
    parts = list(error.absolute_path)
    if not parts:
        return None
    name = str(parts[0])
    for part in parts[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


_UNQUOTE = " (write it without quotes)"


def _got(value: Any) -> str:
    """A manifest's value as its writer would know it: YAML's dates are no Python reprs."""
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    return repr(_dates_as_text(value))


def _dates_as_text(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_dates_as_text(item) for item in value]
    if isinstance(value, dict):
        return {key: _dates_as_text(item) for key, item in value.items()}
    return value


def _quotes_hint(kind: str, instance: Any) -> str:
    """The usual reason YAML gave a value the wrong type: quotes missing, or quotes in the way."""
    if kind == "string" and isinstance(instance, bool):  # `prompt: yes` or `prompt: off`, unquoted
        return " (YAML takes an unquoted yes, no, on, off, true or false as true/false: put the text in quotes)"
    if kind == "string" and isinstance(instance, int | float):
        return " (put it in quotes to make it text)"
    if kind in ("integer", "number", "boolean") and isinstance(instance, str) and _unquoted_is(kind, instance):
        return _UNQUOTE
    return ""


def _unquoted_is(kind: str, text: str) -> bool:
    """Whether `text`, written without its quotes, would be a value of this JSON Schema type."""
    text = text.strip()
    if kind == "boolean":
        return text.lower() in ("true", "false", "yes", "no", "on", "off")
    if kind == "integer":
        return re.fullmatch(r"[-+]?[0-9]+", text) is not None
    return re.fullmatch(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", text) is not None


def _describe(error: ValidationError, spec: ModelSpec) -> Iterator[tuple[str | None, str]]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator in ("required", "additionalProperties", "dependentRequired"):
        yield from _field_problems(error, schema, spec)
    else:
        yield _field_name(error), schema.get("x-message") or _value_problem(error, schema)


def _field_problems(error: ValidationError, schema: dict[str, Any], spec: ModelSpec) -> Iterator[tuple[str, str]]:
    """Fields missing, not the model's, or missing what they need: one problem each, named by the field."""
    kind, value, instance = error.validator, error.validator_value, error.instance
    present = instance if isinstance(instance, dict) else {}
    if kind == "required":
        for name in value:
            if name not in present:
                why = f" ({spec.id} is image-to-video)" if name == "image" else ""
                yield name, f"is required{why}"
    elif kind == "additionalProperties":
        for name in sorted(set(present) - set(schema.get("properties", {}))):
            yield name, f"is not a field of {spec.id}"
    else:  # dependentRequired
        for name, needs in value.items():
            missing = [need for need in needs if need not in present]
            if name in present and missing:
                yield name, f"needs `{'`, `'.join(missing)}` too"


def _value_problem(error: ValidationError, schema: dict[str, Any]) -> str:
    """What is wrong with one field's value, in the manifest's words rather than jsonschema's."""
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "enum":
        quoted = isinstance(instance, str) and instance in {str(v) for v in value if not isinstance(v, str)}
        return f"must be one of {', '.join(map(str, value))}; got {_got(instance)}" + (_UNQUOTE if quoted else "")
    if kind in ("minimum", "maximum"):
        return f"must be from {schema.get('minimum')} to {schema.get('maximum')}; got {_got(instance)}"
    if kind == "maxLength":
        return f"is {len(instance):,} characters; the limit is {value:,}"
    if kind == "maxItems":
        return f"takes at most {value} items; got {len(instance)}"
    if kind in ("minLength", "minItems"):
        return "must not be empty"
    if kind == "type":
        article = "an" if str(value)[0] in "aeiou" else "a"
        return f"must be {article} {value}; got {_got(instance)}{_quotes_hint(str(value), instance)}"
    return str(error.message)
