"""Prices as data (prices.yaml, with source and date) -> the estimated cost of each shot.

Money is Decimal throughout; totals add unrounded costs; only display rounds. An unknown price
is None and stays visible as unknown, never as 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import InputError
from .families import MODELS
from .manifest._base import line_of
from .problems import did_you_mean
from .shot import Shot

MILLION = Decimal(1_000_000)
T = TypeVar("T")
_UNITS = ("per_second", "per_million_tokens", "credits_per_second")
_ROW_KEYS = set(_UNITS) | {"usd_per_credit", "fps", "kind", "source", "as_of"}


@dataclass(frozen=True)
class PriceRow:
    unit: str  # one of _UNITS
    rates: Mapping[str, Decimal]  # resolution -> rate; "*" for every resolution
    usd_per_credit: Decimal | None
    fps: int
    kind: str
    source: str
    as_of: str

    def rate(self, resolution: str) -> Decimal | None:
        return self.rates.get(resolution, self.rates.get("*"))


@dataclass(frozen=True)
class PriceTable:
    rows: Mapping[str, PriceRow]
    group_ratio: Decimal = Decimal(1)
    offpeak_factor: Decimal = Decimal("0.5")

    def merged(self, other: Mapping[str, Any], where: str) -> PriceTable:
        parsed = _parse_table(other, where)
        return PriceTable(
            rows={**self.rows, **parsed.rows},
            # the figures _parse_table read, where the other table gives them
            group_ratio=parsed.group_ratio if "group_ratio" in other else self.group_ratio,
            offpeak_factor=parsed.offpeak_factor if "offpeak_factor" in other else self.offpeak_factor,
        )


@dataclass(frozen=True)
class Quote:
    """A shot's estimated price. unit_usd is USD per second of output, group ratio included."""

    unit_usd: Decimal | None
    cost_usd: Decimal | None
    source: str
    unit_label: str


