"""argparse types for numbers with a range (and rates, amounts of USD): `nan`, `inf` or a port past 65535 is refused in
one line naming the flag, before it can reach a timer, a heap or a socket (float() takes "nan" and "inf" without a
word). The manifest's `run:` block is checked with the same functions, so `validate` finds what a run would refuse."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if math.isnan(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    return value


def seconds(text: str) -> float:
    """A finite duration of 0 or more seconds."""
    value = _number(text)
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r}: want a number of seconds, 0 or more")
    return value


def positive(text: str) -> float:
    """A finite number above 0."""
    value = _number(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r}: want a number above 0")
    return value


def poll_interval(text: str) -> float:
    """Seconds between polls: above 0, at most an hour. The documents advise 3-5 s; 4000 is more likely meant in
    milliseconds than as a poll every 67 minutes."""
    value = _number(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: want a number of seconds above 0, at most 3600 (the gateway "
                                         "advises 3-5)")
    return value


def share(text: str) -> float:
    """A share from 0 to 1."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: want a share from 0 to 1")
    return value


def usd(text: str) -> Decimal:
    """An amount of US dollars, 0 or more ('$' allowed before it), exact."""
    try:
        value = Decimal(str(text).strip().lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of USD") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be an amount >= 0")
    return value


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number from `low` (to `high`)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            wanted = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{text!r}: want a whole number {wanted}")
        return value

    return parse


def rate(text: str) -> float | None:
    """'2/s', '120/min', '3' -> requests per second; 'unlimited' -> None (for a gateway of your own)."""
    value = str(text).strip().lower().replace(" ", "")
    if value in ("unlimited", "none"):
        return None
    wanted = f"{text!r}: want a rate above 0 like 2/s or 120/min, or 'unlimited'"
    per = 1.0
    if "/" in value:
        value, unit = value.split("/", 1)
        units = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0,
                 "hour": 3600.0}
        if unit not in units:
            raise argparse.ArgumentTypeError(f"{text!r}: unknown unit {unit!r} (use /s, /min or /h)")
        per = units[unit]
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(wanted) from None
    if not 0 < number < math.inf:  # nan and inf too: a rate is a number of requests
        raise argparse.ArgumentTypeError(wanted)
    return number / per


def adoption(text: str) -> tuple[str, str]:
    """'SHOT=TASK_ID' -> (shot id, task id): a task the gateway made for an uncertain shot."""
    from .journal import usable_task_id  # (argtypes is imported by the manifest's checks: keep it light)

    shot_id, equals, task_id = text.partition("=")
    shot_id, task_id = shot_id.strip(), task_id.strip()
    if not equals or not shot_id or not task_id:
        raise argparse.ArgumentTypeError(f"{text!r}: want SHOT=TASK_ID, like hero=video_68d2f...")
    if not usable_task_id(task_id):
        raise argparse.ArgumentTypeError(f"{text!r}: {task_id!r} cannot be a task id")
    return shot_id, task_id


port = whole(0, 65535)
