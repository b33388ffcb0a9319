"""batchvid simulate: serve the gateway simulator on loopback until stopped."""

from __future__ import annotations

import argparse
import contextlib
import secrets
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from .. import keys
from ..argtypes import port, positive, seconds, share, whole
from ..errors import InputError

if TYPE_CHECKING:
    from ..simulator import SimConfig

T = TypeVar("T")


def _range(text: str) -> tuple[float, float]:
    low, dash, high = text.strip().partition("-")
    try:
        parts = (seconds(low), seconds(high)) if dash else (seconds(text),) * 2
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r}: want SECONDS or LOW-HIGH, from 0 up") from None
    if parts[1] < parts[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: want 0 <= LOW <= HIGH")
    return parts


def _retry_after(text: str) -> float:
    """Seconds, or any negative number for no Retry-After header."""
    with contextlib.suppress(ValueError):
        if float(text) < 0:
            return -1.0
    return seconds(text)


def _per_family(name: str, parse: Callable[[str], T], wanted: str) -> Callable[[str], tuple[str, T]]:
    """FAMILY=`name`: a figure of that family's provider, read by `parse` (`wanted` says what it takes)."""

    def read(text: str) -> tuple[str, T]:
        from ..families import FAMILIES

        family, equals, figure = text.partition("=")
        if not equals or family not in FAMILIES:
            raise argparse.ArgumentTypeError(f"{text!r}: want FAMILY={name}, FAMILY one of "
                                             f"{', '.join(sorted(FAMILIES))}")
        try:
            return family, parse(figure)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"{text!r}: want FAMILY={name}, {name} {wanted}") from None

    return read


_upstream = _per_family("RPS", positive, "a number above 0")
_upstream_in_flight = _per_family("N", whole(1), "a whole number 1 or more")


def _model(text: str) -> str:
    from ..families import MODELS

    if text not in MODELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a model id (see `batchvid models`)")
    return text


def add_fault_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("simulated behaviour")
    g.add_argument("--render-seconds", type=_range, default=(1.0, 3.0), metavar="S|LOW-HIGH",
                   help="render time per task, uniform in LOW-HIGH (default 1-3)")
    g.add_argument("--fail-rate", type=share, default=0.0, help="share of tasks that fail for their request (a "
                   "moderation refusal; default 0)")
    g.add_argument("--provider-fail-rate", type=share, default=0.0, help="share of tasks that fail for the "
                   "provider's own trouble (an internal error, which batchvid submits again; default 0)")
    g.add_argument("--submit-429-rate", type=share, default=0.0, help="share of submits answered 429")
    g.add_argument("--poll-429-rate", type=share, default=0.0, help="share of polls answered 429")
    g.add_argument("--retry-after", type=_retry_after, default=1.0, help="Retry-After seconds on 429 (negative: none)")
    g.add_argument("--rate-limit", type=positive, default=None, metavar="RPS", help="server-side requests/s per key")
    g.add_argument("--upstream-limit", type=_upstream, action="append", default=[], metavar="FAMILY=RPS",
                   help="a provider's own limit, its 429s passed through for that family only, e.g. veo=0.17 "
                   "(Vertex Veo preview: 10 a minute); repeatable")
    for flag, what in (
        ("--unavailable", "every submit of this model draws 503 'no available channel' (its channels at the gateway "
                          "are all down)"),
        ("--forbidden", "every submit of this model draws 403 'Permission denied' (a key that may not use it)"),
        ("--provider-failing", "every task of this model fails for the provider's own trouble (its provider down)"),
    ):
        g.add_argument(flag, type=_model, action="append", default=[], metavar="MODEL", help=f"{what}; repeatable")
    g.add_argument("--max-in-flight", type=whole(1), default=None, help="tasks rendering at once; more are queued")
    g.add_argument("--upstream-in-flight", type=_upstream_in_flight, action="append", default=[], metavar="FAMILY=N",
                   help="a provider's own limit of tasks rendering at once, more queued, for that family only "
                   "(instead of --max-in-flight), e.g. vidu=5 (Vidu: 5 an organisation); repeatable")
    g.add_argument("--error-rate", type=share, default=0.0, help="chance that a burst of 500/502 starts")
    g.add_argument("--reset-rate", type=share, default=0.0, help="share of requests whose connection is reset")
    g.add_argument("--hang-rate", type=share, default=0.0, help="share of requests that hang --hang-seconds")
    g.add_argument("--hang-seconds", type=seconds, default=30.0)
    g.add_argument("--truncate-rate", type=share, default=0.0, help="share of downloads cut short")
    g.add_argument("--malformed-rate", type=share, default=0.0, help="share of JSON answers that are broken")
    g.add_argument("--unknown-status-rate", type=share, default=0.0, help="share of tasks with an unlisted status")
    g.add_argument("--storage-down-seconds", type=seconds, default=0.0,
                   help="the storage answers 503 to every request for this long from the first (an outage as "
                   "the videos come)")
    g.add_argument("--url-ttl", type=seconds, default=3600.0, help="seconds a signed video URL stays valid")
    g.add_argument("--expire-first-urls", action="store_true", help="the first video URL of each task is expired")
    g.add_argument("--video-bytes", type=whole(0), default=0, help="pad every video to this size")
    g.add_argument("--storage-mbps", type=positive, default=None, metavar="MB/S",
                   help="hold each video download from storage to this many megabytes a second")
    g.add_argument("--group-ratio", type=positive, default=1.0, help="the account's group ratio: every per-second "
                   "price is multiplied by it, as the gateway does per account (default 1)")
    g.add_argument("--seed", type=int, default=0, help="makes every random choice reproducible")


