"""A request rendered once in a folder is not paid for again (copies.py): shots renamed, prompts tried and put back,
requests moved from one shot to another, over random sequences of manifests run against the simulator."""

from __future__ import annotations

import csv
import hashlib
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FAST_RUN

from batchvid.cli import main
from batchvid.simulator import Simulator

PROMPTS = ("a cat", "a dog", "a fox", "an owl")
IDS = ("a", "b", "c", "d", "e")


@pytest.mark.parametrize("seed", range(3))
def test_a_request_rendered_in_the_folder_is_not_paid_for_again(
        seed: int, simulator: Callable[..., Simulator], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(seed)
    sim, out = simulator(render_seconds=(0.05, 0.1)), tmp_path / "out"
    requests: set[str] = set()
    takes = 0  # the second and later shots of one manifest with one request: takes of their own, each rendered
    for step in range(7):
        shots = [(shot_id, rng.choice(PROMPTS)) for shot_id in rng.sample(IDS, rng.randint(1, 4))]
        requests |= {prompt for _, prompt in shots}
        takes += sum(count - 1 for count in Counter(prompt for _, prompt in shots).values())
        manifest = tmp_path / f"m{step}.yaml"
        manifest.write_text("version: 1\ndefaults: {model: wan2.5-t2v-preview}\nshots:\n" + "".join(
            f"  - {{id: {shot_id}, prompt: {prompt}}}\n" for shot_id, prompt in shots), encoding="utf-8")
        command = ["run", str(manifest), "--base-url", sim.base_url, "--out", str(out), *FAST_RUN]
        assert main([*command, "--dry-run"]) == 0
        foreseen = capsys.readouterr().err
        code = main(command)
        said = capsys.readouterr()
        assert code == 0, said.out + said.err
        plan = said.err.split("\n  ")[0].splitlines()[0]
        assert plan.startswith("plan: ") and foreseen.startswith(plan), (foreseen, said.err)  # a dry run, the same
        with open(out / "ledger.csv", newline="", encoding="utf-8") as file:
            rows = {row["shot_id"]: row for row in csv.DictReader(file)}
        made = {task.task_id: task for task in sim.record.created()}
        for shot_id, prompt in shots:  # each shot has a video rendered from its own request, whole
            row = rows[shot_id]
            video = (out / f"{shot_id}.mp4").read_bytes()
            assert row["status"] == "done" and made[row["task_id"]].body["prompt"] == prompt, (step, shots, row)
            assert hashlib.sha256(video).hexdigest() == row["sha256"] == sim.record.served_sha256[row["task_id"]]
        # each request paid for once, but for the takes: however the shots were renamed, changed and changed back
        assert len(sim.record.created()) <= len(requests) + takes, (step, shots, said.err)
