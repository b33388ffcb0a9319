"""A model whose channel is down: its every submit draws 503 "no available channel" (the simulator's `unavailable`).
Its shots try again with backoff until the run leaves the model for the next one (2 minutes and 16 refused
submits: outage.py). Meanwhile the other models' shots should go as if it were not there: a shot waiting to
submit again holds no slot, and no other shot of its model starts (primitives.Slots.wait_out). Before, the
failing model's shots held every slot through their backoffs, and the Wan shots beside them waited.

Baseline, in the same run: the same Wan shots with the Veo shots' channel up. Figure: when the last Wan shot was
submitted, and when the last Wan video was saved, counted from the first submit, in both runs.

    python bench/modeldown.py [--shots 20] [--concurrency 4] [--render 1]

The run with the channel down takes the two minutes the model takes to be found out, whatever the rest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import run_batchvid, simulator, table, tempdir

DOWN = "veo-3.0-fast-generate-001"


def manifest(folder: Path, shots: int) -> Path:
    """Veo and Wan shots taken in turn, as a batch comparing models would have them."""
    lines = ["version: 1", "shots:"]
    for i in range(shots):
        lines.append(f"  - {{id: v{i:03d}, model: {DOWN}, prompt: shot {i}, duration: 4}}")
        lines.append(f"  - {{id: w{i:03d}, model: wan2.5-t2v-preview, prompt: shot {i}}}")
    path = folder / "modeldown.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shots", type=int, default=20, help="of each model (default 20)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--render", type=float, default=1.0)
    args = parser.parse_args()
    rows = [("", "last Wan submit", "last Wan video", "run", "Veo shots")]
    for down in (False, True):
        unavailable = frozenset({DOWN}) if down else frozenset()
        with tempdir() as tmp, simulator(render_seconds=(args.render, args.render), unavailable=unavailable) as sim:
            code, seconds = run_batchvid("run", str(manifest(Path(tmp), args.shots)), "--base-url", sim.base_url,
                                         "--out", f"{tmp}/out", "--concurrency", str(args.concurrency), "--rate",
                                         "20/s", "--poll-interval", "0.5")
            assert code == (1 if down else 0), f"batchvid run exited {code}"
            start = min(s.at for s in sim.record.submissions)
            wan = [s.at - start for s in sim.record.created() if s.model.startswith("wan")]
            videos = sorted((Path(tmp) / "out").glob("w*.mp4"))
            assert len(wan) == len(videos) == args.shots, (len(wan), len(videos))
            last_video = max(video.stat().st_mtime for video in videos) - start
            veo = "pending (model left for the next run)" if down else "done"
            rows.append((f"Veo's channel {'down' if down else 'up'}", f"{max(wan):.1f} s", f"{last_video:.1f} s",
                         f"{seconds:.1f} s", veo))
    print(table(rows))
    print(f"\n{args.shots} Veo and {args.shots} Wan shots in turn, concurrency {args.concurrency}, renders "
          f"{args.render:g} s, --rate 20/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
