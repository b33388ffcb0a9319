"""The README says what the command line really takes: its CLI reference lists every flag of every command, and every
flag the README names is one that batchvid has (llm's habit: docs checked against the real parser, so they cannot
drift)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from batchvid import cli

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
#: flags the README names that are not batchvid's own: a Seedance prompt marker (`--dur 5`), bench/overhead.py's and
#: bench/chaos.py's
NOT_OURS = {"--dur", "--adopt-made", "--instructions"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    cli._network_commands()
    parser = cli.build_parser()
    sub = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return {"": parser, **sub.choices}


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions if action.help != argparse.SUPPRESS
            for flag in action.option_strings if flag.startswith("--")} - {"--help", "--verbose", "--version"}


def _reference_row(command: str) -> str:
    """The usage cell of the command's row in the README's CLI reference."""
    section = README.split("\n## CLI reference\n", 1)[1].split("\n## ", 1)[0]
    starts = (f"| `batchvid {command} ", f"| `batchvid {command}`")
    rows = [line for line in section.splitlines() if line.startswith(starts)]
    assert len(rows) == 1, f"the README's CLI reference has {len(rows)} rows for {command}"
    return rows[0].split("` |", 1)[0]


@pytest.mark.parametrize("command", ["validate", "estimate", "run", "status", "simulate", "models", "schema"])
def test_the_cli_reference_lists_each_commands_flags(command: str) -> None:
    """Every one, unless the row ends its list with `...` and leaves the rest to `--help` (the simulator's many fault
    switches); and none that the command does not have."""
    real = _flags(_commands()[command])
    row = _reference_row(command)
    written = set(FLAG.findall(row))
    assert written <= real, f"the README lists flags that `batchvid {command}` does not have: {written - real}"
    if not row.endswith("..."):
        assert written == real, f"the README's row for {command} leaves out {sorted(real - written)}"


def test_every_flag_the_readme_names_is_one_batchvid_has() -> None:
    every = set().union(*(_flags(parser) for parser in _commands().values())) | {"--help", "--verbose", "--version"}
    named = set(FLAG.findall(README)) - NOT_OURS
    assert named <= every, f"the README names flags that no command has: {sorted(named - every)}"


def _manifest_table(first_cell: str) -> str:
    """The README's manifest reference, from the table row that starts with `first_cell` to the table's end."""
    section = README.split("\n## Manifest reference\n", 1)[1].split("\n## ", 1)[0]
    start = section.index(f"\n| {first_cell} |")
    return section[start:].split("\n\n", 1)[0]


def test_the_manifest_reference_names_every_shot_field_and_run_setting() -> None:
    from batchvid.manifest._base import SHOT_META, VOCABULARY
    from batchvid.runsettings import RUN_KEYS

    fields = _manifest_table("`id`")
    named = set(re.findall(r"`([a-z_]+)`", fields))
    assert set(VOCABULARY) | set(SHOT_META) <= named, sorted(set(VOCABULARY) | set(SHOT_META) - named)
    run_row = next(line for line in _manifest_table("`version`").splitlines() if line.startswith("| `run` |"))
    assert set(RUN_KEYS) <= set(re.findall(r"`([a-z_]+)`", run_row)), run_row


def test_the_module_map_names_every_module() -> None:
    """The README's map of the code ("Working on batchvid"): a new module is placed on it, or the map misleads."""
    package = Path(__file__).parent.parent / "batchvid"
    section = README.split("\n## Working on batchvid\n", 1)[1]
    named = set(re.findall(r"`([a-z_]+)/?`", section))
    modules = {path.stem for path in package.glob("*.py")} - {"__init__", "__main__"}
    modules |= {path.parent.name for path in package.glob("*/__init__.py")}
    assert modules <= named, f"modules the README's map does not place: {sorted(modules - named)}"
