"""A problem found in a manifest, said as `PATH:LINE: shot 'ID' (MODEL): FIELD: message`."""

from __future__ import annotations

import difflib
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
        where = f"{self.path}:{self.line}: "
        if self.shot is not None:
            where += f"shot '{self.shot}'" + (f" ({self.model})" if self.model else "") + ": "
        if self.field:
            where += f"{self.field}: "
        return where + self.message


class ManifestInvalid(InputError):
    """Every problem of a manifest, found before anything is sent."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
