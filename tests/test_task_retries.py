"""A task that failed for the provider's own trouble gets a new task in the same run; one refused for its request
does not. Failed tasks are not charged, so neither costs anything more than one success."""

from __future__ import annotations

import collections
import csv
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import MANIFESTS
from helpers import alternating

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


def test_a_model_whose_tasks_keep_failing_at_the_provider_is_left_for_the_next_run(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path,
        quick_outages: None) -> None:
    """A provider down for an hour: each of its shots' tasks would fail three times, holding slots while the other
    models' shots wait. Once its tasks have failed in a row for a while, its shots are left pending for the next
    run, as a model whose submits draw only server errors is (outage.py), and the others go on. The shots whose
    tries ran out before that wait too: they failed for the outage, not for their request, and the next run needs
    no --retry-failed for them."""
    veo = "veo-3.0-fast-generate-001"
    sim = simulator(provider_failing=frozenset({veo}))
    manifest = write_manifest(alternating(20, v=veo, w="wan2.5-t2v-preview"))
    code, out, _ = run_batch(manifest, sim, "--concurrency", "3", "--task-retries", "1")
    rows = ledger(tmp_path / "out")
    assert code == 1 and {rows[f"w{i:02d}"]["status"] for i in range(20)} == {"done"}
    veo_rows = [rows[f"v{i:02d}"] for i in range(20)]
    assert {row["status"] for row in veo_rows} == {"pending"}, out
    # how many failed in a row before the model was left depends on how fast they came: 6 or a few more
    outage = re.search(rf"{veo}: its last \d+ tasks over 0 min all failed at the provider \(the last: 400: Internal "
                       r"error, please try again later\); its shots not sent are left for the next run",
                       veo_rows[0]["error"])
    assert outage is not None, veo_rows[0]
    assert {row["error"] for row in veo_rows} == {f"submit: {outage[0]}",
                                                  f"its task failed at the provider; {outage[0]}"}
    assert all(row["task_id"] == row["billed_usd"] == row["gateway"] == "" for row in veo_rows), veo_rows
    veo_tasks = [s for s in sim.record.created() if s.model == veo]
    assert 6 <= len(veo_tasks) < 20, len(veo_tasks)  # not two tasks for every shot
    # the first shots spent their two tries before the model was left
    assert max(collections.Counter(task.body["prompt"] for task in veo_tasks).values()) == 2
    # the provider is back: the next run sends them all, with no --retry-failed
    sim2 = simulator()
    code, _, err = run_batch(manifest, sim2)
    assert code == 0 and "plan: 20 new" in err, err
    assert len(sim2.record.created()) == 20
    assert {row["status"] for row in ledger(tmp_path / "out").values()} == {"done"}


def test_a_model_is_left_after_its_tasks_failed_at_the_provider_in_a_row_for_long_enough() -> None:
    from batchvid.outage import OUT_AFTER_ERRORS, OUT_AFTER_SECONDS, ModelOutages

    now = [0.0]
    outages = ModelOutages(clock=lambda: now[0])
    for _ in range(OUT_AFTER_ERRORS - 1):
        outages.task_failed("m", "InternalError: Internal Server Error")
    now[0] = OUT_AFTER_SECONDS
    outages.rendered("m")  # a task rendered: the provider works, the streak starts again
    outages.server_error("m", "HTTP 502")  # a submit's error is another streak
    outages.task_failed("m", "InternalError: Internal Server Error")
    assert outages.out("m") is None
    now[0] = OUT_AFTER_SECONDS * 3
    for _ in range(OUT_AFTER_ERRORS - 1):
        outages.task_failed("m", "InternalError: Internal Server Error")
    assert outages.out("m") == (
        f"m: its last {OUT_AFTER_ERRORS} tasks over {2 * OUT_AFTER_SECONDS / 60:.0f} min all failed at the provider "
        "(the last: InternalError: Internal Server Error); its shots not sent are left for the next run")


def test_the_progress_counts_the_new_tasks(simulator: Sim, cli: Run, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`submitted 8` for 5 shots would read as a miscount: the new tasks are said as such."""
    from batchvid import progress

    monkeypatch.setattr(progress, "LINE_EVERY", 0.0)  # a line at every event, as a log file gets one a minute
    sim = simulator(provider_fail_first=3)
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", sim.base_url, "--out", tmp_path / "out",
                       "--poll-interval", "0.1", "--rate", "200/s")
    lines = [line for line in err.splitlines() if "shots finished" in line]
    assert code == 0 and lines[-1].startswith(
        "batchvid: 5/5 shots finished; submitted 8 (3 again) rendering 0 downloaded 5 failed 0 spend $"), lines


def test_the_progress_takes_back_the_failures_of_a_model_left_for_the_next_run(
        simulator: Sim, cli: Run, write_manifest: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, quick_outages: None) -> None:
    from batchvid import outage, progress

    monkeypatch.setattr(progress, "LINE_EVERY", 0.0)
    monkeypatch.setattr(outage, "OUT_AFTER_ERRORS", 12)  # a shot surely spends its two tries before the model is left
    veo = "veo-3.0-fast-generate-001"
    sim = simulator(provider_failing=frozenset({veo}))
    manifest = write_manifest(alternating(20, v=veo, w="wan2.5-t2v-preview"))
    code, _, err = cli("run", manifest, "--base-url", sim.base_url, "--out", tmp_path / "out", "--concurrency", "3",
                       "--task-retries", "1", "--poll-interval", "0.1", "--rate", "200/s")
    lines = [line for line in err.splitlines() if "shots finished" in line]
    assert code == 1 and any(" failed 1 " in line for line in lines), lines  # a shot's tries ran out, then
    assert lines[-1].startswith("batchvid: 20/40 shots finished;") and " failed 0 " in lines[-1], lines


def test_a_shot_whose_tries_ran_out_waits_with_its_model_when_the_models_submits_go_dark(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, quick_outages: None) -> None:
    """The provider fails a task, then the gateway has no channel left for the model (503 to every submit): the
    model is left for the next run, and so is the shot whose task failed, which did not fail for its request."""
    from batchvid import submitting

    monkeypatch.setattr(submitting, "backoff", lambda *args, **kwargs: 0.1)
    wan = "wan2.5-t2v-preview"
    sim = simulator(provider_fail_first=1)
    create = sim._create

    def create_then_go_dark(*args: Any) -> Any:
        sim.config.unavailable = frozenset({wan})
        return create(*args)

    monkeypatch.setattr(sim, "_create", create_then_go_dark)
    manifest = write_manifest(alternating(5, w=wan))
    code, out, _ = run_batch(manifest, sim, "--concurrency", "1", "--task-retries", "0")
    rows = ledger(tmp_path / "out")
    assert code == 1 and {row["status"] for row in rows.values()} == {"pending"}, out
    assert rows["w00"]["error"].startswith(f"its task failed at the provider; {wan}: its last 6 submits"), rows
    assert "all drew server errors (the last: HTTP 503: No available channel" in rows["w00"]["error"]
    assert len(sim.record.created()) == 1
    code, _, err = run_batch(manifest, simulator())
    assert code == 0 and "plan: 5 new" in err, err
