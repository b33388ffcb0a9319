"""Helpers shared by the benchmark scripts (not a test module)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from batchvid.cli import main as batchvid_main
from batchvid.simulator import SimConfig, SimulatorThread

KEY = "sk-bench-" + "7" * 16


def write_manifest(folder: Path, shots: int, model: str = "wan2.5-t2v-preview", name: str = "bench.yaml",
                   models: list[str] | None = None) -> Path:
    lines = ["version: 1", "shots:"]
    for index in range(shots):
        chosen = models[index % len(models)] if models else model
        lines.append(f'  - {{id: b{index:05d}, model: {chosen}, prompt: "bench shot {index}"}}')
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def simulator(**config: Any) -> Iterator[Any]:
    os.environ["BATCHVID_API_KEY"] = KEY
    with SimulatorThread(SimConfig(api_key=KEY, **config)) as sim:
        yield sim


@contextlib.contextmanager
def simulator_process(*flags: str) -> Iterator[str]:
    """`batchvid simulate` in its own process (no GIL shared with the client); yields its base URL."""
    with simulator_with_pid(*flags) as (base_url, _):
        yield base_url


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (Linux) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def simulator_with_pid(*flags: str) -> Iterator[tuple[str, int]]:
    """As simulator_process, and the simulator's pid, to count the CPU it spends (cpu_seconds)."""
    os.environ["BATCHVID_API_KEY"] = KEY
    proc = subprocess.Popen([sys.executable, "-m", "batchvid", "simulate", "--port", "0", *flags],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"gateway at (http://\S+),", first)
        if not match:
            raise RuntimeError(f"the simulator did not start: {first!r}")
        yield match.group(1), proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def run_batchvid(*args: str) -> tuple[int, float]:
    """batchvid in this process, its output swallowed; (exit code, seconds). A run is not asked before it sends
    (--yes): the benchmarks' gateway is the simulator."""
    started = time.perf_counter()
    yes = ["--yes"] if args[0] == "run" else []
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = batchvid_main([*args, "--no-progress", *yes])
    return code, time.perf_counter() - started


def tempdir(memory: bool = False) -> tempfile.TemporaryDirectory[str]:
    """A scratch folder; `memory`: on tmpfs when there is one, to keep disk noise out of CPU figures."""
    where = "/dev/shm" if memory and os.path.isdir("/dev/shm") else None
    return tempfile.TemporaryDirectory(prefix="batchvid-bench-", dir=where)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
