"""A gateway that lies or attacks: each bad shot is recorded with a reason, the rest go on,
nothing is written outside the output folder, and the key goes nowhere but the gateway."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from conftest import SIM_KEY

from batchvid.simulator.video import Video

Run = Callable[..., tuple[int, str, str]]
TLS = Path(__file__).resolve().parent / "tls"


class Servers:
    """The liar gateway, its storage, and an 'elsewhere' host that notes every Authorization header."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.elsewhere_auth: list[str] = []
        self.elsewhere_hits = 0
        self.urls: dict[str, str] = {}
        self.moved_to = ""  # where the "moved" gateway sends every request, path and query kept
        self.runners: list[web.AppRunner] = []

    async def _serve(self, app: web.Application, tls: ssl.SSLContext | None = None) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        self.runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    async def _start(self) -> None:
        elsewhere = web.Application()
        elsewhere.router.add_route("*", "/{tail:.*}", self.elsewhere)
        self.urls["elsewhere"] = await self._serve(elsewhere)
        storage = web.Application()
        storage.router.add_get("/good.mp4", lambda r: web.Response(body=Video("x").read(), content_type="video/mp4"))
        storage.router.add_get("/endless.mp4", self.endless)
        # a 200 that is not the video: a CDN's error page, an empty object
        storage.router.add_get("/page.mp4", lambda r: web.Response(text="<html>Access denied</html>",
                                                                   content_type="text/html"))
        storage.router.add_get("/empty.mp4", lambda r: web.Response(body=b"", content_type="video/mp4"))
        self.urls["storage"] = await self._serve(storage)
        self_signed = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self_signed.load_cert_chain(TLS / "localhost.pem", TLS / "localhost.key")
        self.urls["untrusted-storage"] = await self._serve(storage, self_signed)
        with socket.socket() as probe:  # a port nothing listens on: a storage host that is down
            probe.bind(("127.0.0.1", 0))
            self.urls["closed-storage"] = f"http://127.0.0.1:{probe.getsockname()[1]}"
        gateway = web.Application()
        gateway.router.add_post("/v1/video/generations", self.submit)
        gateway.router.add_get("/v1/video/generations/download", self.download)  # before {task_id} takes it
        gateway.router.add_get("/v1/video/generations/{task_id}", self.query)
        self.urls["gateway"] = await self._serve(gateway)
        moved = web.Application()
        moved.router.add_route("*", "/{tail:.*}", self.moved)
        self.urls["moved"] = await self._serve(moved)

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(self.moved_to + request.path_qs)

    async def elsewhere(self, request: web.Request) -> web.Response:
        self.elsewhere_hits += 1
        if "Authorization" in request.headers:
            self.elsewhere_auth.append(request.headers["Authorization"])
        return web.Response(body=Video("elsewhere").read(), content_type="video/mp4")

    async def endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(Video("x").read())
        for _ in range(10_000):
            await response.write(bytes(64 * 1024))
        return response

    async def submit(self, request: web.Request) -> web.StreamResponse:
        prompt = (await request.json())["prompt"]
        if prompt == "redirect-submit":
            key = request.headers["Authorization"].removeprefix("Bearer ")  # the key, back in the Location
            raise web.HTTPTemporaryRedirect(f"{self.urls['elsewhere']}/{key}/v1/video/generations")
        if prompt == "dotdot-task":
            return web.json_response({"task_id": "../../../etc/passwd"})
        if prompt == "keyed-task":  # the key as a task id would be written to the journal and the ledger
            return web.json_response({"task_id": "t-" + request.headers["Authorization"].removeprefix("Bearer ")})
        if prompt == "formula-task":  # a spreadsheet opening the ledger would make it a live link
            return web.json_response({"task_id": '=HYPERLINK("https://evil.example","open")', "status": "queued"})
        if prompt == "dots-task":  # as a URL path segment, `..` would poll another path
            return web.json_response({"task_id": ".."})
        if prompt == "surrogate-task":  # JSON may escape half a character (\ud800), which no file or URL takes
            return web.json_response({"task_id": "t-\ud800"})
        if prompt == "surrogate-refusal":
            return web.json_response({"error": {"message": "bad \udcff words"}}, status=400)
        if prompt == "error-200":  # a refusal worded in a 200: it may or may not have made a task
            return web.json_response({"code": "insufficient_quota", "message": "balance too low"})
        if prompt == "noisy-refusal":
            return web.json_response({"error": {"message": NOISY}}, status=400)
        if prompt == "echoed-key":  # as some gateways word a refusal: the key we sent, in our ledger
            message = f"Incorrect API key provided: {request.headers['Authorization']}"
            return web.json_response({"error": {"message": message}}, status=400)
        return web.json_response({"task_id": f"t-{prompt}", "status": "submitted"})

    async def download(self, request: web.Request) -> web.StreamResponse:
        """Sora's base64 endpoint, answering as each scenario says, a few bytes at a time (the decoder's carries)."""
        scenario = request.query["id"].removeprefix("t-")
        if scenario in ("b64-expired", "b64-server-error"):
            status = 404 if scenario == "b64-expired" else 500
            return web.json_response({"error": {"message": "no such video"}}, status=status)
        body = B64_ANSWERS[scenario]
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for start in range(0, len(body), 4093):
            await response.write(body[start:start + 4093])
        await response.write_eof()
        return response

    async def query(self, request: web.Request) -> web.StreamResponse:
        task = request.match_info["task_id"]
        scenario = task.removeprefix("t-")
        done = {"task_id": task, "status": "succeeded", "format": "mp4", "metadata": {}}
        if scenario.startswith("b64-"):  # a Sora task, rendered: its video is fetched from the download endpoint
            return web.json_response({"id": task, "object": "video", "status": "succeeded", "progress": 100})
        if scenario == "good" or task in ("../../../etc/passwd", '=HYPERLINK("https://evil.example","open")'):
            return web.json_response({**done, "url": self.urls["storage"] + "/good.mp4"})
        if scenario in BILLS:  # the video is fine; what the gateway says it charged is not a price
            billing = {"model_price": BILLS[scenario], "requested_seconds": 5, "group_ratio": "1"}
            return web.json_response({**done, "url": self.urls["storage"] + "/good.mp4", "metadata": billing})
        if scenario == "keyed-url":  # the key, back in a video URL that fails: in the error and the log line
            key = request.headers["Authorization"].removeprefix("Bearer ")
            return web.json_response({**done, "url": f"{self.urls['storage']}/{key}/missing.mp4"})
        if scenario == "keyed-status":  # a status no document has, worded as the key: logged as a warning
            return web.json_response({"task_id": task, "status": request.headers["Authorization"][7:]})
        if scenario == "untrusted-storage":
            return web.json_response({**done, "url": self.urls["untrusted-storage"] + "/good.mp4?sig=s3cr3t"})
        if scenario == "closed-storage":
            url = self.urls["closed-storage"].replace("//", "//user:pw@") + "/good.mp4?sig=s3cr3t"
            return web.json_response({**done, "url": url})
        if scenario == "file-url":
            return web.json_response({**done, "url": "file:///etc/passwd"})
        if scenario == "other-port":
            return web.json_response({**done, "url": self.urls["elsewhere"] + "/video.mp4?sig=abc"})
        if scenario in ("page-not-video", "empty-video"):
            name = "page" if scenario == "page-not-video" else "empty"
            return web.json_response({**done, "url": f"{self.urls['storage']}/{name}.mp4"})
        if scenario == "endless-download":
            return web.json_response({**done, "url": self.urls["storage"] + "/endless.mp4"})
        if scenario == "huge-data-uri":
            return web.json_response({**done, "url": "data:video/mp4;base64," + "A" * 3_000_000})
        if scenario in ("chunked-answer", "chunked-huge"):  # no Content-Length: as a proxy that compresses sends it
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            answer = json.dumps({**done, "url": self.urls["storage"] + "/good.mp4"}).encode()
            if scenario == "chunked-huge":  # a long answer in pieces, none of them large: only their sum is
                answer = answer[:-1] + b', "padding": "' + b"x" * (5 * 1024 * 1024) + b'"}'
            try:
                for start in range(0, len(answer), 60_000):
                    await response.write(answer[start:start + 60_000])
                await response.write_eof()
            except ConnectionError:
                pass
            return response
        if scenario == "huge-body":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.content_length = 1024**3
            await response.prepare(request)
            try:
                for _ in range(200):
                    await response.write(b" " * 65536)
            except ConnectionError:
                pass
            return response
        if scenario == "echoed-key-failure":
            key = request.headers["Authorization"].removeprefix("Bearer ")
            return web.json_response({"task_id": task, "status": "failed", "error": {"message": f"key {key} banned"}})
        if scenario == "surrogate-url":
            return web.json_response({**done, "url": self.urls["storage"] + "/\ud800.mp4"})
        if scenario == "surrogate-failure":
            return web.json_response({"task_id": task, "status": "failed", "error": {"message": "bad \ud800 words"}})
        if scenario == "noisy-failure":
            return web.json_response({"task_id": task, "status": "failed", "error": {"code": "E\n1", "message": NOISY}})
        if scenario == "not-json":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if scenario == "wrong-shape":
            return web.json_response([1, 2, 3])
        if scenario == "redirect-poll":
            raise web.HTTPFound(self.urls["elsewhere"] + "/steal")
        return web.json_response({"error": {"message": "unknown"}}, status=404)

    def __enter__(self) -> Servers:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for runner in self.runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def liar(monkeypatch: pytest.MonkeyPatch) -> Iterator[Servers]:
    monkeypatch.setenv("BATCHVID_API_KEY", SIM_KEY)
    with Servers() as servers:
        yield servers


