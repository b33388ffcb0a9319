"""Crash-and-resume storm: a batch across every family against a misbehaving simulator, with
`batchvid run` killed by SIGKILL at seeded random instants and resumed until the batch is done.

    python bench/chaos.py                      # 200 shots, 50 kills (the figures in RELIABILITY.md)
    python bench/chaos.py --shots 30 --kills 5 # the reduced form the test suite runs
    python bench/chaos.py --adopt-made         # uncertain shots the gateway made are adopted, not resent

Prints one JSON report and exits 1 if any promise was broken: duplicate submissions, lost shots,
videos that differ from what the simulator served, .part files left, a ledger out of step.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from batchvid.simulator import SimConfig, SimulatorThread

KEY = "sk-chaos-" + "5" * 16
SHAPES = [
    ("sora-2", {"duration": 4}),
    ("veo-3.0-fast-generate-001", {"duration": 4}),
    ("veo-3.1-fast-generate-preview", {"duration": 6, "image": "https://example.com/a.png"}),
    ("wan2.5-t2v-preview", {"resolution": "480p"}),
    ("wan2.5-i2v-preview", {"image": "https://example.com/a.png"}),
    ("doubao-seedance-1-0-pro-250528", {"duration": 5}),
    ("doubao-seedance-1-5-pro-251215", {"resolution": "480p", "duration": 4}),
    ("viduq3p-720p", {"duration": 3}),
    ("viduq3t-540p", {"duration": 2, "image": "https://example.com/b.png"}),
]


def write_manifest(folder: Path, shots: int) -> Path:
    lines = ["version: 1", "shots:"]
    for index in range(shots):
        model, fields = SHAPES[index % len(SHAPES)]
        extra = "".join(f", {key}: {json.dumps(value)}" for key, value in fields.items())
        lines.append(f"  - {{id: s{index:04d}, model: {model}, prompt: \"shot s{index:04d}\"{extra}}}")
    path = folder / "chaos.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sim_config(seed: int) -> SimConfig:
    return SimConfig(
        api_key=KEY, seed=seed, render_seconds=(0.2, 1.5), submit_429_rate=0.08, poll_429_rate=0.08,
        retry_after=0.3, error_rate=0.03, error_burst=3, reset_rate=0.02, hang_rate=0.01, hang_seconds=2.0,
        truncate_rate=0.1, malformed_rate=0.02, unknown_status_rate=0.2, expire_first_urls=True,
        veo_url_style="mixed", provider_fail_rate=0.05,
    )


def run_command(manifest: Path, out: Path, base_url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "batchvid", "run", str(manifest), "--base-url", base_url, "--out", str(out),
            "--poll-interval", "0.3", "--rate", "60/s", "--concurrency", "12", "--no-progress", "--yes", *extra]


def ledger_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "ledger.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def settled(out: Path) -> bool:
    """Every shot done, failed or uncertain: what is left needs the user's word, not another run."""
    return (out / "ledger.csv").exists() and {r["status"] for r in ledger_rows(out)} <= {"done", "failed", "uncertain"}


def made_for(sim: Any, shots: list[str], out: Path) -> list[str]:
    """`--adopt` flags for the uncertain shots that the gateway did make a task for (as a user finds them in the
    account's records), each task one that no shot of the ledger has: the latest made for the shot (one made before
    it failed, and was followed by the new task whose submit the kill cut, is no longer the shot's)."""
    owned = {row["task_id"] for row in ledger_rows(out) if row["task_id"]}
    flags: dict[str, str] = {}
    for submission in sim.record.created():
        found = re.search(r"shot (s\d{4})", json.dumps(submission.body))
        if found and found.group(1) in shots and submission.task_id not in owned:
            flags[found.group(1)] = f"--adopt={found.group(1)}={submission.task_id}"
    return list(flags.values())


