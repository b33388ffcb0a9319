"""The network side of `batchvid run`, once the plan has work: the simulator of a rehearsal, a gateway client for
each family under the shared rate ceilings, the storage session, the runner, and the signals that stop it."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .. import journal as j
from .. import keys
from ..errors import FatalError, InputError, secret

if TYPE_CHECKING:
    from ..gateway import Gateway
    from ..plan import Plan
    from ..pricing import PriceTable, Quote
    from ..proxy import Proxies
    from ..runsettings import RunSettings
    from ..scheduler import Runner
    from ..shot import Shot
    from ..validate import Batch

#: where a rehearsal's simulator keeps the tasks it made, in the rehearsal's folder
SIMULATOR_TASKS = "simulator-tasks.jsonl"


async def execute(
    args: argparse.Namespace, batch: Batch, shots: list[Shot], table: PriceTable, quotes: dict[str, Quote],
    settings: RunSettings, journal: j.Journal, plan: Plan, stack: AsyncExitStack, proxies: Proxies,
) -> tuple[Runner, int | None]:
    """Submit, poll and download what the plan says; (the runner, the signal that stopped it, if one did)."""
    import aiohttp

    from ..gateway import Refused
    from ..progress import Progress
    from ..scheduler import Runner

    _check_open_files(settings, args.simulate)
    sim_url, sim_key = await _start_simulator(args, batch, settings, plan, stack) if args.simulate else (None, None)
    endpoints = _endpoints(args, batch, sim_url, sim_key)
    _warn_plain_http(base for base, _ in endpoints.values())
    gateways = await _open_gateways(endpoints, batch, settings, proxies, stack, rehearsal=args.simulate)
    _warn_made_elsewhere(journal, plan, shots, gateways)
    storage = await stack.enter_async_context(
        # object storage: no key, no cookies; signed URLs carry everything
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=15, sock_read=60),
                              cookie_jar=aiohttp.DummyCookieJar())
    )
    # a held shot is not this run's to finish (--no-submit)
    progress = Progress(len(shots) - plan.count("held"), plan.count("done"),
                        enabled=False if args.no_progress else None)
    stack.callback(progress.close)
    runner = Runner(shots, journal, gateways, storage, settings, table, quotes, progress, proxies)
    received = _on_stop_signals(runner)
    try:
        with progress.logging_above():
            await runner.run()
    except Refused as exc:  # the message says who refused and why
        raise FatalError(str(exc)) from None
    progress.close()
    return runner, received[0] if received else None


async def _start_simulator(args: argparse.Namespace, batch: Batch, settings: RunSettings, plan: Plan,
                           stack: AsyncExitStack) -> tuple[str, str]:
    """A rehearsal's gateway, in this process until the run ends: (its base URL, its key)."""
    from ..simulator import SimConfig, Simulator  # aiohttp's server side: a run against a gateway needs none

    sim_key = keys.from_env(keys.DEFAULT_KEY_ENV) or secret("sk-sim-" + secrets.token_hex(8))
    # the simulator keeps its tasks in the rehearsal's folder, so that a resumed rehearsal finds them rendered
    # on, as it would at the real gateway
    simulator = Simulator(SimConfig(api_key=sim_key, state_file=str(settings.out / SIMULATOR_TASKS)))
    await simulator.start()
    stack.push_async_callback(simulator.stop)
    print(f"simulator: serving the gateway API at {simulator.base_url} (nothing is paid)", file=sys.stderr)
    faster = [f"--{name} {value}" for name, value in (("concurrency", 64), ("rate", "unlimited"))
              if getattr(args, name) is None and name not in batch.manifest.run]
    if faster:
        _long_rehearsal_note(plan.to_submit, settings, simulator.config.render_seconds[0], faster,
                             batch.manifest.gateway.own_settings())
    return simulator.base_url, sim_key


async def _open_gateways(endpoints: Mapping[str, tuple[str, str]], batch: Batch, settings: RunSettings,
                         proxies: Proxies, stack: AsyncExitStack, rehearsal: bool) -> dict[str, Gateway]:
    """family -> its gateway client, open until the run ends. The user's rate holds for each gateway (https://host
    and https://host/v1/ are one); within it each family keeps a pace of its own, since a 429 may be one
    provider's, passed through (ratelimit.py)."""
    from ..gateway import Gateway, Reach, normal_base
    from ..ratelimit import Ceiling, RateLimiter

    ceilings: dict[str, Ceiling] = {}
    reaches: dict[str, Reach] = {}
    gateways: dict[str, Gateway] = {}
    for family, (base, key) in endpoints.items():
        ceiling = ceilings.setdefault(normal_base(base), Ceiling(settings.rate))
        own = batch.manifest.gateway.for_family(family).rate  # its provider's limit, as the user knows it
        limiter = RateLimiter(min((r for r in (settings.rate, own) if r is not None), default=None), within=ceiling)
        gateway = Gateway(base, key, limiter, max_answer_bytes=settings.max_answer_bytes,
                          proxy=proxies.for_url(base), reach=reaches.setdefault(normal_base(base), Reach()))
        if rehearsal:
            gateway.known_as = None
        gateways[family] = await stack.enter_async_context(gateway)
    return gateways


def _endpoints(args: argparse.Namespace, batch: Batch, sim_url: str | None, sim_key: str | None
               ) -> dict[str, tuple[str, str]]:
    """family -> (base URL, API key) for every family the batch uses."""
    found: dict[str, tuple[str, str]] = {}
    for family in families_of(batch):
        found[family] = ((sim_url or base_url(args, batch, family)).rstrip("/"), sim_key or api_key(batch, family))
    return found


