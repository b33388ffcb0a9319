"""A shot's tries within one run, and the shots that wait with their model when it is left for the next run.

A task that failed for the provider's own trouble (retryable.py) gives its shot a new task in the same slot, up to
`--task-retries`; one refused for its request fails, as a new one would be refused again. A model whose submits
or tasks keep failing is left for the next run (outage.py), and so are the shots that spent their tries on that
in this run: they did not fail for their own request, so the next run sends them without `--retry-failed`.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable

from . import journal as j
from .budget import Budget
from .commits import GroupCommit
from .outage import ModelOutages
from .progress import Progress
from .retryable import provider_trouble
from .shot import Shot

log = logging.getLogger(__name__)

#: the reason of a shot whose task failed at a provider now down, ahead of why its model waits
PROVIDER_DOWN = "its task failed at the provider"


class Tries:
    def __init__(self, task_retries: int, journal: j.Journal, commits: GroupCommit, budget: Budget,
                 progress: Progress, outages: ModelOutages, fail: Callable[[str, str], None]) -> None:
        self._task_retries = task_retries
        self._journal = journal
        self._commits = commits
        self._budget = budget
        self._progress = progress
        self._outages = outages
        self._fail = fail
        #: per shot, how many new tasks it got in this run after its tasks failed at the provider
        self.resubmits: collections.Counter[str] = collections.Counter()
        self._due: set[str] = set()  # the shots whose new task is to be submitted now, in their slot
        #: per model, its shots that spent their submit tries on server errors in this run (pending)
        self._out_of_submits: dict[str, list[str]] = {}
        #: per model, its shots that spent their task tries on its provider's failures in this run (failed)
        self._out_of_tasks: dict[str, list[Shot]] = {}

    def due(self, shot_id: str) -> bool:
        """Whether the shot's ended task is to be followed by a new one now; said once."""
        if shot_id not in self._due:
            return False
        self._due.discard(shot_id)
        return True

    def submits_spent(self, shot: Shot) -> None:
        """The shot's submits drew server errors as many times as it may try: it waits for the next run."""
        self._out_of_submits.setdefault(shot.model, []).append(shot.id)

    def task_failed(self, shot: Shot, task_id: str, words: str, stopping: bool) -> None:
        """A task ended failed (not charged): a new one for the shot where the provider failed and the shot has tries
        left in this run, else the shot fails; pending, for the next run, while its model is left for it."""
        tries = self.resubmits[shot.id]
        provider = provider_trouble(words) and j.EARLIER not in shot.id  # an earlier version is never sent again
        said = f"{words} (as did the {tries} before it in this run)" if tries else words
        if provider and self._outages.task_failed(shot.model, words):
            self.model_down(shot.model)
        out = self._outages.out(shot.model) if provider else None
        if not provider or (tries >= self._task_retries and out is None):
            self._fail(shot.id, f"task failed: {said}")
            if provider:  # its provider may yet prove down: then it waits for the next run with the others
                self._out_of_tasks.setdefault(shot.model, []).append(shot)
            return
        if out is not None:  # one reason for all of the model's shots, said once in the summary
            self._pending_again(shot, f"{PROVIDER_DOWN}; {out}")
            return
        self._pending_again(shot, f"task {task_id} failed: {said}; {j.SENT_AGAIN}")
        log.info("shot %s: task %s failed at the provider (%s)%s", shot.id, task_id, words,
                 "" if stopping else "; a new task")
        if not stopping:  # a stopping run leaves the new task to the next run
            self.resubmits[shot.id] = tries + 1
            self._due.add(shot.id)
            self._progress.event("again")

    def model_down(self, model: str) -> None:
        """The model is left for the next run: so are the shots that spent their tries on its failures in this run,
        under its one reason."""
        why = self._outages.out(model)
        for shot_id in self._out_of_submits.pop(model, ()):  # pending already
            self._journal.update(shot_id, error=f"submit: {why}")
        for shot in self._out_of_tasks.pop(model, ()):
            self._pending_again(shot, f"{PROVIDER_DOWN}; {why}")
            self._progress.unfinished("failed")

    def _pending_again(self, shot: Shot, reason: str) -> None:
        """The shot's task failed (not charged): it is to be submitted again, its hold on the cap given back."""
        self._budget.release(shot)
        self._journal.update(shot.id, state=j.PENDING, task_id=None, submitted_at=None, finished_at=None,
                             billed_usd=None, gateway=None, error=reason)
        self._commits.soon()
