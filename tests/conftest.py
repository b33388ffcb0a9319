from __future__ import annotations

import contextlib
import io
import sqlite3
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from batchvid.cli import main

if TYPE_CHECKING:
    from batchvid.simulator import Simulator

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "manifests"


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's HTTP(S)_PROXY must not reach the tests; the proxy tests set their own."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(autouse=True)
def no_terminal_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pytest -s` at a terminal leaves the terminal as standard input, and a run in the test's process would ask
    before sending (confirm.py): every test sees input that is not a terminal, as in CI. test_confirm.py gives its
    runs a terminal of their own."""
    monkeypatch.setattr(sys, "stdin", io.StringIO())


@pytest.fixture
def quick_outages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model is left for the next run after 6 errors in a row over 0.3 s (outage.py), not 16 over 2 minutes."""
    from batchvid import outage

    monkeypatch.setattr(outage, "OUT_AFTER_SECONDS", 0.3)
    monkeypatch.setattr(outage, "OUT_AFTER_ERRORS", 6)


@pytest.fixture
def brief_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries wait as they do in a run (full jitter, never under Retry-After) but at most 0.5 s: a storm of errors
    can put six failures in a row on one shot, and its seventh try, up to 60 s later, would hold the test up."""
    from batchvid import fetching, primitives, submitting, watching

    def brief(attempt: int, retry_after: float | None, cap: float, base: float = 0.5) -> float:
        return primitives.backoff(attempt, retry_after, min(cap, 0.5), base)

    for module in (submitting, watching, fetching):
        monkeypatch.setattr(module, "backoff", brief)


@pytest.fixture
def runners(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every scheduler.Runner the test's runs make, in order: to look at a run's parts, or to stop it, from a hook."""
    from batchvid import scheduler

    made: list[scheduler.Runner] = []
    real_init = scheduler.Runner.__init__

    def keep(self: scheduler.Runner, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(scheduler.Runner, "__init__", keep)
    return made


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


SIM_KEY = "sk-test-0123456789abcdef"


@contextlib.contextmanager
def sqlite_db(path: Path, **options: Any) -> Iterator[sqlite3.Connection]:
    """A connection of the test's own to a journal: committed, then closed (sqlite3's `with` only commits)."""
    with contextlib.closing(sqlite3.connect(path, **options)) as db, db:
        yield db


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Simulator]]:
    """Start simulators (in a background thread) with a config; all are stopped after the test."""
    from batchvid.simulator import SimConfig, SimulatorThread

    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    threads: list[SimulatorThread] = []

    def start(**config: Any) -> Simulator:
        config.setdefault("render_seconds", (0.05, 0.2))
        thread = SimulatorThread(SimConfig(api_key=SIM_KEY, **config))
        threads.append(thread)
        return thread.__enter__()

    yield start
    for thread in threads:
        thread.__exit__(None, None, None)


FAST_RUN = ("--poll-interval", "0.1", "--rate", "200/s", "--no-progress")


@pytest.fixture
def run_batch(cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> Callable[..., tuple[int, str, str]]:
    """`batchvid run MANIFEST --base-url SIM --out tmp/out` with fast polling."""

    def run(manifest: Path, sim: Simulator, *flags: str) -> tuple[int, str, str]:
        return cli("run", manifest, "--base-url", sim.base_url, "--out", tmp_path / "out", *FAST_RUN, *flags)

    return run
