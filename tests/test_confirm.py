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


def run_command(out: Path, sim: Simulator, *flags: str, manifest: Path = MANIFESTS / "wan.yaml") -> list[str]:
    return [sys.executable, "-m", "batchvid", "run", str(manifest), "--base-url", sim.base_url, "--out", str(out),
            *FAST_RUN, *flags]


def run_at_a_terminal(out: Path, sim: Simulator, answer: bytes, *flags: str, terminal: bool = True,
                      manifest: Path = MANIFESTS / "wan.yaml") -> tuple[int, str]:
    """`batchvid run` with a pty as its standard input (`terminal`; else no input at all), `answer` typed there
    before it asks; (exit code, standard error)."""
    import pty

    leader, follower = pty.openpty()
    try:
        os.write(leader, answer)  # the terminal keeps it until the run reads its input
        done = subprocess.run(run_command(out, sim, *flags, manifest=manifest),
                              stdin=follower if terminal else subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120, env=os.environ.copy())
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


def test_a_yes_sends_the_plan_it_showed_and_shows_it_once(simulator: SimStarter, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulator()
    code, err = run_at_a_terminal(tmp_path / "out", sim, b"y\n")
    asked = QUESTION.search(err)
    assert code == 0 and asked, err
    assert len(sim.record.created()) == int(asked.group(1)) > 1
    assert err.count("plan: ") == 1 and err.count("? [y/N]") == 1, err
    # run again: every shot is done, nothing to send, nothing to ask
    code, err = run_at_a_terminal(tmp_path / "out", sim, b"n\n")
    assert code == 0 and "[y/N]" not in err, err
    # without the key: said with the plan, before the question rather than after a yes, and nothing changed
    with monkeypatch.context() as keyless:
        keyless.delenv("BATCHVID_API_KEY")
        code, err = run_at_a_terminal(tmp_path / "out", sim, b"y\n", "--force", "wan-text")
    assert code == 2 and "[y/N]" not in err and "no API key for the wan models" in err, err
    assert (tmp_path / "out" / "wan-text.mp4").is_file() and not (tmp_path / "out" / "wan-text@1.mp4").exists()
    # a shot forced to render again is paid again: asked, for that one
    code, err = run_at_a_terminal(tmp_path / "out", sim, b"YES\n", "--force", "wan-text")
    asked = QUESTION.search(err)
    assert code == 0 and asked and asked.group(1) == "1", err
    assert "wan-text: forced:" in err.split("[y/N]")[0]  # the plan's detail lines come before the question


def test_a_no_with_tasks_at_the_gateway_says_how_to_fetch_them_without_sending_more(simulator: SimStarter,
                                                                                      tmp_path: Path) -> None:
    """They are charged as they render whatever the answer: the way to their videos that starts nothing new."""
    sim = simulator(render_seconds=(0.3, 0.3))
    out = tmp_path / "out"
    # a run from a script (not asked) that stopped waiting for its two tasks: its deadline
    code, _ = run_at_a_terminal(out, sim, b"", "--only", "wan-text,kitten-eyes", "--deadline-minutes", "0.002",
                                terminal=False)
    assert code == 1 and len(sim.record.created()) == 2
    code, err = run_at_a_terminal(out, sim, b"n\n")
    assert code == 2 and QUESTION.search(err), err
    assert err.rstrip().endswith("tasks already made at the gateway (2) are charged as they render: --no-submit "
                                 "fetches their videos and sends nothing new"), err
    code, err = run_at_a_terminal(out, sim, b"n\n", "--no-submit")  # nothing to send: nothing to ask
    assert code == 0 and "[y/N]" not in err and len(sim.record.created()) == 2, err


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


#: runs a command with a terminal as its controlling terminal (a session of its own, as a shell in a terminal
#: window has), in the terminal's foreground process group or in a group of its own, in the background; standard
#: error to the terminal or left as given
WITH_A_TERMINAL = """
import fcntl, os, subprocess, sys, termios
name, background, stderr_to_terminal, command = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1", sys.argv[4:]
terminal = os.open(name, os.O_RDWR)
fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)
proc = subprocess.Popen(command, stdin=terminal, stderr=terminal if stderr_to_terminal else None,
                        process_group=0 if background else None)
try:
    sys.exit(proc.wait(timeout=60))
except subprocess.TimeoutExpired:  # stopped by SIGTTIN, waiting to be brought to the foreground
    proc.kill()
    sys.exit("still waiting after 60 s")
"""


def run_in_a_session(out: Path, sim: Simulator, answer: bytes, *flags: str, background: bool,
                     stderr_to_terminal: bool = True) -> tuple[int, str, str]:
    """`batchvid run` in a session whose controlling terminal is a pty, `answer` typed there before it asks;
    (exit code, what the terminal showed, standard error when it is not the terminal)."""
    import pty

    leader, follower = pty.openpty()
    try:
        os.write(leader, answer)
        done = subprocess.run([sys.executable, "-c", WITH_A_TERMINAL, os.ttyname(follower), str(int(background)),
                               str(int(stderr_to_terminal)), *run_command(out, sim, *flags)], capture_output=True,
                              text=True, timeout=120, start_new_session=True, env=os.environ.copy())
        os.set_blocking(leader, False)
        shown = b""
        while True:
            try:
                piece = os.read(leader, 65536)
            except (BlockingIOError, OSError):
                break
            if not piece:
                break
            shown += piece
    finally:
        os.close(follower)
        os.close(leader)
    return done.returncode, shown.decode(errors="replace").replace("\r\n", "\n"), done.stderr


def test_a_run_in_the_background_of_its_terminal_is_refused_not_stopped_waiting_for_an_answer(
        simulator: SimStarter, tmp_path: Path) -> None:
    """`batchvid run m.yaml > log &`: reading its terminal would stop it (SIGTTIN), asked where nobody looks."""
    sim = simulator()
    code, shown, _ = run_in_a_session(tmp_path / "out", sim, b"y\n", background=True)
    assert code == 2, shown
    assert ("batchvid: error: this run would send shots, and it is in the background of its terminal, where it "
            "cannot be asked first: run it in the foreground to be asked, or give --yes") in shown
    assert "[y/N]" not in shown and sim.record.submissions == [] and not (tmp_path / "out").exists()
    code, shown, _ = run_in_a_session(tmp_path / "out", sim, b"", "--yes", background=True)
    assert code == 0 and len(sim.record.created()) == 5, shown
    # nothing left to send: nothing to ask, nothing refused
    code, shown, _ = run_in_a_session(tmp_path / "out", sim, b"", background=True)
    assert code == 0 and "plan: 5 done" in shown, shown


def test_with_standard_error_in_a_log_the_question_is_asked_on_the_terminal(simulator: SimStarter,
                                                                            tmp_path: Path) -> None:
    """`batchvid run m.yaml 2> run.log`: the question must not go to the log while the run waits for its answer."""
    sim = simulator()
    code, shown, logged = run_in_a_session(tmp_path / "out", sim, b"y\n", background=False, stderr_to_terminal=False)
    asked = QUESTION.search(shown)
    assert code == 0 and asked and asked.group(1) == "5", (shown, logged)
    assert "[y/N]" not in logged and "plan: 5 new; to submit: 5 shots" in logged
    assert len(sim.record.created()) == 5


def test_the_question_shows_no_query_string_of_the_base_url(simulator: SimStarter, tmp_path: Path) -> None:
    """A query string may carry a credential (a signature, a key), and the question is on the screen."""
    sim = simulator()
    code, err = run_at_a_terminal(tmp_path / "out", sim, b"n\n", "--base-url", f"{sim.base_url}/?sig=s3cret")
    assert code == 2 and f"batchvid: send 5 shots to {sim.base_url}/?..., estimated $" in err, err
    assert "s3cret" not in err


def test_the_question_names_every_gateway_and_an_unknown_price() -> None:
    plan = Plan(to_submit=3, to_submit_usd=Decimal("1.5"), to_submit_billed=Decimal("1.8"))
    assert question(plan, ["https://a.example"]) == (
        "batchvid: send 3 shots to https://a.example, estimated $1.50 (about $1.80 at the gateway's bills so far)? "
        "[y/N] ")
    plan = Plan(to_submit=1, to_submit_usd=None)
    assert question(plan, ["https://a.example", "https://b.example"]) == (
        "batchvid: send 1 shot to 2 gateways (https://a.example, https://b.example), some of them at a price "
        "unknown? [y/N] ")
