"""Benchmark 5, memory and scale, each against a baseline measured in the same run:
- validate + estimate a 10,000-shot manifest (goal: < 2 s, peak RSS < 200 MB), against starting
  Python and importing batchvid (`batchvid --version`);
- resume a finished 10,000-shot batch (goal: < 1 s and zero requests);
- a 500 MB video by URL and by the base64 endpoint (goal: peak RSS grows by < 50 MB over the same
  run with a tiny video).

    python bench/scale.py [--shots 10000] [--video-mb 500]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import simulator, simulator_process, table, tempdir, write_manifest

MODELS = ["wan2.5-t2v-preview", "sora-2", "veo-3.0-fast-generate-001", "doubao-seedance-1-0-pro-250528",
          "viduq3p-720p"]
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
           "print(code, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def measure(*command: str) -> tuple[int, float, float]:
    """(exit code, seconds, peak RSS in MB) of a command in a fresh process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True)
    code, seconds, rss_kb = out.stdout.split()
    return int(code), float(seconds), int(rss_kb) / 1024


def batchvid(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchvid", *args]


def scale(args: argparse.Namespace, rows: list[tuple[str, ...]]) -> bool:
    with tempdir() as tmp:
        manifest = write_manifest(Path(tmp), args.shots, models=MODELS)
        _, base_s, base_mb = measure(*batchvid("--version"))
        code, est_s, est_mb = measure(*batchvid("estimate", str(manifest), "--json"))
        assert code == 0
        rows.append(("python + import batchvid (baseline)", f"{base_s:.2f} s", f"{base_mb:.0f} MB", ""))
        rows.append((f"validate + estimate {args.shots:,} shots", f"{est_s:.2f} s", f"{est_mb:.0f} MB",
                     "goal < 2 s, < 200 MB"))
        with simulator(render_seconds=(0.0, 0.0)) as sim:
            run = batchvid("run", str(manifest), "--base-url", sim.base_url, "--out", f"{tmp}/out",
                           "--concurrency", "64", "--rate", "100000/s", "--poll-interval", "0.01", "--no-progress",
                           "--yes")
            started = time.perf_counter()
            first = subprocess.run(run, capture_output=True, text=True)
            assert first.returncode == 0, first.stdout[-500:] + first.stderr[-500:]
            first_s = time.perf_counter() - started
            requests = len(sim.record.request_times) + sim.record.storage_requests
            code, resume_s, resume_mb = measure(*run)
            # the same, after an edit that changes no shot: the full path (parse, validate, plan) finds it done
            with manifest.open("a", encoding="utf-8") as edit:
                edit.write("# edited\n")
            full_code, full_s, full_mb = measure(*run)
            extra = len(sim.record.request_times) + sim.record.storage_requests - requests
            assert code == 0 and full_code == 0
        rows.append((f"first run of {args.shots:,} shots (zero render)", f"{first_s:.1f} s",
                     "", f"{args.shots / first_s:.0f} shots/s"))
        rows.append(("resume the finished batch", f"{resume_s:.2f} s", f"{resume_mb:.0f} MB",
                     f"{extra} requests in both; goal < 1 s, 0 requests"))
        rows.append(("  the same after editing a comment (full path)", f"{full_s:.2f} s", f"{full_mb:.0f} MB",
                     "the manifest parsed and validated again"))
    return est_s < 2 and est_mb < 200 and extra == 0 and resume_s < 1


def video(args: argparse.Namespace, rows: list[tuple[str, ...]]) -> bool:
    ok = True
    for model, how in (("wan2.5-t2v-preview", "by URL"), ("sora-2", "by the base64 endpoint")):
        peaks = []
        for size in (0, int(args.video_mb * 1024**2)):
            with tempdir() as tmp, simulator_process("--render-seconds", "0", "--video-bytes", str(size)) as url:
                manifest = write_manifest(Path(tmp), 1, model=model)
                code, seconds, rss = measure(*batchvid("run", str(manifest), "--base-url", url, "--out",
                                                       f"{tmp}/out", "--poll-interval", "0.05", "--no-progress"))
                assert code == 0, f"run exited {code}"
                got = sum(p.stat().st_size for p in Path(tmp, "out").glob("*.mp4"))
                assert size == 0 or got == size, (got, size)
                peaks.append((rss, seconds))
        growth = peaks[1][0] - peaks[0][0]
        ok &= growth < 50
        rows.append((f"{args.video_mb:g} MB video {how}", f"{peaks[1][1]:.1f} s", f"{peaks[1][0]:.0f} MB",
                     f"+{growth:.0f} MB over a tiny video ({peaks[0][0]:.0f} MB); goal < +50 MB"))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shots", type=int, default=10_000)
    parser.add_argument("--video-mb", type=float, default=500)
    parser.add_argument("--skip-video", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, ...]] = [("", "time", "peak RSS", "")]
    ok = scale(args, rows)
    if not args.skip_video:
        ok &= video(args, rows)
    print(table(rows))
    print(json.dumps({"ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
