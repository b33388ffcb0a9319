"""A thin aiohttp client for one gateway: submit, query, Sora's base64 download.

Errors are translated here, so nothing above imports aiohttp's exception types:

    GatewayError
    +-- Refused       401/403 from the gateway (wrong key, no balance), a proxy refusing us, no video API at the
                      base URL (404/405 to a submit), a redirect, or a TLS certificate that cannot be verified:
                      nothing was created; stop the whole run
    +-- Rejected      another 4xx: the request itself is wrong; do not resend
    +-- Transient     429, 5xx, a connection refused or never made, or any failure of a GET: safe to retry
    +-- Uncertain     a POST that may have reached the gateway (timeout, reset, unreadable 200)

The API key goes only into this client's own sessions, which ask nothing but the gateway's base URL,
so it cannot follow a download to another host. Redirects from the gateway are not followed, and
cookies are neither kept nor sent: every request stands on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import aiohttp

from .download import why_unconnected
from .errors import KEY_REFUSED, REDIRECTED, TRUST_ADVICE, one_line, redact, untrusted
from .proxy import shown
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 256 * 1024 * 1024  # a poll answer may carry a Veo video as a data URI
MAX_RETRY_AFTER = 300.0
CONNECT_TIMEOUT = 15.0  # seconds to get a connection; past it nothing was sent (a host that drops packets)
#: what quote(..., safe="") leaves as it is: most task ids need no quoting, and this tells it at once
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")


class GatewayError(Exception):
    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class Refused(GatewayError):
    pass


class Rejected(GatewayError):
    pass


class Transient(GatewayError):
    pass


class Uncertain(GatewayError):
    pass


def normal_base(base_url: str) -> str:
    """The base URL requests are made from. OpenAI-style clients take it with its /v1: people copy it that way."""
    return base_url.rstrip("/").removesuffix("/v1")


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date, capped."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # "nan" parses as a float: a header no server means
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def said(data: Any) -> str:
    """The gateway's own words in an answer (`error.message`, or `message` as Wan words it), one line; "" if none."""
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return one_line(str(error["message"]))
        if data.get("message"):
            return one_line(str(data["message"]))
    return ""


def _message(data: Any, text: str) -> str:
    return said(data) or one_line(text[:1000]) or "no message"


