"""The wheel's package list, written out in pyproject.toml, against the source tree: a subpackage missing there
works in a checkout and is absent from `pip install .`."""

from __future__ import annotations

import tomllib
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent


def test_every_subpackage_of_batchvid_is_in_the_wheel() -> None:
    listed = set(tomllib.loads((TOP / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    in_tree = {".".join(init.parent.relative_to(TOP).parts) for init in (TOP / "batchvid").rglob("__init__.py")}
    assert in_tree - listed == set()