#: a gateway's message that would break a terminal (an escape that clears the screen) and the one-line summary
NOISY = "content\x1b[2J policy\r\n\n  violation\t" + "x" * 5000
#: what is kept of it: one line, no control characters, cut at 300 characters with an ellipsis
NOISY_SHOWN = "content [2J policy violation " + "x" * 270 + "…"
NOISY_FAILURE = "E 1: content [2J policy violation " + "x" * 265 + "…"  # the code and the message, cut as one

#: model_price figures that are no price: the ledger must leave them out, not add them to the spend
BILLS = {"nan-bill": "NaN", "endless-bill": "Infinity", "huge-bill": "1e999999", "negative-bill": "-0.5"}

def _b64_answer(video: bytes, *, size: int | None = None, field: str = "base64", after: str = "") -> bytes:
    """A Sora download answer as JSON writers make it: slashes escaped, the base64 cut into lines by escaped
    newlines."""
    import base64

    text = base64.b64encode(video).decode()
    wrapped = "\\n".join(text[i:i + 76] for i in range(0, len(text), 76)).replace("/", "\\/")
    return (f'{{"id": "v", "{field}": "{wrapped}", "size": {len(video) if size is None else size}, "format": "mp4"'
            f'{after}}}').encode()


#: a video whose base64 holds slashes and pluses
B64_VIDEO = Video("b64").read() + bytes(range(256)) * 64
B64_ANSWERS = {
    "b64-good": _b64_answer(B64_VIDEO),
    "b64-no-field": _b64_answer(B64_VIDEO, field="video"),
    "b64-cut-short": _b64_answer(B64_VIDEO)[:5000],
    "b64-not-base64": _b64_answer(B64_VIDEO)[:3000] + b'!!!!A", "size": 9}',
    "b64-wrong-size": _b64_answer(B64_VIDEO, size=len(B64_VIDEO) + 1),
    "b64-not-mp4": _b64_answer(b"<html>not a video</html>"),
    "b64-not-json": _b64_answer(B64_VIDEO, after=", oops"),
    "b64-too-much-after": _b64_answer(B64_VIDEO, after=', "x": "' + "y" * (2 * 1024 * 1024) + '"'),
}
#: the reason each kept shot gives: a paid video whose download answer is wrong stays `downloading`, for the next run
B64_REASONS = {
    "b64-no-field": "no base64 field in the download answer",
    "b64-cut-short": "the download answer ended before the video did",
    "b64-not-base64": "the download answer's base64 is not valid",
    "b64-wrong-size": f"got {len(B64_VIDEO):,} bytes of {len(B64_VIDEO) + 1:,}",
    "b64-not-mp4": "not an MP4 file (no ftyp box)",
    "b64-not-json": "the download answer is not valid JSON",
    "b64-too-much-after": "the download answer has too much after the video",
    "b64-expired": "HTTP 404: no such video",
    "b64-server-error": "HTTP 500: no such video",
}