class Reach:
    """Whether a gateway answered anything yet in this run, and since when no connection could be made to it: one
    for each base URL, shared by the families behind it (a wrong base URL is wrong for all of them)."""

    __slots__ = ("answered", "down_since", "said", "returned")

    def __init__(self) -> None:
        self.answered = False
        self.down_since: float | None = None
        self.said = False  # that it is unreachable (outage.py): once it answers again, that is said too
        #: set as it answers again, while connections to it fail: the polls put off meanwhile need not wait longer
        self.returned: asyncio.Event | None = None

    @property
    def unreachable(self) -> bool:
        """Whether the latest connection to it could not be made (nothing answered since)."""
        return self.returned is not None

    async def pause(self, seconds: float) -> None:
        """Wait `seconds` before trying again; while it cannot be reached, only until it answers again: the requests
        put off meanwhile need not wait out their backoffs once it is back."""
        returned = self.returned
        if returned is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(returned.wait(), seconds)

    def down(self) -> None:
        """A connection to it could not be made."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.returned = asyncio.Event()

    def back(self, base_url: str) -> None:
        """It answered again after connections to it failed."""
        if self.said:
            log.warning("%s answers again after %.0f s", redact(base_url), time.monotonic() - (self.down_since or 0))
            self.said = False
        self.down_since = None
        if self.returned is not None:
            self.returned.set()
            self.returned = None


class Gateway:
    def __init__(
        self, base_url: str, api_key: str, limiter: RateLimiter, *, timeout: float = 60.0,
        connector_limit: int = 100, max_answer_bytes: int = MAX_ANSWER_BYTES, proxy: str | None = None,
        reach: Reach | None = None,
    ) -> None:
        self.max_answer_bytes = max_answer_bytes
        self.base_url = normal_base(base_url)
        #: what the journal keeps of the gateway that made a task (journal.Row.gateway): its base URL, or None for
        #: a rehearsal's simulator, whose port changes with every run
        self.known_as: str | None = self.base_url
        self.proxy = proxy  # every request to the gateway goes through it (proxy.py decides)
        self.limiter = limiter
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_connect=CONNECT_TIMEOUT,
                                              sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._submit_session: aiohttp.ClientSession | None = None
        self._connector_limit = connector_limit
        self.reach = reach or Reach()

    async def __aenter__(self) -> Gateway:
        self._session = aiohttp.ClientSession(
            timeout=self._timeout, connector=aiohttp.TCPConnector(limit=self._connector_limit),
            headers=self._auth, cookie_jar=aiohttp.DummyCookieJar(),
        )
        # Submits reuse a connection only if it was busy within the last second: a keep-alive connection
        # that the server closed while idle would make a POST look "maybe created", and the shot
        # uncertain for nothing. Servers keep idle connections far longer than a second.
        self._submit_session = aiohttp.ClientSession(
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(keepalive_timeout=1.0, limit=self._connector_limit),
            headers=self._auth, cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        for session in (self._session, self._submit_session):
            if session is not None:
                await session.close()

    def __repr__(self) -> str:  # never shows the key
        return f"Gateway({self.base_url!r})"

    @property
    def answered(self) -> bool:
        """Whether the gateway answered anything yet in this run (to any family)."""
        return self.reach.answered

    def down_for(self) -> float:
        """Seconds since the first of the connection failures in a row (0 when it last answered)."""
        since = self.reach.down_since
        return 0.0 if since is None else time.monotonic() - since

    @contextlib.contextmanager
    def _translated(self, failed: Callable[[str], Exception]) -> Iterator[None]:
        """aiohttp's errors in a request, said as the run's: a connection never made and a proxy's refusal alike for
        every request; anything else that broke it as `failed` makes it, given the error's name (a submit's may have
        reached the gateway; a GET's is merely tried again)."""
        try:
            yield
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise self._unreachable(exc) from None
        except aiohttp.ClientHttpProxyError as exc:  # the tunnel was refused: nothing reached the gateway
            raise self._proxy_refused(exc.status) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise failed(type(exc).__name__) from None

    def _unreachable(self, exc: aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError) -> Transient | Refused:
        """No connection could be made (refused, no route, no answer in time): nothing was sent. Worth trying again,
        unless the gateway's certificate cannot be verified: that stays so however long the run waits."""
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return self._untrusted(exc)
        self.reach.down()
        reason = why_unconnected(exc, self._timeout.connect)
        if self.proxy is not None:  # what failed may be the proxy itself: name it, never its credentials
            return Transient(f"cannot connect to {self.base_url} through the proxy {shown(self.proxy)} "
                             f"({type(exc).__name__})")
        return Transient(f"cannot connect to {self.base_url} ({reason})")

    def _untrusted(self, exc: aiohttp.ClientConnectorCertificateError) -> Refused:
        return Refused(f"{untrusted(self.base_url, exc.certificate_error)}; nothing was sent. "
                       f"{TRUST_ADVICE[0].upper()}{TRUST_ADVICE[1:]} and run again")

    def _redirected(self, resp: aiohttp.ClientResponse) -> Refused:
        """A gateway that answers a redirect (http:// to https://, a moved host) would answer every request so:
        the run stops with where to, rather than fail shot after shot. Following it could turn a POST into a GET,
        or send the key to another host."""
        path = resp.url.path
        tail = path.removeprefix(urlsplit(self.base_url).path)  # the request's own part, after the base URL's
        said = f"{REDIRECTED} {self.base_url}: {resp.method} {path} drew HTTP {resp.status}"
        kept = "nothing was made" if resp.method == "POST" else "every task id is kept"
        location = resp.headers.get("Location", "").strip()
        target = urlsplit(urljoin(str(resp.url), location)) if location else None
        if target is None or target.scheme not in ("http", "https") or not target.hostname:
            where = f" to {location!r}" if location else " with no Location"
            said += f"{where}; {kept}. Is the base URL right?"
        else:
            moved = f"{target.scheme}://{target.netloc.rpartition('@')[2]}{target.path}"  # no query: it may be signed
            said += f" to {moved}; {kept} (redirects are not followed, so that no request is changed or sent twice)"
            if target.path.endswith(tail):
                said += f". If that is the gateway, give --base-url {normal_base(moved[:-len(tail)])}"
            else:
                said += ". Is the base URL right?"
        # the gateway wrote the Location: it may hold the key it was sent, or a terminal escape
        return Refused(one_line(said, 1000), resp.status)

    def _proxy_refused(self, status: int) -> Refused:
        proxy = f"the proxy {shown(self.proxy)}" if self.proxy else "a proxy on the way"
        if status == 407:
            return Refused(f"{proxy} asks for credentials (HTTP 407): give them in its URL "
                           "(http://user:password@host:port)", status)
        return Refused(f"{proxy} refused to reach {self.base_url} (HTTP {status})", status)

    async def submit(self, body: dict[str, Any], *, paced: bool = False) -> dict[str, Any]:
        """POST one task. `paced`: the caller already waited for its rate-limit slot."""
        assert self._submit_session is not None
        if not paced:
            await self.limiter.acquire()
        url = f"{self.base_url}/v1/video/generations"
        with self._translated(lambda name: Uncertain(f"the submit may have reached the gateway: {name}")):
            try:
                async with self._submit_session.post(url, json=body, allow_redirects=False, proxy=self.proxy) as resp:
                    text = await self._read_text(resp, sent=True)
                    return self._answer(resp, text, sent=True)
            except aiohttp.InvalidURL:  # refused before any connection: nothing was sent
                raise Transient(f"{url} is not a URL a request can go to") from None

    async def query(self, task_id: str) -> dict[str, Any]:
        return await self._get(f"/v1/video/generations/{_path_safe(task_id)}")

    @contextlib.asynccontextmanager
    async def download_stream(self, task_id: str) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET the Sora download endpoint; the caller streams the body (base64 inside JSON)."""
        assert self._session is not None
        await self.limiter.acquire()
        url = f"{self.base_url}/v1/video/generations/download"
        with self._translated(lambda name: Transient(f"download from the gateway failed: {name}")):
            async with self._session.get(url, params={"id": task_id}, allow_redirects=False,
                                         proxy=self.proxy) as resp:
                if resp.status != 200:
                    text = await self._read_text(resp)
                    self._answer(resp, text, sent=False)
                self._heard()
                yield resp

    async def _get(self, path: str) -> dict[str, Any]:
        assert self._session is not None
        await self.limiter.acquire()
        with self._translated(lambda name: Transient(f"query failed: {name}")):
            async with self._session.get(self.base_url + path, allow_redirects=False, proxy=self.proxy) as resp:
                text = await self._read_text(resp)
                return self._answer(resp, text, sent=False)

    async def _read_text(self, resp: aiohttp.ClientResponse, *, sent: bool = False) -> str:
        """The body, refused past the cap: a hostile or broken gateway cannot make us hold a gigabyte."""
        cap = self.max_answer_bytes
        too_big = Uncertain if sent else Rejected
        length = resp.content_length  # parsed from the header at each look: look once
        if length is not None and length > cap:
            raise too_big(f"the gateway's answer of {length:,} bytes is over the {cap:,} byte limit")
        if length is not None:  # the usual case: the length is known and within the cap
            return (await resp.read()).decode("utf-8", errors="replace")
        data = bytearray()
        async for chunk in resp.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > cap:
                raise too_big(f"the gateway's answer is over the {cap:,} byte limit")
        return data.decode("utf-8", errors="replace")

    def _heard(self) -> None:
        """It answered (whatever it said)."""
        reach = self.reach
        reach.answered = True
        if reach.down_since is not None:
            reach.back(self.base_url)

    def _answer(self, resp: aiohttp.ClientResponse, text: str, *, sent: bool) -> dict[str, Any]:
        status = resp.status
        self._heard()
        if 300 <= status < 400:
            raise self._redirected(resp)
        retry_after = resp.headers.get("Retry-After")
        try:
            data = json.loads(text) if text else None
        except json.JSONDecodeError:
            data = None
        if status == 429:
            self.limiter.throttled(retry_after_seconds(retry_after))
        else:
            self.limiter.succeeded()
        if status == 200:
            if not isinstance(data, dict):
                kind = Uncertain if sent else Transient
                raise kind("the gateway answered 200 with a body that is not a JSON object", status)
            return data
        raise self._refusal(status, f"HTTP {status}: {_message(data, text)}", sent, retry_after_seconds(retry_after))

    def _refusal(self, status: int, message: str, sent: bool, retry_after: float | None) -> GatewayError:
        """What an answer other than 200 means for the shot, as the exception tree above sorts them."""
        if status == 429:
            return Transient(message, status, retry_after)
        if status in (401, 403):  # a wrong key, or no balance left: every further request would fail too
            return Refused(f"{KEY_REFUSED}: {message}", status)
        if sent and status in (404, 405):
            # The documents answer 404 only for an unknown task: a submit that draws one went to a path with no
            # video API behind it, and so would every other shot
            return Refused(f"{self.base_url} has no video API (HTTP {status} to POST /v1/video/generations): is the "
                           "base URL right? It is the gateway's address, like https://llm.ai-nebula.com", status)
        if status == 407:  # a plain-http gateway through a proxy that wants credentials
            return self._proxy_refused(status)
        if status >= 500 or status in (408, 499):
            return Transient(message, status, retry_after)
        return Rejected(message, status)


def _path_safe(task_id: str) -> str:
    return task_id if _UNRESERVED.fullmatch(task_id) else quote(task_id, safe="")
