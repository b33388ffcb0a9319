"""Seeded random input where the hand-written cases stop: manifests broken in several ways at once, journals
damaged byte by byte, and a gateway whose every answer may be nonsense. Each must end in a problem said in a line,
or in a result, never in an unexpected error (exit 3), and no task id may be lost. Random manifests found three
crashes that the hand-written cases had missed (a model that was a list, image data pasted where a file name goes,
a date inside a matrix value), damaged journals three more (text that is no UTF-8 in a row or in the table's
description, an amount that is none)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
import json
import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from conftest import FAST_RUN, MANIFESTS, SIM_KEY, sqlite_db

from batchvid import runsettings
from batchvid.families import MODELS
from batchvid.simulator.video import Video

Run = Callable[..., tuple[int, str, str]]
Sim = Callable[..., Any]

FIELDS = ["id", "model", "prompt", "duration", "resolution", "aspect_ratio", "image", "last_image", "reference_images",
          "audio", "audio_url", "seed", "watermark", "camera_fixed", "smart_rewrite", "remix_of", "person_generation",
          "fps", "bgm", "params", "matrix", "seconds", "size", "input_reference", "durationSeconds", "aspectRatio",
          "lastFrame", "reference_image_urls", "exclude", "not_a_field"]
SCALARS: list[Any] = [0, 1, -1, 4, 5, 8, 10, 12, 2**63, 10**40, 1e308, float("nan"), float("inf"), -0.0, 3.5, True,
                      False, None, dt.date(2020, 1, 1)]
TEXTS = ["", "720p", "1080p", "480p", "540p", "16:9", "9:16", "adaptive", "x" * 30_000, "${HOME}", "${BATCHVID_NOPE}",
         "$$", "$${matrix.a}", "${matrix.a}", "${matrix.zz}", "a.png", "https://example.com/a.png",
         "data:image/png;base64,AAAA", "data:image/png;base64,", "http://", "file:///etc/passwd", "../x.png",
         "[图1] hi", "--dur 5", "日本語", "\x00", "video_abc", "allow_all", "-1", "1e3", "null", "yes", "16:9:1", "08"]


class Maker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def value(self, depth: int = 0) -> Any:
        kind = self.rng.randrange(4 if depth < 3 else 2)
        if kind == 0:
            return self.rng.choice(SCALARS)
        if kind == 1:
            return self.rng.choice(TEXTS)
        if kind == 2:
            return [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))]
        return {self.rng.choice([*FIELDS, "a", "b"]): self.value(depth + 1) for _ in range(self.rng.randint(0, 3))}

    def shot(self) -> dict[str, Any]:
        shot: dict[str, Any] = {}
        if self.rng.random() < 0.9:
            shot["model"] = self.rng.choice([*MODELS, "nope"])
        if self.rng.random() < 0.9:
            shot["prompt"] = self.rng.choice(["a cat", "${matrix.a} cat", "", "x"])
        for name in self.rng.sample(FIELDS, self.rng.randint(0, 6)):
            shot[name] = self.value()
        if self.rng.random() < 0.2:
            axes = ["a", "seed", "duration", "resolution", "model", "prompt", "image", "id"]
            shot["matrix"] = {self.rng.choice(axes): [self.value(2) for _ in range(self.rng.randint(0, 3))]
                              if self.rng.random() < 0.9 else self.value() for _ in range(self.rng.randint(1, 3))}
            if self.rng.random() < 0.3:
                shot["matrix"]["exclude"] = [{self.rng.choice(["a", "seed", "zz"]): self.value(2)}]
        return shot

    def manifest(self) -> dict[str, Any]:
        rng = self.rng
        doc: dict[str, Any] = {}
        if rng.random() < 0.95:
            doc["version"] = rng.choice([1, 1, 1, 2, "1", None])
        if rng.random() < 0.3:
            doc["defaults"] = self.shot() if rng.random() < 0.8 else self.value()
        doc["shots"] = [self.shot() for _ in range(rng.randint(0, 5))] if rng.random() < 0.95 else self.value()
        if rng.random() < 0.15:
            doc["gateway"] = {rng.choice(["base_url", "api_key_env", "families", "x"]): self.value()}
        if rng.random() < 0.15:
            family = rng.choice(["veo", "vidu", "wan", "sora", "x"])
            setting = rng.choice(["base_url", "api_key_env", "rate", "concurrency", "zz"])
            doc["gateway"] = {"families": {family: {setting: self.value()}}}
        if rng.random() < 0.15:
            setting = rng.choice(["out", "concurrency", "rate", "max_cost", "poll_interval", "deadline_minutes",
                                  "task_retries", "download_concurrency", "zz"])
            doc["run"] = {setting: self.value()}
        if rng.random() < 0.1:
            field = rng.choice(["per_second", "source", "as_of", "kind", "per_million_tokens", "usd_per_credit", "fps"])
            doc["prices"] = {"models": {rng.choice(list(MODELS)): {field: self.value()}}, "group_ratio": self.value()}
        return doc


@pytest.mark.parametrize("seed", range(4))
def test_a_random_manifest_never_crashes_validate_estimate_or_a_dry_run(
        seed: int, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where a crash report would go
    (tmp_path / "a.png").write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4"
                                                   "890000000d4944415478da63f8ffff3f0005fe02fea7d6a9b10000000049454e44"
                                                   "ae426082"))
    maker = Maker(seed)
    for index in range(50):
        text = yaml.safe_dump(maker.manifest(), allow_unicode=True)
        (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
        for command in (["validate", "m.yaml"], ["estimate", "m.yaml"],
                        ["run", "m.yaml", "--simulate", "--dry-run", "--out", "out"]):
            code, out, err = cli(*command)
            assert code in (0, 1, 2) and "unexpected error" not in err, f"manifest {index}, {command[0]}:\n{text}"


@pytest.mark.parametrize("seed", range(2))
def test_a_journal_damaged_at_random_never_crashes_status_or_a_run(
        seed: int, simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    path = tmp_path / "out" / "journal.sqlite"
    sound = path.read_bytes()
    rng = random.Random(seed)
    for case in range(12):
        damaged = bytearray(sound)
        if case % 3 == 0:
            damaged = damaged[:rng.randrange(len(damaged))]
        elif case % 3 == 1:
            for _ in range(rng.choice([1, 5, 20, 100])):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        else:
            damaged = bytearray(rng.randbytes(rng.choice([100, 4096, 20_000])))
        for leftover in path.parent.glob("journal.sqlite-*"):
            leftover.unlink()
        path.write_bytes(damaged)
        for code, _, err in (cli("status", tmp_path / "out"), run_batch(MANIFESTS / "wan.yaml", sim)):
            assert code in (0, 1, 2) and "unexpected error" not in err, f"case {case}: {err}"


class RandomGateway:
    """A gateway whose answers are drawn at random, from sound to nonsense, for submits, polls and videos."""

    KEYS = ["task_id", "id", "status", "url", "video_url", "metadata", "error", "output", "task_status", "content",
            "usage", "total_tokens", "model_price", "requested_seconds", "group_ratio", "progress", "creations",
            "response", "videos", "bytesBase64Encoded", "message", "code", "failure_reason", "base64", "size"]
    SCALARS: list[Any] = [None, True, 0, -1, 1.5, "", "x", "succeeded", "failed", "queued", "in_progress",
                          "SUCCEEDED", "data:video/mp4;base64,AAAA", "http://127.0.0.1:1/x.mp4", [], {}]

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.made = 0
        self.video = Video("random").read()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.base_url = ""

    def junk(self, depth: int = 0) -> Any:
        kind = self.rng.random()
        if depth > 2 or kind < 0.3:
            return self.rng.choice(self.SCALARS)
        if kind < 0.6:
            return [self.junk(depth + 1) for _ in range(self.rng.randint(0, 3))]
        return {self.rng.choice(self.KEYS): self.junk(depth + 1) for _ in range(self.rng.randint(0, 5))}

    async def submit(self, request: web.Request) -> web.Response:
        self.made += 1
        draw = self.rng.random()
        if draw < 0.6:
            return web.json_response({"task_id": f"t{self.made}", "status": "submitted"})
        if draw < 0.8:
            return web.json_response(self.junk())
        return web.Response(status=self.rng.choice([200, 400, 404, 429, 500, 503]), text=json.dumps(self.junk()),
                            content_type=self.rng.choice(["application/json", "text/plain"]))

    async def query(self, request: web.Request) -> web.Response:
        task = {"task_id": request.match_info["task_id"]}
        draw = self.rng.random()
        if draw < 0.3:
            return web.json_response({**task, "status": "succeeded", "url": f"{self.base_url}/v/x.mp4"})
        if draw < 0.7:
            answer = self.junk()
            return web.json_response({**task, **answer} if isinstance(answer, dict) else answer)
        if draw < 0.85:
            return web.json_response({**task, "status": self.rng.choice(["succeeded", "failed", "in_progress", "odd"]),
                                      "metadata": self.junk(), "url": self.junk(), "error": self.junk()})
        return web.Response(status=self.rng.choice([200, 400, 401, 403, 404, 429, 500, 502]),
                            text=json.dumps(self.junk()))

    async def storage(self, request: web.Request) -> web.Response:
        draw = self.rng.random()
        if draw < 0.7:
            return web.Response(body=self.video, content_type="video/mp4")
        if draw < 0.85:
            return web.Response(body=self.video[:10], content_type="video/mp4")
        return web.Response(status=self.rng.choice([403, 404, 500]))

    async def download(self, request: web.Request) -> web.Response:
        video = base64.b64encode(self.video).decode() if self.rng.random() < 0.7 else self.junk()
        return web.json_response({"base64": video, "size": len(self.video)})

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/video/generations", self.submit)
        app.router.add_get("/v1/video/generations/download", self.download)
        app.router.add_get("/v1/video/generations/{task_id}", self.query)
        app.router.add_get("/v/x.mp4", self.storage)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    def __enter__(self) -> RandomGateway:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def random_gateway(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[RandomGateway]:
    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    with RandomGateway(request.param) as gateway:
        yield gateway


@pytest.mark.parametrize("random_gateway", range(3), indirect=True)
def test_a_gateway_answering_at_random_crashes_nothing_and_loses_no_task(
        random_gateway: RandomGateway, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    # a video is tried for 2 minutes: here, where half the answers are wrong, for a second
    monkeypatch.setattr(runsettings, "RunSettings", functools.partial(runsettings.RunSettings, download_patience=1.0))
    out = tmp_path / "out"
    for _ in range(2):  # the second run takes up what the first left: polls, downloads, uncertain shots
        code, stdout, err = cli("run", MANIFESTS / "demo.yaml", "--base-url", random_gateway.base_url, "--out", out,
                                *FAST_RUN, "--deadline-minutes", "0.05", "--resubmit-uncertain", "--retry-failed")
        assert code in (0, 1) and "unexpected error" not in stdout + err, stdout + err
        with sqlite_db(out / "journal.sqlite") as db:
            rows = db.execute("SELECT id, state, task_id FROM shots").fetchall()
        assert [row for row in rows if row[1] in ("submitted", "downloading") and not row[2]] == []
        assert SIM_KEY not in stdout + err
