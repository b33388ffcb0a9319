"""A provider that queues: a mixed batch, Vidu shots first, then Wan shots, where Vidu's provider renders only a few
tasks at once and queues the rest (Vidu: 5 an organisation). Without `gateway.families.vidu.concurrency`, the first
queued Vidu tasks hold run slots until the polls show the provider's limit (queues.py); from then on the slots
that more queued Vidu tasks would hold go to the Wan shots. With the setting, that holds from the first submit.
Baselines: the ideal schedule, and the two against each other in the same run.

    python bench/queued.py [--shots 20] [--concurrency 8] [--provider 5] [--render 2]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from _common import run_batchvid, simulator, table, tempdir


def manifest(folder: Path, shots: int, own: int | None) -> Path:
    lines = ["version: 1"]
    if own is not None:
        lines.append(f"gateway: {{families: {{vidu: {{concurrency: {own}}}}}}}")
    lines.append("shots:")
    lines += [f"  - {{id: v{i:03d}, model: viduq3p-720p, prompt: shot {i}}}" for i in range(shots)]
    lines += [f"  - {{id: w{i:03d}, model: wan2.5-t2v-preview, prompt: shot {i}}}" for i in range(shots)]
    path = folder / f"queued-{own}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ideal(shots: int, concurrency: int, provider: int, render: float) -> float:
    """Vidu's shots `provider` at a time; Wan's in the other slots meanwhile, then in all of them."""
    vidu_rounds = math.ceil(shots / provider)
    wan_beside = (concurrency - provider) * vidu_rounds
    return (vidu_rounds + math.ceil(max(0, shots - wan_beside) / concurrency)) * render


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shots", type=int, default=20, help="of each family (default 20)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--provider", type=int, default=5, help="Vidu tasks its provider renders at once")
    parser.add_argument("--render", type=float, default=2.0)
    args = parser.parse_args()
    seconds: dict[int | None, float] = {}
    for own in (None, args.provider):
        with tempdir() as tmp, simulator(render_seconds=(args.render, args.render),
                                         upstream_in_flight={"vidu": args.provider}) as sim:
            code, seconds[own] = run_batchvid("run", str(manifest(Path(tmp), args.shots, own)), "--base-url",
                                              sim.base_url, "--out", f"{tmp}/out", "--concurrency",
                                              str(args.concurrency), "--rate", "unlimited", "--poll-interval", "0.5")
            assert code == 0, f"batchvid run exited {code}"
    best = ideal(args.shots, args.concurrency, args.provider, args.render)
    print(table([
        ("", "seconds", ""),
        ("ideal", f"{best:.1f}", f"{args.shots} Vidu + {args.shots} Wan shots, concurrency {args.concurrency}, Vidu "
                                 f"{args.provider} at once, renders {args.render:g} s"),
        ("no setting: the limit found from polls", f"{seconds[None]:.1f}", f"{seconds[None] / best:.2f}x ideal"),
        (f"vidu: {{concurrency: {args.provider}}}", f"{seconds[args.provider]:.1f}",
         f"{seconds[args.provider] / best:.2f}x ideal, {seconds[args.provider] / seconds[None]:.2f}x found"),
    ]))
    return 0 if seconds[args.provider] < seconds[None] else 1


if __name__ == "__main__":
    raise SystemExit(main())
