"""A shot's `matrix`: a shot for each combination of its values, less those `exclude` leaves out; a value of the
user's own goes into the shot's strings as ${matrix.NAME}."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from typing import Any

from .. import yamlsafe
from ..problems import did_you_mean
from ._base import Collector, RawShot, field_choices, known_field, line_of, substitute

MAX_MATRIX = 10_000
#: the matrix key that lists combinations to leave out (no shot field has this name)
EXCLUDE = "exclude"
#: a matrix's value in a string: `${matrix.NAME}` (`$$` is a literal `$` here too)
_MATRIX_REF = re.compile(r"\$\$|\$\{matrix\.([A-Za-z_][A-Za-z0-9_]*)\}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def matrix_names(value: Any) -> set[str]:
    """The matrix values a field's strings name as ${matrix.NAME}."""
    if isinstance(value, str):
        return {match.group(1) for match in _MATRIX_REF.finditer(value) if match.group(1)} if "$" in value else set()
    if isinstance(value, list | dict):
        return set().union(*map(matrix_names, value.values() if isinstance(value, dict) else value))
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


def expand_matrix(base: RawShot, matrix: Any, line: int, out: Collector, label: str,
            templates: Mapping[str, set[str]]) -> list[RawShot]:
    """A shot for each combination of the matrix's values: of fields, and of names that the shot's strings use
    as ${matrix.NAME} (`templates`: field -> names), which are no field of their own."""
    # the problems are shown after "matrix: " (their field)
    varied = {key: values for key, values in matrix.items() if key != EXCLUDE} if isinstance(matrix, dict) else {}
    if not varied:
        out.add(line, "must map fields to lists of values", shot=label, field="matrix")
        return []
    if (problem := _shape_problem(base, varied, templates, line)) is not None:
        at, field, message = problem
        out.add(at, message, shot=label, field=field)
        return []
    axes = _axes(varied, line, out, label)
    rules = None if axes is None else _exclusions(matrix, axes, line, out, label)
    if axes is None or rules is None:
        return []
    is_field = {key for key in varied if key == "model" or known_field(str(key))}
    shots = []
    for combo in itertools.product(*(values for _, values in axes)):
        if any(all(combo[index][2] == wanted for index, wanted in rule.items()) for rule in rules):
            continue
        chosen = {key: (value, slug) for (key, _), (value, slug, _) in zip(axes, combo, strict=True)}
        shots.append(_combination(base, chosen, is_field, templates, line, out, label))
    if not shots:
        out.add(line_of(matrix, EXCLUDE, line), "exclude leaves out every combination", shot=label, field="matrix")
    return shots


def _shape_problem(base: RawShot, varied: Mapping[Any, Any], templates: Mapping[str, set[str]], line: int
                   ) -> tuple[int, str, str] | None:
    """(the line and the field to blame, what is wrong) with the matrix as a whole, before any shot is made of it: a
    ${matrix.NAME} it does not have, an axis that is no list of values, too many combinations."""
    named = set().union(*templates.values())
    for key, names in templates.items():
        if missing := sorted(names - set(map(str, varied))):
            hint = did_you_mean(missing[0], [str(name) for name in varied])
            return base.field_lines[key], key, f"${{matrix.{missing[0]}}}: the matrix has no {missing[0]}{hint}"
    count = 1
    for key, values in varied.items():
        if (problem := _axis_problem(key, values, named)) is not None:
            return line, "matrix", problem
        count *= len(values)
    if count > MAX_MATRIX:
        return line, "matrix", f"makes {count:,} shots; the limit is {MAX_MATRIX:,} per shot"
    return None


def _axes(varied: Mapping[Any, Any], line: int, out: Collector, label: str
          ) -> list[tuple[str, list[tuple[Any, str, str]]]] | None:
    """Each axis as (field, [(value, id suffix, exact text)]); None when a value cannot make an id suffix."""
    axes = []
    for key, values in varied.items():
        slugs = _axis_slugs(str(key), values, line, out, label)
        if slugs is None:
            return None
        axes.append((str(key), list(zip(values, slugs, map(_exact, values), strict=True))))
    return axes


def _combination(base: RawShot, chosen: Mapping[str, tuple[Any, str]], is_field: set[str],
                 templates: Mapping[str, set[str]], line: int, out: Collector, label: str) -> RawShot:
    """The shot of one combination (`chosen`: axis -> its value and id suffix) of the matrix on `line`."""
    fields = dict(base.fields)
    lines = dict(base.field_lines)
    values = {key: substitute(value, line, out, shot=label, field=key) for key, (value, _) in chosen.items()}
    for key, value in values.items():  # in the matrix's order, as before
        if key in is_field:  # the others are values of the user's own, for ${matrix.NAME} alone
            fields[key], lines[key] = value, line
    for key in templates:
        if key not in values:  # a field the matrix varies takes the matrix's value
            fields[key] = substitute(_filled(base.fields[key], values), lines[key], out, shot=label, field=key)
    return RawShot(
        id=f"{base.id}-{'-'.join(slug for _, slug in chosen.values())}" if base.id else "", fields=fields,
        line=base.line, field_lines=lines, from_defaults=base.from_defaults - chosen.keys(),
    )


def _axis_problem(key: Any, values: Any, named: set[str]) -> str | None:
    """What is wrong with one of a matrix's axes (None: nothing): a field that cannot vary, or a name that is no
    field and that no string of the shot uses (`named`: those that some do), or values that are no list."""
    if key in ("id", "matrix"):
        return f"{key!r} cannot vary"
    if key != "model" and not known_field(str(key)) and key not in named:
        return (f"{key!r} cannot vary{did_you_mean(str(key), field_choices())}; a value of your own goes in the "
                f"shot as ${{matrix.{key}}}")
    if not isinstance(values, list) or not values:
        return f"{key} must be a non-empty list"
    if key in named and not all(isinstance(value, str | int | float) for value in values):
        return f"{key}: a value that goes in ${{matrix.{key}}} must be text or a number"
    return None


def _exclusions(matrix: dict[Any, Any], axes: list[tuple[str, list[tuple[Any, str, str]]]], line: int, out: Collector,
                label: str) -> list[dict[int, str]] | None:
    """The matrix's `exclude` (as GitHub Actions has it): combinations to leave out, each a mapping of some axes to
    one of their values, as {axis index: the value's exact text}; None (and a problem) when one is wrong. A value
    not among its axis's values would leave nothing out: a typo, said rather than ignored."""
    if EXCLUDE not in matrix:
        return []
    given = matrix[EXCLUDE]
    line = line_of(matrix, EXCLUDE, line)
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


def _exact(value: Any) -> str:
    """A value's identity within a matrix: 1 and '1' differ, key order in a mapping does not."""
    return json.dumps(value, sort_keys=True, default=str)


def _axis_slugs(key: str, values: list[Any], line: int, out: Collector, label: str) -> list[str] | None:
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
    text = json.dumps(value, sort_keys=True, default=str) if isinstance(value, list | dict) else str(value)
    slug = _UNSAFE.sub("_", text).strip("_.")
    return slug[:40] or "x"
