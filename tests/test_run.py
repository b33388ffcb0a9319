"""batchvid run end to end: the real client against the simulator over 127.0.0.1."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_RUN, MANIFESTS, SIM_KEY, sqlite_db
from helpers import alternating, needs_proc, note_syncs

from batchvid import errors, runsettings, settled
from batchvid import journal as j
from batchvid.lock import FolderLock
from batchvid.simulator.shapes import VEO_STYLES

Run = Callable[..., tuple[int, str, str]]
Sim = Callable[..., Any]


def ledger(out: Path) -> list[dict[str, str]]:
    with open(out / "ledger.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def states(out: Path) -> dict[str, str]:
    with sqlite_db(out / "journal.sqlite") as db:
        return dict(db.execute("SELECT id, state FROM shots"))


def states_so_far(out: Path) -> dict[str, str]:
    """states() of a journal that a running batchvid may still be creating (none yet: no states)."""
    if not (out / "journal.sqlite").exists():
        return {}
    try:
        return states(out)
    except sqlite3.OperationalError:  # the file is there, its tables not yet
        return {}


def signalled_run(command: list[str], out: Path, submitted: int, signum: int) -> tuple[int, str, float]:
    """`command` in a process of its own, sent `signum` once `submitted` shots are submitted; (its exit code, its
    stderr, time.time() of the signal)."""
    proc = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    try:
        for _ in range(200):
            time.sleep(0.05)
            if list(states_so_far(out).values()).count("submitted") >= submitted:
                break
        signalled = time.time()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:  # whatever failed above, no process or pipe outlives the test
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err, signalled


def test_every_family_end_to_end(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    sim = simulator(veo_url_style="mixed", seed=3)
    code, out, err = run_batch(MANIFESTS / "demo.yaml", sim)
    assert code == 0, out + err
    rows = ledger(tmp_path / "out")
    assert len(rows) == 9 and {r["status"] for r in rows} == {"done"}
    for row in rows:
        video = (tmp_path / "out" / row["output"]).read_bytes()
        assert hashlib.sha256(video).hexdigest() == row["sha256"] == sim.record.served_sha256[row["task_id"]]
        assert int(row["bytes"]) == len(video) and video[4:8] == b"ftyp"
    assert len(sim.record.created()) == 9
    assert sim.record.storage_auth_headers == 0
    assert not list((tmp_path / "out").glob("*.part"))
    by_id = {r["shot_id"]: r for r in rows}
    assert by_id["hero-1080p"]["billed_usd"] == "0.6165"  # model_price x seconds x group_ratio
    assert by_id["kitten-night"]["estimated_usd"] == "0.80" and by_id["kitten-night"]["billed_usd"] == ""
    assert by_id["waves"]["billed_usd"] == "0.27"  # Seedance: 108,000 tokens at $2.5 per million
    assert "9 done" in out


@pytest.mark.parametrize("style", VEO_STYLES)
def test_each_way_veo_gives_its_video_is_followed_to_the_video(simulator: Sim, run_batch: Run, tmp_path: Path,
                                                               style: str) -> None:
    """A URL, a list of them, a data: URI; or `url` empty and the video in metadata.response.videos, by URL or as
    base64 (API-NOTES)."""
    sim = simulator(veo_url_style=style)
    code, out, err = run_batch(MANIFESTS / "veo.yaml", sim)
    rows = ledger(tmp_path / "out")
    assert code == 0 and {row["status"] for row in rows} == {"done"}, out + err
    for row in rows:
        video = (tmp_path / "out" / row["output"]).read_bytes()
        assert hashlib.sha256(video).hexdigest() == row["sha256"] == sim.record.served_sha256[row["task_id"]]


def test_a_second_run_sends_nothing(simulator: Sim, run_batch: Run) -> None:
    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    polls, made = sum(sim.record.polls.values()), len(sim.record.submissions)
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim)
    assert code == 0 and "plan: 5 done" in err
    assert (sum(sim.record.polls.values()), len(sim.record.submissions)) == (polls, made)


def test_a_changed_shot_is_new_work(simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path]) -> None:
    sim = simulator()
    text = ("version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: %s}\n"
            "  - {id: b, model: sora-2, prompt: q}\n")
    assert run_batch(write_manifest(text % "one"), sim)[0] == 0
    code, _, err = run_batch(write_manifest(text % "two"), sim)
    assert code == 0 and "plan: 1 changed, 1 done" in err
    assert [s.body["prompt"] for s in sim.record.created()] == ["one", "q", "two"]


def test_shots_in_flight_are_polled_not_resubmitted(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    sim = simulator(render_seconds=(0.3, 0.3))
    assert run_batch(MANIFESTS / "wan.yaml", sim, "--deadline-minutes", "0.001")[0] == 1  # gives up waiting
    assert set(states(tmp_path / "out").values()) == {"submitted"}
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim)
    assert code == 0 and "plan: 5 in-flight" in err
    assert len(sim.record.created()) == 5


def test_a_rendered_video_refused_for_good_is_fetched_again_by_retry_failed_not_paid_for_again(
        simulator: Sim, run_batch: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """Over --max-video-mb the video is refused for good, but its task succeeded and was charged: the ledger counts
    it, and --retry-failed fetches it from the same task (it used to submit the shot again and forget the first
    task's cost)."""
    sim = simulator(video_bytes=3_000_000)
    manifest = write_manifest("version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: p, duration: 5}\n"
                              "  - {id: b, model: wan2.5-t2v-preview, prompt: q, duration: 5}\n")
    code, out, _ = run_batch(manifest, sim, "--max-video-mb", "1")
    assert code == 1 and "2 failed; estimated $0.74 for the 2 shots rendered, billed $0.74" in out
    assert "next: 2 failed shots were rendered and charged, but their videos were refused" in out
    assert "failed tasks are not charged" not in out
    first = {row["shot_id"]: (row["task_id"], row["billed_usd"]) for row in ledger(tmp_path / "out")}
    code, out, err = run_batch(manifest, sim, "--max-video-mb", "10", "--retry-failed")
    assert code == 0 and "plan: 2 download" in err and "was paid for: fetching its video again" in err
    assert len(sim.record.submissions) == 2  # nothing rendered twice
    assert {row["shot_id"]: (row["task_id"], row["billed_usd"]) for row in ledger(tmp_path / "out")} == first
    assert all(os.path.getsize(tmp_path / "out" / f"{shot}.mp4") == 3_000_000 for shot in "ab")


def test_a_plan_explains_the_first_ten_shots_of_a_kind_and_counts_the_rest(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path]) -> None:
    """An edit to `defaults` changes every shot: ten thousand lines alike would bury the plan."""
    shots = "".join(f"  - {{id: s{i:02d}, prompt: p{i}}}\n" for i in range(13))
    manifest = write_manifest(f"version: 1\ndefaults: {{model: wan2.5-t2v-preview, seed: 1}}\nshots:\n{shots}")
    sim = simulator()
    assert run_batch(manifest, sim)[0] == 0
    manifest.write_text(manifest.read_text().replace("seed: 1", "seed: 2"))
    code, _, err = run_batch(manifest, sim, "--dry-run")
    lines = err.splitlines()
    assert code == 0 and lines[0] == "plan: 13 changed; to submit: 13 shots, estimated $4.80"
    assert [line.split(":")[0] for line in lines[1:11]] == [f"  s{i:02d}" for i in range(10)]
    assert lines[11:] == ["  ... and 3 more changed shots"]


