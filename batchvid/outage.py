"""When a model's submits draw nothing but server errors for a long while, or its tasks fail at the provider, it is
left for a later run.

A gateway answers 503 to every submit of a model whose channels are all down ("no available channel"), and 5xx
when its provider fails. Each such shot tries again with backoff, for half a minute on average before it gives up
(its slot goes to other models' shots meanwhile, and no other shot of its model starts: primitives.Slots), and the
next shot of that model does the same: for 500 such shots, about four hours of 4,000 refused requests. Once a
model's submits have drawn only server errors for OUT_AFTER_SECONDS and at least OUT_AFTER_ERRORS times, its shots
not yet sent are left pending for the next run. A 5xx created nothing: nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import FatalError
from .gateway import Gateway, Transient

OUT_AFTER_SECONDS = 120.0
OUT_AFTER_ERRORS = 16
#: seconds of nothing but failed connections before the run stops: short while the gateway has never answered
#: (a wrong --base-url, no network), long once it has (an outage worth waiting out)
UNREACHABLE_NEVER_ANSWERED = 60.0
UNREACHABLE_AFTER_ANSWERS = 600.0
#: seconds of failed connections before the run says so (and, once it answers again, that it does): a blip passes
SAY_UNREACHABLE_AFTER = 15.0
#: the same for a model whose submits draw only server errors, or whose tasks fail at the provider: the other models'
#: shots finish, and the run then looks stuck for the minutes it takes to find the model out
SAY_MODEL_TROUBLE_AFTER = 15.0
#: the longest a request is put off while its gateway cannot be reached: some request finds out soon after it is
#: back, and the others go then (Reach.pause) rather than up to the backoff's minute later
OUTAGE_PROBE = 10.0

log = logging.getLogger(__name__)


def still_reachable(gateway: Gateway, exc: Transient) -> None:
    """Stop the run, rather than retry shot after shot, once the gateway has been unreachable too long (a request
    to it just failed with `exc`); say so once it has been for a while, or a run would wait out an outage of
    minutes without a word."""
    limit = UNREACHABLE_AFTER_ANSWERS if gateway.answered else UNREACHABLE_NEVER_ANSWERED
    down = gateway.down_for()
    if down > limit:
        raise FatalError(f"{exc} for over {limit:.0f} s; stopped: every task id is saved, nothing was sent "
                         "twice. Check the base URL and the network, then run again to continue")
    if down > SAY_UNREACHABLE_AFTER and not gateway.reach.said:
        gateway.reach.said = True
        log.warning("%s for %.0f s; trying again until it answers, for up to %.0f s (every task id is saved)",
                    exc, down, limit)


def backoff_cap(gateway: Gateway, cap: float) -> float:
    """The longest wait before a request to `gateway` is tried again: OUTAGE_PROBE at most while it cannot be
    reached."""
    return min(cap, OUTAGE_PROBE) if gateway.reach.unreachable else cap


def spends_a_try(gateway: Gateway) -> bool:
    """Whether a request to `gateway` that just failed counts against its shot's tries. A connection that could not
    be made to a gateway that answered in this run does not: that is an outage, and still_reachable stops the run
    once it has lasted too long (a shot's eight submits, or a task's thirty polls, ran out in a minute or a few, and
    left it for the next run while the run still waited the outage out). One that never answered may be a wrong
    base URL: its shots' tries run out as soon as they would have, and the summary names it."""
    reach = gateway.reach
    return not (reach.unreachable and reach.answered)


@dataclass
class _Streak:
    since: float
    errors: int


class ModelOutages:
    """Per model, its submits' server errors in a row since the last answer of another kind, and its tasks' failures
    at the provider in a row since the last task that rendered."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._streaks: dict[str, _Streak] = {}
        self._task_streaks: dict[str, _Streak] = {}
        self._out: dict[str, str] = {}
        self._said: set[tuple[str, str]] = set()  # (model, what) whose trouble the run has said, and not its end

    def server_error(self, model: str, error: str) -> bool:
        """A submit of `model` drew a 5xx; True when that leaves the model for the next run."""
        return self._another(self._streaks, model, "submits", "drew server errors", error)

    def answered(self, model: str) -> None:
        """A submit of `model` drew a task or a refusal of the request (4xx): its channel answers."""
        self._ended(self._streaks, model, "submits", "are answered again")

    def task_failed(self, model: str, error: str) -> bool:
        """A task of `model` failed for the provider's own trouble (retryable.py); True when that leaves the model
        for the next run. Failed tasks cost nothing, but each holds a slot while it renders, and a new task for each
        failed one would hold them as long again while the other models' shots wait."""
        return self._another(self._task_streaks, model, "tasks", "failed at the provider", error)

    def rendered(self, model: str) -> None:
        """A task of `model` succeeded: its provider renders."""
        self._ended(self._task_streaks, model, "tasks", "render again")

    def _another(self, streaks: dict[str, _Streak], model: str, what: str, outcome: str, error: str) -> bool:
        now = self._clock()
        streak = streaks.setdefault(model, _Streak(now, 0))
        streak.errors += 1
        lasted = now - streak.since
        if lasted >= SAY_MODEL_TROUBLE_AFTER and (model, what) not in self._said and model not in self._out:
            self._said.add((model, what))
            log.warning("%s: its last %d %s over %.0f s all %s (the last: %s); tried again for up to %.0f min "
                        "before its shots are left for the next run, while the other models go on", model,
                        streak.errors, what, lasted, outcome, error, OUT_AFTER_SECONDS / 60)
        if streak.errors < OUT_AFTER_ERRORS or lasted < OUT_AFTER_SECONDS or model in self._out:
            return False
        self._out[model] = (f"{model}: its last {streak.errors} {what} over {(now - streak.since) / 60:.0f} min all "
                            f"{outcome} (the last: {error}); its shots not sent are left for the next run")
        log.warning("%s", self._out[model])  # the summary says it again, with the shots
        return True

    def _ended(self, streaks: dict[str, _Streak], model: str, what: str, again: str) -> None:
        """The model's streak of failed `what` ended: said, if its trouble was."""
        streak = streaks.pop(model, None)
        if streak is not None and (model, what) in self._said:
            self._said.discard((model, what))
            log.warning("%s: its %s %s after %.0f s", model, what, again, self._clock() - streak.since)

    def refused(self, model: str, why: str) -> None:
        """A submit of `model` drew a 403: the key may not use it (or the balance ran out, which the other models'
        first submits will say too). Its shots not sent are left for the next run; the other models go on."""
        self._out.setdefault(model, f"{model}: {why}; its shots not sent are left for the next run")

    def out(self, model: str) -> str | None:
        """Why `model` is left for the next run; None while it is not."""
        return self._out.get(model)