def config_from(args: argparse.Namespace, api_key: str) -> SimConfig:
    from ..simulator import SimConfig

    return SimConfig(
        api_key=api_key, seed=args.seed, render_seconds=args.render_seconds, fail_rate=args.fail_rate,
        provider_fail_rate=args.provider_fail_rate,
        submit_429_rate=args.submit_429_rate, poll_429_rate=args.poll_429_rate,
        retry_after=None if args.retry_after < 0 else args.retry_after, rate_limit_rps=args.rate_limit,
        max_in_flight=args.max_in_flight, upstream_in_flight=dict(args.upstream_in_flight),
        upstream_rps=dict(args.upstream_limit), error_rate=args.error_rate,
        unavailable=frozenset(args.unavailable),
        forbidden=frozenset(args.forbidden), provider_failing=frozenset(args.provider_failing),
        reset_rate=args.reset_rate,
        hang_rate=args.hang_rate, hang_seconds=args.hang_seconds, truncate_rate=args.truncate_rate,
        malformed_rate=args.malformed_rate, unknown_status_rate=args.unknown_status_rate, url_ttl=args.url_ttl,
        storage_down_seconds=args.storage_down_seconds,
        expire_first_urls=args.expire_first_urls,
        video_bytes=args.video_bytes, state_file=args.state, group_ratio=args.group_ratio,
        storage_bytes_per_second=None if args.storage_mbps is None else args.storage_mbps * 1024**2,
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="serve the gateway simulator on loopback (free rehearsals)",
        description="Serve a simulator of the gateway's documented API on loopback until Ctrl-C, with "
        "misbehaviour on demand. It uses the key in BATCHVID_API_KEY when set, otherwise makes one up and "
        "prints it. Point `batchvid run --base-url` at the URL it prints.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=8000, help="gateway port (default 8000; 0 = any free port)")
    p.add_argument("--storage-port", type=port, default=0, help="object-storage port (default: any free port)")
    p.add_argument("--state", metavar="FILE", help="keep every task made in FILE, so that the simulator started "
                   "again with the same FILE still knows them (rehearse a resume across a gateway restart)")
    add_fault_flags(p)


async def _serve(args: argparse.Namespace, config: SimConfig, key_from_env: bool) -> None:
    from ..simulator import Simulator

    try:
        sim = Simulator(config)
    except OSError as exc:
        raise InputError(f"--state: cannot keep tasks in {config.state_file}: {exc.strerror}") from None
    try:
        await sim.start(args.host, args.port, args.storage_port)
    except OSError as exc:
        raise InputError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    print(f"simulator: gateway at {sim.base_url}, storage at {sim.storage_url}", flush=True)
    if config.state_file:
        print(f"simulator: {len(sim.tasks)} task(s) taken up from {config.state_file}; new ones are kept there",
              flush=True)
    if key_from_env:
        print("simulator: API key taken from BATCHVID_API_KEY", flush=True)
    else:
        print(f"simulator: export BATCHVID_API_KEY={config.api_key}", flush=True)
    print(f"simulator: batchvid run MANIFEST --base-url {sim.base_url}", flush=True)
    import asyncio  # here, not at the top: the parser imports this module for every `run`, settled ones included

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows: Ctrl-C arrives as KeyboardInterrupt, and the finally below runs
            break
    try:
        await stop.wait()
    finally:
        await sim.stop()
        print(sim.record.summary(), flush=True)
        for note in sim.record.notes[:20]:
            print(f"simulator: note: {note}", flush=True)


def run(args: argparse.Namespace) -> int:
    env_key = keys.from_env(keys.DEFAULT_KEY_ENV)
    key = env_key or "sk-sim-" + secrets.token_hex(12)
    import asyncio

    asyncio.run(_serve(args, config_from(args, key), bool(env_key)))
    return 0
