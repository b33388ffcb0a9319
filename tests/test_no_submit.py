"""`run --no-submit`: the tasks already at the gateway are followed to their videos (they are charged as they render)
and nothing new is sent, not even a new task for one that failed; the shots held back wait, pending, for a run
without it. Real runs against the simulator over loopback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MANIFESTS
from test_run import ledger, states

from batchvid.simulator import Simulator

Sim = Callable[..., Simulator]
Run = Callable[..., tuple[int, str, str]]
WAN = MANIFESTS / "wan.yaml"  # 5 shots: wan-text, kitten-eyes, kitten-song-480p, -720p and -1080p


def two_in_flight(sim: Simulator, run_batch: Run, out: Path) -> list[str]:
    """A first run that submitted two shots and stopped waiting for them (its deadline): their ids."""
    code, _, _ = run_batch(WAN, sim, "--only", "wan-text,kitten-eyes", "--deadline-minutes", "0.002")
    in_flight = sorted(shot for shot, state in states(out).items() if state == "submitted")
    assert code == 1 and len(in_flight) == 2 == len(sim.record.created()), states(out)
    return in_flight


def test_the_tasks_at_the_gateway_are_fetched_and_nothing_new_is_sent(simulator: Sim, run_batch: Run,
                                                                      tmp_path: Path) -> None:
    sim = simulator(render_seconds=(0.3, 0.3))
    out = tmp_path / "out"
    in_flight = two_in_flight(sim, run_batch, out)
    # a cap the batch is over stops no fetch: the tasks in flight are charged whatever it says
    code, said, err = run_batch(WAN, sim, "--no-submit", "--max-cost", "0.01")
    assert "plan: 2 in-flight, 3 held" in err and "3 shots not submitted (--no-submit)" in err, err
    assert len(sim.record.created()) == 2  # nothing sent
    rows = {row["shot_id"]: row for row in ledger(out)}
    assert sorted(shot for shot, row in rows.items() if row["status"] == "done") == in_flight
    assert all((out / f"{shot}.mp4").is_file() for shot in in_flight)
    assert sorted(row["status"] for row in rows.values()) == ["done"] * 2 + ["pending"] * 3
    # what it was asked to do is done: the held shots fail nothing, as those --only leaves out
    assert code == 0 and "next: run without --no-submit to submit the 3 pending shot(s)" in said, said
    # the run without it sends the held shots, and only those
    code, said, err = run_batch(WAN, sim)
    assert code == 0 and "plan: 3 new, 2 done" in err, err
    assert len(sim.record.created()) == 5 == len({task.task_id for task in sim.record.created()})
    assert {row["status"] for row in ledger(out)} == {"done"}


def test_a_task_that_fails_at_the_provider_gets_no_new_task_and_waits_for_the_next_run(
        simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    """A provider's failure is not charged and would get a new task in a run: a new task is a submit."""
    sim = simulator(render_seconds=(0.3, 0.3), provider_fail_first=1)
    out = tmp_path / "out"
    two_in_flight(sim, run_batch, out)
    code, said, _ = run_batch(WAN, sim, "--no-submit")
    assert len(sim.record.created()) == 2 and "got a new task" not in said, said
    rows = {row["shot_id"]: row for row in ledger(out)}
    failed_first = sim.record.created()[0].task_id
    again = [row for row in rows.values() if failed_first in row["error"]]
    assert len(again) == 1 and again[0]["status"] == "pending", rows
    assert "failed: InternalError" in again[0]["error"] and again[0]["task_id"] == ""
    # not held by this run but left by it: the exit code says a shot is not done
    assert code == 1 and "next: run without --no-submit to submit the 4 pending shot(s)" in said, said
    code, _, _ = run_batch(WAN, sim)
    assert code == 0 and len(sim.record.created()) == 6  # the failed task's shot and the three held ones


def test_a_new_batch_needs_no_key_and_sends_nothing(simulator: Sim, run_batch: Run, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulator()
    monkeypatch.delenv("BATCHVID_API_KEY")
    code, said, err = run_batch(WAN, sim, "--no-submit")
    assert code == 0 and "plan: 5 held" in err and sim.record.request_times == [], err + said
    assert set(states(tmp_path / "out").values()) == {"pending"}


@pytest.mark.parametrize("flag", [["--force", "wan-text"], ["--resubmit-uncertain"]])
def test_a_flag_that_sends_again_contradicts_it(simulator: Sim, run_batch: Run, tmp_path: Path,
                                               flag: list[str]) -> None:
    sim = simulator()
    code, _, err = run_batch(WAN, sim, "--no-submit", *flag)
    assert code == 2 and err.strip() == (f"batchvid: error: {flag[0]} sends shots again, and --no-submit sends "
                                         "nothing: give one of them"), err
    assert not (tmp_path / "out").exists()
