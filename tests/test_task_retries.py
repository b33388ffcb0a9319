"""A task that failed for the provider's own trouble gets a new task in the same run; one refused for its request
does not. Failed tasks are not charged, so neither costs anything more than one success."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import MANIFESTS

from batchvid.retryable import provider_trouble

Run = Callable[..., tuple[int, str, str]]
Sim = Callable[..., Any]


def ledger(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "ledger.csv", encoding="utf-8", newline="") as handle:
        return {row["shot_id"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize(("said", "worth_a_new_task"), [
    ("InternalError: Internal Server Error", True),  # Wan's 500 in its error table: "Retry later"
    ("server_error: Internal server error", True),  # Sora's
    ("400: Internal error, please try again later", True),  # the gateway's envelope: code 400 whatever the cause
    ("Timeout: the task timed out at the provider", True),
    ("content_policy_violation: Prompt contains inappropriate content", False),  # Sora's page, 001
    ("InvalidParameter.ImageFormat: Image format not supported or incorrect format", False),  # Wan's page, 003
    ("InvalidParameter.DataInspection: Content moderation failed", False),
    ("400: The request was rejected by content moderation", False),
    ("InternalError: the input image failed the safety check", False),  # the request's fault, whatever the code
    ("failed", False),  # no words: nothing says the provider failed
])
def test_which_failures_are_the_providers(said: str, worth_a_new_task: bool) -> None:
    assert provider_trouble(said) is worth_a_new_task


def test_a_task_that_failed_at_the_provider_gets_a_new_one_within_the_cap(
        simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    """Its hold on --max-cost is given back (nothing was charged): a cap of exactly the batch still submits the new
    tasks."""
    sim = simulator(provider_fail_first=3)
    code, out, _ = run_batch(MANIFESTS / "wan.yaml", sim, "--max-cost", "2.772")  # the 5 shots' estimates
    assert code == 0 and out.startswith("batchvid: 5 done;"), out
    assert ("  3 task(s) of 3 shot(s) failed for the provider's own trouble and got a new task each (failed tasks "
            "are not charged; --task-retries)") in out.splitlines()
    made = sim.record.created()
    assert len(made) == 8 and len({task.task_id for task in made}) == 8
    rows = ledger(tmp_path / "out")
    assert sorted(row["attempts"] for row in rows.values()) == ["1", "1", "2", "2", "2"]
    # every row names the task that made its video, paid once
    assert {row["task_id"] for row in rows.values()} <= {task.task_id for task in made[3:]}
    assert all(row["billed_usd"] == row["estimated_usd"] and row["error"] == "" for row in rows.values())


def test_a_shot_gets_as_many_new_tasks_as_task_retries_allows(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    sim = simulator(provider_fail_rate=1.0)
    code, out, _ = run_batch(MANIFESTS / "wan.yaml", sim, "--task-retries", "1")
    assert code == 1 and out.startswith("batchvid: 5 failed;"), out
    assert len(sim.record.created()) == 10  # two tasks a shot
    assert {row["error"] for row in ledger(tmp_path / "out").values()} == {
        "task failed: InternalError: Internal Server Error (as did the 1 before it in this run)"}
    code, out, _ = run_batch(MANIFESTS / "wan.yaml", sim, "--retry-failed", "--task-retries", "0")
    assert code == 1 and len(sim.record.created()) == 15 and "got a new task" not in out
    assert {row["error"] for row in ledger(tmp_path / "out").values()} == {
        "task failed: InternalError: Internal Server Error"}


def test_a_task_refused_for_its_request_is_not_sent_again(simulator: Sim, run_batch: Run) -> None:
    sim = simulator(fail_rate=1.0)  # a moderation refusal: the same request would be refused again
    code, out, _ = run_batch(MANIFESTS / "sora.yaml", sim)
    assert code == 1 and "content_policy_violation" in out and "got a new task" not in out
    assert len(sim.record.created()) == 4


def test_an_earlier_version_whose_task_failed_at_the_provider_is_not_sent_again(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path) -> None:
    """A changed shot's earlier version still rendering is followed to its video, never submitted: it is not this
    manifest's shot any more, and its request is not in the manifest to send."""
    sim = simulator(render_seconds=(1.5, 1.5), provider_fail_first=1)
    shots = "version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: %s}\n"
    run_batch(write_manifest(shots % "a river"), sim, "--deadline-minutes", "0.005")  # gives up waiting
    code, out, _ = run_batch(write_manifest(shots % "a lake"), sim)
    assert code == 0 and "earlier versions followed: 1 failed" in out and "got a new task" not in out, out
    rows = ledger(tmp_path / "out")
    assert rows["a@1"]["status"] == "failed" and rows["a"]["status"] == "done"
    assert rows["a@1"]["error"] == "task failed: InternalError: Internal Server Error"
    assert len(sim.record.created()) == 2
