"""Benchmark 4, polling cost: render times from a realistic spread (each model has its own typical
time between 1 and 5 minutes, each task within +-15 % of it), time-scaled. batchvid's adaptive
polling against a fixed 3 s poller (the baseline, `--fixed-polling`), in the same run: polls per task,
and detection latency (from the task's completion to the poll that sees it).
Goal: at most a third of the fixed poller's polls, median latency no worse.

    python bench/polling.py [--shots 150] [--scale 40]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from _common import median, run_batchvid, simulator, table, tempdir, write_manifest

MODELS = ["sora-2", "wan2.5-t2v-preview", "veo-3.0-fast-generate-001", "doubao-seedance-1-0-pro-250528",
          "viduq3p-720p"]


def one(fixed: bool, args: argparse.Namespace, renders: dict[str, tuple[float, float]]) -> dict[str, Any]:
    interval = 3.0 / args.scale
    with tempdir() as tmp, simulator(render_by_model=renders, seed=args.seed) as sim:
        manifest = write_manifest(Path(tmp), args.shots, models=MODELS)
        flags = ["--fixed-polling"] if fixed else []
        code, seconds = run_batchvid("run", str(manifest), "--base-url", sim.base_url, "--out", f"{tmp}/out",
                                     "--concurrency", str(args.concurrency), "--rate", "1000/s",
                                     "--poll-interval", f"{interval}", *flags)
        assert code == 0, f"batchvid run exited {code}"
        latency = [(sim.record.done_seen[t] - task.finish) * args.scale for t, task in sim.tasks.items()]
        return {"polls": sum(sim.record.polls.values()) / len(sim.tasks), "latency": median(latency),
                "p90": sorted(latency)[int(0.9 * len(latency))], "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shots", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--scale", type=float, default=40.0, help="real seconds per benchmark second")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    renders = {}
    for model in MODELS:
        typical = rng.uniform(60, 300) / args.scale
        renders[model] = (typical * 0.85, typical * 1.15)
    fixed = one(True, args, renders)
    adaptive = one(False, args, renders)
    print(table([
        ("", "polls/task", "median latency (real s)", "p90 latency (real s)"),
        ("fixed 3 s poller", f"{fixed['polls']:.1f}", f"{fixed['latency']:.2f}", f"{fixed['p90']:.2f}"),
        ("batchvid adaptive", f"{adaptive['polls']:.1f}", f"{adaptive['latency']:.2f}", f"{adaptive['p90']:.2f}"),
        ("ratio", f"{adaptive['polls'] / fixed['polls']:.2f}x (goal <= 0.33x)",
         f"{adaptive['latency'] / fixed['latency']:.2f}x (goal <= 1x)", ""),
    ]))
    ok = adaptive["polls"] <= fixed["polls"] / 3 and adaptive["latency"] <= fixed["latency"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
