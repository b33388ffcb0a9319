"""The crash-and-resume storm in its reduced form: SIGKILL at 5 seeded instants, then resume; the uncertain shots
that the gateway made are adopted (--adopt), the others resubmitted."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO


def test_kill_storm_loses_nothing_and_pays_nothing_twice() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "chaos.py"), "--shots", "30", "--kills", "5", "--seed", "3",
         "--adopt-made"],
        capture_output=True, text=True, timeout=240,
    )
    # the whole report (or what the storm printed) with any failure: kill timings vary, a failure may not come back
    said = f"exit {result.returncode}\n{result.stdout}\n{result.stderr[-3000:]}"
    assert result.stdout.startswith("{"), said
    report = json.loads(result.stdout)
    assert report["kills"] >= 1, said
    assert report["duplicate_submissions"] == 0, said
    # no shot paid twice at all: an uncertain one is adopted when it was made, resubmitted only when it was not
    assert report["duplicates_from_resubmitted_uncertain"] == 0 and report["tasks_paid"] <= 30, said
    assert report["lost"] == 0, said
    assert report["sha256_mismatches"] == 0 and report["part_files_left"] == 0, said
    assert report["ledger_rows"] == 30 and report["ledger_unchanged_after_resume"], said
    assert report["requests_on_extra_resume"] == 0 and report["storage_auth_headers"] == 0, said
    assert result.returncode == 0, said
