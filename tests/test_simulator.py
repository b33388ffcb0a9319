"""The simulator speaks the documented API: a raw aiohttp client against it on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from batchvid.simulator import SimConfig, Simulator
from batchvid.simulator.video import Video

KEY = "sk-test-simulator"
AUTH = {"Authorization": f"Bearer {KEY}"}
FAST = (0.05, 0.1)

BODIES: dict[str, dict[str, Any]] = {
    "sora": {"model": "sora-2", "prompt": "A cute little cat", "seconds": "4", "size": "720x1280"},
    "wan": {"model": "wan2.5-i2v-preview", "prompt": "A kitten", "image": "https://example.com/cat.jpg",
            "duration": 5, "resolution": "720p"},
    "veo": {"model": "veo-3.0-fast-generate-001", "prompt": "p", "durationSeconds": 8, "aspectRatio": "16:9"},
    "seedance": {"model": "doubao-seedance-1-0-pro-250528",
                 "metadata": {"content": [{"type": "text", "text": "waves --rs 720p --ratio 16:9 --dur 5"}]}},
    "vidu": {"model": "viduq3p-720p", "prompt": "p", "aspect_ratio": "16:9", "duration": 5,
             "extra_body": {"audio": False, "seed": 42, "bgm": False}},
}


async def started(**config: Any) -> Simulator:
    sim = Simulator(SimConfig(api_key=KEY, **{"render_seconds": FAST, **config}))
    await sim.start()
    return sim


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def submit(http: aiohttp.ClientSession, sim: Simulator, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post(f"{sim.base_url}/v1/video/generations", json=body, headers=AUTH) as resp:
        return resp.status, await resp.json(content_type=None)


async def query(http: aiohttp.ClientSession, sim: Simulator, task_id: str) -> tuple[int, Any]:
    async with http.get(f"{sim.base_url}/v1/video/generations/{task_id}", headers=AUTH) as resp:
        return resp.status, await resp.json(content_type=None)


async def until_done(http: aiohttp.ClientSession, sim: Simulator, task_id: str) -> dict[str, Any]:
    for _ in range(100):
        _, body = await query(http, sim, task_id)
        if body["status"] in ("succeeded", "failed"):
            return dict(body)
        await asyncio.sleep(0.03)
    raise AssertionError("task never finished")


async def test_auth_is_required(http: aiohttp.ClientSession) -> None:
    sim = await started()
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with http.post(f"{sim.base_url}/v1/video/generations", json=BODIES["sora"], headers=headers) as r:
                assert r.status == 401
                assert await r.json() == {"error": {"message": "Invalid API key", "type": "authentication_error",
                                                    "code": "invalid_api_key"}}
        assert sim.record.submissions == []
    finally:
        await sim.stop()


@pytest.mark.parametrize("family", sorted(BODIES))
async def test_submit_poll_download_for_every_family(http: aiohttp.ClientSession, family: str) -> None:
    sim = await started(veo_url_style="list")
    try:
        status, answer = await submit(http, sim, BODIES[family])
        assert status == 200
        task_id = answer["task_id"]
        shape = {
            "sora": lambda: task_id.startswith("video_") and answer["status"] == "submitted"
            and answer["metadata"]["status"] == "queued",
            "wan": lambda: answer["metadata"]["output"]["task_status"] == "PENDING"
            and answer["metadata"]["model_price"] == 0.0738,
            "veo": lambda: set(answer) == {"task_id"},
            "seedance": lambda: task_id.startswith("cgt-") and answer == {"task_id": task_id, "status": "submitted"},
            "vidu": lambda: task_id.startswith("task_") and answer["object"] == "video.generation.job"
            and answer["status"] == "queued",
        }[family]
        assert shape()
        done = await until_done(http, sim, task_id)
        assert done["status"] == "succeeded"
        if family == "sora":
            async with http.get(f"{sim.base_url}/v1/video/generations/download", params={"id": task_id},
                                headers=AUTH) as r:
                payload = await r.json()
            video = base64.b64decode(payload["base64"])
            assert payload["size"] == len(video) and payload["success"] is True
        else:
            url = {"wan": lambda: done["metadata"]["output"]["video_url"],
                   "veo": lambda: done["url"][0],
                   "seedance": lambda: done["metadata"]["content"]["video_url"],
                   "vidu": lambda: done["metadata"]["creations"][0]["url"]}[family]()
            assert url.startswith(sim.storage_url)
            async with http.get(url) as r:
                assert r.status == 200
                video = await r.read()
        assert video[4:8] == b"ftyp"
        assert hashlib.sha256(video).hexdigest() == sim.record.served_sha256[task_id]
        assert sim.record.storage_auth_headers == 0
    finally:
        await sim.stop()


async def test_failures_have_each_familys_shape(http: aiohttp.ClientSession) -> None:
    sim = await started(fail_rate=1.0)
    try:
        _, sora = await submit(http, sim, BODIES["sora"])
        done = await until_done(http, sim, sora["task_id"])
        assert done["failure_reason"] and done["error"]["code"] == "content_policy_violation"
        _, wan = await submit(http, sim, BODIES["wan"])
        done = await until_done(http, sim, wan["task_id"])
        assert done["metadata"]["output"]["task_status"] == "FAILED" and done["metadata"]["output"]["code"]
    finally:
        await sim.stop()


async def test_bad_requests_are_refused_like_the_gateway(http: aiohttp.ClientSession) -> None:
    sim = await started()
    try:
        status, body = await submit(http, sim, {**BODIES["wan"], "image": None})
        assert status == 400 and body["error"]["code"] == "InvalidParameter"
        status, _ = await submit(http, sim, {**BODIES["sora"], "seconds": "5"})
        assert status == 400
        status, body = await submit(http, sim, {"model": "nope", "prompt": "p"})
        assert status == 400 and body["error"]["code"] == "model_not_found"
        status, _ = await submit(http, sim, {"model": "doubao-seedance-1-0-pro-250528"})
        assert status == 200 and "placeholder" in sim.record.notes[0]
        assert len(sim.record.created()) == 1 and len(sim.record.submissions) == 4
    finally:
        await sim.stop()


@pytest.mark.parametrize("body", [  # bodies of a shape no document shows: each made the simulator answer 500
    {"model": "doubao-seedance-1-0-pro-250528", "metadata": ["--dur 5"]},
    {"model": "doubao-seedance-1-0-pro-250528", "metadata": {"content": "a cat --dur 5"}},
    {"model": "doubao-seedance-1-0-pro-250528", "metadata": {"content": [{"type": "text", "text": {"a": 1}}]}},
    {"model": "wan2.5-t2v-preview", "prompt": "p", "resolution": ["720p"]},
    {"model": "veo-3.0-fast-generate-001", "prompt": "p", "resolution": 720},
    {"model": "sora-2", "prompt": "p", "size": {"w": 1280}},
])
async def test_a_body_of_the_wrong_shape_is_refused_not_an_internal_error(
        http: aiohttp.ClientSession, body: dict[str, Any]) -> None:
    sim = await started()
    try:
        status, answer = await submit(http, sim, body)
        assert status == 400 and answer["error"]["message"], answer
        assert sim.record.created() == []
    finally:
        await sim.stop()


@pytest.mark.parametrize(("retry_after", "header"), [(2.0, "2"), (None, None)])
async def test_429_with_and_without_retry_after(http: aiohttp.ClientSession, retry_after: float | None,
                                                header: str | None) -> None:
    sim = await started(submit_429_rate=1.0, retry_after=retry_after)
    try:
        async with http.post(f"{sim.base_url}/v1/video/generations", json=BODIES["vidu"], headers=AUTH) as r:
            assert r.status == 429
            assert r.headers.get("Retry-After") == header
            assert (await r.json())["error"]["type"] == "rate_limit_error"
        assert sim.record.created() == []
    finally:
        await sim.stop()


async def test_server_rate_limit(http: aiohttp.ClientSession) -> None:
    sim = await started(rate_limit_rps=3)
    try:
        statuses = [(await query(http, sim, "missing"))[0] for _ in range(5)]
        assert statuses == [404, 404, 404, 429, 429]
    finally:
        await sim.stop()


async def test_a_providers_limit_refuses_its_family_alone(http: aiohttp.ClientSession) -> None:
    sim = await started(upstream_rps={"veo": 0.5})  # one request in any 2 s
    try:
        first, veo_body = await submit(http, sim, BODIES["veo"])
        refused, error = await submit(http, sim, BODIES["veo"])
        assert (first, refused, error["error"]["type"]) == (200, 429, "rate_limit_error")
        assert (await query(http, sim, veo_body["task_id"]))[0] == 429  # its polls count too
        assert (await submit(http, sim, BODIES["wan"]))[0] == 200  # another provider, another limit
        assert sim.record.faults["upstream_429"] == 2
    finally:
        await sim.stop()


async def test_concurrency_limit_queues_the_excess(http: aiohttp.ClientSession) -> None:
    sim = Simulator(SimConfig(api_key=KEY, render_seconds=(0.4, 0.4), max_in_flight=1))
    await sim.start()
    try:
        first = (await submit(http, sim, BODIES["vidu"]))[1]["task_id"]
        second = (await submit(http, sim, BODIES["vidu"]))[1]["task_id"]
        await asyncio.sleep(0.1)
        assert (await query(http, sim, first))[1]["status"] == "in_progress"
        assert (await query(http, sim, second))[1]["status"] == "queued"
        await asyncio.sleep(0.45)
        assert (await query(http, sim, first))[1]["status"] == "succeeded"
        assert (await query(http, sim, second))[1]["status"] == "in_progress"
    finally:
        await sim.stop()


async def test_a_providers_own_concurrency_queues_its_familys_tasks_only(http: aiohttp.ClientSession) -> None:
    sim = Simulator(SimConfig(api_key=KEY, render_seconds=(0.4, 0.4), upstream_in_flight={"vidu": 1}))
    await sim.start()
    try:
        first, second = [(await submit(http, sim, BODIES["vidu"]))[1]["task_id"] for _ in range(2)]
        wans = [(await submit(http, sim, BODIES["wan"]))[1]["task_id"] for _ in range(2)]
        await asyncio.sleep(0.1)
        assert (await query(http, sim, first))[1]["status"] == "in_progress"
        assert (await query(http, sim, second))[1]["status"] == "queued"
        for wan in wans:  # Wan's provider has no such limit
            assert (await query(http, sim, wan))[1]["status"] != "queued"
    finally:
        await sim.stop()


async def test_5xx_bursts_malformed_json_and_unknown_statuses(http: aiohttp.ClientSession) -> None:
    sim = await started(error_rate=1.0, error_burst=2)
    try:
        assert (await submit(http, sim, BODIES["vidu"]))[0] in (500, 502)
        sim.config.error_rate = 0
        assert (await submit(http, sim, BODIES["vidu"]))[0] in (500, 502)  # the burst lasts 2 requests
        assert (await submit(http, sim, BODIES["vidu"]))[0] == 200
        sim.config.malformed_rate = 1.0
        async with http.post(f"{sim.base_url}/v1/video/generations", json=BODIES["vidu"], headers=AUTH) as r:
            with pytest.raises(json.JSONDecodeError):
                json.loads(await r.text())
        sim.config.malformed_rate = 0
        sim.config.unknown_status_rate = 1.0
        sim.config.render_seconds = (5.0, 5.0)
        task_id = (await submit(http, sim, BODIES["vidu"]))[1]["task_id"]
        assert (await query(http, sim, task_id))[1]["status"] == "processing"
    finally:
        await sim.stop()


async def test_resets_and_hangs(http: aiohttp.ClientSession) -> None:
    sim = await started(reset_rate=1.0)
    try:
        with pytest.raises(aiohttp.ClientError):
            await query(http, sim, "x")
        sim.config.reset_rate, sim.config.hang_rate, sim.config.hang_seconds = 0.0, 1.0, 1.0
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await query(http, sim, "x")
    finally:
        await sim.stop()


async def test_signed_urls_expire_and_truncated_downloads(http: aiohttp.ClientSession) -> None:
    sim = await started(expire_first_urls=True)
    try:
        task_id = (await submit(http, sim, BODIES["vidu"]))[1]["task_id"]
        done = await until_done(http, sim, task_id)
        async with http.get(done["metadata"]["creations"][0]["url"]) as r:
            assert r.status == 403
        fresh = (await query(http, sim, task_id))[1]["metadata"]["creations"][0]["url"]
        sim.config.truncate_rate = 1.0
        sim.config.video_bytes = 300_000
        sim.tasks[task_id].video.__init__(task_id, 300_000)  # type: ignore[misc]
        with pytest.raises(aiohttp.ClientPayloadError):
            async with http.get(fresh) as r:
                await r.read()
    finally:
        await sim.stop()


async def test_storage_notes_an_authorization_header(http: aiohttp.ClientSession) -> None:
    sim = await started()
    try:
        task_id = (await submit(http, sim, BODIES["seedance"]))[1]["task_id"]
        done = await until_done(http, sim, task_id)
        async with http.get(done["url"], headers=AUTH) as r:
            assert r.status == 200
        assert sim.record.storage_auth_headers == 1
        assert "1 storage requests with an Authorization header" in sim.record.summary()
    finally:
        await sim.stop()


async def test_padded_videos_are_valid_and_distinct(http: aiohttp.ClientSession) -> None:
    sim = await started(video_bytes=1_000_000)
    try:
        ids = [(await submit(http, sim, BODIES["wan"]))[1]["task_id"] for _ in range(2)]
        videos = []
        for task_id in ids:
            done = await until_done(http, sim, task_id)
            async with http.get(done["url"]) as r:
                videos.append(await r.read())
        assert [len(v) for v in videos] == [1_000_000, 1_000_000]
        assert videos[0] != videos[1] and all(v[4:8] == b"ftyp" for v in videos)
    finally:
        await sim.stop()


async def test_a_seed_makes_runs_reproducible(http: aiohttp.ClientSession) -> None:
    ids = []
    for _ in range(2):
        sim = await started(seed=7)
        try:
            ids.append([(await submit(http, sim, BODIES["wan"]))[1]["task_id"] for _ in range(3)])
            renders = [round(t.finish - t.start, 6) for t in sim.tasks.values()]
            ids[-1].extend(map(str, renders))
        finally:
            await sim.stop()
    assert ids[0] == ids[1]


async def test_a_simulator_started_again_with_its_state_file_still_knows_its_tasks(
        http: aiohttp.ClientSession, tmp_path: Any) -> None:
    state = tmp_path / "tasks.jsonl"
    first = await started(state_file=str(state), render_seconds=(0.3, 0.3))
    _, made = await submit(http, first, BODIES["wan"])
    _, shown = await query(http, first, made["task_id"])
    await first.stop()
    assert shown["status"] == "in_progress"
    with state.open("a") as torn:  # a kill in the middle of writing a line
        torn.write('{"task_id": "cut-sh')
    await asyncio.sleep(0.3)  # the task renders on while no simulator runs, as at the real gateway

    again = await started(state_file=str(state))
    try:
        done = await until_done(http, again, made["task_id"])
        assert done["status"] == "succeeded" and done["metadata"]["output"]["task_status"] == "SUCCEEDED"
        async with http.get(done["url"]) as resp:
            assert resp.status == 200 and await resp.read() == Video(made["task_id"]).read()
        # the same seed, started again: its new tasks get ids of their own
        _, other = await submit(http, again, BODIES["wan"])
        assert other["task_id"] != made["task_id"] and len(again.tasks) == 2
    finally:
        await again.stop()
    assert "example.com/cat.jpg" not in state.read_text()  # of the request, only what the answers repeat is kept
    # two tasks and the torn line, on a line of its own: a third start knows both tasks
    assert len(state.read_text().splitlines()) == 3
    third = Simulator(SimConfig(state_file=str(state)))
    await third.stop()
    assert set(third.tasks) == {made["task_id"], other["task_id"]}


@pytest.mark.parametrize("flag, value, said", [
    ("--port", "99999", "want a whole number from 0 to 65535"),
    ("--port", "-1", "want a whole number from 0 to 65535"),
    ("--render-seconds", "nan", "want SECONDS or LOW-HIGH, from 0 up"),
    ("--render-seconds", "3-1", "want 0 <= LOW <= HIGH"),
    ("--hang-seconds", "inf", "want a number of seconds, 0 or more"),
    ("--url-ttl", "nan", "is not a number"),
    ("--rate-limit", "0", "want a number above 0"),
    ("--max-in-flight", "0", "want a whole number 1 or more"),
    ("--fail-rate", "nan", "is not a number"),
    ("--error-rate", "1.5", "want a share from 0 to 1"),
    ("--upstream-limit", "veo", "want FAMILY=RPS"),
    ("--upstream-limit", "kling=1", "want FAMILY=RPS"),
    ("--upstream-limit", "veo=0", "want FAMILY=RPS, RPS a number above 0"),
    ("--upstream-in-flight", "vidu=0", "want FAMILY=N, N a whole number 1 or more"),
    ("--upstream-in-flight", "kling=5", "want FAMILY=N, FAMILY one of"),
])
def test_simulate_refuses_a_number_out_of_its_range_in_one_line(cli: Any, capsys: pytest.CaptureFixture[str],
                                                                 flag: str, value: str, said: str) -> None:
    """float() takes 'nan' and 'inf', and a port past 65535 reached the socket: each ended in a traceback."""
    with pytest.raises(SystemExit) as stopped:
        cli("simulate", flag, value)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and f"argument {flag}: {value!r}" in err and said in err, err
    assert "Traceback" not in err and "unexpected error" not in err


def test_simulate_takes_a_negative_retry_after_as_none() -> None:
    from batchvid.cli import build_parser
    from batchvid.commands.simulate import config_from

    def retry_after(value: str) -> float | None:
        return config_from(build_parser().parse_args(["simulate", "--retry-after", value]), KEY).retry_after

    assert (retry_after("-1"), retry_after("0"), retry_after("2.5")) == (None, 0.0, 2.5)
    upstream = build_parser().parse_args(["simulate", "--upstream-limit", "veo=0.17", "--upstream-limit", "sora=5"])
    assert config_from(upstream, KEY).upstream_rps == {"veo": 0.17, "sora": 5.0}
