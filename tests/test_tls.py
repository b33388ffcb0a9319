"""The gateway over HTTPS, as the real one is. A certificate that cannot be verified (a network whose proxy re-signs
HTTPS, a wrong host) stops the run at once with the way out, SSL_CERT_FILE, instead of a minute of retries that
end in "check the network"; trusted that way, the same run goes through."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import FAST_RUN, MANIFESTS, SIM_KEY, sqlite_db

CERT = Path(__file__).resolve().parent / "tls" / "localhost.pem"
KEY = CERT.with_suffix(".key")
Run = Callable[..., tuple[int, str, str]]


def https_simulator(simulator: Callable[..., Any]) -> Any:
    sim = simulator(tls_cert=str(CERT), tls_key=str(KEY))
    assert sim.base_url.startswith("https://") and sim.storage_url.startswith("https://")
    return sim


def test_an_untrusted_certificate_stops_the_run_at_once_and_says_the_way_out(
        simulator: Callable[..., Any], cli: Run, tmp_path: Path) -> None:
    sim = https_simulator(simulator)
    started = time.monotonic()
    code, _, err = cli("run", MANIFESTS / "wan.yaml", "--base-url", sim.base_url, "--out", tmp_path / "out", *FAST_RUN)
    assert time.monotonic() - started < 10  # not retried until the gateway counts as unreachable (60 s)
    assert code == 1 and err.splitlines()[-1] == (
        f"batchvid: error: cannot verify the TLS certificate of {sim.base_url} (self-signed certificate); nothing "
        "was sent. If a proxy or security software on this network re-signs HTTPS, point SSL_CERT_FILE at its CA "
        "certificate (a PEM file) and run again"), err
    assert sim.record.submissions == []
    with sqlite_db(tmp_path / "out" / "journal.sqlite") as db:
        assert {state for (state,) in db.execute("SELECT state FROM shots")} == {"pending"}
    assert cli("status", tmp_path / "out")[1].splitlines()[-1] == (
        "  next: have that certificate trusted (SSL_CERT_FILE), then run the same command again (tasks in "
        "flight are polled, never resent)")


def test_trusted_through_ssl_cert_file_the_same_run_goes_through(simulator: Callable[..., Any],
                                                                 tmp_path: Path) -> None:
    sim = https_simulator(simulator)
    # a process of its own: the trusted certificates are read when aiohttp is imported
    done = subprocess.run(
        [sys.executable, "-m", "batchvid", "run", str(MANIFESTS / "wan.yaml"), "--base-url", sim.base_url, "--out",
         str(tmp_path / "out"), *FAST_RUN],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "BATCHVID_API_KEY": SIM_KEY, "SSL_CERT_FILE": str(CERT)}, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert len(sim.record.created()) == 5 and len(list((tmp_path / "out").glob("*.mp4"))) == 5