def base_url(args: argparse.Namespace, batch: Batch, family: str) -> str:
    """Where a family's shots go: --base-url, else the manifest's gateway block (its family's own, or the whole's)."""
    return str(args.base_url or batch.manifest.gateway.for_family(family).base_url)


def families_of(batch: Batch) -> list[str]:
    return sorted({shot.spec.family for shot in batch.shots})


def remember_keys(batch: Batch) -> None:
    """Every key the batch's families may use, and the default variable's, remembered as secrets (keys.remember)."""
    named = (batch.manifest.gateway.for_family(family).api_key_env for family in families_of(batch))
    keys.remember({keys.DEFAULT_KEY_ENV, *named})


def api_key(batch: Batch, family: str) -> str:
    variable = batch.manifest.gateway.for_family(family).api_key_env
    key = keys.from_env(variable)
    if not key:
        raise InputError(f"no API key for the {family} models: set the environment variable {variable} "
                         f"(export {variable}=sk-...), or rehearse for free with --simulate")
    return key


def require_keys(batch: Batch) -> None:
    """The key of every family of the batch, or the one-line error of the first one missing."""
    for family in families_of(batch):
        api_key(batch, family)


def keys_missing(batch: Batch) -> bool:
    try:
        require_keys(batch)
    except InputError:
        return True
    return False


def _long_rehearsal_note(shots: int, settings: RunSettings, shortest_render: float, faster: list[str],
                         kept: list[str]) -> None:
    """A rehearsal keeps the run's pace by default (its point is to behave like the real run): say what that
    costs in time when it is long, counting the least a shot needs (a submit and a poll; its slot for a render).
    `kept`: the manifest's family limits, which those flags do not lift."""
    paced = 0.0 if settings.rate is None else 2 * shots / settings.rate
    seconds = max(paced, shots / settings.concurrency * shortest_render)
    if seconds >= 120:
        rate = "no rate limit" if settings.rate is None else f"{settings.rate:g} requests/s"
        print(f"simulator: at the run's pace (concurrency {settings.concurrency}, {rate}) {shots} shots take at least "
              f"{seconds / 60:.0f} min; {' '.join(faster)} rehearses them faster"
              + (f" ({', '.join(kept)} still hold)" if kept else ""), file=sys.stderr)


def _check_open_files(settings: RunSettings, simulate: bool) -> None:
    """Past the limit on open files a connection cannot be made, or a submit's answer never comes (the shot is then
    uncertain): the limit is raised as far as the system allows, and a run that would still not fit is refused."""
    from .. import limits

    have = limits.open_files()
    need = limits.needed(settings.concurrency, settings.download_concurrency, simulate=simulate)
    if have is not None and have < need:
        raise InputError(f"--concurrency {settings.concurrency} with --download-concurrency "
                         f"{settings.download_concurrency} may hold {need} files and connections open at once, and "
                         f"this process may open only {have} (ulimit -n): lower them, or raise the limit "
                         f"(ulimit -n {need}) and run again")


def _warn_plain_http(bases: Iterable[str]) -> None:
    """A gateway on another machine over plain http would carry the API key unencrypted: say so, once each."""
    from ..proxy import is_local

    for base in sorted(set(bases)):
        parts = urlsplit(base)
        if parts.scheme.lower() == "http" and not is_local(parts.hostname or ""):
            print(f"batchvid: warning: {base} is not HTTPS: the API key crosses the network unencrypted",
                  file=sys.stderr)


def _warn_made_elsewhere(journal: j.Journal, plan: Plan, shots: list[Shot], gateways: Mapping[str, Gateway]) -> None:
    """Tasks in flight that another base URL made, said before anything is sent: a base URL changed between two
    runs of a batch may be a slip, and its new shots would be made, and billed, at this one."""
    from .. import elsewhere

    family = {shot.id: shot.spec.family for shot in shots}
    in_flight = [line.shot_id for line in plan.lines if line.category == "in-flight"]
    made: Counter[tuple[str, str]] = Counter()
    for row in journal.rows_by_id([*in_flight, *(row.id for row in plan.followers)]):
        here = gateways[family[row.id]].known_as
        if (there := elsewhere.other(row.gateway, here)) is not None and here is not None:
            made[there, here] += 1
    for (there, here), count in sorted(made.items()):
        print(f"batchvid: warning: {count} task(s) in flight were made at {there}, and this run's gateway is {here}: "
              f"they are polled there, and kept for {there} if it does not know them; the shots still to submit go "
              f"to {here}", file=sys.stderr)


def _on_stop_signals(runner: Runner) -> list[int]:
    """Ctrl-C (SIGINT) and SIGTERM (kill, docker stop, systemd, timeout): the first stops the run gracefully, a
    second quits at once. The signals received, in order."""
    received: list[int] = []

    def handle(signum: int) -> None:
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        if received:
            try:  # changes of this loop turn are not committed yet: a task id must not be lost
                runner.journal.commit()
            except Exception:  # noqa: BLE001, S110 - quitting at once was asked for; the journal has the rest
                pass
            os._exit(128 + received[0])
        received.append(signum)
        print(f"\nbatchvid: stopping ({name}): nothing more is submitted; state is saved ({name} again to quit now)",
              file=sys.stderr)
        runner.stop()

    import asyncio

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, handle, signum)
    return received

