"""The question before a run spends money: asked in a terminal, with the plan and its estimate; only a yes sends, and
a no leaves nothing behind. `batchvid run` runs in its own process with a pty for its standard input, against the
simulator over loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import FAST_RUN, MANIFESTS

from batchvid.confirm import question
from batchvid.plan import Plan
from batchvid.simulator import Simulator

SimStarter = Callable[..., Simulator]
QUESTION = re.compile(r"batchvid: send (\d+) shots? to (\S+), estimated \$(\d+\.\d\d)\? \[y/N\] ")


def run_at_a_terminal(out: Path, sim: Simulator, answer: bytes, *flags: str, terminal: bool = True,
                      manifest: Path = MANIFESTS / "wan.yaml") -> tuple[int, str]:
    """`batchvid run` with a pty as its standard input (`terminal`; else no input at all), `answer` typed there
    before it asks; (exit code, standard error)."""
    import pty

    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "batchvid", "run", str(manifest), "--base-url", sim.base_url, "--out", str(out),
               *FAST_RUN, *flags]
    try:
        os.write(leader, answer)  # the terminal keeps it until the run reads its input
        done = subprocess.run(command, stdin=follower if terminal else subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=120, env=os.environ.copy())
    finally:
        os.close(follower)
        os.close(leader)
    return done.returncode, done.stderr


def plan_cost(err: str) -> str:
    found = re.search(r"^plan: .*; to submit: \d+ shots?, estimated \$(\d+\.\d\d)", err, re.M)
    assert found, err
    return found.group(1)


@pytest.mark.parametrize("answer", [b"n\n", b"\n", b"later\n", b"\x04"], ids=["no", "empty", "other", "ctrl-d"])
def test_a_run_typed_in_a_terminal_asks_first_and_anything_but_yes_sends_nothing_and_writes_nothing(
        simulator: SimStarter, tmp_path: Path, answer: bytes) -> None:
    sim = simulator()
    code, err = run_at_a_terminal(tmp_path / "out", sim, answer)
    asked = QUESTION.search(err)
    assert code == 2 and asked, err
    assert asked.group(2) == sim.base_url and asked.group(3) == plan_cost(err)
    assert err.rstrip().endswith("batchvid: nothing sent, nothing written (--yes sends without asking)"), err
    assert sim.record.submissions == []
    assert not (tmp_path / "out").exists()  # not even the folder: the next run is a new batch, as before


def test_a_yes_sends_the_plan_it_showed_and_shows_it_once(simulator: SimStarter, tmp_path: Path) -> None:
    sim = simulator()
    code, err = run_at_a_terminal(tmp_path / "out", sim, b"y\n")
    asked = QUESTION.search(err)
    assert code == 0 and asked, err
    assert len(sim.record.created()) == int(asked.group(1)) > 1
    assert err.count("plan: ") == 1 and err.count("? [y/N]") == 1, err
    # run again: every shot is done, nothing to send, nothing to ask
    code, err = run_at_a_terminal(tmp_path / "out", sim, b"n\n")
    assert code == 0 and "[y/N]" not in err, err
    # a shot forced to render again is paid again: asked, for that one
    code, err = run_at_a_terminal(tmp_path / "out", sim, b"YES\n", "--force", "wan-text")
    asked = QUESTION.search(err)
    assert code == 0 and asked and asked.group(1) == "1", err
    assert "wan-text: forced:" in err.split("[y/N]")[0]  # the plan's detail lines come before the question


@pytest.mark.parametrize("how", ["--yes", "-y", "stdin not a terminal", "--simulate"])
def test_not_asked_with_yes_from_a_script_or_in_a_rehearsal(simulator: SimStarter, tmp_path: Path, how: str) -> None:
    sim = simulator()
    flags = [how] if how.startswith("-") else []
    # "n" is typed all the same: a run that asked would read it and send nothing
    code, err = run_at_a_terminal(tmp_path / "out", sim, b"n\n", *flags, terminal=how != "stdin not a terminal")
    assert code == 0 and "[y/N]" not in err, err
    assert err.count("plan: ") == 1, err
    sent = re.search(r"^plan: 5 new; to submit: 5 shots", err, re.M)
    assert sent and len(sim.record.created()) == (0 if how == "--simulate" else 5), err


def test_the_question_names_every_gateway_and_an_unknown_price() -> None:
    plan = Plan(to_submit=3, to_submit_usd=Decimal("1.5"), to_submit_billed=Decimal("1.8"))
    assert question(plan, ["https://a.example"]) == (
        "batchvid: send 3 shots to https://a.example, estimated $1.50 (about $1.80 at the gateway's bills so far)? "
        "[y/N] ")
    plan = Plan(to_submit=1, to_submit_usd=None)
    assert question(plan, ["https://a.example", "https://b.example"]) == (
        "batchvid: send 1 shot to 2 gateways (https://a.example, https://b.example), some of them at a price "
        "unknown? [y/N] ")