#: past any price, ratio or bill of one video: a figure above it is a typo or broken, and refused (1e999999 would not
#: even print: the sums are rounded to cents in 28 digits)
MAX_FIGURE = Decimal(1_000_000)


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise InputError(f"{where}: {value!r} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InputError(f"{where}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise InputError(f"{where}: {value!r} must be a number >= 0")
    if number > MAX_FIGURE:
        raise InputError(f"{where}: {value!r} is past any price (at most {MAX_FIGURE:,})")
    return number


def _fps(value: Any, where: str) -> int:
    """Frames a second, for pricing by tokens: a negative or zero figure would price a video below nothing."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 240:
        raise InputError(f"{where}: {value!r}: want a whole number of frames a second, from 1 to 240")
    return value


def _rates(value: Any, where: str) -> dict[str, Decimal]:
    if isinstance(value, Mapping):
        return {str(res): _decimal(rate, f"{where}.{res}") for res, rate in value.items()}
    return {"*": _decimal(value, where)}


def _parse_row(model: str, row: Any, where: str) -> PriceRow:
    where = f"{where}: models.{model}"
    if not isinstance(row, Mapping):
        raise InputError(f"{where}: must be a mapping with one of {', '.join(_UNITS)}")
    unknown = set(row) - _ROW_KEYS
    if unknown:
        raise InputError(f"{where}: unknown key {sorted(unknown)[0]!r}; a row takes {', '.join(sorted(_ROW_KEYS))}")
    units = [unit for unit in _UNITS if unit in row]
    if len(units) != 1:
        raise InputError(f"{where}: needs exactly one of {', '.join(_UNITS)}")
    unit = units[0]
    credit = row.get("usd_per_credit")
    if unit == "credits_per_second" and credit is None:
        raise InputError(f"{where}: credits_per_second needs usd_per_credit")
    return PriceRow(
        unit=unit,
        rates=_rates(row[unit], f"{where}.{unit}"),
        usd_per_credit=None if credit is None else _decimal(credit, f"{where}.usd_per_credit"),
        fps=_fps(row.get("fps", 24), f"{where}.fps"),
        kind=str(row.get("kind", "override")),
        source=str(row.get("source", where)),
        as_of=str(row.get("as_of", "")),
    )


class PriceProblems(InputError):
    """Every problem of a price table, each as (the line it is on, 0 where the table was read without its lines, what
    is wrong); the error's own words, for a price file said in one line, are the first three."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        more = len(problems) - 3
        super().__init__("; ".join(said for _, said in problems[:3]) + (f" (and {more} more)" if more > 0 else ""))
        self.problems = problems


def _parse_table(data: Any, where: str) -> PriceTable:
    """The table, once every row and figure in it is right; else every problem at once (PriceProblems)."""
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: a price table is a mapping with `models:`")
    problems: list[tuple[int, str]] = []

    def checked(line: int, parse: Callable[..., T], *args: Any) -> T | None:
        try:
            return parse(*args)
        except InputError as exc:
            problems.append((line, str(exc)))
            return None

    for key in sorted(set(map(str, data)) - {"models", "group_ratio", "offpeak_factor"}):
        problems.append((line_of(data, key, 0), f"{where}: unknown key {key!r} (a price table has models, "
                                                "group_ratio, offpeak_factor)"))
    models = data.get("models") or {}
    if not isinstance(models, Mapping):
        problems.append((line_of(data, "models", 0), f"{where}: models must map model ids to price rows"))
        models = {}
    rows: dict[str, PriceRow] = {}
    for model, row in models.items():
        if str(model) not in MODELS:  # a mistyped id would leave the price it meant to change silently in force
            problems.append((line_of(models, model, 0), f"{where}: models.{model}: no such model"
                                                        f"{did_you_mean(str(model), MODELS)}; see `batchvid models`"))
        elif (parsed := checked(line_of(models, model, 0), _parse_row, str(model), row, where)) is not None:
            rows[str(model)] = parsed
    group_ratio = checked(line_of(data, "group_ratio", 0), _decimal, data.get("group_ratio", 1),
                          f"{where}: group_ratio")
    offpeak_factor = checked(line_of(data, "offpeak_factor", 0), _decimal, data.get("offpeak_factor", "0.5"),
                             f"{where}: offpeak_factor")
    if problems or group_ratio is None or offpeak_factor is None:
        raise PriceProblems(problems)
    return PriceTable(rows=rows, group_ratio=group_ratio, offpeak_factor=offpeak_factor)


def builtin_table() -> PriceTable:
    text = resources.files("batchvid").joinpath("prices.yaml").read_text(encoding="utf-8")
    return _parse_table(yaml.safe_load(text), "batchvid/prices.yaml")


def load_override(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read price file ({exc.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a valid YAML price file ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, Mapping):
        raise InputError(f"{path}: a price file is a mapping with `models:`")
    return data


def frame_size(resolution: str, aspect_ratio: str | None) -> tuple[int, int]:
    """Width x height for a resolution and ratio (720p 16:9 = 1280x720); adaptive counts as 16:9."""
    short = int(resolution.rstrip("pP"))
    ratio = aspect_ratio if aspect_ratio and ":" in aspect_ratio else "16:9"
    a, b = (int(part) for part in ratio.split(":"))
    long = round(short * max(a, b) / min(a, b) / 2) * 2
    return (long, short) if a >= b else (short, long)


def tokens_per_second(resolution: str, aspect_ratio: str | None, fps: int) -> Decimal:
    width, height = frame_size(resolution, aspect_ratio)
    return Decimal(width * height * fps) / 1024


def _row_for(model: str, table: PriceTable) -> tuple[PriceRow | None, Decimal, str]:
    if model in table.rows:
        return table.rows[model], Decimal(1), ""
    if model.endswith("-offpeak") and model.removesuffix("-offpeak") in table.rows:
        return table.rows[model.removesuffix("-offpeak")], table.offpeak_factor, " (off-peak share)"
    return None, Decimal(1), ""


def quote(shot: Shot, table: PriceTable) -> Quote:
    row, factor, note = _row_for(shot.model, table)
    rate = row.rate(shot.resolution) if row else None
    if row is None or rate is None:
        return Quote(None, None, "unknown: no published price", "unknown")
    if row.unit == "per_second":
        per_second, label = rate, f"${rate:f}/s"
    elif row.unit == "per_million_tokens":
        per_second = tokens_per_second(shot.resolution, shot.aspect_ratio, row.fps) * rate / MILLION
        label = f"${rate:f}/M tokens"
    else:
        assert row.usd_per_credit is not None
        per_second, label = rate * row.usd_per_credit, f"{rate:f} credits/s"
    per_second *= factor * table.group_ratio
    source = f"{row.kind}: {row.source}{note}" + (f" (as of {row.as_of})" if row.as_of else "")
    return Quote(per_second, per_second * shot.seconds, source, label)


def billed_usd(
    model_price: str | None, seconds: str | None, group_ratio: str | None, tokens: int | None,
    shot: Shot, table: PriceTable,
) -> Decimal | None:
    """What the gateway says it charged: model_price x seconds x group_ratio, or tokens for Seedance. None when it
    says nothing, or nothing that is an amount (NaN, a negative figure, one past any price)."""
    try:
        if tokens is not None:
            row, factor, _ = _row_for(shot.model, table)
            rate = row.rate(shot.resolution) if row and row.unit == "per_million_tokens" else None
            if rate is None:
                return None
            ratio = _figure(group_ratio) if group_ratio else table.group_ratio
            return _amount(_figure(str(tokens)) * rate / MILLION * factor * ratio)
        if model_price is not None and seconds is not None:
            return _amount(_figure(model_price) * _figure(seconds) * _figure(group_ratio or "1"))
    except InvalidOperation:
        return None
    return None


def _figure(text: str) -> Decimal:
    """A gateway's number, refused (InvalidOperation) unless finite and not negative."""
    value = Decimal(text)
    if not value.is_finite() or value < 0:
        raise InvalidOperation(text)
    return value


def _amount(value: Decimal) -> Decimal:
    if value > MAX_FIGURE:
        raise InvalidOperation(str(value))
    return value


def cents(amount: Decimal | None) -> str:
    return "unknown" if amount is None else f"{amount.quantize(Decimal('0.01')):,}"