def test_a_sora_download_answer_that_is_wrong_keeps_the_paid_video_for_the_next_run(
        liar: Servers, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sora's video comes as base64 inside a JSON answer, decoded as it streams in: every way that answer can be wrong
    is said, nothing is left half-written, and the video is not lost (nor failed, which would pay again)."""
    import functools

    from batchvid import runsettings

    monkeypatch.setattr(runsettings, "RunSettings", functools.partial(runsettings.RunSettings, download_tries=2,
                                                                      download_patience=0))
    manifest = tmp_path / "m.yaml"
    names = ["b64-good", *B64_REASONS]
    shots = "\n".join(f"  - {{id: {name}, model: sora-2, prompt: {name}}}" for name in names)
    manifest.write_text(f"version: 1\nshots:\n{shots}\n")
    out = tmp_path / "out"
    code, _, err = cli("run", manifest, "--base-url", liar.urls["gateway"], "--out", out, "--poll-interval", "0.05",
                       "--rate", "500/s", "--no-progress")
    assert code == 1, err
    with open(out / "ledger.csv", newline="") as handle:
        rows = {row["shot_id"]: row for row in csv.DictReader(handle)}
    assert (out / "b64-good.mp4").read_bytes() == B64_VIDEO and rows["b64-good"]["status"] == "done"
    for name, reason in B64_REASONS.items():
        assert rows[name]["status"] == "downloading", (name, rows[name])
        assert rows[name]["error"].startswith(f"download failed: {reason}"), (name, rows[name]["error"])
    assert sorted(p.name for p in out.glob("*.mp4*")) == ["b64-good.mp4"]  # no .part left behind


SCENARIOS = {
    "good": ("done", ""),
    **{name: ("done", "") for name in BILLS},
    "dotdot-task": ("done", ""),
    "formula-task": ("done", ""),
    "dots-task": ("uncertain", "the submit answer had no usable task id"),
    "surrogate-task": ("uncertain", "the submit answer had no usable task id"),
    # half a character in the gateway's words is left out, as a control character is
    "surrogate-refusal": ("failed", "rejected at submit: HTTP 400: bad words"),
    "surrogate-failure": ("failed", "task failed: bad words"),
    "surrogate-url": ("downloading", None),  # checked apart
    "error-200": ("uncertain", "the submit answer had no usable task id"),
    "keyed-task": ("uncertain", "the submit answer's task id holds the API key, which batchvid writes nowhere: the "
                   "task is not followed"),
    "file-url": ("failed", "download: refusing a video URL that has scheme 'file'"),
    "other-port": ("done", ""),
    "endless-download": ("failed", "download: video is over the 1,048,576 byte limit"),
    # paid for, so kept to try again in the next run: the storage may serve it then
    "page-not-video": ("downloading", "download failed: not an MP4 file"),
    "empty-video": ("downloading", "download failed: the video is empty; run again to retry"),
    "huge-data-uri": ("failed", "download: data: URI video is over the 1,048,576 byte limit"),
    # no word on the task, which may have rendered: kept, for a run with a higher --max-answer-mb
    "huge-body": ("submitted", "poll: the gateway's answer of 1,073,741,824 bytes is over the 4,194,304 byte limit; "
                  "its task is kept: raise --max-answer-mb"),
    "chunked-answer": ("done", ""),
    "chunked-huge": ("submitted", "poll: the gateway's answer is over the 4,194,304 byte limit; its task is kept: "
                     "raise --max-answer-mb"),
    "not-json": ("submitted", "3 polls in a row failed; task t-not-json is kept: run again to re-attach"),
    "wrong-shape": ("submitted", "3 polls in a row failed; task t-wrong-shape is kept: run again to re-attach"),
    "noisy-failure": ("failed", f"task failed: {NOISY_FAILURE}"),
    "keyed-url": ("downloading", None),  # its reason names the storage's port: checked apart
    "noisy-refusal": ("failed", f"rejected at submit: HTTP 400: {NOISY_SHOWN}"),
    "echoed-key": ("failed", "rejected at submit: HTTP 400: Incorrect API key provided: Bearer ***"),
    "echoed-key-failure": ("failed", "task failed: key *** banned"),
}


def test_a_lying_gateway_fails_single_shots_and_never_leaks(liar: Servers, cli: Run, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import functools

    from batchvid import runsettings

    monkeypatch.setattr(runsettings, "RunSettings", functools.partial(runsettings.RunSettings, max_poll_errors=3,
                                                                      download_tries=2, download_patience=0))
    manifest = tmp_path / "m.yaml"
    shots = "\n".join(f"  - {{id: {name}, model: wan2.5-t2v-preview, prompt: {name}}}" for name in SCENARIOS)
    manifest.write_text(f"version: 1\nshots:\n{shots}\n")
    out = tmp_path / "out"
    code, stdout, stderr = cli("run", manifest, "--base-url", liar.urls["gateway"], "--out", out, "--poll-interval",
                               "0.05", "--rate", "500/s", "--max-video-mb", "1", "--max-answer-mb", "4",
                               "--no-progress")
    assert code == 1
    with open(out / "ledger.csv", newline="") as handle:
        rows = {row["shot_id"]: row for row in csv.DictReader(handle)}
    for name, (state, reason) in SCENARIOS.items():
        found = (rows[name]["status"], rows[name]["error"].split(" (")[0])
        assert found == (state, found[1] if reason is None else reason), name
    assert rows["keyed-url"]["error"].startswith(
        f"download failed: storage answered HTTP 404 for {liar.urls['storage']}/***/missing.mp4"), rows["keyed-url"]
    # half a character in a URL, quoted in the reason: written as the replacement character, not a crash
    assert rows["surrogate-url"]["error"].startswith(
        f"download failed: storage answered HTTP 404 for {liar.urls['storage']}/\ufffd.mp4;"), rows["surrogate-url"]
    assert rows["error-200"]["error"] == "the submit answer had no usable task id (the gateway said: balance too low)"
    # kept as the gateway said it in the journal (polls use it), inert in the ledger that a spreadsheet opens
    assert rows["formula-task"]["task_id"] == "'=HYPERLINK(\"https://evil.example\",\"open\")"
    assert not [cell for row in rows.values() for cell in row.values() if cell.startswith(("=", "+", "@"))]
    assert liar.elsewhere_auth == [] and liar.elsewhere_hits == 1  # only the other-port video, without the key
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("journal.sqlite-"))
    assert files == sorted([".batchvid.lock", ".batchvid-spare", "journal.sqlite", "ledger.csv", "good.mp4",
                            "dotdot-task.mp4", "formula-task.mp4", "other-port.mp4", "chunked-answer.mp4",
                            *(f"{name}.mp4" for name in BILLS)])
    assert {name: rows[name]["billed_usd"] for name in BILLS} == dict.fromkeys(BILLS, "")
    assert "no bill in the gateway's answers" in stdout and len(stdout) < 5000
    assert not (tmp_path / "etc").exists() and SIM_KEY not in stdout + stderr
    for path in out.iterdir():  # the journal and the ledger too, where the gateway's messages are kept
        assert SIM_KEY.encode() not in path.read_bytes(), path
    assert "\x1b" not in stdout + stderr and "violation\n" not in stdout + stderr


def test_a_gateway_message_is_shown_as_one_plain_line() -> None:
    from batchvid.errors import one_line

    assert one_line("quota exceeded") == "quota exceeded"
    # right-to-left override and zero-width marks could make a message read as something it is not
    assert one_line("pay\u202eevil\u200b here\u2066") == "pay evil here"
    assert one_line(" \n\t ") == ""
    assert one_line("ab" * 10, limit=5) == "abab…"


def test_a_gateway_that_redirects_stops_the_run_with_the_base_url_to_give(
        liar: Servers, simulator: Callable[..., Any], cli: Run, tmp_path: Path) -> None:
    """http:// typed for an https:// gateway: every request would draw the same redirect, so the first one stops
    the run, nothing made, with the address to give; given it, the batch runs."""
    sim = simulator()
    liar.moved_to = sim.base_url
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\nshots:\n" + "".join(
        f"  - {{id: s{i}, model: wan2.5-t2v-preview, prompt: shot {i}}}\n" for i in range(4)))
    out = tmp_path / "out"
    run = ("run", manifest, "--out", out, "--poll-interval", "0.05", "--no-progress")
    code, _, err = cli(*run, "--base-url", liar.urls["moved"] + "/v1")
    assert code == 1 and err.splitlines()[-1] == (
        f"batchvid: error: the gateway redirects from {liar.urls['moved']}: POST /v1/video/generations drew HTTP 301 "
        f"to {sim.base_url}/v1/video/generations; nothing was made (redirects are not followed, so that no request "
        f"is changed or sent twice). If that is the gateway, give --base-url {sim.base_url}"), err
    assert sim.record.created() == [] and liar.elsewhere_hits == 0
    code, text, _ = cli("status", out)
    assert code == 0 and "4 pending" in text, text
    assert "next: give the base URL the gateway redirects to (--base-url, or gateway.base_url in the manifest)" in text
    code, text, _ = cli(*run, "--base-url", sim.base_url)
    assert code == 0 and "4 done" in text and len(sim.record.created()) == 4, text


def test_a_redirected_submit_or_poll_stops_the_run_keeping_every_task_and_the_key(liar: Servers, cli: Run,
                                                                                  tmp_path: Path) -> None:
    """A redirect to another host is not followed (it would carry the key there). At the submit nothing was made:
    the shot stays to send. At a poll the task is paid for: it stays, with its id, for the next run to poll."""
    out = tmp_path / "out"
    elsewhere = liar.urls["elsewhere"]
    for name, state, request, status, end in (
            ("redirect-submit", "pending", "POST /v1/video/generations", 307, f"give --base-url {elsewhere}/***"),
            ("redirect-poll", "submitted", "GET /v1/video/generations/t-redirect-poll", 302,
             "/steal; every task id is kept (redirects are not followed, so that no request is changed or sent "
             "twice). Is the base URL right?")):
        manifest = tmp_path / f"{name}.yaml"
        manifest.write_text(f"version: 1\nshots:\n  - {{id: {name}, model: wan2.5-t2v-preview, prompt: {name}}}\n")
        code, _, err = cli("run", manifest, "--base-url", liar.urls["gateway"], "--out", out / name,
                           "--poll-interval", "0.05", "--no-progress")
        assert code == 1 and err.splitlines()[-1].startswith(
            f"batchvid: error: the gateway redirects from {liar.urls['gateway']}: {request} drew HTTP {status} to "
            f"{elsewhere}/") and err.splitlines()[-1].endswith(end), err
        assert SIM_KEY not in err and all(SIM_KEY.encode() not in path.read_bytes() for path in (out / name).iterdir())
        with open(out / name / "ledger.csv", newline="") as handle:
            row = next(csv.DictReader(handle))
        assert (row["status"], row["task_id"]) == (state, "t-redirect-poll" if state == "submitted" else ""), row
    assert liar.elsewhere_hits == 0 and liar.elsewhere_auth == []


def one_wan_shot(liar: Servers, cli: Run, tmp_path: Path, scenario: str) -> tuple[int, dict[str, str]]:
    """A run of one shot whose prompt names the liar's scenario: its exit code and its ledger row."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"version: 1\nshots:\n  - {{id: s, model: wan2.5-t2v-preview, prompt: {scenario}}}\n")
    out = tmp_path / "out"
    code, _, _ = cli("run", manifest, "--base-url", liar.urls["gateway"], "--out", out, "--poll-interval", "0.05",
                     "--no-progress")
    with open(out / "ledger.csv", newline="") as handle:
        return code, next(csv.DictReader(handle))


def test_a_storage_host_whose_certificate_cannot_be_verified_keeps_the_video_to_fetch_with_the_way_out(
        liar: Servers, cli: Run, tmp_path: Path) -> None:
    """The gateway is trusted, the host its video URLs name is not (a network that re-signs some hosts): the paid
    video is kept to fetch, with the reason and SSL_CERT_FILE, not 'ClientConnectorCertificateError'."""
    code, row = one_wan_shot(liar, cli, tmp_path, "untrusted-storage")
    assert code == 1 and (row["status"], row["task_id"]) == ("downloading", "t-untrusted-storage"), row
    assert row["error"] == (
        f"download failed: cannot verify the TLS certificate of the storage host {liar.urls['untrusted-storage']} "
        "(self-signed certificate): if a proxy or security software on this network re-signs HTTPS, point "
        "SSL_CERT_FILE at its CA certificate (a PEM file); run again to retry"), row
    assert cli("status", tmp_path / "out")[1].splitlines()[-1].startswith(
        "  next: have that certificate trusted (SSL_CERT_FILE), then run the same command again")


def test_a_storage_host_that_cannot_be_reached_is_named(liar: Servers, cli: Run, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """'download of URL failed: ClientConnectorError' said neither what failed nor where."""
    import functools

    from batchvid import runsettings

    monkeypatch.setattr(runsettings, "RunSettings", functools.partial(runsettings.RunSettings, download_patience=0))
    code, row = one_wan_shot(liar, cli, tmp_path, "closed-storage")
    assert code == 1 and row["status"] == "downloading", row
    said = f"download failed: cannot connect to the storage host {liar.urls['closed-storage']} ("
    assert row["error"].startswith(said) and row["error"].endswith("); run again to retry"), row
    assert "pw" not in row["error"] and "s3cr3t" not in row["error"]


def test_why_no_connection_is_said_in_the_systems_words_or_as_the_time_waited() -> None:
    """The gateway and the storage hosts say a failed connection alike; a storage host's time-out was said as
    'ConnectionTimeoutError'."""
    import aiohttp

    from batchvid.download import why_unconnected

    with socket.socket() as closed:  # a port just let go: nothing listens there
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]

    async def refused() -> aiohttp.ClientConnectorError:
        async with aiohttp.ClientSession() as session:
            try:
                await session.get(f"http://127.0.0.1:{port}/")
            except aiohttp.ClientConnectorError as exc:
                return exc
        raise AssertionError("a closed port took the connection")

    assert why_unconnected(asyncio.run(refused()), 15).startswith("Connect call failed")  # asyncio's words
    assert why_unconnected(aiohttp.ConnectionTimeoutError(), 15) == "no connection within 15 s"
    assert why_unconnected(aiohttp.ConnectionTimeoutError(), None) == "no connection in time"


def test_the_log_lines_leave_the_key_out_too(liar: Servers, tmp_path: Path) -> None:
    """A status no document has is logged as it came: here, the key the gateway was sent. In a process of its own:
    pytest's log capture would stand in for batchvid's own log set-up."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\nshots:\n  - {id: s, model: wan2.5-t2v-preview, prompt: keyed-status}\n")
    done = subprocess.run(
        [sys.executable, "-m", "batchvid", "run", str(manifest), "--base-url", liar.urls["gateway"], "--out",
         str(tmp_path / "out"), "--poll-interval", "0.05", "--deadline-minutes", "0.005", "--no-progress"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "BATCHVID_API_KEY": SIM_KEY},
        stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and "batchvid: WARNING: status '***' is not in the documents" in done.stderr
    assert SIM_KEY not in done.stdout + done.stderr, done.stderr
