"""batchvid models: every model batchvid knows, with what it accepts."""

from __future__ import annotations

import argparse

from ..families import MODELS
from ..families._base import ModelSpec
from ..output import print_json, table


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="list every model with its modes, durations and resolutions",
                       description="List every model id batchvid knows, from the API documents.")
    p.add_argument("--json", action="store_true", help="print JSON")


def _durations(spec: ModelSpec) -> str:
    d = spec.durations
    if len(d) > 3 and list(d) == list(range(d[0], d[-1] + 1)):
        return f"{d[0]}-{d[-1]}"
    return "/".join(map(str, d))


def describe(spec: ModelSpec) -> dict[str, object]:
    return {
        "id": spec.id,
        "family": spec.family,
        "modes": sorted(mode.value for mode in spec.modes),
        "durations": list(spec.durations),
        "resolutions": list(spec.resolutions),
        "aspect_ratios": list(spec.aspect_ratios),
        "audio": spec.audio.value,
        "seed_range": list(spec.seed_range) if spec.seed_range else None,
        "extra_fields": sorted(spec.extra_fields),
        "notes": spec.notes,
    }


def run(args: argparse.Namespace) -> int:
    specs = list(MODELS.values())
    if args.json:
        print_json([describe(spec) for spec in specs])
        return 0
    rows = [
        [s.id, s.family, ", ".join(sorted(m.value for m in s.modes)), _durations(s), "/".join(s.resolutions),
         s.audio.value]
        for s in specs
    ]
    print(table(["model", "family", "modes", "seconds", "resolutions", "audio"], rows))
    return 0
