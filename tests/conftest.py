from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from batchvid.cli import main

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "manifests"


@pytest.fixture
def write_manifest(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "m.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def run(*args: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
