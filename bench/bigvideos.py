"""Large videos and the event loop: while big videos stream to disk, batchvid must keep polling and
submitting on time. Chunks of 64 KB and more are hashed and written in a worker thread
(`download.THREADED_WRITE`); the baseline, in the same run, writes every chunk on the event loop.
Measured: wall time for N videos downloaded at once (to the real disk, not tmpfs) and the event loop's
lag (how late a 5 ms timer fires) while they stream. Goal: lag p99 well under one poll interval.

    python bench/bigvideos.py [--videos 4] [--video-mb 500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from _common import median, run_batchvid, simulator_process, table, tempdir, write_manifest

from batchvid import download
from batchvid.scheduler import Runner

TICK = 0.005
lags: list[float] = []


def watch_the_loop(run: Callable[[Runner], Awaitable[None]]) -> Callable[[Runner], Awaitable[None]]:
    """Runner.run, with a ticker beside it noting how late each 5 ms sleep wakes up."""

    async def watched(self: Runner) -> None:
        async def tick() -> None:
            loop = asyncio.get_running_loop()
            while True:
                started = loop.time()
                await asyncio.sleep(TICK)
                lags.append(loop.time() - started - TICK)

        ticker = asyncio.create_task(tick())
        try:
            await run(self)
        finally:
            ticker.cancel()

    return watched


def one_run(base_url: str, args: argparse.Namespace, threaded: bool) -> tuple[float, float, float, float]:
    """(seconds, lag p50, p99, max in ms) of one run downloading every video at once."""
    download.THREADED_WRITE = 64 * 1024 if threaded else sys.maxsize
    lags.clear()
    with tempdir() as tmp:  # the real disk: page cache and writeback are the point
        manifest = write_manifest(Path(tmp), args.videos)
        code, seconds = run_batchvid("run", str(manifest), "--base-url", base_url, "--out", f"{tmp}/out",
                                     "--concurrency", str(args.videos), "--rate", "unlimited",
                                     "--poll-interval", "0.05")
        assert code == 0, f"batchvid run exited {code}"
        sizes = [p.stat().st_size for p in Path(tmp, "out").glob("*.mp4")]
        assert sizes == [int(args.video_mb * 1024**2)] * args.videos, sizes
    ordered = sorted(lags)
    return (seconds, 1000 * ordered[len(ordered) // 2], 1000 * ordered[int(len(ordered) * 0.99)],
            1000 * ordered[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--video-mb", type=float, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    Runner.run = watch_the_loop(Runner.run)  # type: ignore[method-assign]
    results: dict[bool, list[tuple[float, float, float, float]]] = {True: [], False: []}
    size = str(int(args.video_mb * 1024**2))
    with simulator_process("--render-seconds", "0", "--video-bytes", size) as base_url:
        for repeat in range(args.repeats):
            for threaded in (True, False) if repeat % 2 == 0 else (False, True):  # alternate: no drift favoured
                results[threaded].append(one_run(base_url, args, threaded))
    rows = [("", f"seconds for {args.videos} x {args.video_mb:g} MB", "loop lag p50", "p99", "max")]
    for threaded, name in ((False, "every chunk written on the loop (baseline)"),
                           (True, "large chunks written in a thread (batchvid)")):
        runs = results[threaded]
        rows.append((name, f"{median([r[0] for r in runs]):.1f}",
                     *(f"{median([r[i] for r in runs]):.1f} ms" for i in (1, 2, 3))))
    print(table(rows))
    print(f"(medians of {args.repeats} runs each, alternated; the lag is how late a {TICK * 1000:g} ms timer fired)")
    worst = median([r[2] for r in results[True]])
    return 0 if worst < 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
