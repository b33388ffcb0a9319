"""A request rendered once in a folder is not paid for again (copies.py): shots renamed, prompts tried and put back,
requests moved from one shot to another, over random sequences of manifests run against the simulator."""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FAST_RUN

from batchvid.cli import main
from batchvid.simulator import Simulator

PROMPTS = ("a cat", "a dog", "a fox", "an owl")
IDS = ("a", "b", "c", "d", "e")


@pytest.mark.parametrize("seed", range(6))
def test_a_request_rendered_in_the_folder_is_not_paid_for_again(
        seed: int, simulator: Callable[..., Simulator], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(seed)
    sim, out = simulator(render_seconds=(0.05, 0.1)), tmp_path / "out"
    requests: set[str] = set()
    takes = 0  # the second and later shots of one manifest with one request: takes of their own, each rendered
    for step in range(7):
        listed = [(shot_id, rng.choice(PROMPTS)) for shot_id in rng.sample(IDS, rng.randint(1, 4))]
        manifest = tmp_path / f"m{step}.yaml"
        manifest.write_text("version: 1\ndefaults: {model: wan2.5-t2v-preview}\nshots:\n" + "".join(
            f"  - {{id: {shot_id}, prompt: {prompt}}}\n" for shot_id, prompt in listed), encoding="utf-8")
        command = ["run", str(manifest), "--base-url", sim.base_url, "--out", str(out), *FAST_RUN]
        shots = listed
        if len(listed) > 1 and rng.random() < 0.3:  # a few first: the others' videos stay theirs
            shots = rng.sample(listed, rng.randint(1, len(listed) - 1))
            command += ["--only", ",".join(shot_id for shot_id, _ in shots)]
        requests |= {prompt for _, prompt in shots}
        # a shot --only leaves out keeps its video: the manifest's takes are counted whole
        takes += sum(count - 1 for count in Counter(prompt for _, prompt in listed).values())
        assert main([*command, "--dry-run"]) == 0
        foreseen = capsys.readouterr().err
        code = main(command)
        said = capsys.readouterr()
        assert code == 0, said.out + said.err
        plan = next(line for line in said.err.splitlines() if line.startswith("plan: "))
        assert plan in foreseen.splitlines(), (foreseen, said.err)  # as a dry run foresaw it
        with open(out / "ledger.csv", newline="", encoding="utf-8") as file:
            rows = {row["shot_id"]: row for row in csv.DictReader(file)}
        made = {task.task_id: task for task in sim.record.created()}
        for shot_id, prompt in shots:  # each shot has a video rendered from its own request, whole
            row = rows[shot_id]
            video = (out / f"{shot_id}.mp4").read_bytes()
            assert row["status"] == "done" and made[row["task_id"]].body["prompt"] == prompt, (step, shots, row)
            assert hashlib.sha256(video).hexdigest() == row["sha256"] == sim.record.served_sha256[row["task_id"]]
        # a video given this run is not the take of another shot of the manifest (two shots, one request: two takes)
        takes_now = {shot_id: rows[shot_id]["task_id"] for shot_id, prompt in listed
                     if shot_id in rows and rows[shot_id]["prompt"] == prompt and rows[shot_id]["status"] == "done"}
        for copied in re.findall(r"^  (\w+): copy:", said.err, re.M):
            others = [task for shot_id, task in takes_now.items() if shot_id != copied]
            assert takes_now[copied] not in others, (step, listed, copied, said.err)
        # each request paid for once, but for the takes: however the shots were renamed, changed and changed back
        assert len(sim.record.created()) <= len(requests) + takes, (step, shots, said.err)
