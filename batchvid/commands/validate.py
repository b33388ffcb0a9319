"""batchvid validate MANIFEST: every problem, one per line, before any money is spent."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..output import print_json
from ..problems import ManifestInvalid


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check a manifest against every model's rules",
        description="Check every shot of a manifest against its model's schema. Prints each problem as "
        "PATH:LINE: shot 'ID' (MODEL): FIELD: message. Exit 0 when valid, 1 when not.",
    )
    p.add_argument("manifest", type=Path, help="the manifest YAML file")
    p.add_argument("--json", action="store_true", help="print one JSON object: {valid, shots, problems: [{path, "
                   "line, shot, model, field, message}]}, each problem once a shot (for editors and CI)")


def run(args: argparse.Namespace) -> int:
    from ..validate import load_batch  # jsonschema and YAML: not needed to start the command line

    try:
        batch = load_batch(args.manifest)
    except ManifestInvalid as exc:
        if args.json:
            print_json({"valid": False, "shots": None, "problems": [dataclasses.asdict(p) for p in exc.problems]})
            return 1
        for line in exc.lines():
            print(line)
        print(exc.summary())
        return 1
    shots = batch.shots
    if args.json:
        print_json({"valid": True, "shots": len(shots), "problems": []})
        return 0
    models = {shot.model for shot in shots}
    seconds = sum(shot.seconds for shot in shots)
    print(f"{args.manifest}: valid: {_n(len(shots), 'shot')}, {_n(len(models), 'model')}, "
          f"{_n(seconds, 'second')} of video")
    return 0


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