def test_off_peak_shots_that_would_hold_the_slots_for_days_are_pointed_out(
        cli: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """An off-peak task may take 48 h and holds its --concurrency slot meanwhile: the shots behind it would wait."""
    manifest = write_manifest("version: 1\ndefaults: {model: viduq3t-540p-offpeak, duration: 4}\nshots:\n"
                              "  - {id: a, prompt: one}\n  - {id: b, prompt: two}\n"
                              "  - {id: c, model: wan2.5-t2v-preview, prompt: three, duration: 5}\n")
    code, _, err = cli("run", manifest, "--simulate", "--dry-run", "--concurrency", "2", "--out", tmp_path / "o")
    assert code == 0 and err.splitlines()[1] == (
        "note: 2 off-peak shots to submit, with the others 2 at a time (--concurrency), and each may take up to 48 h: "
        "the last could start days from now. The gateway queues off-peak tasks, so --concurrency 3 submits every shot "
        "at once (the run may be stopped once they are submitted: the next one collects the videos)"), err
    for enough in ("3", "10"):  # every shot goes at once: nothing waits behind them
        code, _, err = cli("run", manifest, "--simulate", "--dry-run", "--concurrency", enough, "--out", tmp_path / "o")
        assert code == 0 and "off-peak" not in err
    # Vidu's own concurrency holds them back, whatever --concurrency says
    capped = write_manifest(manifest.read_text().replace("version: 1\n", "version: 1\ngateway: {families: {vidu: "
                                                         "{concurrency: 1}}}\n"), name="capped.yaml")
    code, _, err = cli("run", capped, "--simulate", "--dry-run", "--concurrency", "10", "--out", tmp_path / "c")
    assert code == 0 and err.splitlines()[1] == (
        "note: 2 off-peak shots to submit, with the others 1 at a time (gateway.families.vidu.concurrency), and each "
        "may take up to 48 h: the last could start days from now. The gateway queues off-peak tasks, so "
        "gateway.families.vidu.concurrency: 2 submits every vidu shot at once (the run may be stopped once they are "
        "submitted: the next one collects the videos)"), err
    roomy = write_manifest(capped.read_text().replace("concurrency: 1", "concurrency: 2"), name="roomy.yaml")
    code, _, err = cli("run", roomy, "--simulate", "--dry-run", "--concurrency", "10", "--out", tmp_path / "r")
    assert code == 0 and "off-peak" not in err


def test_interrupted_submit_is_uncertain_and_not_resent(simulator: Sim, run_batch: Run, tmp_path: Path,
                                                         write_manifest: Callable[..., Path]) -> None:
    sim = simulator()
    manifest = write_manifest("version: 1\nshots:\n  - {id: a, model: sora-2, prompt: p}\n")
    assert run_batch(manifest, sim, "--deadline-minutes", "0.0001")[0] == 1
    with sqlite_db(tmp_path / "out" / "journal.sqlite") as db:  # as a kill -9 during the POST leaves it
        db.execute("UPDATE shots SET state='submitting', task_id=NULL")
    before = len(sim.record.submissions)
    code, out, err = run_batch(manifest, sim)
    assert code == 1 and "plan: 1 uncertain" in err and "a: uncertain" in out
    assert "next: add --resubmit-uncertain to send the uncertain shots again" in out
    assert len(sim.record.submissions) == before
    code, _, err = run_batch(manifest, sim, "--resubmit-uncertain")
    assert code == 0 and "plan: 1 retry" in err and len(sim.record.submissions) == before + 1


def test_a_submit_whose_answer_is_lost_is_uncertain_and_never_sent_twice(
        simulator: Sim, run_batch: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """The connection reset during the POST: the gateway may have made the task (half of these did) or not, and
    the client cannot tell. Sent again, a made one would be paid twice: it waits for --resubmit-uncertain."""
    sim = simulator(reset_rate=1.0, seed=4)
    shots = "".join(f"  - {{id: s{i}, model: wan2.5-t2v-preview, prompt: shot {i}}}\n" for i in range(6))
    manifest = write_manifest(f"version: 1\nshots:\n{shots}")
    code, out, _ = run_batch(manifest, sim)
    made = len(sim.record.created())
    assert code == 1 and set(states(tmp_path / "out").values()) == {"uncertain"}, out
    assert len(sim.record.request_times) == 6 and 0 < made < 6  # one POST a shot, some made, some not
    assert "the submit may have reached the gateway" in ledger(tmp_path / "out")[0]["error"]
    sim.config.reset_rate = 0.0
    code, _, err = run_batch(manifest, sim)
    assert code == 1 and err.startswith("plan: 6 uncertain") and len(sim.record.request_times) == 6
    code, _, err = run_batch(manifest, sim, "--resubmit-uncertain")
    assert code == 0 and len(sim.record.created()) == made + 6  # paid twice only for those the user chose to


def test_an_uncertain_shot_adopts_the_task_the_gateway_made_and_nothing_is_paid_twice(
        simulator: Sim, run_batch: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """The user finds the tasks that the lost answers made (the account's records at the gateway) and gives them
    with --adopt: those shots are polled and downloaded, not sent again; a task id the gateway does not know leaves
    its shot uncertain."""
    sim = simulator(reset_rate=1.0, seed=4)
    shots = "".join(f"  - {{id: s{i}, model: wan2.5-t2v-preview, prompt: shot {i}}}\n" for i in range(6))
    manifest = write_manifest(f"version: 1\nshots:\n{shots}")
    assert run_batch(manifest, sim)[0] == 1
    made = {"s" + task.body["prompt"].split()[1]: task.task_id for task in sim.record.created()}
    lost = sorted({f"s{i}" for i in range(6)} - set(made))
    assert made and lost  # the seed makes some of the six and not others
    sim.config.reset_rate = 0.0
    requests, submissions = len(sim.record.request_times), len(sim.record.submissions)
    adopt = [flag for shot, task in made.items() for flag in ("--adopt", f"{shot}={task}")]
    code, _, err = run_batch(manifest, sim, *adopt, "--adopt", f"{lost[0]}=no-such-task", "--dry-run")
    assert code == 0 and f"{len(made) + 1} adopted" in err and len(sim.record.request_times) == requests
    assert set(states(tmp_path / "out").values()) == {"uncertain"}  # a dry run writes nothing

    code, out, err = run_batch(manifest, sim, *adopt, "--adopt", f"{lost[0]}=no-such-task")
    assert code == 1 and f"{len(made) + 1} adopted" in err and len(sim.record.submissions) == submissions, err
    found = states(tmp_path / "out")
    assert {shot for shot, state in found.items() if state == "done"} == set(made)
    assert {shot for shot, state in found.items() if state == "uncertain"} == set(lost)
    rows = {row["shot_id"]: row for row in ledger(tmp_path / "out")}
    assert all(rows[shot]["task_id"] == task and rows[shot]["error"] == "" for shot, task in made.items())
    assert all(rows[shot]["submitted_at"] == "" for shot in made)  # when the gateway made them is not known
    assert "--adopt no-such-task: the gateway refused that task id (HTTP 404" in rows[lost[0]]["error"], rows
    assert rows[lost[0]]["task_id"] == "" and "--adopt ID=TASK_ID" in out

    code, _, err = run_batch(manifest, sim, "--resubmit-uncertain")
    assert code == 0 and f"{len(lost)} retry" in err
    assert len(sim.record.created()) == 6  # each shot paid for once


def _kept_tasks(simulator: Sim, cli: Run, tmp_path: Path, write_manifest: Callable[..., Path]
                ) -> tuple[Any, Callable[..., tuple[int, str, str]]]:
    """Three Wan tasks made by a simulator and still rendering when their run gave up waiting (after 0.12 s): (that
    simulator, a run of the batch against a simulator with flags)."""
    made = simulator(render_seconds=(1.0, 1.0))
    shots = "".join(f"  - {{id: s{i}, model: wan2.5-t2v-preview, prompt: shot {i}}}\n" for i in range(3))
    manifest = write_manifest(f"version: 1\nshots:\n{shots}")

    def run(sim: Any, *flags: str, base_url: str | None = None) -> tuple[int, str, str]:
        return cli("run", manifest, "--base-url", base_url or sim.base_url, "--out", tmp_path / "out", *FAST_RUN,
                   *flags)

    assert run(made, "--deadline-minutes", "0.002")[0] == 1
    assert set(states(tmp_path / "out").values()) == {"submitted"}
    return made, run


def test_a_task_another_gateway_does_not_know_is_kept_for_the_one_that_made_it(
        simulator: Sim, cli: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """Resumed with another base URL: its 404s say nothing of the tasks, which may be rendering, and paid for, at
    the gateway that made them. They are kept, never failed (--retry-failed would pay for them again); the journal
    knows which base URL made them, so the first 404 is enough (one poll, not one a task: a thousand took 8 minutes)
    and the way out names it; the run back at that gateway takes their videos."""
    made, run = _kept_tasks(simulator, cli, tmp_path, write_manifest)
    other, out = simulator(), tmp_path / "out"
    for runs, flags in enumerate(((), ("--retry-failed",)), start=1):
        code, text, err = run(other, *flags)
        assert code == 1 and set(states(out).values()) == {"submitted"} and other.record.created() == [], text
        # said before anything is sent: a base URL changed between runs may be a slip
        assert (f"batchvid: warning: 3 task(s) in flight were made at {made.base_url}, and this run's gateway is "
                f"{other.base_url}: they are polled there, and kept for {made.base_url} if it does not know them; "
                f"the shots still to submit go to {other.base_url}") in err, err
        assert other.record.answers[404] == runs, other.record.answers  # one poll a run: the others not asked
        assert (f"next: run again at the gateway that made the kept tasks, {made.base_url} (--base-url, or the "
                "manifest's gateway.base_url or a family's own): this run's gateway did not know them; --force ID "
                "renders a shot anew, paying again") in text, text
    kept = f"its task is kept for the gateway that made it, {made.base_url}: run with that base URL to follow it"
    assert sorted(row["error"] for row in ledger(out)) == [
        f"poll: HTTP 404: Task does not exist; {kept}",
        *[f"poll: not sent: {other.base_url} did not know the tasks made at {made.base_url}; {kept}"] * 2]
    code, text, _ = run(made)
    assert code == 0 and "3 done" in text and len(made.record.created()) == 3, text


def test_a_paid_video_another_gateway_made_is_asked_for_once_there_too(
        simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """Videos paid for at one gateway, to fetch again (their files gone), in a run at another: where each video is
    was asked there, five tries each (a 404 each), before "download failed"; now once for them all, and the way out
    names the gateway that made them."""
    made, other, out = simulator(), simulator(), tmp_path / "out"
    shots = "".join(f"  - {{id: s{i}, model: wan2.5-t2v-preview, prompt: shot {i}}}\n" for i in range(3))
    manifest = write_manifest(f"version: 1\nshots:\n{shots}")
    assert run_batch(manifest, made)[0] == 0
    for video in out.glob("*.mp4"):
        video.unlink()
    code, text, _ = run_batch(manifest, other)
    assert code == 1 and set(states(out).values()) == {"downloading"} and other.record.answers[404] == 1, text
    assert {row["error"] for row in ledger(out)} == {
        f"poll: not sent: {other.base_url} did not know the tasks made at {made.base_url}; its task is kept for the "
        f"gateway that made it, {made.base_url}: run with that base URL to follow it"}
    assert f"next: run again at the gateway that made the kept tasks, {made.base_url} (" in text, text
    code, text, _ = run_batch(manifest, made)
    assert code == 0 and "3 done" in text and len(made.record.created()) == 3, text


def test_a_gateway_that_knows_the_tasks_under_another_base_url_follows_them(
        simulator: Sim, cli: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """A gateway reached by another name (a new domain for the same service) knows the tasks: they are followed
    there as any others, and the journal keeps the name that answered."""
    made, run = _kept_tasks(simulator, cli, tmp_path, write_manifest)
    alias = made.base_url.replace("127.0.0.1", "localhost")
    code, text, _ = run(made, base_url=alias)
    assert code == 0 and "3 done" in text and len(made.record.created()) == 3, text
    with sqlite_db(tmp_path / "out" / j.FILE_NAME) as db:
        assert {row[0] for row in db.execute("SELECT gateway FROM shots")} == {alias}
    assert {row["gateway"] for row in ledger(tmp_path / "out")} == {alias}  # the gateway that bills them


def test_a_task_whose_gateway_the_journal_does_not_know_is_kept_too(
        simulator: Sim, cli: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """Where the journal does not say which gateway made a task (a journal from before batchvid kept it), or the
    base URL is the same but the key is another account's, each 404 keeps its own task, with the general way out."""
    _, run = _kept_tasks(simulator, cli, tmp_path, write_manifest)
    with sqlite_db(tmp_path / "out" / j.FILE_NAME) as db:
        db.execute("UPDATE shots SET gateway=NULL")
    other = simulator()
    code, text, _ = run(other)
    assert code == 1 and set(states(tmp_path / "out").values()) == {"submitted"} and other.record.answers[404] == 3
    assert ("next: if the API key or the base URL changed since the kept tasks were submitted, run again with "
            "those") in text
    assert {row["error"] for row in ledger(tmp_path / "out")} == {
        "poll: HTTP 404: Task does not exist; its task is kept: if the API key or the base URL changed since it was "
        "submitted, run with those"}


def test_an_adopted_task_is_checked_by_the_run_after_a_kill_too(
        simulator: Sim, run_batch: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """Killed after the plan recorded the adoption, before any poll: the next run, without --adopt, still treats a
    task id the gateway refuses as the user's guess (uncertain again), not as the shot's failure."""
    sim = simulator()
    manifest = write_manifest("version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: p}\n")
    assert run_batch(manifest, sim)[0] == 0
    for left in (j.ADOPTED, f"{j.ADOPTED}; 30 polls in a row failed; task no-such-task is kept: run again to "
                 "re-attach"):  # as a kill leaves it, or a run whose polls all failed
        with sqlite_db(tmp_path / "out" / "journal.sqlite") as db:
            db.execute("UPDATE shots SET state='submitted', task_id='no-such-task', error=?", (left,))
        code, out, _ = run_batch(manifest, sim)
        assert code == 1 and states(tmp_path / "out") == {"a": "uncertain"}, out
        assert "--adopt no-such-task: the gateway refused that task id" in ledger(tmp_path / "out")[0]["error"]


@pytest.mark.parametrize(("adopt", "message"), [
    ("s1=task-b", "--adopt s1: it is done with task "),
    ("s9=task-b", "--adopt: no shot with id 's9'"),
    ("s0", "--adopt: 's0': want SHOT=TASK_ID"),
    ("s0=..", "--adopt: 's0=..': '..' cannot be a task id"),
    ("s0=t\udcff", "--adopt: 's0=t\\udcff': 't\\udcff' cannot be a task id"),  # no UTF-8: no journal takes it
    ("s0=a --adopt s0=b", "--adopt: s0 is given two tasks"),
    ("s0=TASK_OF_S1", "--adopt s0=TASK_OF_S1: that task is s1's already"),
    ("s2=task-c", "--adopt s2: it is new; only an uncertain shot"),
    ("s0=task-c --force s0", "--adopt s0: it is forced; only an uncertain shot"),
])
def test_adopting_a_task_is_refused_where_it_cannot_be_right(
        simulator: Sim, run_batch: Run, tmp_path: Path, write_manifest: Callable[..., Path], adopt: str,
        message: str) -> None:
    sim = simulator()
    shots = "".join(f"  - {{id: s{i}, model: wan2.5-t2v-preview, prompt: shot {i}}}\n" for i in range(2))
    assert run_batch(write_manifest(f"version: 1\nshots:\n{shots}"), sim)[0] == 0
    with sqlite_db(tmp_path / "out" / "journal.sqlite") as db:
        db.execute("UPDATE shots SET state='uncertain', task_id=NULL WHERE id='s0'")
        task_of_s1 = db.execute("SELECT task_id FROM shots WHERE id='s1'").fetchone()[0]
    manifest = write_manifest(f"version: 1\nshots:\n{shots}  - {{id: s2, model: sora-2, prompt: new}}\n")
    before = len(sim.record.submissions), sum(sim.record.polls.values())
    code, _, err = run_batch(manifest, sim, "--adopt", *adopt.replace("TASK_OF_S1", task_of_s1).split())
    assert code == 2 and message.replace("TASK_OF_S1", task_of_s1) in err and len(err.splitlines()) == 1, err
    assert (len(sim.record.submissions), sum(sim.record.polls.values())) == before


def test_half_written_download_is_finished(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    sim = simulator()
    assert run_batch(MANIFESTS / "veo.yaml", sim)[0] == 0
    out = tmp_path / "out"
    video = out / "veo31-frames.mp4"
    (out / "veo31-frames.mp4.part").write_bytes(video.read_bytes()[:100])
    video.unlink()
    with sqlite_db(out / "journal.sqlite") as db:
        db.execute("UPDATE shots SET state='downloading' WHERE id='veo31-frames'")
    created = len(sim.record.created())
    assert run_batch(MANIFESTS / "veo.yaml", sim)[0] == 0
    assert video.read_bytes()[4:8] == b"ftyp" and not (out / "veo31-frames.mp4.part").exists()
    assert len(sim.record.created()) == created


def test_a_deleted_video_is_downloaded_again_without_resubmitting(simulator: Sim, run_batch: Run,
                                                                   tmp_path: Path) -> None:
    sim = simulator()
    assert run_batch(MANIFESTS / "sora.yaml", sim)[0] == 0
    out = tmp_path / "out"
    (out / "cat-portrait.mp4").unlink()
    (out / "cat-night-remix.mp4").write_bytes(b"")  # empty: it holds nothing of anybody's
    (out / "cat-landscape.mp4").write_bytes(b"my cut")  # written over by the user: not replaced
    code, _, err = run_batch(MANIFESTS / "sora.yaml", sim)
    assert code == 0 and "plan: 2 done, 2 download" in err, err
    assert (out / "cat-portrait.mp4").is_file() and (out / "cat-night-remix.mp4").stat().st_size > 0
    assert (out / "cat-landscape.mp4").read_bytes() == b"my cut" and len(sim.record.created()) == 4
    assert re.search(r"cat-landscape: done: its video is not the one downloaded \(6 bytes, not [\d,]+\): left as it "
                     "is; delete it to fetch the downloaded one again from its task, with no new render", err), err


def test_a_renamed_shot_takes_its_video_and_is_not_paid_for_again(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path) -> None:
    """A new id with the request of a done shot the manifest no longer has: that shot renamed. It was rendered and
    paid for again; now its video is linked under the new id, at no cost, and --force renders it anew."""
    sim, out = simulator(), tmp_path / "out"
    shots = "version: 1\ndefaults: {{model: wan2.5-t2v-preview}}\nshots:\n  - {{id: {}, prompt: a cat}}\n" \
            "  - {{id: {}, prompt: a dog}}\n  - {{id: dog-take-2, prompt: a dog}}\n"
    assert run_batch(write_manifest(shots.format("cat", "dog")), sim)[0] == 0
    assert len(sim.record.created()) == 3  # two shots of one manifest with one request: two takes, both rendered
    renamed = write_manifest(shots.format("kitten", "puppy"))
    code, text, err = run_batch(renamed, sim)
    assert code == 0 and err.startswith("plan: 2 copy, 1 done\n"), err
    assert ("kitten: copy: the same request as cat, done in this folder and not in this manifest: its video, not "
            "rendered again (--force kitten renders it anew)") in err
    assert len(sim.record.created()) == 3 and ("estimated $0.37 for the 1 shot rendered (and 2 copies of videos "
                                               "rendered before, at no cost), billed $0.37") in text, text
    assert (out / "puppy.mp4").read_bytes() == (out / "dog.mp4").read_bytes() and (out / "dog.mp4").is_file()
    rows = {row["shot_id"]: row for row in ledger(out)}
    assert rows["puppy"]["task_id"] == rows["dog"]["task_id"] and rows["puppy"]["estimated_usd"] == "0"
    assert rows["puppy"]["price_source"].startswith("a copy of dog's video")
    assert rows["kitten"]["sha256"] == hashlib.sha256((out / "kitten.mp4").read_bytes()).hexdigest()
    (out / "kitten.mp4").unlink()  # as if the run was killed after its journal took the copy, before the link
    code, _, err = run_batch(renamed, sim)
    assert code == 0 and "plan: 2 done, 1 download" in err and (out / "kitten.mp4").is_file(), err
    code, _, err = run_batch(renamed, sim, "--force", "puppy")
    assert code == 0 and len(sim.record.created()) == 4 and "plan: 1 forced, 2 done" in err, err


def test_a_shot_changed_back_to_an_earlier_request_takes_that_version_s_video(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path) -> None:
    """A prompt tried and put back: the shot rendered, and was paid for, a third time."""
    sim, out = simulator(), tmp_path / "out"
    shot = "version: 1\nshots:\n  - {{id: hero, model: wan2.5-t2v-preview, prompt: {}}}\n"
    first, tried = write_manifest(shot.format("a cat")), write_manifest(shot.format("a cat at dusk"), "tried.yaml")
    assert run_batch(first, sim)[0] == 0 and run_batch(tried, sim)[0] == 0 and len(sim.record.created()) == 2
    video = (out / "hero@1.mp4").read_bytes()
    code, text, err = run_batch(first, sim)
    assert code == 0 and len(sim.record.created()) == 2, err
    assert "1 done; no shot rendered, nothing billed (1 copy of a video rendered before, at no cost)" in text, text
    assert ("plan: 1 copy\n  hero: copy: was done; that version is kept as hero@2 with its video hero@2.mp4; the "
            "request of hero@1 again: its video, not rendered again (--force hero renders it anew)") in err, err
    assert (out / "hero.mp4").read_bytes() == video and (out / "hero@2.mp4").is_file()
    rows = {row["shot_id"]: row for row in ledger(out)}
    assert rows["hero"]["prompt"] == "a cat" and rows["hero"]["task_id"] == rows["hero@1"]["task_id"]
    assert rows["hero@2"]["prompt"] == "a cat at dusk"


@pytest.mark.usefixtures("brief_backoff")
def test_429_and_5xx_storms_create_no_duplicates(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    sim = simulator(submit_429_rate=0.3, poll_429_rate=0.3, retry_after=0.05, error_rate=0.15, error_burst=2,
                    malformed_rate=0.05, seed=11)
    code, out, err = run_batch(MANIFESTS / "seedance.yaml", sim)
    created = [s.task_id for s in sim.record.created()]
    uncertain = [r for r in ledger(tmp_path / "out") if r["status"] == "uncertain"]
    # a 200 whose body is broken may hide a created task: those shots are uncertain, never resent
    assert len(created) == 7 and code == (1 if uncertain else 0), out + err
    assert sim.record.faults["429"] > 0 and sim.record.faults["5xx"] > 0


def test_a_gateway_stricter_than_the_rate_is_found_from_its_429s(simulator: Sim, run_batch: Run,
                                                                 write_manifest: Callable[..., Path]) -> None:
    # --rate 80/s against a gateway that allows 40/s: requests already waiting for a slot when a 429 comes must
    # wait for the pause too, or they draw 429 after 429 (26 % of requests did, before)
    sim = simulator(render_seconds=(0.1, 0.3), rate_limit_rps=40, retry_after=0.5)
    shots = "".join(f"  - {{id: s{i:02d}, model: wan2.5-t2v-preview, prompt: shot {i}}}\n" for i in range(60))
    code, out, _ = run_batch(write_manifest(f"version: 1\nshots:\n{shots}"), sim, "--rate", "80/s",
                             "--concurrency", "60", "--poll-interval", "0.2", "--fixed-polling")
    throttled, requests = sim.record.answers[429], len(sim.record.request_times)
    assert code == 0 and 0 < throttled <= requests // 10, (throttled, requests)
    assert "the gateway answered 429" in out and "the rate settled at" in out


def test_a_providers_429s_slow_its_own_family_only(simulator: Sim, run_batch: Run,
                                                   write_manifest: Callable[..., Path]) -> None:
    """The gateway passes a provider's 429 through (Vertex Veo preview: 10 requests a minute): it must cut Veo's
    pace, not the pace of the Wan shots beside it."""
    sim = simulator(render_seconds=(0.3, 0.5), upstream_rps={"veo": 4.0}, retry_after=0.3)
    shots = "".join(f"  - {{id: v{i}, model: veo-3.0-fast-generate-001, prompt: shot {i}}}\n" for i in range(4))
    shots += "".join(f"  - {{id: w{i}, model: wan2.5-t2v-preview, prompt: shot {i}}}\n" for i in range(8))
    code, out, _ = run_batch(write_manifest(f"version: 1\nshots:\n{shots}"), sim, "--rate", "40/s",
                             "--concurrency", "12", "--poll-interval", "0.05", "--fixed-polling")
    assert code == 0 and sim.record.faults["upstream_429"] > 0, out
    lines = [line.strip() for line in out.splitlines() if "the gateway answered 429" in line]
    assert len(lines) == 1 and lines[0].startswith("veo: "), out  # Wan's pace was never cut
    # where the provider pushed back: a pace the limiter had come down to, at most the ceiling
    pace = re.search(r", the latest at a pace of ([\d.]+)/s; the rate settled at", lines[0])
    assert pace is not None and 0 < float(pace.group(1)) <= 40.0, lines
    assert "a limit they share" not in out  # nor the pace of both together


def test_a_familys_own_rate_keeps_it_under_its_providers_limit(simulator: Sim, run_batch: Run,
                                                                write_manifest: Callable[..., Path]) -> None:
    """Vertex Veo preview takes 10 requests a minute: a user who knows it says so for the veo family, and its
    requests keep to it from the first, drawing no 429 (found from 429s alone, it draws several on the way), while
    the Wan shots beside it go at the run's rate."""
    veo = "".join(f"  - {{id: v{i}, model: veo-3.0-fast-generate-001, prompt: shot {i}}}\n" for i in range(5))
    wan = "".join(f"  - {{id: w{i}, model: wan2.5-t2v-preview, prompt: shot {i}}}\n" for i in range(5))
    flags = ("--rate", "40/s", "--concurrency", "10", "--poll-interval", "0.3", "--fixed-polling")
    own = write_manifest(f"version: 1\ngateway:\n  families:\n    veo: {{rate: 5/s}}\nshots:\n{veo}{wan}")
    # the provider takes 6 a second, the family's rate a little under it as a user would set it: requests spaced
    # 0.2 s apart as they leave may arrive closer together on a loaded machine, as they may over a network
    sim = simulator(render_seconds=(0.2, 0.3), upstream_rps={"veo": 6.0}, retry_after=0.3)
    code, out, _ = run_batch(own, sim, *flags)
    assert code == 0 and sim.record.faults["upstream_429"] == 0 and "answered 429" not in out, out
    wan_submits = [s.at for s in sim.record.created() if s.model.startswith("wan")]
    veo_submits = [s.at for s in sim.record.created() if s.model.startswith("veo")]
    assert max(wan_submits) - min(wan_submits) < 0.5 < max(veo_submits) - min(veo_submits)  # each at its own pace
    alone = write_manifest(f"version: 1\nshots:\n{veo}{wan}", name="alone.yaml")
    sim = simulator(render_seconds=(0.2, 0.3), upstream_rps={"veo": 6.0}, retry_after=0.3)
    assert run_batch(alone, sim, *flags, "--out", str(alone.parent / "alone"))[0] == 0
    assert sim.record.faults["upstream_429"] > 0


def test_a_familys_own_concurrency_lets_other_families_use_the_slots_it_would_hold_queued(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path]) -> None:
    """Vidu renders 5 tasks an organisation at once and queues the rest: a user who says so for the vidu family has
    the slots its queued tasks would hold go to the next shots of other families (before, the Wan shots after the
    Vidu ones in the manifest waited for Vidu's renders)."""
    vidu = "".join(f"  - {{id: v{i}, model: viduq3p-720p, prompt: shot {i}}}\n" for i in range(4))
    wan = "".join(f"  - {{id: w{i}, model: wan2.5-t2v-preview, prompt: shot {i}}}\n" for i in range(4))
    flags = ("--concurrency", "4", "--rate", "unlimited", "--poll-interval", "0.05", "--fixed-polling")

    def wan_waited(manifest: Path, out: str) -> float:
        """Seconds from the first Vidu submit to the first Wan submit."""
        sim = simulator(render_seconds=(0.6, 0.6), upstream_in_flight={"vidu": 2})
        code, summary, _ = run_batch(manifest, sim, *flags, "--out", str(manifest.parent / out))
        assert code == 0 and "batchvid: 8 done;" in summary, summary
        made = sim.record.created()
        assert len(made) == 8
        return (min(s.at for s in made if s.model.startswith("wan"))
                - min(s.at for s in made if s.model.startswith("vidu")))

    own = write_manifest(f"version: 1\ngateway:\n  families:\n    vidu: {{concurrency: 2}}\nshots:\n{vidu}{wan}")
    assert wan_waited(own, "own") < 0.3  # two Vidu shots and two Wan shots at once
    alone = write_manifest(f"version: 1\nshots:\n{vidu}{wan}", name="alone.yaml")
    assert wan_waited(alone, "alone") > 0.5  # four Vidu shots, two of them queued, until the first render ended


@pytest.mark.parametrize(("family", "queued", "other"), [("vidu", "viduq3p-720p", "wan2.5-t2v-preview"),
                                                        ("wan", "wan2.5-t2v-preview", "viduq3p-720p")])
def test_a_provider_that_queues_is_found_from_the_polls_and_its_family_kept_to_what_it_renders(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], family: str, queued: str,
        other: str) -> None:
    """Without the family's concurrency in the manifest: tasks still queued after two poll intervals while another
    of the family renders show its provider's limit, and the slots that more queued tasks would hold go to the other
    family's shots behind them (before, each freed slot went to the next shot of the family, and the others waited
    for all of them to be submitted). Vidu says `queued`; Wan says `in_progress` with its task_status PENDING."""
    sim = simulator(render_seconds=(0.5, 0.5), upstream_in_flight={family: 1})
    first = "".join(f"  - {{id: q{i}, model: {queued}, prompt: shot {i}}}\n" for i in range(6))
    then = "".join(f"  - {{id: o{i}, model: {other}, prompt: shot {i}}}\n" for i in range(4))
    code, out, _ = run_batch(write_manifest(f"version: 1\nshots:\n{first}{then}"), sim, "--concurrency", "4",
                             "--rate", "unlimited", "--poll-interval", "0.05", "--fixed-polling")
    assert code == 0 and "batchvid: 10 done;" in out, out
    made = sorted(sim.record.created(), key=lambda s: s.at)
    first_other = next(i for i, s in enumerate(made) if s.model == other)
    # the 4 slots went to the queueing family's shots first (1 rendering, 3 queued); the first to free went to a shot
    # of the other family, where it went to the fifth of the first before (and the next to the sixth)
    assert first_other == 4, [s.model for s in made]
    # a task that ended since its last poll may still count as rendering: 1 or 2 here
    said = re.search(rf"^  {family}: its tasks queued while (\d+) of them rendered, its provider's limit as it seems: "
                     r"the family was kept to \1 in flight while other families' shots waited for slots "
                     rf"\(gateway\.families\.{family}\.concurrency: \1 in the manifest holds from the first submit\)$",
                     out, re.M)
    assert said is not None and int(said.group(1)) <= 2, out


def test_a_provider_limit_found_from_the_polls_holds_back_no_shot_that_nothing_else_waits_for(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path]) -> None:
    """With no other family's shots waiting for the slots, the family's tasks go on queueing at its provider, as
    without the limit: there they start the moment it takes them, where a shot held back would wait for a poll to
    see its slot free, and then for its submit."""
    sim = simulator(render_seconds=(0.2, 0.2), upstream_in_flight={"vidu": 1})
    vidu = "".join(f"  - {{id: v{i}, model: viduq3p-720p, prompt: shot {i}}}\n" for i in range(8))
    code, out, _ = run_batch(write_manifest(f"version: 1\nshots:\n{vidu}"), sim, "--concurrency", "4", "--rate",
                             "unlimited", "--poll-interval", "0.05", "--fixed-polling")
    assert code == 0 and "batchvid: 8 done;" in out, out
    offset = time.time() - time.monotonic()  # the simulator runs in this process: its clocks are these
    made = sorted(sim.record.created(), key=lambda s: s.at)

    def in_flight(at: float) -> int:
        return sum(1 for s in made if s.at <= at < sim.record.done_seen[s.task_id or ""] + offset)

    # the fifth shot onwards went as slots freed, beside three other tasks (kept to one, each would have gone alone)
    assert min(in_flight(s.at) for s in made[4:-1]) >= 3, [in_flight(s.at) for s in made]
    assert "its provider's limit as it seems" not in out  # nothing was held back: nothing to say


def test_a_limit_of_the_whole_gateway_is_found_by_its_families_together(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path]) -> None:
    """The gateway's own limit, met by three families: each finding it from its own 429s alone drew 4x the 429s
    that one family draws (bench/ratelimit.py)."""
    sim = simulator(render_seconds=(0.1, 0.3), rate_limit_rps=40, retry_after=0.5)
    models = ["wan2.5-t2v-preview", "veo-3.0-fast-generate-001", "doubao-seedance-1-0-pro-250528"]
    shots = "".join(f"  - {{id: s{i:02d}, model: {models[i % 3]}, prompt: shot {i}}}\n" for i in range(60))
    code, out, _ = run_batch(write_manifest(f"version: 1\nshots:\n{shots}"), sim, "--rate", "80/s",
                             "--concurrency", "60", "--poll-interval", "0.2", "--fixed-polling")
    throttled, requests = sim.record.answers[429], len(sim.record.request_times)
    assert code == 0 and 0 < throttled <= requests // 10, (throttled, requests, out)
    assert "429s of several families at once, a limit they share" in out, out


def test_expired_urls_are_refreshed(simulator: Sim, run_batch: Run) -> None:
    sim = simulator(expire_first_urls=True)
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    assert all(count >= 2 for count in sim.record.polls.values())


def test_a_download_waiting_to_try_again_holds_no_download_slot(simulator: Sim, run_batch: Run, runners: list[Any],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from batchvid import fetching

    slot_held_while_waiting: list[bool] = []

    def backoff(attempt: int, retry_after: float | None, cap: float, base: float = 0.5) -> float:
        slot_held_while_waiting.append(runners[0].downloads.slots.locked())
        return 0.01

    monkeypatch.setattr(fetching, "backoff", backoff)
    sim = simulator(expire_first_urls=True)  # every task's first video URL has expired: one wait, then a new URL
    manifest = MANIFESTS / "wan.yaml"
    assert run_batch(manifest, sim, "--download-concurrency", "1", "--only", "wan-text")[0] == 0
    # one shot alone: had it kept its slot while it waited, the one slot would have been taken
    assert slot_held_while_waiting == [False]


def test_a_paid_video_is_not_given_up_while_the_gateway_cannot_say_where_it_is(
        simulator: Sim, run_batch: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its URL expired, then asking for a fresh one met a burst of errors longer than the download's tries: the
    shot was left `downloading` until the next run (bench/chaos.py caught it)."""
    from batchvid import fetching, gateway, submitting

    real_query = gateway.Gateway.query
    calls: list[str] = []

    async def query(self: gateway.Gateway, task_id: str) -> dict[str, Any]:
        calls.append(task_id)
        if 2 <= len(calls) <= 5:  # the first poll saw it done (with an expired URL); then 4 answers of 503
            raise gateway.Transient("HTTP 503: Service Unavailable", 503)
        return await real_query(self, task_id)

    monkeypatch.setattr(gateway.Gateway, "query", query)
    for module in (submitting, fetching):
        monkeypatch.setattr(module, "backoff", lambda *args, **kwargs: 0.01)
    sim = simulator(render_seconds=(0.0, 0.0), expire_first_urls=True)
    code, out, _ = run_batch(MANIFESTS / "wan.yaml", sim, "--only", "wan-text")
    # the expired URL took one of the download's 5 tries; the 4 failed asks took none (they took all 4 left)
    assert code == 0 and len(calls) == 6, out
    assert len(sim.record.created()) == 1


def test_a_video_whose_every_url_is_refused_says_it_may_be_past_the_gateways_keeping(
        simulator: Sim, run_batch: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resumed days later, a Veo video (kept about 12 h) is gone: each fresh URL is refused as the first was. The
    shot stays `downloading` (the storage may yet serve it), and the reason says what is likely."""
    from batchvid import fetching

    monkeypatch.setattr(fetching, "backoff", lambda *args, **kwargs: 0.01)
    # each fresh URL is asked for 1 s after the last try: two tries, not five, keep the test short
    monkeypatch.setattr(runsettings, "RunSettings", functools.partial(runsettings.RunSettings, download_tries=2,
                                                                      download_patience=0))
    sim = simulator(url_ttl=-60.0, veo_url_style="string")  # every URL the gateway gives has expired already
    code, out, _ = run_batch(MANIFESTS / "veo.yaml", sim, "--only", "veo30-text")
    assert code == 1 and states(tmp_path / "out") == {"veo30-text": "downloading"}
    error = ledger(tmp_path / "out")[0]["error"]
    assert error.startswith("download failed: storage answered HTTP 403 for ") and error.endswith(
        "; the storage refused the URLs the gateway gave for it: the video may be past the time the gateway keeps it "
        "(veo videos: about 12 h); run again to retry"), error
    assert len(sim.record.created()) == 1


def test_the_next_step_tells_a_refused_request_from_a_provider_that_failed(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path) -> None:
    """--retry-failed would send a refused request as it is, to be refused again: the step for it is to change it.
    A changed shot is new work, sent by the next run with no flag."""
    sora = "version: 1\nshots:\n  - {id: refused, model: sora-2, prompt: %s}\n"
    wan = "  - {id: broken, model: wan2.5-t2v-preview, prompt: a river}\n"
    sim = simulator(fail_rate=1.0)
    run_batch(write_manifest(sora % "a fight"), sim)
    sim2 = simulator(provider_fail_rate=1.0)
    code, out, _ = run_batch(write_manifest(sora % "a fight" + wan), sim2, "--task-retries", "0")
    assert code == 1 and [line for line in out.splitlines() if "next:" in line] == [
        "  next: change what the gateway refused in the 1 shot(s) failed for their request (their content, a "
        "parameter: see the reasons), then run again: a changed shot is sent anew, whereas --retry-failed sends it as "
        "it is, to be refused again",
        "  next: add --retry-failed to submit the other failed shots again (failed tasks are not charged)"], out
    code, _, err = run_batch(write_manifest(sora % "a hug" + wan), simulator())
    assert code == 1 and "plan: 1 changed, 1 failed" in err, err
    assert states(tmp_path / "out") == {"refused": "done", "broken": "failed", "refused@1": "failed"}


def test_failed_tasks_cost_nothing_and_exit_1(simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path) -> None:
    sim = simulator(fail_rate=1.0)
    code, out, _ = run_batch(MANIFESTS / "sora.yaml", sim)
    assert code == 1 and "content_policy_violation" in out
    # the gateway's 0 for a failed task is no billing report for a rendered shot
    assert out.startswith("batchvid: 4 failed; no shot rendered, nothing billed;"), out
    assert out.splitlines()[-1] == (
        "  next: change what the gateway refused in the 4 shot(s) failed for their request (their content, a "
        "parameter: see the reasons), then run again: a changed shot is sent anew, whereas --retry-failed sends it as "
        "it is, to be refused again")
    assert {(r["status"], r["billed_usd"]) for r in ledger(tmp_path / "out")} == {("failed", "0")}
    # one reason, one line, in the summary and in status: a thousand such shots would not be a thousand lines
    ids = [r["shot_id"] for r in ledger(tmp_path / "out")]
    line = (f"  {len(ids)} shots ({', '.join(ids[:3])} and {len(ids) - 3} more): failed: task failed: "
            "content_policy_violation: Prompt contains inappropriate content")
    assert len(ids) > 3 and line in out.splitlines()
    assert line in cli("status", tmp_path / "out")[1].splitlines()


def test_problems_past_twenty_reasons_are_counted_not_listed() -> None:
    from batchvid import journal as j
    from batchvid.summary import problem_lines

    rows = [j.Row(id=f"s{i}", fingerprint="", model="sora-2", state=j.FAILED, error=f"reason {i % 25}")
            for i in range(50)] + [j.Row(id="ok", fingerprint="", model="sora-2", state=j.DONE)]
    lines = problem_lines(rows)
    assert len(lines) == 21 and lines[0] == "  2 shots (s0, s25): failed: reason 0"
    assert lines[-1] == "  ... and 10 more shots (see the ledger)"  # reasons 20-24, two shots each


def test_the_next_step_says_how_long_each_family_keeps_the_videos_in_flight() -> None:
    """Published keeping times only: Sora's videos come through the gateway, which publishes none."""
    from batchvid import journal as j
    from batchvid.summary import next_steps

    rows = [j.Row(id="v", fingerprint="", model="veo-3.0-fast-generate-001", state=j.SUBMITTED),
            j.Row(id="w", fingerprint="", model="wan2.5-t2v-preview", state=j.DOWNLOADING),
            j.Row(id="d", fingerprint="", model="doubao-seedance-1-0-pro-250528", state=j.SUBMITTED),
            j.Row(id="s", fingerprint="", model="sora-2", state=j.SUBMITTED),
            j.Row(id="done", fingerprint="", model="veo-3.1-fast-generate-preview", state=j.DONE)]
    assert next_steps(rows) == [
        "run the same command again to continue (tasks in flight are polled, never resent); before long: the gateway "
        "keeps a finished video about 12 h (veo), about 24 h (seedance, wan), and one fetched later is lost, though "
        "paid for"]
    assert next_steps(rows[3:]) == ["run the same command again to continue (tasks in flight are polled, never resent)"]


def test_large_videos_arrive_whole_by_every_route(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    # by URL, by Sora's base64 endpoint and as Veo data: URIs; chunks this large are written off the loop
    sim = simulator(veo_url_style="data", video_bytes=1_500_000)
    assert run_batch(MANIFESTS / "demo.yaml", sim)[0] == 0
    for row in ledger(tmp_path / "out"):
        video = (tmp_path / "out" / row["output"]).read_bytes()
        assert len(video) == int(row["bytes"]) == 1_500_000
        assert hashlib.sha256(video).hexdigest() == row["sha256"] == sim.record.served_sha256[row["task_id"]]
    assert not list((tmp_path / "out").glob("*.part"))


@pytest.mark.parametrize("flags, most", [((), 4), (("--download-concurrency", "1"), 1)])
def test_downloads_have_a_pool_of_their_own(simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path],
                                            flags: tuple[str, ...], most: int) -> None:
    # six tasks finish within a poll interval; storage holds each download to 0.5 s: the pool decides how many
    # overlap
    sim = simulator(render_seconds=(0.05, 0.05), video_bytes=512 * 1024, storage_bytes_per_second=1024**2)
    shots = "".join(f"  - {{id: s{i}, model: wan2.5-t2v-preview, prompt: p}}\n" for i in range(6))
    assert run_batch(write_manifest(f"version: 1\nshots:\n{shots}"), sim, "--concurrency", "6", *flags)[0] == 0
    assert sim.record.storage_in_flight_peak == most


def test_max_cost_refuses_before_any_submit(simulator: Sim, run_batch: Run) -> None:
    sim = simulator()
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim, "--max-cost", "1")
    assert code == 2 and "exceeds --max-cost" in err
    assert sim.record.submissions == []
    assert run_batch(MANIFESTS / "wan.yaml", sim, "--max-cost", "3.2595", "--concurrency", "8")[0] == 0
    assert len(sim.record.created()) == 5


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_max_cost_counts_what_the_gateway_bills_not_only_the_estimate(
        simulator: Sim, run_batch: Run, tmp_path: Path, write_manifest: Callable[..., Path], concurrency: str) -> None:
    """An account whose group ratio is 2 is billed twice the table's prices. The estimate ($0.74) fits a cap of
    $0.75, and all four shots used to be sent: $1.48. Wan's submit answer says the bill before anything is charged;
    reservations follow it, so the cap holds against the bills (under a cap, a model's first submit goes alone, so
    the four slots do not all reserve at the estimate before that answer)."""
    sim = simulator(group_ratio=2.0)
    shots = "".join(f"  - {{id: s{i}, prompt: p{i}}}\n" for i in range(4))
    manifest = write_manifest("version: 1\ndefaults: {model: wan2.5-t2v-preview, resolution: 480p, duration: 5}\n"
                              f"shots:\n{shots}")
    code, out, _ = run_batch(manifest, sim, "--max-cost", "0.75", "--concurrency", concurrency)
    billed = sum(Decimal(row["billed_usd"] or 0) for row in ledger(tmp_path / "out"))
    assert code == 1 and len(sim.record.created()) == 2 and billed == Decimal("0.738") <= Decimal("0.75")
    assert ("  next: raise --max-cost (or the manifest's run.max_cost) to submit the 2 shot(s) it held back: the same "
            "cap would hold them back again") in out.splitlines()
    assert ("  wan2.5-t2v-preview: the gateway bills 2.00x the estimate (an account's group ratio, or a price above "
            "the table's); --max-cost counted it.") in out
    # the next run knows the bills from the journal: its plan says what the rest will likely cost; the same cap
    # sends nothing more, and a cap that fits sends the rest
    code, _, err = run_batch(manifest, sim, "--dry-run")
    assert err.splitlines()[0] == ("plan: 2 new, 2 done; to submit: 2 shots, estimated $0.37 (about $0.74 at the "
                                   "gateway's bills so far)")
    assert run_batch(manifest, sim, "--max-cost", "0.75")[0] == 1 and len(sim.record.created()) == 2
    assert run_batch(manifest, sim, "--max-cost", "1.48")[0] == 0 and len(sim.record.created()) == 4


def test_missing_key_says_how_to_set_it(cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BATCHVID_API_KEY", raising=False)
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--out", tmp_path / "o")
    assert code == 2
    assert err.strip().splitlines() == [
        "batchvid: error: no API key for the wan models: set the environment variable "
        "BATCHVID_API_KEY (export BATCHVID_API_KEY=sk-...), or rehearse for free with --simulate"]
    assert not (tmp_path / "o").exists()  # said before anything was made


def test_a_key_pasted_with_its_line_break_works_and_a_key_no_header_can_carry_is_refused(
        simulator: Sim, run_batch: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """aiohttp refused the line break only as each request was made, after the shot was marked `submitting`: every
    shot was left to come back uncertain, though nothing had been sent."""
    sim = simulator()
    for key in ("sk-bad\u00e9-key", "sk-bad key", "sk-bad\x1bkey"):
        monkeypatch.setenv("BATCHVID_API_KEY", key)
        code, _, err = run_batch(MANIFESTS / "wan.yaml", sim)
        assert code == 2 and err.strip() == (
            "batchvid: error: the API key in BATCHVID_API_KEY holds a blank, a control character or a non-ASCII "
            "letter, which no API key has: set it again, copied as the gateway shows it"), err
        assert sim.record.submissions == [] and not (tmp_path / "out").exists()
    monkeypatch.setenv("BATCHVID_API_KEY", f"Bearer {SIM_KEY}")  # copied from a curl line
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim)
    assert code == 2 and err.strip() == ("batchvid: error: the API key in BATCHVID_API_KEY starts with 'Bearer ': set "
                                         "the key alone, without that word"), err
    assert sim.record.submissions == [] and not (tmp_path / "out").exists()
    monkeypatch.setenv("BATCHVID_API_KEY", f" {SIM_KEY}\n")
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0 and len(sim.record.created()) == 5


@pytest.mark.parametrize("key", ["x", "sk-1234"])
def test_a_key_shorter_than_any_gateways_is_refused_before_anything_is_sent(
        simulator: Sim, run_batch: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str) -> None:
    """Such a key cannot be kept out of what is written, nor told from a task id that holds it by chance: with the key
    `x`, a rehearsal of the demo left two shots uncertain, their task ids "holding the key"."""
    sim = simulator()
    monkeypatch.setenv("BATCHVID_API_KEY", key)
    for flags in [(), ("--simulate",)]:
        code, _, err = run_batch(MANIFESTS / "wan.yaml", sim, *flags)
        assert code == 2 and err.strip().splitlines()[-1] == (
            f"batchvid: error: the API key in BATCHVID_API_KEY is {len(key)} character{'s' * (len(key) > 1)} long, "
            "shorter than any gateway's key (8 at least): set it again, copied whole as the gateway shows it"), err
    assert sim.record.submissions == [] and not any(tmp_path.glob("out*"))


def test_a_missing_key_for_an_unfinished_batch_is_said_after_its_plan(
        simulator: Sim, run_batch: Run, cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sim = simulator(fail_rate=1.0)
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 1  # every task failed: --retry-failed has work
    monkeypatch.delenv("BATCHVID_API_KEY")
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--out", tmp_path / "out", "--retry-failed")
    assert code == 2 and err.startswith("plan: 5 retry; to submit: 5 shots") and "no API key for the wan models" in err
    # the plan was shown, not made: the shots stay failed, not queued for a later run without --retry-failed
    assert set(states(tmp_path / "out").values()) == {"failed"}


def test_a_task_past_its_deadline_is_waited_for_again_with_a_larger_one(
        simulator: Sim, run_batch: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """The deadline counts from the task's submit, in whichever run. The shot said "run again to re-attach", and the
    run after it polled the task once and gave up again at once: the reason and the next step now say how to wait
    longer."""
    sim = simulator(render_seconds=(3.0, 3.0))  # longer than two runs take, however busy the machine
    manifest = write_manifest("version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: p}\n")
    for _ in range(2):
        code, out, _ = run_batch(manifest, sim, "--deadline-minutes", "0.002")  # 0.12 s
        assert code == 1 and states(tmp_path / "out") == {"a": "submitted"}, out
        task_id = sim.record.created()[0].task_id
        assert ledger(tmp_path / "out")[0]["error"] == (
            f"timed out waiting for task {task_id}, 0.12 s after its submit (--deadline-minutes); it is kept: run "
            "again with a larger --deadline-minutes to wait for it longer")
        assert ("next: run again with a larger --deadline-minutes to wait longer for the tasks that timed out (a run "
                "waits for a task until that long after its submit)") in out, out
    code, out, _ = run_batch(manifest, sim, "--deadline-minutes", "1")
    assert code == 0 and states(tmp_path / "out") == {"a": "done"} and len(sim.record.created()) == 1, out


def test_a_failed_shot_retried_hours_later_gets_the_whole_deadline_for_its_new_task(
        simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    """--retry-failed submits the shot anew: its new task's wait counts from the new submit. The waits of retried
    shots counted from the failed task's submit, so a shot that failed over two hours (--deadline-minutes) before
    gave up on its new, paid task after the first poll that found it rendering."""
    assert run_batch(MANIFESTS / "wan.yaml", simulator(fail_rate=1.0))[0] == 1
    hours_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat()
    with sqlite_db(tmp_path / "out" / j.FILE_NAME) as db:
        assert db.execute("UPDATE shots SET submitted_at=? WHERE state=?", (hours_ago, j.FAILED)).rowcount == 5
    sim = simulator(render_seconds=(0.3, 0.4))  # a few polls each: the first finds the task rendering
    code, out, err = run_batch(MANIFESTS / "wan.yaml", sim, "--retry-failed")
    assert code == 0 and "5 done" in out, out + err
    assert len(sim.record.created()) == 5
    with sqlite_db(tmp_path / "out" / j.FILE_NAME) as db:
        assert all(row[0] > hours_ago for row in db.execute("SELECT submitted_at FROM shots"))


def test_a_price_changed_before_a_shot_is_submitted_is_the_one_its_ledger_row_shows(
        simulator: Sim, run_batch: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """A contract price put in the manifest after a first run: the shots still to submit are priced, reserved
    against --max-cost and written to the ledger at it. Their rows kept the estimate of the run that first planned
    them, while the plan and the cap used the new one."""
    shots = "shots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: p}\n  - {id: b, model: sora-2, prompt: q}\n"
    code, out, _ = run_batch(write_manifest(f"version: 1\n{shots}"), simulator(fail_rate=1.0))
    assert code == 1 and set(states(tmp_path / "out").values()) == {"failed"}, out  # refunded: to retry
    priced = write_manifest(f"version: 1\nprices: {{models: {{wan2.5-t2v-preview: {{per_second: '1', source: our "
                            f"contract, as_of: '2026-11-30'}}}}}}\n{shots}")
    code, out, err = run_batch(priced, simulator(), "--retry-failed")
    assert code == 0 and "to submit: 2 shots, estimated $5.40" in err, err
    rows = {row["shot_id"]: row for row in ledger(tmp_path / "out")}
    assert (rows["a"]["estimated_usd"], rows["b"]["estimated_usd"]) == ("5", "0.40"), rows
    assert rows["a"]["price_source"] == "override: our contract (as of 2026-11-30)" != rows["b"]["price_source"]


def test_a_settled_batch_needs_no_key_and_no_network(simulator: Sim, run_batch: Run, cli: Run,
                                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    requests = sum(sim.record.polls.values()) + len(sim.record.submissions)
    monkeypatch.delenv("BATCHVID_API_KEY")
    for flags in ((), ("--force", "kitten-eyes")):  # the shortcut, then the full path (--force is not a no-op)
        code, out, err = cli("run", MANIFESTS / "wan.yaml", "--out", tmp_path / "out", "--base-url",
                             "http://127.0.0.1:9", *flags)
        if flags:
            assert code == 2 and "no API key" in err  # something to send: now the key is needed
            # and nothing changed: the video not put aside, the shot not queued to be rendered (and paid) again
            assert (tmp_path / "out" / "kitten-eyes.mp4").is_file() and "kitten-eyes@1" not in states(tmp_path / "out")
            assert set(states(tmp_path / "out").values()) == {"done"}
        else:
            assert code == 0 and err.startswith("plan: 5 done") and "5 done" in out, (out, err)
    assert sum(sim.record.polls.values()) + len(sim.record.submissions) == requests


def test_a_changed_shot_keeps_its_earlier_version_and_its_cost(
        simulator: Sim, run_batch: Run, cli: Run, write_manifest: Callable[..., Path], tmp_path: Path) -> None:
    sim = simulator()
    shots = "version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: %s}\n"
    assert run_batch(write_manifest(shots % "a river"), sim)[0] == 0
    out = tmp_path / "out"
    first = (out / "a.mp4").read_bytes()
    code, _, err = run_batch(write_manifest(shots % "a lake"), sim)  # paid for again, the first video kept
    assert code == 0 and "a: changed: was done; that version is kept as a@1 with its video a@1.mp4" in err, err
    assert err.startswith("plan: 1 changed; to submit: 1 shot, estimated $0.37\n")
    assert (out / "a@1.mp4").read_bytes() == first and (out / "a.mp4").read_bytes() != first
    assert run_batch(write_manifest(shots % "a lake"), sim, "--force", "a")[0] == 0
    rows = {row["shot_id"]: row for row in ledger(out)}
    assert sorted(rows) == ["a", "a@1", "a@2"] and {row["status"] for row in rows.values()} == {"done"}
    assert len({row["task_id"] for row in rows.values()}) == 3 and all(row["billed_usd"] for row in rows.values())
    # each version says what it showed: the edit to the manifest did not take the first prompt away
    assert [rows[name]["prompt"] for name in ("a", "a@1", "a@2")] == ["a lake", "a river", "a lake"]
    assert [json.loads(rows[name]["request"])["prompt"] for name in ("a", "a@1")] == ["a lake", "a river"]
    assert sorted(p.name for p in out.glob("*.mp4")) == ["a.mp4", "a@1.mp4", "a@2.mp4"]
    code, text, _ = cli("status", out)
    assert text.splitlines()[:2] == ["1 shot: 1 done; 2 earlier versions kept (a@1, a@2)",
                                     "Estimated $1.11 for the 3 shots rendered, billed $1.11 as the gateway "
                                     "reported it for 3 of them (earlier versions included)"], text


def test_a_journal_from_before_prompts_and_requests_were_kept_gets_them_from_the_unchanged_shots(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path) -> None:
    """The same request is the same prompt: a run of the manifest fills them in, sending nothing again."""
    sim = simulator()
    manifest = write_manifest("version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: a river}\n"
                              "  - {id: b, model: sora-2, prompt: '=1+1 a sum'}\n")
    assert run_batch(manifest, sim)[0] == 0
    out = tmp_path / "out"
    with sqlite_db(out / j.FILE_NAME) as db:  # as batchvid left it before the prompt and request columns
        db.execute("ALTER TABLE shots DROP COLUMN prompt")
        db.execute("ALTER TABLE shots DROP COLUMN request")
        db.execute("DELETE FROM meta WHERE key=?", (settled.META_KEY,))  # made by another batchvid (settled.py)
    (out / "ledger.csv").unlink()
    requests = len(sim.record.request_times)
    code, _, err = run_batch(manifest, sim)
    assert code == 0 and err.startswith("plan: 2 done\n"), err
    assert len(sim.record.request_times) == requests
    # a prompt that a spreadsheet would take for a formula is kept inert, as the gateway's words are
    assert {row["shot_id"]: row["prompt"] for row in ledger(out)} == {"a": "a river", "b": "'=1+1 a sum"}
    assert {row["shot_id"]: json.loads(row["request"]) for row in ledger(out)} == {
        "a": {"model": "wan2.5-t2v-preview", "prompt": "a river", "duration": 5, "resolution": "720p",
              "aspect_ratio": "16:9"},
        "b": {"model": "sora-2", "prompt": "=1+1 a sum", "seconds": "4", "size": "720x1280"}}


def test_each_version_of_a_shot_says_what_was_sent_for_it(simulator: Sim, run_batch: Run, write_manifest: Callable[
        ..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change the prompt does not show (a seed, an image) is in the request kept with each version; an image by
    the sha256 of its data: URI, the same for every shot that sends it, or by its URL without the query (a signed
    URL's signature is a credential, which the user kept out of the manifest)."""
    sim = simulator()
    monkeypatch.setenv("SIGNED_IMAGE", "https://user:pw@images.example/c.png?X-Amz-Signature=s3cr3t")
    shot = ("version: 1\nshots:\n  - {id: a, model: wan2.5-i2v-preview, prompt: 'un chat, 猫', image: %s, seed: %d}\n"
            "  - {id: b, model: wan2.5-i2v-preview, prompt: p, image: images/hero.png}\n"
            "  - {id: c, model: wan2.5-i2v-preview, prompt: p, image: '${SIGNED_IMAGE}'}\n")
    (tmp_path / "images").mkdir()
    for name in ("hero.png", "portrait.png"):
        shutil.copy(MANIFESTS / "images" / name, tmp_path / "images" / name)
    assert run_batch(write_manifest(shot % ("images/hero.png", 1)), sim)[0] == 0
    assert run_batch(write_manifest(shot % ("images/portrait.png", 2)), sim)[0] == 0
    sent = {row["shot_id"]: json.loads(row["request"]) for row in ledger(tmp_path / "out")}
    assert (sent["a@1"]["seed"], sent["a"]["seed"]) == (1, 2)
    assert sent["a@1"]["image"] == sent["b"]["image"] != sent["a"]["image"]
    assert sent["a"]["image"].startswith("sha256:") and sent["a"]["prompt"] == "un chat, 猫"
    assert '""prompt"":""un chat, 猫""' in (tmp_path / "out" / "ledger.csv").read_text(encoding="utf-8")  # not \u732b
    assert sent["c"]["image"] == "https://images.example/c.png?..."
    for path in (tmp_path / "out").iterdir():
        assert b"s3cr3t" not in path.read_bytes() and b"pw@" not in path.read_bytes(), path.name


def test_an_api_key_taken_into_a_prompt_reaches_no_file(simulator: Sim, run_batch: Run, write_manifest: Callable[
        ..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Also in a shot added to a batch begun already, whose run reads the key only once the plan is written."""
    sim = simulator()
    shots = "version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: 'the bearer of ${BATCHVID_API_KEY}'}\n"
    assert run_batch(write_manifest(shots), sim)[0] == 0
    monkeypatch.setattr(errors, "_SECRETS", set())  # each run is a process of its own
    shots += "  - {id: b, model: wan2.5-t2v-preview, prompt: '${BATCHVID_API_KEY}, the bearer of news'}\n"
    assert run_batch(write_manifest(shots), sim)[0] == 0
    out = tmp_path / "out"
    assert [row["prompt"] for row in ledger(out)] == ["the bearer of ***", "***, the bearer of news"]
    for path in out.iterdir():
        assert SIM_KEY.encode() not in path.read_bytes(), path.name


def test_a_short_value_in_a_key_variable_takes_no_word_out_of_a_prompt(
        cli: Run, write_manifest: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run keeps the values of the key variables the manifest names out of what it writes, whether it needs them
    or not. One of three letters is no key: before, the ledger said `*** cat and *** hat`, request and all."""
    monkeypatch.setenv("WAN_KEY", "the")
    shots = ("version: 1\ngateway: {families: {wan: {api_key_env: WAN_KEY}}}\n"
             "shots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: 'the cat and the hat'}\n")
    assert cli("run", write_manifest(shots), "--simulate", "--out", tmp_path / "out", *FAST_RUN)[0] == 0
    [row] = ledger(tmp_path / "out")
    assert row["prompt"] == json.loads(row["request"])["prompt"] == "the cat and the hat"


@needs_proc
def test_an_earlier_videos_new_name_is_synced_before_the_journal_says_it(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal syncs its commits: a power cut after the commit that names a@1.mp4 must not find the rename
    undone, the paid video back as a.mp4, for the new version's download to replace."""
    sim = simulator()
    shots = "version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: %s}\n"
    assert run_batch(write_manifest(shots % "a river"), sim)[0] == 0
    out = (tmp_path / "out").resolve()
    events: list[str] = []
    real_rename, real_insert = os.rename, j.Journal.insert_many

    def rename(source: Any, target: Any, **options: Any) -> None:
        events.append(f"renamed {Path(target).name}")
        real_rename(source, target, **options)

    def insert_many(self: j.Journal, rows: Any) -> None:
        rows = list(rows)
        events.append("recorded " + ",".join(sorted(row.id for row in rows)))
        real_insert(self, rows)

    note_syncs(monkeypatch, lambda path: events.append(f"synced {path}"))
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(j.Journal, "insert_many", insert_many)
    assert run_batch(write_manifest(shots % "a lake"), sim)[0] == 0
    recorded = events.index("recorded a,a@1")
    renamed = events.index("renamed a@1.mp4")
    assert renamed < events.index(f"synced {out}", renamed) < recorded, events


def test_an_earlier_video_renamed_just_before_a_crash_is_found_by_the_next_run(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulator()
    shots = "version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: %s}\n"
    assert run_batch(write_manifest(shots % "a river"), sim)[0] == 0
    out = tmp_path / "out"
    first = (out / "a.mp4").read_bytes()

    def killed(*args: object) -> None:  # the process dies after the rename, before the journal says so
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(j.Journal, "insert_many", killed)
        assert run_batch(write_manifest(shots % "a lake"), sim)[0] == 130
    assert (out / "a@1.mp4").read_bytes() == first and not (out / "a.mp4").exists()
    code, _, err = run_batch(write_manifest(shots % "a lake"), sim)
    assert code == 0 and "that version is kept as a@1 with its video a@1.mp4" in err, err
    rows = {row["shot_id"]: row for row in ledger(out)}
    assert sorted(rows) == ["a", "a@1"] and rows["a@1"]["output"] == "a@1.mp4"
    assert (out / "a@1.mp4").read_bytes() == first


def test_shots_of_the_folder_that_the_manifest_lacks_are_named_and_left_alone(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path) -> None:
    sim = simulator()
    two = "version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: x}\n" \
          "  - {id: b, model: wan2.5-t2v-preview, prompt: y}\n"
    assert run_batch(write_manifest(two), sim)[0] == 0
    other = "version: 1\nshots:\n  - {id: c, model: wan2.5-t2v-preview, prompt: z}\n"
    code, _, err = run_batch(write_manifest(other, name="other.yaml"), sim)  # the same --out
    assert code == 0 and "  2 other shots in this folder's journal are not part of this run: left as they are" in err
    assert sorted(row["shot_id"] for row in ledger(tmp_path / "out")) == ["a", "b", "c"]
    assert len(sim.record.created()) == 3  # nothing of the first manifest was sent again
    code, _, err = run_batch(write_manifest(two.split("  - {id: b")[0]), sim)  # b removed: said, not dropped
    assert code == 0 and "  2 other shots in this folder's journal are not part of this run" in err, err
    for _ in range(2):  # planned, then recognised as settled (without a plan): said both times
        code, _, err = run_batch(write_manifest(two), sim)
        assert code == 0 and err.startswith("plan: 2 done\n  1 other shot in this folder's journal is not part of "
                                            "this run: left as it is"), err


def test_only_runs_the_chosen_shots_and_the_next_run_the_rest(
        simulator: Sim, run_batch: Run, cli: Run, write_manifest: Callable[..., Path], tmp_path: Path) -> None:
    sim = simulator()
    three = write_manifest("version: 1\ndefaults: {model: wan2.5-t2v-preview}\nshots:\n"
                           "  - {id: hero-1, prompt: x}\n  - {id: hero-2, prompt: y}\n  - {id: city, prompt: z}\n")
    code, _, err = run_batch(three, sim, "--only", "hero-*", "--dry-run")
    assert code == 0 and "plan: 2 new; to submit: 2 shots, estimated $0.74" in err, err
    code, out, err = run_batch(three, sim, "--only", "hero-*")
    assert code == 0 and err.startswith("--only: 2 of 3 shots; the other 1 wait for a run without --only\n"
                                        "plan: 2 new; to submit: 2 shots"), err
    assert sorted(row["shot_id"] for row in ledger(tmp_path / "out")) == ["hero-1", "hero-2"]
    assert len(sim.record.created()) == 2 and "batchvid: 2 done" in out
    # status counts the journal's rows: it says the manifest has more, not a finished batch of 2
    code, out, _ = cli("status", tmp_path / "out")
    first = "2 shots: 2 done; 1 more of the manifest not run yet (left out by --only)"
    assert code == 0 and out.splitlines()[0] == first, out
    assert "next: run the manifest without --only to render the 1 shot the latest run left out" in out, out
    code, _, err = run_batch(three, sim, "--only", "city,hero-1")  # ids, comma-separated: hero-1 is done
    assert code == 0 and "plan: 1 new, 1 done; to submit: 1 shot" in err, err
    code, out, _ = cli("status", tmp_path / "out", "--json")  # hero-2, left out this time, has run already
    assert json.loads(out)["not_run"] == 0 and json.loads(out)["next"] == []
    code, _, err = run_batch(three, sim)
    assert code == 0 and err.startswith("plan: 3 done\n"), err
    assert len(sim.record.created()) == 3  # each shot paid for once
    code, _, err = run_batch(three, sim, "--only", "villain-*")
    assert code == 2 and err.strip().endswith("--only: no shot in " + str(three) + " matches 'villain-*'"), err
    code, _, err = run_batch(three, sim, "--only", "hero1")
    assert code == 2 and err.strip().endswith("matches 'hero1' (did you mean 'hero-1'?)"), err
    code, _, err = run_batch(three, sim, "--force", "citty")
    assert code == 2 and "--force: no shot with id 'citty' (did you mean 'city'?) in" in err, err
    broken = write_manifest("version: 1\ndefaults: {model: wan2.5-t2v-preview}\nshots:\n"
                            "  - {id: hero-1, prompt: x}\n  - {id: city, prompt: z, duration: 7}\n")
    code, _, err = run_batch(broken, sim, "--only", "hero-1")  # the whole manifest is still validated
    assert code == 2 and "shot 'city'" in err and len(sim.record.created()) == 3


def test_a_shot_changed_while_its_task_renders_gets_both_videos(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path) -> None:
    sim = simulator(render_seconds=(1.5, 1.5))
    shots = "version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: %s}\n"
    run_batch(write_manifest(shots % "a river"), sim, "--deadline-minutes", "0.005")  # gives up waiting
    task = ledger(tmp_path / "out")[0]["task_id"]
    code, out, err = run_batch(write_manifest(shots % "a lake"), sim)
    assert code == 0 and "a: changed: was submitted; that version is kept as a@1" in err, err
    assert "batchvid: 1 done; earlier versions followed: 1 done; estimated $0.37 for the 1 shot rendered" in out
    assert err.startswith("plan: 1 changed, 1 in-flight; to submit: 1 shot")  # the earlier task is not sent again
    rows = {row["shot_id"]: row for row in ledger(tmp_path / "out")}
    assert rows["a@1"]["task_id"] == task and {row["status"] for row in rows.values()} == {"done"}
    assert len(sim.record.created()) == 2  # one task each; the earlier one was followed to its video
    assert (tmp_path / "out" / "a@1.mp4").read_bytes() != (tmp_path / "out" / "a.mp4").read_bytes()


def test_an_unreachable_gateway_stops_the_run_with_one_line(cli: Run, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from batchvid import outage

    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    monkeypatch.setattr(outage, "UNREACHABLE_NEVER_ANSWERED", 0.5)
    with socket.socket() as closed:  # a port nobody listens on: every connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    started = time.monotonic()
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", f"http://127.0.0.1:{port}", "--out",
                       tmp_path / "out", *FAST_RUN)
    assert time.monotonic() - started < 30  # not eight tries with backoff for every shot in turn
    assert code == 1 and err.splitlines()[-1].startswith(f"batchvid: error: cannot connect to http://127.0.0.1:{port}")
    assert "for over 0 s; stopped" in err and "Traceback" not in err
    assert set(states(tmp_path / "out").values()) == {"pending"}


def test_a_model_whose_submits_draw_only_server_errors_is_left_for_the_next_run(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, quick_outages: None) -> None:
    """A model with no available channel (503 to every submit): each of its shots tried 8 times with backoff,
    holding a slot half a minute, one after another (24 shots: 96 refused submits, 110 s; 500 shots: an hour).
    Now the model is left for the next run once its submits have drawn only 5xx for a while, and the others go on."""
    from batchvid import submitting

    monkeypatch.setattr(submitting, "backoff", lambda *args, **kwargs: 0.1)
    monkeypatch.setattr(submitting, "MAX_SUBMIT_TRIES", 2)  # some shots spend their tries before the model is left
    veo = "veo-3.0-fast-generate-001"
    sim = simulator(unavailable=frozenset({veo}))
    manifest = write_manifest(alternating(30, v=veo, w="wan2.5-t2v-preview"))
    code, out, _ = run_batch(manifest, sim, "--concurrency", "3")
    kept = states(tmp_path / "out")
    assert code == 1 and {kept[f"w{i:02d}"] for i in range(30)} == {"done"}
    assert {kept[f"v{i:02d}"] for i in range(30)} == {"pending"}
    # 6 in a row for 0.3 s with 3 slots at 0.1 s apart: a few shots' tries, not 30 shots x 2
    assert 6 <= sim.record.faults["unavailable"] <= 24, sim.record.faults
    # one reason for them all, those that had spent their tries included
    assert "30 shots (v00, v01, v02 and 27 more): pending: submit: veo-3.0-fast-generate-001: its last" in out, out
    assert "all drew server errors (the last: HTTP 503: No available channel for model" in out
    # the channel is back: the next run sends them
    sim2 = simulator()
    code, _, err = run_batch(manifest, sim2)
    assert code == 0 and "plan: 30 new, 30 done" in err and len(sim2.record.created()) == 30, err


def test_a_shot_waiting_to_submit_again_holds_no_slot_and_its_model_waits_with_it(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A shot held its slot through the backoffs between its submits: with a model's channel down, its shots held
    every slot for the two minutes before the model was left for the next run, and the other models' shots waited
    (20 Veo and 20 Wan shots, concurrency 4: the Wan shots took 123 s, not 11). It has no task at the gateway
    meanwhile: its slot goes to another model's shot, and comes back to it first."""
    from batchvid import submitting

    monkeypatch.setattr(submitting, "backoff", lambda *args, **kwargs: 0.3)
    monkeypatch.setattr(submitting, "MAX_SUBMIT_TRIES", 3)
    veo = "veo-3.0-fast-generate-001"
    # the gateway renders one task at a key at once, as the run's one slot allows: one more would draw a 429
    sim = simulator(render_seconds=(0.1, 0.1), unavailable=frozenset({veo}), max_in_flight=1)
    manifest = write_manifest(alternating(3, v=veo, w="wan2.5-t2v-preview"))
    code, out, _ = run_batch(manifest, sim, "--concurrency", "1")
    kept = states(tmp_path / "out")
    assert code == 1 and [kept[f"w{i:02d}"] for i in range(3)] == ["done"] * 3, out
    assert [kept[f"v{i:02d}"] for i in range(3)] == ["pending"] * 3 and sim.record.answers[429] == 0
    posts = sim.record.submissions
    v00 = [post.at for post in posts if post.body["prompt"] == "shot 0" and post.model == veo]
    assert len(v00) == 3  # its tries, 0.3 s apart
    # the one slot was free while it waited: Wan shots went then, not after it
    assert any(v00[0] < post.at < v00[-1] for post in posts if post.model.startswith("wan")), posts
    # and no other Veo shot started beside it: its model's submits were failing
    assert all(not v00[0] < post.at < v00[-1] for post in posts if post.model == veo and post.at not in v00)


@pytest.mark.parametrize("back", [False, True], ids=["down", "back"])
def test_a_models_trouble_is_said_as_it_lasts_and_so_is_its_end(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, back: bool) -> None:
    """The other models' shots finished, and the run went on for the two minutes it takes to leave a model with no
    channel for the next run without a word: it looked stuck."""
    from batchvid import outage, submitting

    monkeypatch.setattr(outage, "SAY_MODEL_TROUBLE_AFTER", 0.2)
    monkeypatch.setattr(outage, "OUT_AFTER_SECONDS", 0.5)  # within the two shots' 8 tries, 0.1 s apart
    monkeypatch.setattr(outage, "OUT_AFTER_ERRORS", 6)
    monkeypatch.setattr(submitting, "backoff", lambda *args, **kwargs: 0.1)
    veo = "veo-3.0-fast-generate-001"
    sim = simulator(render_seconds=(0.1, 0.1), unavailable=frozenset({veo}))
    if back:  # its channel comes back once the run has said it was down
        real = outage.ModelOutages.server_error

        def server_error(self: outage.ModelOutages, model: str, error: str) -> bool:
            left = real(self, model, error)
            if any(record.levelname == "WARNING" for record in caplog.records):
                sim.config.unavailable = frozenset()
            return left

        monkeypatch.setattr(outage.ModelOutages, "server_error", server_error)
    code, out, _ = run_batch(write_manifest(alternating(2, v=veo, w="wan2.5-t2v-preview")), sim)
    said = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(said) == 2, (said, out)  # once each, however many submits failed
    assert re.fullmatch(rf"{veo}: its last \d+ submits over \d+ s all drew server errors \(the last: HTTP 503: "
                        rf"No available channel for model {veo} under group default\); tried again for up to 0 min "
                        "before its shots are left for the next run, while the other models go on", said[0]), said
    if back:
        assert code == 0 and re.fullmatch(rf"{veo}: its submits are answered again after \d+ s", said[1]), said
    else:
        assert code == 1 and said[1].startswith(f"{veo}: its last ") and said[1].endswith(
            "; its shots not sent are left for the next run"), said


def test_a_model_is_left_only_after_server_errors_in_a_row_for_long_enough() -> None:
    from batchvid.outage import OUT_AFTER_ERRORS, OUT_AFTER_SECONDS, ModelOutages

    now = [0.0]
    outages = ModelOutages(clock=lambda: now[0])
    for _ in range(OUT_AFTER_ERRORS * 3):  # many errors, too quick: a burst
        outages.server_error("m", "HTTP 502")
    assert outages.out("m") is None
    now[0] = OUT_AFTER_SECONDS
    outages.answered("m")  # a task made: the streak starts again
    outages.server_error("m", "HTTP 502")
    now[0] = OUT_AFTER_SECONDS * 3  # long enough, too few errors
    outages.server_error("m", "HTTP 502")
    assert outages.out("m") is None
    for _ in range(OUT_AFTER_ERRORS - 2):
        outages.server_error("m", "HTTP 503: busy")
    assert outages.out("other") is None
    assert outages.out("m") == (f"m: its last {OUT_AFTER_ERRORS} submits over {2 * OUT_AFTER_SECONDS / 60:.0f} min all "
                                "drew server errors (the last: HTTP 503: busy); its shots not sent are left for the "
                                "next run")


def test_families_behind_one_unreachable_base_url_count_its_downtime_together(
        cli: Run, write_manifest: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        runners: list[Any]) -> None:
    """Each family counted from its own first failure: a small batch of several families tried every shot eight
    times in turn (95 s for the demo) and ended without saying to check the base URL. The gateways of one base URL
    share what is known of its reach."""
    from batchvid import outage, submitting

    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    monkeypatch.setattr(outage, "UNREACHABLE_NEVER_ANSWERED", 1.0)
    monkeypatch.setattr(submitting, "MAX_SUBMIT_TRIES", 4)
    monkeypatch.setattr(submitting, "backoff", lambda *args, **kwargs: 0.4)  # each shot: 0, 0.4, 0.8 and 1.2 s
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    manifest = write_manifest("version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: p}\n"
                              "  - {id: b, model: sora-2, prompt: p}\n")
    code, _, err = cli("run", manifest, "--base-url", f"http://127.0.0.1:{port}", "--out", tmp_path / "out",
                       "--concurrency", "1", "--rate", "unlimited", "--no-progress")
    assert code == 1 and "for over 1 s; stopped" in err, err
    assert set(states(tmp_path / "out").values()) == {"pending"}
    gateways = runners[0].gateways
    assert gateways["wan"] is not gateways["sora"] and gateways["wan"].reach is gateways["sora"].reach


def test_a_base_url_that_never_answered_is_named_when_the_shots_run_out_of_tries_first(
        cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small batch spends its tries (about 30 s with jitter) before the 60 s that stop a run: it ended with
    "run the same command again", not a word about the base URL."""
    from batchvid import submitting

    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    monkeypatch.setattr(submitting, "MAX_SUBMIT_TRIES", 2)
    monkeypatch.setattr(submitting, "backoff", lambda *args, **kwargs: 0.05)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    code, out, _ = cli("run", MANIFESTS / "wan.yaml", "--base-url", f"http://127.0.0.1:{port}", "--out",
                       tmp_path / "out", "--rate", "unlimited", "--no-progress")
    assert code == 1 and set(states(tmp_path / "out").values()) == {"pending"}
    assert f"  http://127.0.0.1:{port} never answered in this run: check the base URL and the network" in out


def test_a_refused_key_stops_the_run_and_leaves_no_shot_uncertain(
        simulator: Sim, cli: Run, run_batch: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulator()
    out = tmp_path / "out"
    monkeypatch.setenv("BATCHVID_API_KEY", "sk-wrong-0000000000")
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", sim.base_url, "--out", out, *FAST_RUN)
    assert code == 1 and err.splitlines()[-1] == (
        "batchvid: error: the gateway refused the API key or the account: HTTP 401: Invalid API key (at the submit "
        "of wan-text, a wan2.5-t2v-preview shot)"), err
    assert set(states(out).values()) == {"pending"}  # a 401 created nothing: no shot is left `submitting`
    # status's next step is the key, not only "run the same command again" (which would draw the same 401)
    assert cli("status", out)[1].splitlines()[-1] == (
        "  next: check the API key and the account's balance at the gateway, then run the same command again (tasks "
        "in flight are polled, never resent)")
    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim)
    assert code == 0 and "uncertain" not in err and len(sim.record.created()) == 5, err


def test_a_model_the_key_may_not_use_is_left_for_the_next_run_and_the_others_go_on(
        simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """A 403 (a token limited to some models) stopped the whole run at its first Sora submit: an overnight batch
    did none of its other shots. Now that model's shots wait for the next run, with the way out, and the rest go
    on; a 401 (a wrong key) still stops the run (the test above)."""
    shots = "".join(f"  - {{id: s{i}, model: sora-2, prompt: shot {i}}}\n  - {{id: w{i}, model: wan2.5-t2v-preview, "
                    f"prompt: shot {i}}}\n" for i in range(4))
    manifest, out = write_manifest(f"version: 1\nshots:\n{shots}"), tmp_path / "out"
    sim = simulator(forbidden=frozenset({"sora-2"}))
    code, text, _ = run_batch(manifest, sim, "--concurrency", "2")
    kept = states(out)
    assert code == 1 and {kept[f"w{i}"] for i in range(4)} == {"done"} and {kept[f"s{i}"] for i in range(4)} == {
        "pending"}, text
    assert sim.record.faults["forbidden"] <= 2, sim.record.faults  # the submits under way when the first said so
    said = re.search(r"^  4 shots \(s0, s1, s2 and 1 more\): pending: submit: sora-2: the gateway refused the API "
                     r"key or the account: HTTP 403: Permission denied \(at the submit of s\d\); its shots not sent "
                     r"are left for the next run$", text, re.M)
    assert said is not None, text
    assert ("  next: check the API key and the account's balance at the gateway, then run the same command again "
            "(tasks in flight are polled, never resent)") in text
    sim.config.forbidden = frozenset()  # the token may use Sora now
    code, text, err = run_batch(manifest, sim)
    assert code == 0 and "plan: 4 new, 4 done" in err and len(sim.record.created()) == 8, text


def test_a_base_url_with_no_video_api_stops_the_run_and_one_with_v1_works(
        simulator: Sim, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong path answered 404 to every submit: each shot was `failed` in turn (and needed --retry-failed);
    the /v1 that OpenAI-style clients put in their base URL was such a path."""
    sim = simulator()
    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    out = tmp_path / "out"
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", sim.base_url + "/api", "--out", out, *FAST_RUN)
    assert code == 1 and err.splitlines()[-1] == (
        f"batchvid: error: {sim.base_url}/api has no video API (HTTP 404 to POST /v1/video/generations): is the "
        "base URL right? It is the gateway's address, like https://llm.ai-nebula.com"), err
    assert set(states(out).values()) == {"pending"} and sim.record.created() == []
    assert 1 <= len(sim.record.request_times) <= 4  # the slots in flight, then it stopped: not a 404 per shot
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", sim.base_url + "/v1/", "--out", out, *FAST_RUN)
    assert code == 0 and set(states(out).values()) == {"done"} and len(sim.record.created()) == 5, err


@pytest.mark.parametrize("base", ["llm.ai-nebula.com", "ftp://llm.ai-nebula.com", "https://llm.ai-neb ula.com",
                                  "https://me:hunter2@llm.ai-nebula.com", "https://llm.ai-nebula.com/\udcff"])
def test_a_base_url_no_request_can_go_to_is_refused_before_anything(cli: Run, tmp_path: Path, base: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A user name and password in the URL: aiohttp refuses them beside the key's header, after the shot is marked
    `submitting` (every shot was left to come back `uncertain`)."""
    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", base, "--out", tmp_path / "out", *FAST_RUN)
    problem = (f"must be an http(s) URL like https://gateway.example, not {base!r}" if "@" not in base else
               "must not hold a user name or password: the API key goes in the environment (BATCHVID_API_KEY, or the "
               "variable api_key_env names)")
    if base.endswith("\udcff"):  # a byte of the command line that is no UTF-8: it reached the journal, and crashed
        problem = "holds bytes that are not UTF-8 text"
    assert code == 2 and err.strip() == f"batchvid: error: --base-url {problem}", err
    assert "hunter2" not in err
    assert not (tmp_path / "out").exists()  # before any folder, journal or request: no shot made `uncertain`


@pytest.mark.parametrize("where", ["out", "out/batch"])
def test_an_output_folder_that_is_a_file_is_bad_input(simulator: Sim, cli: Run, tmp_path: Path, where: str) -> None:
    (tmp_path / "out").write_text("my notes\n")
    sim = simulator()
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", sim.base_url, "--out", tmp_path / where,
                       *FAST_RUN)
    assert code == 2 and f"output folder {tmp_path / where} is a file, or inside one" in err, err
    assert (tmp_path / "out").read_text() == "my notes\n" and sim.record.submissions == []


@pytest.mark.parametrize("flags, message", [
    (["--poll-interval", "nan"], "--poll-interval: 'nan' is not a number"),
    (["--poll-interval", "inf"], "--poll-interval: 'inf': want a number of seconds above 0, at most 3600 (the "
                                 "gateway advises 3-5)"),
    (["--poll-interval", "4000"], "--poll-interval: '4000': want a number of seconds above 0, at most 3600 (the "
                                  "gateway advises 3-5)"),
    (["--deadline-minutes", "nan"], "--deadline-minutes: 'nan' is not a number"),
    (["--concurrency", "0"], "--concurrency: '0': want a whole number 1 or more"),
    (["--rate", "inf/s"], "--rate: 'inf/s': want a rate above 0 like 2/s or 120/min, or 'unlimited'"),
    (["--rate", "fast"], "--rate: 'fast': want a rate above 0 like 2/s or 120/min, or 'unlimited'"),
    (["--rate", "2/day"], "--rate: '2/day': unknown unit 'day' (use /s, /min or /h)"),
    (["--max-cost", "-1"], "--max-cost: '-1' must be an amount >= 0"),
    (["--max-video-mb", "nan"], "--max-video-mb: 'nan' is not a number"),
    (["--max-answer-mb", "inf"], "--max-answer-mb: 'inf': want a number above 0"),
    (["--max-video-mb", "0"], "--max-video-mb: '0': want a number above 0"),
])
def test_run_settings_that_are_not_usable_numbers_are_refused_before_anything(
        simulator: Sim, cli: Run, tmp_path: Path, flags: list[str], message: str) -> None:
    """float() takes 'nan' and 'inf': a nan poll interval went into the poll heap, a nan size limit crashed."""
    sim = simulator()
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", sim.base_url, "--out", tmp_path / "out", *flags)
    assert code == 2 and err.strip() == f"batchvid: error: {message}", err
    assert not (tmp_path / "out").exists() and sim.record.submissions == []


def test_the_manifests_run_block_is_checked_with_the_manifest(simulator: Sim, cli: Run, tmp_path: Path,
                                                              write_manifest: Callable[..., Path]) -> None:
    """Found by `validate` and `estimate` too, at its line, before a run would refuse it (it was named as a flag,
    `--max-cost`, and only when the batch was about to run)."""
    manifest = write_manifest("version: 1\nrun:\n  concurrency: 2.5\n  max_cost: ten\n  rate: 5/day\n  out: 7\n"
                              "  poll_interval: 4000\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: p}\n")
    wanted = [f"{manifest}:3: run: concurrency: '2.5' is not a whole number",
              f"{manifest}:4: run: max_cost: 'ten' is not an amount of USD",
              f"{manifest}:5: run: rate: '5/day': unknown unit 'day' (use /s, /min or /h)",
              f"{manifest}:6: run: out: 7: want a folder name",
              f"{manifest}:7: run: poll_interval: '4000': want a number of seconds above 0, at most 3600 (the gateway "
              "advises 3-5)"]
    sim = simulator()
    code, _, err = cli("run", manifest, "--base-url", sim.base_url, "--out", tmp_path / "out")
    assert code == 2 and err.splitlines()[:5] == wanted, err
    assert sim.record.submissions == [] and not (tmp_path / "out").exists()
    code, text, _ = cli("validate", manifest)
    assert code == 1 and text.splitlines()[:5] == wanted
    code, _, err = cli("estimate", manifest)
    assert code == 2 and err.splitlines()[:5] == wanted
    # status reads run.out alone, without the rest of the manifest: the same line for it (it looked for the
    # folder "7", and a long mapping there crashed it on "File name too long")
    code, _, err = cli("status", manifest)
    assert (code, err.strip()) == (2, f"batchvid: error: {wanted[3]}"), err


def test_an_output_folder_whose_name_is_too_long_is_one_line(simulator: Sim, cli: Run, tmp_path: Path,
                                                             write_manifest: Callable[..., Path]) -> None:
    """Past the file system's 255 bytes a name cannot even be looked up: the run and status crashed there (exit 3)."""
    long = "y" * 300
    manifest = write_manifest(f"version: 1\nrun: {{out: {long}}}\nshots:\n  - {{id: a, model: wan2.5-t2v-preview, "
                              "prompt: p}\n")
    sim = simulator()
    code, _, err = cli("run", manifest, "--base-url", sim.base_url)
    assert code == 1 and err.strip().splitlines()[-1] == (
        f"batchvid: error: cannot create the output folder {manifest.parent / long}: File name too long"), err
    assert sim.record.submissions == []
    code, _, err = cli("status", manifest)
    assert code == 1 and err.startswith(f"batchvid: error: {manifest} has not been run into {manifest.parent / long} "
                                        "yet"), err
    code, _, err = cli("run", manifest, "--base-url", sim.base_url, "--force", "z" * 300)
    assert code == 2 and err.startswith("batchvid: error: --force: no shot with id 'zzz"), err


@pytest.mark.parametrize("setting", [s.name for s in runsettings.IN_MANIFEST])
def test_a_run_setting_reads_alike_as_a_flag_and_in_the_run_block(
        cli: Run, write_manifest: Callable[..., Path], tmp_path: Path, setting: str) -> None:
    """One rule for each setting (runsettings.py): `validate` refuses in the run block exactly what `run` refuses as
    the flag, in the same words, and a value it takes there acts as the flag would (a max_cost of 0 refuses the
    batch either way)."""
    flag = "--" + setting.replace("_", "-")
    shots = "shots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: p}\n"
    plain = write_manifest("version: 1\n" + shots, name="plain.yaml")
    for value in ["0", "1", "2.5", "-1", "4000", "2/s", "1e3", "nan", "fast"]:
        manifest = write_manifest(f"version: 1\nrun:\n  {setting}: '{value}'\n" + shots)
        code, text, _ = cli("validate", manifest)
        as_flag = cli("run", plain, "--simulate", "--dry-run", "--out", tmp_path / "o", flag, value)
        in_block = cli("run", manifest, "--simulate", "--dry-run", "--out", tmp_path / "o")
        if code == 0:
            assert in_block == as_flag, (value, in_block, as_flag)
        else:
            said = text.splitlines()[0].split(f"run: {setting}: ", 1)[1]
            assert as_flag[0] == 2 and as_flag[2].strip() == f"batchvid: error: {flag}: {said}", (value, as_flag)
            assert in_block[0] == 2 and f"run: {setting}: {said}" in in_block[2], (value, in_block)
    assert not (tmp_path / "o").exists()


def test_a_gateway_that_never_answers_the_connection_leaves_every_shot_to_send(
        cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host that drops packets (a firewall) times out the connection: nothing was sent, so no shot is
    `uncertain` (which would ask the user to risk paying twice)."""
    from batchvid import gateway, outage

    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    monkeypatch.setattr(gateway, "CONNECT_TIMEOUT", 0.3)
    monkeypatch.setattr(outage, "UNREACHABLE_NEVER_ANSWERED", 0.5)
    with socket.socket() as deaf:  # listening, its backlog full: further connections get no answer at all
        deaf.bind(("127.0.0.1", 0))
        deaf.listen(0)
        port = deaf.getsockname()[1]
        waiting = [socket.socket() for _ in range(3)]
        for client in waiting:
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
        try:
            code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", f"http://127.0.0.1:{port}", "--out",
                               tmp_path / "out", *FAST_RUN)
        finally:
            for client in waiting:
                client.close()
    assert code == 1 and err.splitlines()[-1].startswith(
        f"batchvid: error: cannot connect to http://127.0.0.1:{port} (no connection within 0.3 s)"), err
    assert set(states(tmp_path / "out").values()) == {"pending"}


def test_a_gateway_that_goes_away_is_waited_for_then_the_run_stops(tmp_path: Path, cli: Run,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from batchvid import outage
    from batchvid.simulator import SimConfig, SimulatorThread

    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    monkeypatch.setattr(outage, "UNREACHABLE_NEVER_ANSWERED", 1000.0)  # not this limit: it answered
    monkeypatch.setattr(outage, "UNREACHABLE_AFTER_ANSWERS", 1.0)
    thread = SimulatorThread(SimConfig(api_key=SIM_KEY, render_seconds=(60, 60)))
    sim = thread.__enter__()
    problems: list[BaseException] = []

    def go_away() -> None:
        try:
            thread.__exit__(None, None, None)
        except BaseException as exc:  # noqa: BLE001 - reported by this test, not as a stray thread's error
            problems.append(exc)

    timer = threading.Timer(1.0, go_away)  # the gateway goes away mid-run
    timer.start()
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", sim.base_url, "--out", tmp_path / "out",
                       *FAST_RUN)
    timer.join(timeout=30)
    assert not timer.is_alive() and not problems, problems
    assert code == 1 and "for over 1 s; stopped: every task id is saved" in err, err
    found = sorted(states(tmp_path / "out").values())  # four in flight (polled by the next run), one waiting
    assert found == ["pending", "submitted", "submitted", "submitted", "submitted"]


class Outage:
    """A simulator that can go away and come back: the same gateway, its tasks read from `config`'s state file, on
    the same ports."""

    def __init__(self, config: Any) -> None:
        from batchvid.simulator import SimulatorThread

        self._config = config
        self._threads = [SimulatorThread(config)]
        self._ports = (0, 0)
        self._up = False

    def __enter__(self) -> Any:
        from urllib.parse import urlsplit

        sim = self._threads[0].__enter__()
        self._ports = urlsplit(sim.base_url).port or 0, urlsplit(sim.storage_url).port or 0
        self._up = True
        return sim

    def leave(self) -> None:
        self._threads[-1].__exit__(None, None, None)
        self._up = False

    def come_back(self) -> None:
        from batchvid.simulator import SimulatorThread

        self._threads.append(SimulatorThread(self._config, port=self._ports[0], storage_port=self._ports[1]))
        self._threads[-1].__enter__()
        self._up = True

    def __exit__(self, *exc: object) -> None:
        if self._up:
            self.leave()


def at(seconds: float, step: Callable[[], object], problems: list[BaseException]) -> threading.Timer:
    """`step` run in `seconds` on a thread of its own; what it raises goes to `problems`, for the test to report."""
    def guarded() -> None:
        try:
            step()
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not as a stray thread's error
            problems.append(exc)

    timer = threading.Timer(seconds, guarded)
    timer.start()
    return timer


@contextlib.contextmanager
def gateway_away(config: Any, away: float, back: float) -> Iterator[Any]:
    """A simulator that goes away `away` s after it starts and comes back `back` s after it started."""
    problems: list[BaseException] = []
    simulator = Outage(config)
    with simulator as sim:
        timers = [at(away, simulator.leave, problems), at(back, simulator.come_back, problems)]
        try:
            yield sim
        finally:
            for timer in timers:
                timer.join(timeout=30)
    assert not problems, problems


def test_a_gateway_away_for_a_while_is_said_and_so_is_its_return(tmp_path: Path, cli: Run,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """An outage within the limit was waited out without a word: minutes of a run that looks stuck. And the polls
    put off while it lasted (backing off, up to a minute) waited on after it ended."""
    from batchvid import outage, watching
    from batchvid.simulator import SimConfig

    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    monkeypatch.setattr(outage, "SAY_UNREACHABLE_AFTER", 0.3)
    monkeypatch.setattr(outage, "OUTAGE_PROBE", 0.3)
    monkeypatch.setattr(watching, "backoff", lambda attempt, retry_after, cap, base: cap)  # the longest it may be
    config = SimConfig(api_key=SIM_KEY, render_seconds=(1.0, 1.0), state_file=str(tmp_path / "tasks.jsonl"))
    started = time.monotonic()
    with gateway_away(config, 0.5, 3.5) as sim:
        code, out, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", sim.base_url, "--out", tmp_path / "out",
                             *FAST_RUN)
        took = time.monotonic() - started
    assert code == 0 and set(states(tmp_path / "out").values()) == {"done"}, out + err
    said = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(said) == 2, said  # once each, however many requests failed meanwhile
    assert re.fullmatch(rf"cannot connect to {re.escape(sim.base_url)} \(.+\) for \d+ s; trying again until it "
                        r"answers, for up to 600 s \(every task id is saved\)", said[0]), said
    assert re.fullmatch(rf"{re.escape(sim.base_url)} answers again after \d+ s", said[1]), said
    # the four tasks in flight rendered meanwhile: polled as it returns (not backed off for up to a minute), then
    # the fifth shot's 1 s render
    assert took < 3.5 + 2.5, took


def test_an_outage_spends_no_shot_s_tries_and_what_it_put_off_goes_as_it_ends(
        tmp_path: Path, cli: Run, write_manifest: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A shot's 8 submits, or a task's 30 polls, ran out within a minute or a few of an outage that the run waits out
    for 10: the shot was left for the next run (exit 1) though the gateway came back. And a submit put off while it
    lasted waited out its backoff after it ended."""
    from batchvid import fetching, outage, submitting, watching
    from batchvid.simulator import SimConfig

    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    # one try of each kind and an outage of 3 s; polls probe it every 0.3 s, and the submits and downloads put off
    # wait 30 s unless woken as the polls find it back
    monkeypatch.setattr(submitting, "MAX_SUBMIT_TRIES", 1)
    monkeypatch.setattr(runsettings, "RunSettings", functools.partial(runsettings.RunSettings, max_poll_errors=1))
    monkeypatch.setattr(outage, "OUTAGE_PROBE", 0.3)
    monkeypatch.setattr(watching, "backoff", lambda attempt, retry_after, cap, base: cap)
    for module in (submitting, fetching):
        monkeypatch.setattr(module, "backoff", lambda attempt, retry_after, cap: 30.0)
    shots = "".join(f"  - {{id: s{i}, prompt: shot {i}}}\n" for i in range(12))
    manifest = write_manifest(f"version: 1\ndefaults: {{model: wan2.5-t2v-preview}}\nshots:\n{shots}")
    config = SimConfig(api_key=SIM_KEY, render_seconds=(1.0, 1.0), state_file=str(tmp_path / "tasks.jsonl"))
    started = time.monotonic()
    # 8 requests a second: a few shots submitted before it goes away, polls and the other submits failing while away
    with gateway_away(config, 0.5, 3.5) as sim:
        code, out, err = cli("run", manifest, "--base-url", sim.base_url, "--out", tmp_path / "out", "--concurrency",
                             "12", "--rate", "8/s", "--poll-interval", "0.1", "--no-progress")
        took = time.monotonic() - started
    assert code == 0 and set(states(tmp_path / "out").values()) == {"done"}, out + err
    made = [json.loads(line)["task_id"] for line in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert len(set(made)) == 12, made  # each shot paid once
    assert took < 3.5 + 6, took  # not 30 s more for the waits put off while it was away


def test_an_outage_as_a_sora_video_is_fetched_spends_none_of_its_tries(
        tmp_path: Path, cli: Run, write_manifest: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Sora's videos come from the gateway itself (its download endpoint): a connection to it that could not be made
    spent one of the video's tries, and a paid video was left for the next run though the gateway came back."""
    from batchvid import fetching, outage
    from batchvid.simulator import SimConfig

    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    monkeypatch.setattr(runsettings, "RunSettings", functools.partial(runsettings.RunSettings, download_tries=1,
                                                                      download_patience=0))
    monkeypatch.setattr(outage, "OUTAGE_PROBE", 0.3)
    config = SimConfig(api_key=SIM_KEY, render_seconds=(0.3, 0.3), state_file=str(tmp_path / "tasks.jsonl"))
    simulator, problems, timers, tries = Outage(config), [], [], []
    save = fetching.Downloads._save

    async def save_in_an_outage(self: Any, *args: Any) -> Any:
        tries.append(time.monotonic())
        if len(tries) == 1:  # the task has rendered: the gateway goes away as its video is asked for
            simulator.leave()
            timers.append(at(1.5, simulator.come_back, problems))
        return await save(self, *args)

    monkeypatch.setattr(fetching.Downloads, "_save", save_in_an_outage)
    manifest = write_manifest("version: 1\nshots:\n  - {id: a, model: sora-2, prompt: a lighthouse}\n")
    with simulator as sim:
        code, out, err = cli("run", manifest, "--base-url", sim.base_url, "--out", tmp_path / "out",
                             "--poll-interval", "0.1", "--no-progress")
        for timer in timers:
            timer.join(timeout=30)
    assert not problems, problems
    assert code == 0 and states(tmp_path / "out") == {"a": "done"}, out + err
    assert len(tries) > 2 and tries[-1] - tries[0] < 1.5 + 2, tries  # tried through it, and soon after it ended
    assert len((tmp_path / "tasks.jsonl").read_text().splitlines()) == 1  # paid once


@pytest.mark.parametrize("patience", [0.0, 30.0])
def test_a_video_is_tried_through_a_short_outage_of_its_storage(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, patience: float) -> None:
    """A video's tries, a few seconds of backoff, ran out within a storage's outage of seconds: every video that
    rendered meanwhile was left for the next run (a storage answering 503 for 15 s left all five of a batch). And
    a run whose videos fail for a while says so, or it looks stuck."""
    from batchvid import fetching, outage

    monkeypatch.setattr(runsettings, "RunSettings", functools.partial(runsettings.RunSettings, download_tries=2,
                                                                      download_patience=patience))
    monkeypatch.setattr(outage, "SAY_UNREACHABLE_AFTER", 0.5)
    monkeypatch.setattr(fetching, "backoff", lambda *args: 0.2)  # tries at 0, 0.2, ... 1.8 s, the last said
    sim = simulator(render_seconds=(0.1, 0.1), storage_down_seconds=2.0)
    code, out, _ = run_batch(write_manifest("version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: p}\n"),
                             sim)
    if patience:
        assert code == 0 and states(tmp_path / "out") == {"a": "done"}, out
        assert sim.record.storage_requests > 2  # tried past its two tries, through the outage
        said = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
        assert len(said) == 1 and re.fullmatch(
            r"shot a: its video has failed to download for \d+ s \(storage answered HTTP 503 for .+\); each video "
            r"is tried again until 30 s after its first failure \(its task is kept: nothing is paid again\)",
            said[0]), said
    else:  # its two tries spent within the outage
        assert code == 1 and states(tmp_path / "out") == {"a": "downloading"}, out
        assert "storage answered HTTP 503" in ledger(tmp_path / "out")[0]["error"]


def test_an_earlier_version_whose_gateway_is_gone_stays_on_record(
        simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path], tmp_path: Path) -> None:
    sim = simulator(render_seconds=(30, 30))
    run_batch(write_manifest("version: 1\nshots:\n  - {id: a, model: sora-2, prompt: p}\n"), sim,
              "--deadline-minutes", "0.005")
    code, _, err = run_batch(write_manifest("version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: p}\n"),
                             simulator(render_seconds=(0.1, 0.1)))
    assert code == 0 and err.startswith("plan: 1 changed; to submit: 1 shot"), err  # no sora gateway in this batch
    earlier = {row["shot_id"]: row for row in ledger(tmp_path / "out")}["a@1"]
    assert earlier["status"] == "submitted" and "not followed" in earlier["error"]


def test_a_dry_run_says_what_would_be_paid_and_changes_nothing(
        simulator: Sim, run_batch: Run, cli: Run, write_manifest: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    monkeypatch.delenv("BATCHVID_API_KEY", raising=False)
    code, text, err = cli("run", MANIFESTS / "wan.yaml", "--out", out, "--dry-run")
    assert code == 0 and err.startswith("plan: 5 new; to submit: 5 shots, estimated $2.77"), err
    assert "dry run: nothing sent, nothing written" in text and not out.exists()  # no key needed either
    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    sim = simulator()
    shots = "version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: %s}\n"
    assert run_batch(write_manifest(shots % "a river"), sim)[0] == 0
    before = {path.name: path.read_bytes() for path in out.iterdir() if not path.name.startswith("journal")}
    journal = (out / "journal.sqlite").read_bytes()
    code, _, err = cli("run", write_manifest(shots % "a lake"), "--out", out, "--dry-run")
    assert code == 0 and "a: changed: was done; that version is kept as a@1 with its video a@1.mp4" in err, err
    assert {path.name: path.read_bytes() for path in out.iterdir() if not path.name.startswith("journal")} == before
    assert (out / "journal.sqlite").read_bytes() == journal and len(sim.record.created()) == 1


def test_the_manifest_may_come_after_force(simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path) -> None:
    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    made = len(sim.record.created())
    code, _, err = cli("run", "--base-url", sim.base_url, "--out", tmp_path / "out", "--poll-interval", "0.1",
                       "--force", "wan-text", "kitten-eyes", MANIFESTS / "wan.yaml")
    assert code == 0 and err.startswith("plan: 2 forced, 3 done"), err
    assert len(sim.record.created()) == made + 2
    code, _, err = cli("run", "--force", "wan-text", "--out", tmp_path / "out")
    assert code == 2 and "no manifest given" in err


def test_invalid_manifest_exits_2_and_sends_nothing(simulator: Sim, run_batch: Run,
                                                    write_manifest: Callable[..., Path]) -> None:
    sim = simulator()
    code, _, err = run_batch(write_manifest("version: 1\nshots: [{id: a, model: sora-2, prompt: p, seed: 1}]\n"), sim)
    assert code == 2 and "seed: not supported by sora-2" in err and sim.record.submissions == []


def test_a_second_run_on_the_same_folder_is_refused(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    sim = simulator()
    (tmp_path / "out").mkdir()
    with FolderLock(tmp_path / "out"):
        code, _, err = run_batch(MANIFESTS / "wan.yaml", sim)
    assert code == 1 and "another batchvid run" in err and sim.record.submissions == []


def test_without_flock_as_on_windows_a_run_is_refused_in_one_line_and_the_rest_works(
        simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    """Windows has no fcntl: batchvid imported it at start, so every command, validate included, died with a
    traceback there. Now only `run` is refused, before anything is sent, with the way out."""
    sim = simulator()
    run_batch(MANIFESTS / "wan.yaml", sim)  # a finished folder, for status to read
    no_fcntl = "import sys; sys.modules['fcntl'] = None; from batchvid.cli import main; sys.exit(main(sys.argv[1:]))"

    def batchvid(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", no_fcntl, *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "BATCHVID_API_KEY": SIM_KEY}, stdin=subprocess.DEVNULL)

    assert batchvid("validate", str(MANIFESTS / "demo.yaml")).returncode == 0
    assert batchvid("estimate", str(MANIFESTS / "demo.yaml")).returncode == 0
    looked = batchvid("status", str(tmp_path / "out"))
    assert looked.returncode == 0 and "5 done" in looked.stdout, looked
    created = len(sim.record.created())
    refused = batchvid("run", str(MANIFESTS / "sora.yaml"), "--base-url", sim.base_url, "--out",
                       str(tmp_path / "other"))
    assert refused.returncode == 1 and refused.stderr.strip().splitlines() == [
        "batchvid: error: batchvid run needs Linux or macOS: its one-run-per-folder lock and its saving of state on "
        "Ctrl-C and SIGTERM are POSIX's. On Windows, run it under WSL (validate, estimate and status work here)"
    ], refused.stderr
    assert len(sim.record.created()) == created and not (tmp_path / "other").exists()


def test_the_key_is_written_nowhere(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    sim = simulator(fail_rate=0.3, seed=5)
    code, out, err = run_batch(MANIFESTS / "demo.yaml", sim, "-vv", "--concurrency", "3")
    assert SIM_KEY not in out + err
    for path in (tmp_path / "out").iterdir():
        assert SIM_KEY.encode() not in path.read_bytes(), path


def test_a_shots_unexpected_error_is_kept_in_one_line_and_the_next_run_carries_on(
        simulator: Sim, run_batch: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchvid import watching

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a surprise\nover two lines")

    sim = simulator()
    with monkeypatch.context() as patched:
        patched.setattr(watching.Watcher, "billed", broken)  # after the task is seen done, before its download
        code, out, _ = run_batch(MANIFESTS / "wan.yaml", sim)
    rows = ledger(tmp_path / "out")
    assert code == 1 and {(r["status"], r["error"]) for r in rows} == {
        ("submitted", "unexpected error: RuntimeError: a surprise over two lines")}, out
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0  # the task ids were kept: polled, not sent again
    assert len(sim.record.created()) == len(rows)


def test_an_unexpected_error_is_reported_in_a_file_of_its_own_without_the_key(
        simulator: Sim, run_batch: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The crash report went to one fixed name in the temp folder, which anyone may have put there first (a link to
    a file of the user's), with whatever the exception's text held, the key included."""
    from batchvid import summary

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError(f"a bug that shows the request: Authorization: Bearer {SIM_KEY}; key={SIM_KEY}")

    monkeypatch.setattr(summary, "report", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    code, _, err = run_batch(MANIFESTS / "wan.yaml", simulator())
    reports = list(tmp_path.glob("batchvid-crash-*.log"))
    assert code == 3 and err.strip().endswith(f"batchvid: unexpected error (RuntimeError); details in {reports[0]}")
    text = reports[0].read_text()
    assert "RuntimeError: a bug that shows the request" in text and SIM_KEY not in text, text
    assert reports[0].stat().st_mode & 0o077 == 0  # the user's alone


def test_status_summarises_the_folder(simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path) -> None:
    sim = simulator(fail_rate=1.0)
    run_batch(MANIFESTS / "vidu.yaml", sim)
    code, out, _ = cli("status", tmp_path / "out")
    assert code == 0 and out.splitlines()[0] == "4 shots: 4 failed"
    assert cli("status", tmp_path)[0] == 1
    code, _, err = cli("status", tmp_path / "nothere.yaml", "--simulate")
    assert code == 2 and err.strip().endswith("nothere.yaml: no such folder or manifest")


def test_status_reads_a_folder_whose_batch_is_writing_without_waiting(
        simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path) -> None:
    run_batch(MANIFESTS / "wan.yaml", simulator())
    journal = tmp_path / "out" / "journal.sqlite"
    before = journal.read_bytes()
    with sqlite_db(journal, isolation_level=None) as writer:
        writer.execute("BEGIN IMMEDIATE")  # a running batch holds the write lock between its commits
        started = time.monotonic()
        code, out, _ = cli("status", tmp_path / "out")
        assert time.monotonic() - started < 5  # a writer would wait up to 30 s for that lock
        writer.execute("ROLLBACK")
    assert code == 0 and out.splitlines()[0] == "5 shots: 5 done"
    assert journal.read_bytes() == before  # status writes nothing


def test_status_of_a_folder_a_run_is_using_says_so_rather_than_run_again(
        simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path) -> None:
    """"Run the same command again" is what the next run would be refused for while one is at work."""
    out = tmp_path / "out"
    run_batch(MANIFESTS / "vidu.yaml", simulator(fail_rate=1.0))
    with FolderLock(out):
        code, text, _ = cli("status", out)
        as_json = json.loads(cli("status", out, "--json")[1])
    assert code == 0 and text.splitlines()[-1] == (
        f"  a batchvid run (pid {os.getpid()}) is working on this folder: these are its counts so far; "
        "`batchvid status` again follows it")
    assert "next:" not in text and as_json["running_pid"] == os.getpid() and as_json["next"] == []
    code, text, _ = cli("status", out)  # the run ended: what to do next
    as_json = json.loads(cli("status", out, "--json")[1])
    assert text.splitlines()[-1].startswith("  next: ") and as_json["running_pid"] is None
    assert [f"  next: {step}" for step in as_json["next"]] == [line for line in text.splitlines() if "next:" in line]
    assert as_json["next"] == [
        "change what the gateway refused in the 4 shot(s) failed for their request (their content, a parameter: see "
        "the reasons), then run again: a changed shot is sent anew, whereas --retry-failed sends it as it is, to be "
        "refused again"]


def test_a_run_waits_out_a_status_that_holds_the_folder_for_an_instant(tmp_path: Path) -> None:
    import fcntl

    from batchvid import lock

    with FolderLock(tmp_path):
        pass  # the lock file exists, as after any run
    with open(tmp_path / lock.FILE_NAME, encoding="utf-8") as looking:
        fcntl.flock(looking, fcntl.LOCK_SH | fcntl.LOCK_NB)  # what holder() takes while it looks
        threading.Timer(0.05, fcntl.flock, (looking, fcntl.LOCK_UN)).start()
        with FolderLock(tmp_path):  # refused at once before: "another batchvid run ... is using"
            assert lock.holder(tmp_path) == str(os.getpid())
    assert lock.holder(tmp_path) is None


def test_looking_at_a_finished_folder_leaves_it_as_it_was(
        simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_batch(MANIFESTS / "wan.yaml", simulator())[0] == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert cli("status", out)[0] == 0
    assert cli("run", MANIFESTS / "wan.yaml", "--out", out, "--dry-run")[0] == 0
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before  # no journal -wal / -shm either


def test_simulate_flag_runs_the_demo_without_a_key(cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BATCHVID_API_KEY", raising=False)
    code, out, _ = cli("run", MANIFESTS / "demo.yaml", "--simulate", "--out", tmp_path / "o", "--poll-interval",
                       "0.2", "--rate", "100/s", "--concurrency", "9", "--no-progress")
    assert code == 0 and "9 done" in out


def test_verbose_says_each_shots_steps_and_very_verbose_each_poll(
        simulator: Sim, run_batch: Run, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """-v said next to nothing (a failed poll): a user following a batch, or one gone wrong, saw no step of it."""
    from batchvid import submitting

    monkeypatch.setattr(submitting, "backoff", lambda *args, **kwargs: 0.05)
    sim = simulator(render_seconds=(0.2, 0.2), provider_fail_first=1, submit_429_rate=0.5, retry_after=0.05, seed=3)

    def lines(*flags: str) -> list[str]:
        caplog.clear()
        assert run_batch(MANIFESTS / "wan.yaml", sim, "--only", "wan-text", "--force", "wan-text", *flags)[0] == 0
        return [f"{r.levelname} {r.getMessage()}" for r in caplog.records if r.name.startswith("batchvid")]

    said = lines("-v")
    first, second = (task.task_id for task in sim.record.created())
    assert [line for line in said if "submit not made" not in line] == [
        f"INFO shot wan-text: submitted (wan2.5-t2v-preview), task {first}",
        f"INFO shot wan-text: task {first} failed at the provider (InternalError: Internal Server Error); a new task",
        f"INFO shot wan-text: submitted (wan2.5-t2v-preview), task {second}",
        "INFO shot wan-text: rendered, billed $1.2330",
        "INFO shot wan-text: saved wan-text.mp4 (1,737 bytes)"], said
    assert sim.record.faults["429"] and all(re.fullmatch(
        r"INFO shot wan-text: submit not made \(HTTP 429: .*\); trying again in \d+\.\d s", line)
        for line in said if "submit not made" in line), said
    assert not any(line.startswith("DEBUG") for line in said)
    assert any(line.startswith("DEBUG poll of wan-text: task ") for line in lines("-vv"))
    assert lines() == []  # without -v: nothing but warnings, and there were none


def test_without_a_terminal_progress_comes_as_lines_now_and_then(cli: Run, monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    """Under nohup, CI or `2>log` there is no bar: a batch of hours must still show it is alive."""
    from batchvid import progress

    monkeypatch.delenv("BATCHVID_API_KEY", raising=False)
    monkeypatch.setattr(progress, "LINE_EVERY", 0.0)  # a line at every event instead of every minute
    # the rehearsal's renders take 1-3 s: one round of them, not two
    fast = ("--simulate", "--poll-interval", "0.2", "--rate", "100/s", "--concurrency", "5")
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--out", tmp_path / "a", *fast)
    lines = [line for line in err.splitlines() if line.startswith("batchvid: ") and "shots finished" in line]
    assert code == 0 and len(lines) >= 10  # 5 submits, 5 renders, 5 downloads
    assert lines[0].startswith("batchvid: 0/5 shots finished; submitted 1 rendering 1 downloaded 0 failed 0 spend $")
    assert lines[-1].startswith("batchvid: 5/5 shots finished; submitted 5 rendering 0 downloaded 5 failed 0 spend $")
    # once a shot has finished, how long the rest will take at this pace (seconds here: "a minute")
    assert all(line.endswith("left at this run's pace") == (0 < int(line.split()[1].split("/")[0]) < 5)
               for line in lines), lines
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--out", tmp_path / "b", "--no-progress", *fast)
    assert code == 0 and "shots finished" not in err


def test_in_a_terminal_the_bar_shows_submits_before_any_shot_finishes(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A pty that reports a size of 0 x 0 (as `script` and some CI runners do): tqdm drew nothing there, and it
    redrew only when a shot finished, so renders of minutes showed no submit."""
    import pty

    monkeypatch.delenv("BATCHVID_API_KEY", raising=False)
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "batchvid", "run", str(MANIFESTS / "wan.yaml"), "--simulate", "--out",
               str(tmp_path / "out"), "--poll-interval", "0.2", "--rate", "100/s"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    shown = b""
    try:
        while True:
            try:
                piece = os.read(leader, 4096)
            except OSError:  # the run ended and closed its end
                break
            if not piece:
                break
            shown += piece
    finally:
        proc.wait(timeout=60)
        os.close(leader)
    frames = shown.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n").splitlines()
    assert proc.returncode == 0
    # drawn again after the first submit and before any shot finished (the 4 slots fill in a few ms, and renders
    # take 1-3 s): the bar used to show "submitted 1" until the first shot was done
    assert any(re.search(r" 0/5 .*submitted [2-4] rendering [2-4] ", frame) for frame in frames), frames
    assert any("5/5" in frame and "downloaded 5 failed 0" in frame for frame in frames), frames
    # each frame's count and its counts agree: a finished shot's frame used to show the counts from before it
    counted = [re.search(r" (\d)/5 .*downloaded (\d) failed (\d) ", frame) for frame in frames]
    stale = [frame for frame, c in zip(frames, counted, strict=True)
             if c and int(c[1]) != int(c[2]) + int(c[3])]
    assert not stale, stale


def test_a_long_rehearsal_at_the_gateways_pace_says_how_long(cli: Run, write_manifest: Callable[..., Path],
                                                               monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from batchvid import scheduler

    async def nothing_sent(self: scheduler.Runner) -> None:  # the note comes before any request: no need to wait
        return None

    monkeypatch.setattr(scheduler.Runner, "run", nothing_sent)
    shots = "\n".join(f"  - {{id: s{i:03d}, model: wan2.5-t2v-preview, prompt: shot {i}}}" for i in range(300))
    manifest = write_manifest(f"version: 1\nshots:\n{shots}\n")
    code, _, err = cli("run", manifest, "--simulate", "--out", tmp_path / "a", "--no-progress")
    assert code == 1 and ("simulator: at the run's pace (concurrency 4, 2 requests/s) 300 shots take at least 5 "
                          "min; --concurrency 64 --rate unlimited rehearses them faster") in err
    code, _, err = cli("run", manifest, "--simulate", "--out", tmp_path / "b", "--no-progress", "--concurrency", "8")
    assert code == 1 and "(concurrency 8, 2 requests/s) 300 shots take at least 5 min; --rate unlimited " in err
    limited = write_manifest(f"version: 1\ngateway: {{families: {{wan: {{rate: 1/s, concurrency: 2}}}}}}\nshots:\n"
                             f"{shots}\n", name="limited.yaml")
    code, _, err = cli("run", limited, "--simulate", "--out", tmp_path / "c", "--no-progress")
    assert code == 1 and ("--concurrency 64 --rate unlimited rehearses them faster (gateway.families.wan.rate, "
                          "gateway.families.wan.concurrency still hold)") in err
    # a pace of one's own choosing, a short rehearsal (300 / 4 slots x 1 s renders), a short batch: nothing to say
    for n, chosen in enumerate((["--concurrency", "64", "--rate", "2/s"], ["--rate", "unlimited"], ["--only", "s0*"])):
        code, _, err = cli("run", manifest, "--simulate", "--out", tmp_path / str(n), "--no-progress", *chosen)
        assert code == 1 and "simulator: serving" in err and "pace" not in err


def test_a_rehearsal_never_passes_for_the_real_batch(simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's path: rehearse with --simulate, then drop --simulate: the real run must do the work."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(MANIFESTS, tmp_path / "manifests")
    fast = ("--poll-interval", "0.1", "--rate", "200/s", "--no-progress")
    at_once = ("--concurrency", "5")  # the rehearsal's renders take 1-3 s: one round of them, not two
    assert cli("run", "manifests/wan.yaml", "--simulate", *fast, *at_once)[0] == 0
    rehearsal = tmp_path / "out" / "wan-simulated"
    assert len(list(rehearsal.glob("*.mp4"))) == 5 and not (tmp_path / "out" / "wan").exists()
    sim = simulator()
    code, out, err = cli("run", "manifests/wan.yaml", "--base-url", sim.base_url, *fast)
    assert code == 0 and err.startswith("plan: 5 new") and len(sim.record.created()) == 5
    # an explicit folder cannot mix them either, in both directions, and nothing is sent
    code, _, err = cli("run", "manifests/wan.yaml", "--out", "out/wan-simulated", "--base-url", sim.base_url, *fast)
    assert code == 2 and "holds a rehearsal made with --simulate" in err and len(sim.record.created()) == 5
    code, _, err = cli("run", "manifests/wan.yaml", "--out", "out/wan", "--simulate", *fast)
    assert code == 2 and "holds real results" in err
    assert cli("status", "out/wan-simulated")[1].startswith("5 shots: 5 done (a rehearsal with --simulate")
    assert cli("status", "out/wan")[1].startswith("5 shots: 5 done\n")


def test_status_takes_the_manifest_as_run_does(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BATCHVID_API_KEY", raising=False)
    shutil.copytree(MANIFESTS, tmp_path / "manifests")
    fast = ("--poll-interval", "0.1", "--rate", "200/s", "--no-progress")
    at_once = ("--concurrency", "5")  # the rehearsal's renders take 1-3 s: one round of them, not two
    assert cli("run", "manifests/wan.yaml", "--simulate", *fast, *at_once)[0] == 0
    code, _, err = cli("status", "manifests/wan.yaml")
    assert (code, err.strip()) == (1, "batchvid: error: manifests/wan.yaml has not been run into out/wan yet; its "
                                      "rehearsal is in out/wan-simulated: add --simulate")
    code, out, _ = cli("status", "manifests/wan.yaml", "--simulate")
    assert code == 0 and out.startswith("5 shots: 5 done (a rehearsal with --simulate")
    code, _, err = cli("status", "out/wan-simulated", "--simulate")
    assert code == 2 and "--simulate goes with a MANIFEST" in err
    # the manifest's own run.out is where its runs go: status looks there too
    elsewhere = tmp_path / "manifests" / "elsewhere.yaml"
    elsewhere.write_text((MANIFESTS / "wan.yaml").read_text() + "run: {out: renders}\n")
    assert cli("run", elsewhere, "--simulate", *fast, *at_once)[0] == 0
    assert (tmp_path / "manifests" / "renders-simulated" / "journal.sqlite").is_file()
    assert cli("status", elsewhere, "--simulate")[1].startswith("5 shots: 5 done")
    # ${VAR} in run.out as in any string of the manifest, for run and for status alike
    named = tmp_path / "manifests" / "named.yaml"
    named.write_text((MANIFESTS / "wan.yaml").read_text() + "run:\n  out: ${RENDERS}\n  concurrency: ${HOW_MANY}\n")
    monkeypatch.setenv("RENDERS", "from-env")
    monkeypatch.setenv("HOW_MANY", "5")
    assert cli("run", named, "--simulate", *fast)[0] == 0
    assert (tmp_path / "manifests" / "from-env-simulated" / "journal.sqlite").is_file()
    assert cli("status", named, "--simulate")[1].startswith("5 shots: 5 done")
    monkeypatch.delenv("RENDERS")
    code, _, err = cli("status", named, "--simulate")
    assert code == 2 and err.splitlines()[0] == f"{named}:26: environment variable RENDERS is not set", err
    code, text, _ = cli("validate", named)
    assert code == 1 and text.splitlines() == [f"{named}:26: environment variable RENDERS is not set",
                                               "1 problem(s); nothing was sent"], text


def test_a_killed_rehearsal_resumes_like_a_real_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--simulate's gateway lives in the run: killed with it, its tasks must still be there for the next run
    (they were 404 before, and every shot in flight was marked failed)."""
    monkeypatch.delenv("BATCHVID_API_KEY", raising=False)
    out = tmp_path / "out"
    # 3 slots: once 3 shots are submitted, no other submit can be under way (renders take 1-3 s)
    command = [sys.executable, "-m", "batchvid", "run", str(MANIFESTS / "wan.yaml"), "--simulate", "--out", str(out),
               "--poll-interval", "0.2", "--rate", "100/s", "--concurrency", "3", "--no-progress"]
    signalled_run(command, out, 3, signal.SIGKILL)
    with sqlite_db(out / "journal.sqlite") as db:
        in_flight = dict(db.execute("SELECT id, task_id FROM shots WHERE state IN ('submitted', 'downloading')"))
    assert in_flight  # killed with tasks rendering: the next run must take them up
    # a machine slow enough to let a fourth submit start before the kill leaves it uncertain: that is right, and
    # not what this test is about
    again = subprocess.run([*command, "--resubmit-uncertain"], env=os.environ.copy(), capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(states(out).values()) == {"done"} and len(list(out.glob("*.mp4"))) == 5
    # the tasks in flight were taken up again, not made anew
    with sqlite_db(out / "journal.sqlite") as db:
        final = dict(db.execute("SELECT id, task_id FROM shots"))
        # not the simulator's base URL, whose port each rehearsal draws anew: its tasks were made elsewhere for none
        assert db.execute("SELECT DISTINCT gateway FROM shots").fetchall() == [(None,)]
    assert {shot: final[shot] for shot in in_flight} == in_flight
    made = [json.loads(line)["task_id"] for line in (out / "simulator-tasks.jsonl").read_text().splitlines()]
    assert set(in_flight.values()) <= set(made) and len(made) == len(set(made))


@pytest.mark.parametrize("signum, code, name", [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_ctrl_c_or_sigterm_saves_state_and_stops(simulator: Sim, tmp_path: Path, signum: int, code: int,
                                                 name: str) -> None:
    sim = simulator(render_seconds=(3.0, 3.0))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "batchvid", "run", str(MANIFESTS / "wan.yaml"), "--base-url", sim.base_url,
               "--out", str(out), "--poll-interval", "0.2", "--rate", "100/s", "--no-progress"]
    returncode, err, _ = signalled_run(command, out, 4, signum)
    assert returncode == code, err
    assert f"stopping ({name})" in err and "Traceback" not in err
    assert "submitting" not in states(out).values()  # a POST under way was let finish and recorded
    # the tasks left rendering are charged as they finish: "nothing billed" alone read as nothing spent
    rendering = [Decimal(r["estimated_usd"]) for r in ledger(out) if r["status"] == "submitted"]
    status = subprocess.run([sys.executable, "-m", "batchvid", "status", str(out)], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL).stdout
    assert len(rendering) >= 4 and (f"; {len(rendering)} tasks still at the gateway, estimated ${sum(rendering):.2f} "
                                     "more, charged as they render") in status, status
    # the way to what is paid for alone, with a shot still pending
    assert "pending" in states(out).values() and ("(tasks in flight are polled, never resent; --no-submit fetches "
                                                  "their videos alone, sending nothing new)") in status, status
    # and how long the paid videos wait for it (a run stopped on a Friday, resumed on Monday, would find them gone)
    assert ("; before long: the gateway keeps a finished video about 24 h (wan), and one fetched later is lost, "
            "though paid for") in status, status
    created = len(sim.record.created())
    again = subprocess.run(command, env=os.environ.copy(), capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL).returncode
    assert again == 0 and len(sim.record.created()) == 5 >= created


def test_after_ctrl_c_a_shot_waiting_for_its_rate_slot_is_not_sent(simulator: Sim, tmp_path: Path) -> None:
    """Shots that had a concurrency slot and waited for their rate-limit turn (or a retry) were counted as 'a POST
    under way': Ctrl-C let them go on, and they were submitted, one every 1/rate, after the user said stop."""
    sim = simulator(render_seconds=(5.0, 5.0))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "batchvid", "run", str(MANIFESTS / "wan.yaml"), "--base-url", sim.base_url,
               "--out", str(out), "--poll-interval", "1", "--rate", "1/s", "--no-progress"]
    returncode, err, signalled = signalled_run(command, out, 1, signal.SIGINT)
    assert returncode == 130, err
    # 4 slots at 1 request a second: three shots were waiting for their turn when the signal came
    after = [s for s in sim.record.submissions if s.at > signalled]
    assert after == [] and len(sim.record.submissions) == 1, err
    assert sorted(states(out).values()) == ["pending"] * 4 + ["submitted"]


def test_a_stop_while_the_submit_is_written_down_sends_nothing(simulator: Sim, run_batch: Run, tmp_path: Path,
                                                                runners: list[Any],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A POST waits for its `submitting` row to be on disk; a stop that lands in that wait must keep it home."""
    from batchvid import commits

    real_commit = commits.GroupCommit._scheduled

    def commit_then_ctrl_c(self: commits.GroupCommit) -> None:
        if runners[0].submits.posting:  # a shot waits for this commit before its POST: the user stops the run now
            runners[0].stop()
        real_commit(self)

    monkeypatch.setattr(commits.GroupCommit, "_scheduled", commit_then_ctrl_c)
    sim = simulator()
    run_batch(MANIFESTS / "wan.yaml", sim)
    assert sim.record.submissions == []
    assert {(row["status"], row["attempts"]) for row in ledger(tmp_path / "out")} == {("pending", "0")}


def test_only_shots_in_flight_have_a_task(simulator: Sim, run_batch: Run, write_manifest: Callable[..., Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Shots wait for a slot as plain data, so memory follows the concurrency, not the batch."""
    from batchvid import scheduler

    most: list[int] = []
    real_start = scheduler.Runner._start

    def start(self: scheduler.Runner, shot: Any, row: Any) -> None:
        real_start(self, shot, row)
        most.append(len(self._tasks))

    monkeypatch.setattr(scheduler.Runner, "_start", start)
    shots = "\n".join(f"  - {{id: s{i:02d}, model: wan2.5-t2v-preview, prompt: shot {i}}}" for i in range(40))
    manifest = write_manifest(f"version: 1\nshots:\n{shots}\n")
    sim = simulator(render_seconds=(0.05, 0.1))
    assert run_batch(manifest, sim, "--concurrency", "3")[0] == 0
    # the 3 slots, plus shots whose video is on its way: a handful, never the 40 of the batch
    assert len(most) == 40 and max(most) < 20
    assert len(sim.record.created()) == 40


def test_the_time_left_is_said_at_the_pace_of_this_run(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Shots finished by earlier runs do not count in this run's pace."""
    from batchvid import progress

    clock = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(progress, "LINE_EVERY", 0.0)
    shown = progress.Progress(total=300, done=100)
    clock[0] += 120.0
    for _ in range(4):
        shown.event("downloaded", finished=True)  # 4 shots in 2 min: 196 left take 98 min
    clock[0] += 3 * 3600.0  # 3 h later, 1 more: 195 left at 5 shots in 182 min
    shown.event("downloaded", finished=True)
    shown.close()
    lines = [line for line in capsys.readouterr().err.splitlines() if "shots finished" in line]
    assert lines[3].endswith("; about 98 min left at this run's pace") and lines[3].startswith("batchvid: 104/300")
    assert lines[4].endswith("; about 118 h 18 min left at this run's pace"), lines
