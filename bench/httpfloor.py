"""What the HTTP client costs, for the overhead goal: CPU a request of aiohttp's client (as batchvid uses it)
against a minimal hand-written HTTP/1.1 client (asyncio protocol, keep-alive connections, Content-Length
bodies only), both polling the same tasks of the same simulator (its own process) at the same concurrency.

The hand-written side is a measuring stick, not a proposal: no TLS, proxies, chunked bodies, timeouts or
error mapping. It bounds what replacing aiohttp could save a shot (three requests: submit, poll, download).

    python bench/httpfloor.py [--requests 4000] [--concurrency 64] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp
from _common import KEY, median, simulator_process, table

AUTH = {"Authorization": f"Bearer {KEY}"}


class Connection(asyncio.Protocol):
    """One keep-alive connection answering one request at a time (Content-Length bodies only)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        start = head.index(b"content-length:") + len(b"content-length:")
        stop = head.find(b"\r\n", start)
        length = int(head[start:stop if stop > 0 else None])
        if len(self.buffer) < end + 4 + length:
            return
        status, body = int(self.buffer[9:12]), bytes(self.buffer[end + 4:end + 4 + length])
        del self.buffer[:end + 4 + length]
        answer, self.answer = self.answer, None
        assert answer is not None
        answer.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("closed"))


async def task_ids(base_url: str, count: int) -> list[str]:
    async with aiohttp.ClientSession() as session:
        async def submit(index: int) -> str:
            body = {"model": "wan2.5-t2v-preview", "prompt": f"floor {index}", "duration": 5, "resolution": "720p"}
            async with session.post(f"{base_url}/v1/video/generations", json=body, headers=AUTH) as resp:
                return str((await resp.json())["task_id"])
        return list(await asyncio.gather(*(submit(i) for i in range(count))))


async def hand_written(base_url: str, ids: list[str], concurrency: int) -> float:
    """CPU microseconds a GET."""
    host, port = base_url.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(concurrency):
        free.put_nowait((await loop.create_connection(Connection, host, int(port)))[1])

    async def poll(task_id: str) -> None:
        connection = await free.get()
        connection.answer = loop.create_future()
        assert connection.transport is not None
        connection.transport.write(f"GET /v1/video/generations/{task_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                                   f"Authorization: {AUTH['Authorization']}\r\n\r\n".encode())
        status, body = await connection.answer
        assert status == 200 and json.loads(body)["task_id"] == task_id
        free.put_nowait(connection)

    cpu = time.process_time()
    await asyncio.gather(*(poll(task_id) for task_id in ids))
    spent = time.process_time() - cpu
    while not free.empty():
        transport = free.get_nowait().transport
        assert transport is not None
        transport.close()
    return 1e6 * spent / len(ids)


async def with_aiohttp(base_url: str, ids: list[str], concurrency: int) -> float:
    """CPU microseconds a GET, with the session settings batchvid's gateway client uses."""
    timeout = aiohttp.ClientTimeout(total=None, connect=15, sock_connect=15, sock_read=60)
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), headers=AUTH,
                                     cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout) as session:
        async def poll(task_id: str) -> None:
            async with gate, session.get(f"{base_url}/v1/video/generations/{task_id}",
                                         allow_redirects=False) as resp:
                assert resp.status == 200 and json.loads(await resp.read())["task_id"] == task_id

        cpu = time.process_time()
        await asyncio.gather(*(poll(task_id) for task_id in ids))
        return 1e6 * (time.process_time() - cpu) / len(ids)


async def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"aiohttp": [], "hand-written": []}
    with simulator_process("--render-seconds", "0") as base_url:
        ids = await task_ids(base_url, args.requests)
        for repeat in range(args.repeats):
            order = ["aiohttp", "hand-written"][::1 if repeat % 2 else -1]  # alternate, so drift favours neither
            for side in order:
                client = with_aiohttp if side == "aiohttp" else hand_written
                results[side].append(await client(base_url, ids, args.concurrency))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(measure(args))
    ours, floor = median(results["aiohttp"]), median(results["hand-written"])
    rows = [("client", "CPU us a GET (median)", "runs")]
    rows += [(side, f"{median(values):.0f}", ", ".join(f"{v:.0f}" for v in values)) for side, values in results.items()]
    print(table(rows))
    print(f"a hand-written client would save about {3 * (ours - floor) / 1000:.2f} ms of CPU a shot "
          "(submit, poll, download): compare with the CPU a shot that bench/overhead.py prints for batchvid")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
