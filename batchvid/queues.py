"""Providers that render only so many tasks at once and queue the rest (Vidu: 5 an organisation), found from polls.

A task still queued a while after its submit, while other tasks of its family render, says that the family's
provider is at its limit, and that the limit is how many of them render, as their latest polls say (each later
sight of a queued task says it again: a task that ended since its last poll still counts, one that started is
still queued, and the provider's organisation may have other users). While other families' shots wait for slots,
the family is then kept to that many tasks in flight, so that the slots its queued tasks would hold go to them
(bench/queued.py); with no other shot waiting, its tasks go on queueing at the provider, where they start the
moment it can take them. The user's `gateway.families.F.concurrency` stays the ceiling, and holds from the first
submit.
"""

from __future__ import annotations

from .families._base import TaskState
from .primitives import Slots


class ProviderQueues:
    __slots__ = ("_patience", "_seen", "_slots")

    def __init__(self, slots: Slots, patience: float) -> None:
        """`patience`: the seconds after its submit that a task may be queued before that says anything (a gateway
        takes a moment to hand a task to its provider)."""
        self._slots = slots
        self._patience = patience
        self._seen: dict[str, dict[str, bool]] = {}  # family -> its tasks in flight -> rendering (else queued)

    @property
    def found(self) -> dict[str, int]:
        """Per family, the limit found, as it stands (the summary says it)."""
        return dict(self._slots.found)

    def saw(self, family: str, task_id: str, state: TaskState, since_submit: float) -> None:
        """A poll's answer for a task still in flight."""
        seen = self._seen.setdefault(family, {})
        seen[task_id] = state is not TaskState.QUEUED
        if state is TaskState.QUEUED and since_submit >= self._patience:
            rendering = sum(seen.values())
            if rendering:  # none rendering: the provider is busy with others' tasks; nothing to learn of its limit
                self._slots.cap(family, rendering)

    def ended(self, family: str, task_id: str) -> None:
        """The task is no longer in flight (ended, or left for a later run)."""
        self._seen.get(family, {}).pop(task_id, None)
