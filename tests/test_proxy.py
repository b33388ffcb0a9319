"""Proxies from the environment, as curl and pip read them: every gateway request goes through the proxy named
for its scheme, loopback and NO_PROXY hosts go direct, and a proxy's credentials never show in a message."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from conftest import FAST_RUN

from batchvid.errors import InputError
from batchvid.proxy import Proxies, shown

Run = Callable[..., tuple[int, str, str]]
ONE_SHOT = "version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: a fox}\n"
HOP_BY_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive", "host", "transfer-encoding"}


@pytest.mark.parametrize(("environ", "url", "expected"), [
    ({"HTTPS_PROXY": "http://p:3128"}, "https://api.example.com/v1", "http://p:3128"),
    ({"HTTPS_PROXY": "http://p:3128"}, "http://api.example.com/v1", None),  # no proxy for that scheme
    ({"http_proxy": "http://low:1", "HTTP_PROXY": "http://up:2"}, "http://a.example/", "http://low:1"),
    ({"ALL_PROXY": "socks-less:8080"}, "https://a.example/", "http://socks-less:8080"),  # curl's default scheme
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.com"}, "https://api.example.com/", None),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": ".example.com:443"}, "https://example.com/", None),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.com"}, "https://notexample.com/", "http://p:3128"),
    ({"HTTPS_PROXY": "http://p:3128", "no_proxy": "*"}, "https://anything.example/", None),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "."}, "https://anything.example/", "http://p:3128"),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.com, 10.0.0.0/8"}, "https://10.20.30.40:8443/", None),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "10.0.0.0/8"}, "https://11.0.0.1/", "http://p:3128"),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "192.168.1.7:443"}, "https://192.168.1.7/", None),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "fd00::/8"}, "https://[fd12::1]/", None),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "[fd12::1]:443"}, "https://[fd12::1]/", None),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "10.0.0.0/8"}, "https://ten.example/", "http://p:3128"),
    ({"HTTP_PROXY": "http://p:3128"}, "http://127.0.0.1:8000/", None),  # loopback: the simulator
    ({"HTTP_PROXY": "http://p:3128"}, "http://[::1]:8000/", None),
    ({"HTTP_PROXY": "http://p:3128"}, "http://localhost:8000/", None),
    ({}, "https://api.example.com/", None),
])
def test_the_proxy_for_a_url_is_the_environments(environ: dict[str, str], url: str, expected: str | None) -> None:
    assert Proxies(environ).for_url(url) == expected


def test_a_proxy_aiohttp_cannot_speak_to_is_refused_in_one_line_when_it_would_be_used() -> None:
    proxies = Proxies({"all_proxy": "socks5://user:S3cr3t-pw@s:1080", "NO_PROXY": "direct.example"})
    with pytest.raises(InputError, match=r"^ALL_PROXY names the proxy socks5://s:1080: only http:// and https:// "):
        proxies.for_url("https://api.example.com/v1")
    assert proxies.for_url("https://direct.example/v1") is None
    assert proxies.for_url("http://127.0.0.1:8000/") is None  # --simulate works with such a proxy set
    with pytest.raises(InputError, match=r"^HTTP_PROXY names the proxy http://p:31x8, which is not a proxy URL"):
        Proxies({"HTTP_PROXY": "p:31x8"}).for_url("http://a.example/")
    with pytest.raises(InputError, match=r"^HTTPS_PROXY names the proxy socks5h://s:1080"):
        Proxies({"https_proxy": "socks5h://s:1080", "ALL_PROXY": "socks5h://s:1080"}).for_url("https://a.example/")


def test_a_proxy_is_shown_without_its_credentials() -> None:
    assert shown("http://user:secret@proxy.corp:3128") == "http://proxy.corp:3128"
    assert shown("http://user:secret@proxy.corp") == "http://proxy.corp"
    assert shown("http://user:secret@proxy.corp:31x8") == "http://proxy.corp:31x8"  # a broken port, said as it is
    assert shown("http://u:p@[::1]:3128") == "http://[::1]:3128" and shown("http://[::1]") == "http://[::1]"


class ForwardProxy:
    """A plain HTTP forward proxy on loopback, noting what it saw: requests for gateway.invalid go on to `target`,
    the others where they asked to go."""

    def __init__(self, target: str, password: str | None = None) -> None:
        self.target = target
        self.password = password  # asked for (407) when set
        self.seen: list[tuple[str, str, str | None]] = []  # method, host asked for, Proxy-Authorization
        self.authorization: dict[str, set[str | None]] = {}  # the Authorization header sent, by host
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.address = ""

    async def _start(self) -> None:
        app = web.Application(middlewares=[self.ask_for_credentials])
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.address = f"127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        self.session = aiohttp.ClientSession()

    @web.middleware
    async def ask_for_credentials(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """407 before anything else, a CONNECT for an https gateway included (it has no route here)."""
        self.seen.append((request.method, request.url.host or request.path, request.headers.get("Proxy-Authorization")))
        wanted = "Basic " + base64.b64encode(f"user:{self.password}".encode()).decode()
        if self.password is not None and request.headers.get("Proxy-Authorization") != wanted:
            return web.Response(status=407, headers={"Proxy-Authenticate": 'Basic realm="proxy"'})
        return await handler(request)  # type: ignore[no-any-return]

    async def forward(self, request: web.Request) -> web.Response:
        host = request.url.host or ""
        self.authorization.setdefault(host, set()).add(request.headers.get("Authorization"))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        url = self.target + request.path_qs if host == "gateway.invalid" else str(request.url)
        async with self.session.request(request.method, url, headers=headers,
                                        data=await request.read(), allow_redirects=False) as resp:
            return web.Response(status=resp.status, body=await resp.read(),
                                content_type=resp.content_type or "application/octet-stream")

    async def _stop(self) -> None:
        await self.session.close()
        await self.runner.cleanup()

    def __enter__(self) -> ForwardProxy:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def run_through_proxy(simulator: Callable[..., Any], cli: Run, write_manifest: Callable[..., Path], tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], tuple[ForwardProxy, str, str]]]:
    """Run one shot against the simulator known only as http://gateway.invalid:PORT, a name nothing resolves: only
    the proxy in HTTP_PROXY can reach it. (the proxy, that base URL, what the run printed)"""
    started: list[ForwardProxy] = []

    def run(credentials: str = "") -> tuple[ForwardProxy, str, str]:
        sim = simulator()
        started.append(ForwardProxy(sim.base_url).__enter__())
        monkeypatch.setenv("HTTP_PROXY", f"http://{credentials}{started[-1].address}")
        base = f"http://gateway.invalid:{urlsplit(sim.base_url).port}"
        code, out, err = cli("run", write_manifest(ONE_SHOT), "--base-url", base, "--out", tmp_path / "out",
                             *FAST_RUN)
        assert code == 0, err
        assert (tmp_path / "out" / "a.mp4").read_bytes()[4:8] == b"ftyp"
        return started[-1], base, out + err

    yield run
    for proxy in started:
        proxy.__exit__(None, None, None)


def test_the_gateways_requests_go_through_the_proxy_of_the_environment(
        run_through_proxy: Callable[[str], tuple[ForwardProxy, str, str]]) -> None:
    proxy, base, printed = run_through_proxy("user:S3cr3t-pw@")
    assert {method for method, _, _ in proxy.seen} == {"POST", "GET"}
    assert {host for _, host, _ in proxy.seen} == {"gateway.invalid"}  # storage on loopback: direct
    assert {auth for _, _, auth in proxy.seen} == {"Basic " + base64.b64encode(b"user:S3cr3t-pw").decode()}
    assert "S3cr3t-pw" not in printed
    assert f"warning: {base} is not HTTPS: the API key crosses the network unencrypted" in printed


def test_video_downloads_go_through_the_proxy_for_their_host_without_the_key(
        run_through_proxy: Callable[[str], tuple[ForwardProxy, str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    from batchvid import proxy as proxy_module

    monkeypatch.setattr(proxy_module, "_is_loopback", lambda host: False)  # the simulator's storage: as if remote
    proxy, _, _ = run_through_proxy("")
    assert proxy.authorization.keys() == {"gateway.invalid", "127.0.0.1"}
    assert proxy.authorization["127.0.0.1"] == {None}  # storage never sees the API key


def test_an_unreachable_proxy_is_named_in_one_line_without_its_credentials(
        cli: Run, write_manifest: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchvid import outage

    monkeypatch.setenv("BATCHVID_API_KEY", "sk-test-0123456789abcdef")
    monkeypatch.setattr(outage, "UNREACHABLE_NEVER_ANSWERED", 0.5)
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:S3cr3t-pw@127.0.0.1:{port}")
    code, out, err = cli("run", write_manifest(ONE_SHOT), "--base-url", "https://gateway.invalid",
                         "--out", tmp_path / "out", *FAST_RUN)
    assert code == 1 and err.splitlines()[-1].startswith(
        f"batchvid: error: cannot connect to https://gateway.invalid through the proxy http://127.0.0.1:{port}"), err
    assert "S3cr3t-pw" not in out + err and "Traceback" not in err


def test_a_proxy_asking_for_credentials_stops_the_run_and_leaves_every_shot_to_send(
        simulator: Callable[..., Any], cli: Run, write_manifest: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulator()
    with ForwardProxy(sim.base_url, password="right") as proxy:
        base = f"http://gateway.invalid:{urlsplit(sim.base_url).port}"
        run = ("run", write_manifest(ONE_SHOT), "--base-url", base, "--out", tmp_path / "out", *FAST_RUN)
        monkeypatch.setenv("HTTP_PROXY", f"http://user:Wr0ng-pw@{proxy.address}")
        code, out, err = cli(*run)
        assert code == 1 and err.splitlines()[-1] == (
            f"batchvid: error: the proxy http://{proxy.address} asks for credentials (HTTP 407): give them in its "
            "URL (http://user:password@host:port)"), err
        assert "Wr0ng-pw" not in out + err and not sim.record.created()
        monkeypatch.setenv("HTTP_PROXY", f"http://user:right@{proxy.address}")
        code, _, err = cli(*run)
        assert code == 0 and "uncertain" not in err and len(sim.record.created()) == 1, err


def test_a_proxy_refusing_the_tunnel_to_an_https_gateway_stops_the_run_and_leaves_every_shot_to_send(
        cli: Run, write_manifest: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHVID_API_KEY", "sk-test-0123456789abcdef")
    run = ("run", write_manifest(ONE_SHOT), "--base-url", "https://gateway.invalid", "--out", tmp_path / "out",
           *FAST_RUN)
    with ForwardProxy("http://unused.invalid", password="right") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://user:Wr0ng-pw@{proxy.address}")
        code, out, err = cli(*run)
    assert [method for method, _, _ in proxy.seen] == ["CONNECT"]  # refused before any TLS, let alone a POST
    assert code == 1 and err.splitlines()[-1] == (
        f"batchvid: error: the proxy http://{proxy.address} asks for credentials (HTTP 407): give them in its "
        "URL (http://user:password@host:port)"), err
    assert "Wr0ng-pw" not in out + err and "Traceback" not in err
    code, out, _ = cli("status", tmp_path / "out")
    assert code == 0 and "pending" in out and "uncertain" not in out and "submitting" not in out, out
