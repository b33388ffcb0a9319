"""The limit on open files (ulimit -n): raised where the system allows, and a run that would not fit refused before
anything is sent. Each case runs batchvid in a process of its own with the limit set as a shell's ulimit would."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def batch(folder: Path, shots: int) -> Path:
    lines = ["version: 1", "shots:"] + [f"  - {{id: s{i}, model: wan2.5-t2v-preview, prompt: shot {i}}}"
                                         for i in range(shots)]
    (folder / "m.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "m.yaml"


def run_limited(folder: Path, soft: int, hard: int, *flags: str, shots: int = 40) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.run([sys.executable, "-m", "batchvid", "run", str(batch(folder, shots)), "--simulate", "--out",
                           str(folder / "out"), "--no-progress", "--rate", "unlimited", "--poll-interval", "0.2",
                           *flags],
                          capture_output=True, text=True, preexec_fn=limit, cwd=REPO, timeout=120)


def test_a_low_soft_limit_is_raised_and_the_run_goes_through(tmp_path: Path) -> None:
    """As on macOS, which starts programs with 256 (here 64): 64 connections at once need more."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    done = run_limited(tmp_path, 64, hard, "--concurrency", "64", "--download-concurrency", "64")
    assert done.returncode == 0 and "40 done" in done.stdout, done.stderr[-2000:]


def test_a_run_that_cannot_fit_the_hard_limit_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    """Without the check, 50 of 200 such shots came back uncertain: sent, their answers never read."""
    done = run_limited(tmp_path, 64, 64, "--concurrency", "64", "--download-concurrency", "64")
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "batchvid: error: --concurrency 64 with --download-concurrency 64 may hold 592 files and connections open "
        "at once, and this process may open only 64 (ulimit -n): lower them, or raise the limit (ulimit -n 592) and "
        "run again")
    assert not (tmp_path / "out" / "s0.mp4").exists()
    done = run_limited(tmp_path, 64, 64, shots=4)  # the defaults fit: 4 tasks and 4 downloads at once
    assert done.returncode == 0 and "4 done" in done.stdout, done.stderr[-2000:]
