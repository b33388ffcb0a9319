"""Benchmark 2, rate-limit fidelity: batchvid with --rate R against a simulator that enforces R
requests per second itself. Goal: achieved >= 0.95 R, never above R in any one-second window,
zero 429s provoked. The baseline is the configured R itself (and what the simulator counted).

    python bench/ratelimit.py [--rate 20] [--shots 150]

A second run shows the adaptive side: the same --rate R against a gateway that allows only R/2 (and says
Retry-After: 1 s on a 429). batchvid cannot know that limit; it should find it from the 429s (halve the rate,
pause everyone, win it back step by step) with few 429s and a rate near R/2, where a fixed pace of R would draw
a 429 for every second request. A third run repeats it with three model families in one batch: each family keeps
its own pace (a provider's 429s slow only its family), so here three paces must find one gateway-wide limit
between them from the 429s each draws.
"""

from __future__ import annotations

import argparse
import bisect
from pathlib import Path

from _common import run_batchvid, simulator, table, tempdir, write_manifest


def busiest_window(times: list[float]) -> int:
    """Most requests in any one-second window (sliding, starting at each request)."""
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)) if times else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--shots", type=int, default=150)
    args = parser.parse_args()
    times, throttled, seconds = against(args.rate, args.rate, args.shots)
    # the achieved rate while requests were waiting: the busy stretch, from the first request to the last
    busy = times[-1] - times[0]
    achieved = (len(times) - 1) / busy
    window = busiest_window(times)
    print(table([
        ("", "figure", "goal"),
        ("configured rate R", f"{args.rate:.1f}/s", ""),
        ("requests sent", str(len(times)), ""),
        ("achieved rate", f"{achieved:.2f}/s ({achieved / args.rate:.3f} R)", ">= 0.95 R"),
        ("busiest 1-s window", str(window), f"<= {args.rate:.0f}"),
        ("429s provoked", str(throttled), "0"),
        ("wall time", f"{seconds:.1f} s", ""),
    ]))
    met = achieved >= 0.95 * args.rate and window <= args.rate and throttled == 0
    lower = args.rate / 2
    times, throttled, seconds = against(args.rate, lower, args.shots)
    achieved = (len(times) - 1) / (times[-1] - times[0])
    print()
    print(table([
        ("", "figure"),
        ("configured rate R / the gateway's own limit", f"{args.rate:.1f}/s / {lower:.1f}/s"),
        ("requests sent", str(len(times))),
        ("achieved rate", f"{achieved:.2f}/s ({achieved / lower:.2f}x the gateway's limit)"),
        ("429s drawn", f"{throttled} ({throttled / len(times):.1%} of requests)"),
        ("wall time", f"{seconds:.1f} s"),
    ]))
    times, throttled, seconds = against(args.rate, lower, args.shots, models=MIXED)
    achieved = (len(times) - 1) / (times[-1] - times[0])
    print()
    print(table([
        ("", "figure"),
        ("the same, with three families", ", ".join(MIXED)),
        ("requests sent", str(len(times))),
        ("achieved rate", f"{achieved:.2f}/s ({achieved / lower:.2f}x the gateway's limit)"),
        ("429s drawn", f"{throttled} ({throttled / len(times):.1%} of requests)"),
        ("wall time", f"{seconds:.1f} s"),
    ]))
    return 0 if met else 1


MIXED = ["wan2.5-t2v-preview", "veo-3.0-fast-generate-001", "doubao-seedance-1-0-pro-250528"]


def against(rate: float, gateway_rate: float, shots: int,
            models: list[str] | None = None) -> tuple[list[float], int, float]:
    """(request times, 429s, seconds) of a batch run at `rate` against a gateway enforcing `gateway_rate`."""
    with tempdir() as tmp, simulator(render_seconds=(0.5, 2.0), rate_limit_rps=gateway_rate, retry_after=1.0) as sim:
        manifest = write_manifest(Path(tmp), shots, models=models)
        code, seconds = run_batchvid("run", str(manifest), "--base-url", sim.base_url, "--out", f"{tmp}/out",
                                     "--rate", f"{rate}/s", "--concurrency", "200", "--poll-interval", "0.5",
                                     "--fixed-polling")
        times = sorted(sim.record.request_times)
        throttled = sim.record.answers.get(429, 0)
    assert code == 0, f"batchvid run exited {code}"
    return times, throttled, seconds


if __name__ == "__main__":
    raise SystemExit(main())