def storm(shots: int, kills: int, seed: int, resubmit_uncertain: bool, adopt_made: bool = False) -> dict[str, Any]:
    rng = random.Random(seed)
    env = {**os.environ, "BATCHVID_API_KEY": KEY}
    with tempfile.TemporaryDirectory() as tmp, SimulatorThread(sim_config(seed)) as sim:
        folder = Path(tmp)
        manifest, out = write_manifest(folder, shots), folder / "out"
        command = run_command(manifest, out, sim.base_url)
        started = time.monotonic()
        killed = 0
        while killed < kills:
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 2.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            elif proc.returncode == 0 or settled(out):
                break  # it ended by itself with nothing left to do (a settled batch answers at once)
            proc.wait()
        finals: list[int] = []
        uncertain_before: list[str] = []
        adopted = 0
        for _ in range(5 if resubmit_uncertain else 1):  # a resubmit can meet a fault again: bounded rounds
            for _ in range(6):  # resume until nothing is left but what needs a decision
                finals.append(subprocess.run(command, env=env, capture_output=True, text=True).returncode)
                if finals[-1] == 0 or settled(out):
                    break
            uncertain = [r["shot_id"] for r in ledger_rows(out) if r["status"] == "uncertain"]
            uncertain_before += [sid for sid in uncertain if sid not in uncertain_before]
            if not uncertain or not resubmit_uncertain:
                break
            # the adopted or resubmitted shots' tasks may still be in flight when it ends: the next round resumes
            # them; the uncertain shots the gateway never made are resubmitted once none is left to adopt
            adopt = made_for(sim, uncertain, out) if adopt_made else []
            adopted += len(adopt)
            finals.append(subprocess.run(command + (adopt or ["--resubmit-uncertain"]), env=env, capture_output=True,
                                         text=True).returncode)
        rows = ledger_rows(out)
        ledger_before = (out / "ledger.csv").read_text(encoding="utf-8")
        polls_before = sum(sim.record.polls.values())
        again = subprocess.run(command, env=env, capture_output=True, text=True)
        ledger_after = (out / "ledger.csv").read_text(encoding="utf-8")
        result = report(sim, rows, out, shots, killed, uncertain_before, finals, again.returncode,
                        ledger_before == ledger_after, sum(sim.record.polls.values()) - polls_before,
                        time.monotonic() - started)
        return {**result, "uncertain_adopted": adopted}


def report(sim: Any, rows: list[dict[str, str]], out: Path, shots: int, killed: int, uncertain: list[str],
           finals: list[int], last_code: int, ledger_stable: bool, extra_polls: int, seconds: float
           ) -> dict[str, Any]:
    # every prompt names its shot ("shot s0042"); Seedance carries it inside metadata.content. A failed task is not
    # charged: a shot's new task after one (--task-retries) pays nothing twice
    failed = {task_id for task_id, task in sim.tasks.items() if task.fails}
    paid = [s for s in sim.record.created() if s.task_id not in failed]
    per_shot = Counter(m.group(1) for s in paid if (m := re.search(r"shot (s\d{4})", json.dumps(s.body))))
    duplicates = {sid: n - 1 for sid, n in per_shot.items() if sid not in uncertain and n > 1}
    resubmitted_dups = {sid: per_shot[sid] - 1 for sid in uncertain if per_shot[sid] > 1}
    lost = [r["shot_id"] for r in rows if r["status"] not in ("done", "failed")
            or (r["status"] == "failed" and not r["error"])]
    mismatched = []
    for row in rows:
        if row["status"] == "done":
            digest = hashlib.sha256((out / row["output"]).read_bytes()).hexdigest()
            if digest != row["sha256"] or digest != sim.record.served_sha256.get(row["task_id"]):
                mismatched.append(row["shot_id"])
    billed = sum((Decimal(r["billed_usd"]) for r in rows if r["billed_usd"]), Decimal(0))
    result = {
        "shots": shots, "kills": killed, "seconds": round(seconds, 1),
        "tasks_created": len(sim.record.created()), "tasks_paid": len(paid),
        "tasks_failed_not_charged": len(sim.record.created()) - len(paid),
        "submissions": len(sim.record.submissions),
        "duplicate_submissions": sum(duplicates.values()),
        "uncertain": len(uncertain),
        "duplicates_from_resubmitted_uncertain": sum(resubmitted_dups.values()),
        "lost": len(lost), "lost_detail": [f"{r['shot_id']}: {r['status']}: {r['error']}" for r in rows
                                           if r["shot_id"] in lost],
        "sha256_mismatches": len(mismatched),
        "part_files_left": len(list(out.glob("*.part"))),
        "ledger_rows": len(rows), "done": sum(r["status"] == "done" for r in rows),
        "failed": sum(r["status"] == "failed" for r in rows), "billed_usd": str(billed),
        "final_exit_codes": finals, "ledger_unchanged_after_resume": ledger_stable,
        "requests_on_extra_resume": extra_polls, "last_exit_code": last_code,
        "faults": dict(sim.record.faults), "storage_auth_headers": sim.record.storage_auth_headers,
    }
    result["ok"] = (
        result["duplicate_submissions"] == 0 and not lost and not mismatched and result["part_files_left"] == 0
        and len(rows) == shots and ledger_stable and extra_polls == 0 and result["storage_auth_headers"] == 0
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shots", type=int, default=200)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-resubmit-uncertain", action="store_true",
                        help="leave uncertain shots alone instead of resubmitting them at the end")
    parser.add_argument("--adopt-made", action="store_true",
                        help="before resubmitting uncertain shots, adopt (--adopt) the tasks the simulator made "
                        "for them")
    args = parser.parse_args()
    # killed clients make the simulator's server log "connection lost": expected here, not news
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    result = storm(args.shots, args.kills, args.seed, not args.no_resubmit_uncertain, args.adopt_made)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
