"""A problem found in a manifest, said as `PATH:LINE: shot 'ID' (MODEL): FIELD: message`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str
    shot: str | None = None
    model: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        return self.said_of([] if self.shot is None else [self.shot])

    def said_of(self, shots: list[str]) -> str:
        """This problem as one line, naming the shots that have it (a default or a matrix line: many)."""
        where = f"{self.path}:{self.line}: "
        if shots:
            names = [name if name.startswith("#") else f"'{name}'" for name in shots[:3]]  # `#3`: a shot without id
            if len(shots) == 1:
                where += f"shot {names[0]}"
            elif len(shots) <= 3:
                where += f"shots {', '.join(names)}"
            else:
                where += f"{len(shots):,} shots ({', '.join(names)} and {len(shots) - 3:,} more)"
            where += (f" ({self.model})" if self.model else "") + ": "
        if self.field:
            where += f"{self.field}: "
        return where + self.message


class ManifestInvalid(InputError):
    """Every problem of a manifest, found before anything is sent."""

    def __init__(self, problems: list[Problem]) -> None:
        # one shot can say the same thing twice (a missing file listed twice): said once
        self.problems = sorted(dict.fromkeys(problems), key=lambda p: p.line)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """A line a problem, in line order; one that many shots share (a mistake in `defaults`, a matrix) is said
        once, naming them, rather than once a shot."""
        shared: dict[tuple[object, ...], list[Problem]] = {}
        for problem in self.problems:
            key = (problem.line, problem.model, problem.field, problem.message, problem.shot is None)
            shared.setdefault(key, []).append(problem)
        return [same[0].said_of([p.shot for p in same if p.shot is not None]) for same in shared.values()]

    def summary(self, where: str = "") -> str:
        said = len(self.lines())
        each = f" ({len(self.problems):,} counting each shot)" if said < len(self.problems) else ""
        return f"{said} problem(s){where}{each}; nothing was sent"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` naming up to three choices close to a mistyped word, or nothing.

    Close is either spelled alike (`durration`) or a shorthand whose every part is in the choice:
    `veo3.1-fast` for `veo-3.1-fast-generate-preview`, `seedance-pro` for the Seedance pro models, `vidu-q3`
    for the Vidu Q3 ids.
    """
    options = list(choices)
    alike = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    parts = _parts(word)
    squeezed = "".join(parts)
    shorthand = [] if len(squeezed) < 3 else [c for c in options if c not in alike and _shorthand(parts, _parts(c))]
    close = alike + sorted(shorthand, key=lambda c: -difflib.SequenceMatcher(None, word, c).ratio())
    if not close:
        return ""
    named = [f"'{c}'" for c in close[:3]]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
    return f" (did you mean {listed}{', ...' if len(close) > 3 else ''}?)"


def _parts(word: str) -> list[str]:
    return re.findall(r"[a-z]+|[0-9]+", word.lower())


def _shorthand(parts: list[str], of: list[str]) -> bool:
    """Every part begins one of the other's parts (numbers whole, `vidu` of `viduq`), or all run together
    are inside the other's (`viduq3` in `viduq3p540p`)."""
    return (all(any(p == q if p.isdigit() else q.startswith(p) for q in of) for p in parts)
            or "".join(parts) in "".join(of))
