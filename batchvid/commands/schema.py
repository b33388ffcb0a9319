"""batchvid schema [MODEL]: the manifest's JSON Schema, or one model's shot schema."""

from __future__ import annotations

import argparse

from ..output import print_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "schema",
        help="print the manifest schema or a model's shot schema",
        description="Print a JSON Schema: the whole manifest's (for editors: "
        "`# yaml-language-server: $schema=...`) or, given a model id, that model's shot schema.",
    )
    p.add_argument("model", nargs="?", help="a model id (see `batchvid models`)")


def run(args: argparse.Namespace) -> int:
    from .. import catalog  # jsonschema: not needed to start the command line

    print_json(catalog.schema(args.model or "manifest"))
    return 0
