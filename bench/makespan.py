"""Benchmark 3, makespan: N shots, concurrency C, render time T. Goal: total time
<= 1.1 x ceil(N/C) x T plus one poll interval (the ideal schedule is the baseline).

    python bench/makespan.py [--shots 40] [--concurrency 8] [--render 3]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from _common import run_batchvid, simulator, table, tempdir, write_manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shots", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--render", type=float, default=3.0)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    args = parser.parse_args()
    with tempdir() as tmp, simulator(render_seconds=(args.render, args.render)) as sim:
        manifest = write_manifest(Path(tmp), args.shots)
        code, seconds = run_batchvid("run", str(manifest), "--base-url", sim.base_url, "--out", f"{tmp}/out",
                                     "--concurrency", str(args.concurrency), "--rate", "100/s",
                                     "--poll-interval", str(args.poll_interval))
        polls = sum(sim.record.polls.values())
    assert code == 0, f"batchvid run exited {code}"
    ideal = math.ceil(args.shots / args.concurrency) * args.render
    bound = 1.1 * ideal + args.poll_interval
    print(table([
        ("", "seconds", ""),
        ("ideal ceil(N/C) x T", f"{ideal:.1f}", f"N={args.shots} C={args.concurrency} T={args.render:g}s"),
        ("goal: 1.1 x ideal + poll interval", f"{bound:.1f}", ""),
        ("batchvid run", f"{seconds:.1f}", f"{seconds / ideal:.2f}x ideal, {polls / args.shots:.1f} polls/shot"),
    ]))
    return 0 if seconds <= bound else 1


if __name__ == "__main__":
    raise SystemExit(main())
