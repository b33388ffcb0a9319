"""The gateway simulator: two aiohttp servers on loopback.

The gateway answers /v1/video/generations (submit, query, Sora's base64 download) with Bearer auth;
a second address plays object storage, serving signed, expiring video URLs and noting any
Authorization header that reaches it (none ever should).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ..families import MODELS
from ..pricing import tokens_per_second
from .config import SimConfig
from .record import Recorder
from .shapes import VEO_STYLES, query_answer, submit_answer
from .store import TaskStore
from .tasks import BadRequest, Scheduler, SimTask, new_id, read_request
from .video import Video

log = logging.getLogger("batchvid.simulator")
B64_CHUNK = 3 * 64 * 1024  # base64 in multiples of 3 bytes, so chunks join into one valid string


def _error(status: int, message: str, kind: str, code: str | int | None = None,
           headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": code or kind}}
    return web.json_response(body, status=status, headers=headers)


class Simulator:
    """The simulated gateway. `await start()`, use `base_url` and `config.api_key`, `await stop()`."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.record = Recorder()
        self.tasks: dict[str, SimTask] = {}
        self.base_url = ""
        self.storage_url = ""
        self._secret = secrets.token_bytes(16)
        # render slots: the key's (max_in_flight, shared), or a provider's own for its family (upstream_in_flight)
        self._key_renderer = Scheduler(self.config.max_in_flight)
        self._renderers = {family: Scheduler(limit) for family, limit in self.config.upstream_in_flight.items()}
        self._store = TaskStore(Path(self.config.state_file)) if self.config.state_file else None
        for task in self._store.open() if self._store else ():
            self.tasks[task.task_id] = task
            self._renderer(task.family).keep(task.finish)
        # a restarted simulator must not draw the ids (nor the fates) of the tasks it already made
        self._rng = random.Random(f"{self.config.seed}:{len(self.tasks)}" if self.tasks else self.config.seed)
        self._window = None if self.config.rate_limit_rps is None else Window(self.config.rate_limit_rps)
        self._upstream = {family: Window(rps) for family, rps in self.config.upstream_rps.items()}
        self._burst_left = 0
        self._runners: list[web.AppRunner] = []
        self._storage_up_at: float | None = None  # set by the first request to the storage

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0, storage_port: int = 0) -> None:
        gateway = web.Application(middlewares=[self._faults])
        gateway.router.add_post("/v1/video/generations", self._submit)
        gateway.router.add_get("/v1/video/generations/download", self._download)
        gateway.router.add_get("/v1/video/generations/{task_id}", self._query)
        storage = web.Application()
        storage.router.add_get("/v/{task_id}.mp4", self._storage)
        self.base_url = await self._serve(gateway, host, port)
        self.storage_url = await self._serve(storage, host, storage_port)

    async def _serve(self, app: web.Application, host: str, port: int) -> str:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        tls = None
        if self.config.tls_cert:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        site = web.TCPSite(runner, host, port, ssl_context=tls)
        await site.start()
        self._runners.append(runner)
        server = site._server  # noqa: SLF001 - the only way to learn the port bound for port 0
        bound = server.sockets[0].getsockname()[1] if isinstance(server, asyncio.Server) else port
        return f"{'https' if tls else 'http'}://{host}:{bound}"

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        if self._store:
            self._store.close()

    # -- faults, applied to every gateway request ------------------------------------------
    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def _too_fast(self) -> bool:
        return self._window is not None and not self._window.admits()

    def _upstream_refuses(self, family: str) -> web.Response | None:
        """The provider's 429, passed through, when this family's upstream has had its fill this second.
        Test it with `is not None`: a response is a mapping, and aiohttp before 3.12 calls an empty one false
        (aiohttp#10119)."""
        window = self._upstream.get(family)
        if window is None or window.admits():
            return None
        self.record.faults["upstream_429"] += 1
        return _error(429, f"upstream {family} provider: rate limit exceeded", "rate_limit_error",
                      headers=self._retry_headers())

    def _retry_headers(self) -> dict[str, str]:
        after = self.config.retry_after
        return {} if after is None else {"Retry-After": f"{after:g}"}

    @web.middleware
    async def _faults(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.record.request_times.append(time.monotonic())
        response = await self._faulty(request, handler)
        self.record.answers[response.status] += 1
        return response

    async def _faulty(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.config.api_key}":
            return _error(401, "Invalid API key", "authentication_error", "invalid_api_key")
        cfg = self.config
        if self._chance(cfg.hang_rate):
            self.record.faults["hang"] += 1
            await asyncio.sleep(cfg.hang_seconds)
        if self._chance(cfg.reset_rate):
            if request.method == "POST" and self._rng.random() < 0.5:
                await handler(request)  # the task is created, then the answer is lost: the client can't know
            self.record.faults["reset"] += 1
            if request.transport:
                request.transport.abort()
            return web.Response(status=499)
        if self._too_fast():
            self.record.faults["rate_limit"] += 1
            return _error(429, "Request frequency too high", "rate_limit_error", headers=self._retry_headers())
        if self._burst_left or self._chance(cfg.error_rate):
            self._burst_left = (self._burst_left or cfg.error_burst) - 1
            self.record.faults["5xx"] += 1
            status = self._rng.choice((500, 502))
            return _error(status, "Internal server error", "server_error")
        is_submit = request.method == "POST"
        if self._chance(cfg.submit_429_rate if is_submit else cfg.poll_429_rate):
            self.record.faults["429"] += 1
            return _error(429, "Request frequency too high", "rate_limit_error", headers=self._retry_headers())
        response: web.StreamResponse = await handler(request)
        if isinstance(response, web.Response) and response.status == 200 and self._chance(cfg.malformed_rate):
            self.record.faults["malformed"] += 1
            return web.Response(text='{"task_id": "', content_type="application/json")
        return response

    # -- the API ---------------------------------------------------------------------------
    async def _submit(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "Request body is not JSON", "invalid_request_error")
        if not isinstance(body, dict):
            return _error(400, "Request body must be an object", "invalid_request_error")
        model = str(body.get("model", ""))
        if model not in MODELS:
            self.record.submitted(None, model, body, 400)
            return _error(400, f"model {model!r} is not supported", "invalid_request_error", "model_not_found")
        family = MODELS[model].family
        if model in self.config.unavailable:
            self.record.faults["unavailable"] += 1
            self.record.submitted(None, model, body, 503)
            return _error(503, f"No available channel for model {model} under group default", "new_api_error")
        if model in self.config.forbidden:
            self.record.faults["forbidden"] += 1
            self.record.submitted(None, model, body, 403)
            return _error(403, "Permission denied", "permission_denied")
        if (refused := self._upstream_refuses(family)) is not None:
            return refused
        try:
            asked = read_request(family, model, body, self.record.notes)
        except BadRequest as exc:
            self.record.submitted(None, model, body, 400)
            return _error(400, exc.message, "invalid_request_error", exc.code)
        task = self._create(family, model, body, asked)
        self.record.submitted(task.task_id, model, body, 200)
        return web.json_response(submit_answer(task))

    def _renderer(self, family: str) -> Scheduler:
        return self._renderers.get(family, self._key_renderer)

    def _create(self, family: str, model: str, body: dict[str, Any], asked: dict[str, Any]) -> SimTask:
        low, high = self.config.render_range(model)
        render = self._rng.uniform(low, high)
        start, finish = self._renderer(family).slot(time.monotonic(), render)
        task_id = new_id(family, model, self._rng)
        while task_id in self.tasks:
            task_id = new_id(family, model, self._rng)
        style = self.config.veo_url_style
        if style == "mixed":
            style = self._rng.choice(VEO_STYLES)
        task = SimTask(
            task_id=task_id, family=family, model=model, body=body, created_at=int(time.time()),
            start=start, finish=finish, fails=self._chance(self.config.fail_rate), seconds=asked["seconds"],
            resolution=asked["resolution"], aspect_ratio=asked.get("aspect_ratio", "16:9"),
            video=Video(task_id, self.config.video_bytes),
            unknown_status=self._chance(self.config.unknown_status_rate), veo_style=style,
        )
        config = self.config
        if not task.fails and (len(self.tasks) < config.provider_fail_first or model in config.provider_failing
                               or self._chance(config.provider_fail_rate)):
            task.fails = True
            task.extra["failure"] = "provider"  # kept in `extra`, which --state files keep
        ratio = self.config.group_ratio  # kept in `extra`, which --state files keep; 1, not 1.0, as the gateway writes
        task.extra["group_ratio"] = int(ratio) if float(ratio).is_integer() else ratio
        if family == "seedance":
            per_second = tokens_per_second(task.resolution, task.aspect_ratio, asked.get("fps", 24))
            task.extra["tokens"] = int(per_second * task.seconds)
        if self._store:
            self._store.add(task)
        self.tasks[task_id] = task
        return task

    def signed_url(self, task_id: str, ttl: float | None = None) -> str:
        expires = int(time.time() + (self.config.url_ttl if ttl is None else ttl))
        signature = hmac.new(self._secret, f"{task_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{self.storage_url}/v/{quote(task_id, safe='')}.mp4?Expires={expires}&Signature={signature}"

    async def _query(self, request: web.Request) -> web.Response:
        task = self.tasks.get(request.match_info["task_id"])
        if task is None:
            return _error(404, "Task does not exist", "not_found")
        if (refused := self._upstream_refuses(task.family)) is not None:
            return refused
        self.record.polls[task.task_id] += 1
        now = time.monotonic()
        ttl = None
        if self.config.expire_first_urls and task.phase(now) == "succeeded" and not task.extra.get("url_given"):
            task.extra["url_given"] = True
            ttl = -60.0
        if task.phase(now) in ("succeeded", "failed"):
            self.record.done_seen.setdefault(task.task_id, now)
        if task.video_in_answer and task.phase(now) == "succeeded":
            self.record.served_sha256[task.task_id] = task.video.sha256  # the video rides in this answer
        return web.json_response(query_answer(task, now, self.signed_url(task.task_id, ttl)))

    async def _download(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._download_body(request)
        except ConnectionError:  # the client went away (killed, or timed out): nothing to answer
            return web.Response(status=499)

    async def _download_body(self, request: web.Request) -> web.StreamResponse:
        task = self.tasks.get(request.query.get("id", ""))
        if task is None:
            return _error(404, "Task does not exist", "not_found")
        if task.family != "sora":
            return _error(400, "download is for Sora 2 tasks only", "invalid_request_error")
        if (refused := self._upstream_refuses(task.family)) is not None:
            return refused
        if task.phase(time.monotonic()) != "succeeded":
            return _error(400, "task is not completed", "invalid_request_error")
        self.record.downloads[task.task_id] += 1
        self.record.served_sha256[task.task_id] = task.video.sha256
        head = (f'{{"success": true, "generation_id": "{task.task_id}", "task_id": "{task.task_id}", '
                f'"format": "mp4", "size": {task.video.size}, "base64": "').encode()
        encoded_size = 4 * ((task.video.size + 2) // 3)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(head) + encoded_size + 2
        await response.prepare(request)
        await response.write(head)
        pieces = (base64.b64encode(piece) for piece in _rechunk(task.video, B64_CHUNK))
        if await self._stream(request, response, pieces, encoded_size):
            await response.write(b'"}')
            await response.write_eof()
        return response

    async def _stream(self, request: web.Request, response: web.StreamResponse, pieces: Iterator[bytes],
                      total: int, bytes_per_second: float | None = None) -> bool:
        """Write the pieces, no faster than `bytes_per_second` when given (slow storage); with the truncation
        fault, stop halfway and drop the connection (False)."""
        cut = total // 2 if self._chance(self.config.truncate_rate) else None
        sent = 0
        for piece in pieces:
            if cut is not None and sent + len(piece) > cut:
                self.record.faults["truncate"] += 1
                await response.write(piece[: cut - sent])
                if request.transport:
                    request.transport.abort()
                return False
            await response.write(piece)
            sent += len(piece)
            if bytes_per_second:
                await asyncio.sleep(len(piece) / bytes_per_second)
        return True

    async def _storage(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._storage_body(request)
        except ConnectionError:
            return web.Response(status=499)

    async def _storage_body(self, request: web.Request) -> web.StreamResponse:
        self.record.storage_requests += 1
        if "Authorization" in request.headers:
            self.record.storage_auth_headers += 1
            log.error("an Authorization header reached the storage address")
        if self._storage_up_at is None:
            self._storage_up_at = time.monotonic() + self.config.storage_down_seconds
        if time.monotonic() < self._storage_up_at:
            return web.Response(status=503, text="<Error><Code>ServiceUnavailable</Code></Error>")
        task = self.tasks.get(request.match_info["task_id"])
        expires, signature = request.query.get("Expires", "0"), request.query.get("Signature", "")
        expected = hmac.new(self._secret, f"{request.match_info['task_id']}:{expires}".encode(),
                            hashlib.sha256).hexdigest()[:32]
        if task is None or not hmac.compare_digest(signature, expected):
            return web.Response(status=403, text="<Error><Code>AccessDenied</Code></Error>")
        if not expires.isdigit() or int(expires) < time.time():
            return web.Response(status=403, text="<Error><Code>AccessDenied</Code><Message>Request has expired"
                                "</Message></Error>")
        self.record.downloads[task.task_id] += 1
        self.record.served_sha256[task.task_id] = task.video.sha256
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = task.video.size
        record = self.record
        record.storage_in_flight += 1
        record.storage_in_flight_peak = max(record.storage_in_flight_peak, record.storage_in_flight)
        try:
            await response.prepare(request)
            if await self._stream(request, response, task.video.chunks(), task.video.size,
                                  self.config.storage_bytes_per_second):
                await response.write_eof()
        finally:
            record.storage_in_flight -= 1
        return response


def _rechunk(video: Video, size: int) -> Iterator[bytes]:
    buffer = b""
    for chunk in video.chunks():
        buffer += chunk
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


class SimulatorThread:
    """A simulator on its own event loop in a background thread, for tests and `run --simulate`."""

    def __init__(self, config: SimConfig | None = None, *, port: int = 0, storage_port: int = 0) -> None:
        """`port`, `storage_port`: 0 for any free one; given, a simulator started again where a run knows it."""
        self.simulator = Simulator(config)
        self._ports = port, storage_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="batchvid-simulator", daemon=True)

    def __enter__(self) -> Simulator:
        self._thread.start()
        port, storage_port = self._ports
        start = self.simulator.start(port=port, storage_port=storage_port)
        asyncio.run_coroutine_threadsafe(start, self._loop).result(timeout=10)
        return self.simulator

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


class Window:
    """At most `per_second` requests in any one second, the rule a gateway or a provider enforces; a limit under one
    a second counts over a longer window (10 a minute: one in any 6 s)."""

    def __init__(self, per_second: float) -> None:
        self.span = max(1.0, 1.0 / per_second)
        self.limit = max(1.0, per_second)  # in that window
        self.times: deque[float] = deque()

    def admits(self) -> bool:
        """Whether one more request fits now (it is counted if so)."""
        now = time.monotonic()
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True
