"""Benchmark 1, orchestration overhead: `batchvid run` against a bare aiohttp loop doing the same
requests (submit, one poll, download to a file) at the same concurrency, against the same simulator
(its own process) with zero render time and no rate limit. Goal: batchvid >= 0.8x the bare loop's
shots/s (median of paired runs, order alternated; files on tmpfs to keep disk noise out). batchvid's
time includes everything: validation, journal, plan, ledger.

    python bench/overhead.py [--shots 2000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import aiohttp
from _common import KEY, median, run_batchvid, simulator_process, table, tempdir, write_manifest


async def bare_loop(base_url: str, shots: int, concurrency: int, out: Path) -> float:
    auth = {"Authorization": f"Bearer {KEY}"}
    gate = asyncio.Semaphore(concurrency)

    async def one(session: aiohttp.ClientSession, index: int) -> None:
        async with gate:
            body = {"model": "wan2.5-t2v-preview", "prompt": f"bench shot {index}", "duration": 5,
                    "resolution": "720p"}
            async with session.post(f"{base_url}/v1/video/generations", json=body, headers=auth) as resp:
                task_id = (await resp.json())["task_id"]
            async with session.get(f"{base_url}/v1/video/generations/{task_id}", headers=auth) as resp:
                url = (await resp.json())["url"]
            async with session.get(url) as resp:
                (out / f"b{index:05d}.mp4").write_bytes(await resp.read())

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(one(session, i) for i in range(shots)))
    return time.perf_counter() - started


def run_bare(base_url: str, args: argparse.Namespace, folder: Path) -> tuple[float, float]:
    """(shots/s, CPU ms a shot) of the bare loop."""
    (folder / "bare").mkdir()
    cpu = time.process_time()
    rate = args.shots / asyncio.run(bare_loop(base_url, args.shots, args.concurrency, folder / "bare"))
    return float(rate), 1000 * (time.process_time() - cpu) / args.shots


def run_ours(base_url: str, args: argparse.Namespace, folder: Path) -> tuple[float, float]:
    """(shots/s, CPU ms a shot) of `batchvid run`, everything included."""
    manifest = write_manifest(folder, args.shots)
    cpu = time.process_time()
    code, seconds = run_batchvid("run", str(manifest), "--base-url", base_url, "--out", str(folder / "out"),
                                 "--concurrency", str(args.concurrency), "--rate", "unlimited",
                                 "--poll-interval", "0.001")
    assert code == 0, f"batchvid run exited {code}"
    cpu_ms = 1000 * (time.process_time() - cpu) / args.shots
    assert len(list((folder / "out").glob("*.mp4"))) == args.shots
    return float(args.shots / seconds), cpu_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shots", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bare, ours, ratios, bare_cpu, ours_cpu = [], [], [], [], []
    for repeat in range(args.repeats):
        with tempdir(memory=True) as tmp, simulator_process("--render-seconds", "0") as base_url:
            folder = Path(tmp)
            # alternate the order, so that drift of the machine does not favour either
            for which in ("bare", "ours") if repeat % 2 == 0 else ("ours", "bare"):
                if which == "bare":
                    rate, cpu_ms = run_bare(base_url, args, folder)
                    bare.append(rate)
                    bare_cpu.append(cpu_ms)
                else:
                    rate, cpu_ms = run_ours(base_url, args, folder)
                    ours.append(rate)
                    ours_cpu.append(cpu_ms)
            ratios.append(ours[-1] / bare[-1])
    ratio = median(ratios)
    # CPU per shot is the steadier figure on a noisy machine: both sides are CPU-bound in one process
    print(table([
        ("", f"shots/s (median of {args.repeats})", "CPU ms a shot (median)", "runs"),
        ("bare aiohttp loop", f"{median(bare):.0f}", f"{median(bare_cpu):.2f}", ", ".join(f"{v:.0f}" for v in bare)),
        ("batchvid run", f"{median(ours):.0f}", f"{median(ours_cpu):.2f}", ", ".join(f"{v:.0f}" for v in ours)),
        ("ratio (median of paired runs)", f"{ratio:.2f}x", "",
         ", ".join(f"{v:.2f}" for v in ratios) + "; goal >= 0.80x"),
    ]))
    return 0 if ratio >= 0.8 else 1


if __name__ == "__main__":
    raise SystemExit(main())
