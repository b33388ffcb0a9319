"""Which failed tasks are worth a new task at once: those that failed for the provider's own trouble, not for the
request.

A failed task is not charged (the gateway refunds it: API-NOTES.md), so a new task for the same shot costs only
what a success costs, once. A request that fails for its content or its parameters (a moderation refusal, an image
format) would fail again: it waits for the user (`--retry-failed`). The documents list no task failure of the
provider's own; their error tables say what such trouble is called where it is answered at once (Wan's
`InternalError`, "Retry later"; Sora's `server_error`), and that, with the usual words for a timeout or an
overload, is what is taken for it here. A reason that also names the request's fault is the request's.
"""

from __future__ import annotations

import re

_PROVIDER = re.compile(
    r"internal|server[ _]?error|timed? ?out|timeout|unavailable|overload|busy|capacity|try again|retry later",
    re.IGNORECASE)
_REQUEST = re.compile(
    r"polic|moderat|inspection|inappropriate|sensitive|safety|invalid|parameter|not supported|violat|refus",
    re.IGNORECASE)


def request_fault(reason: str) -> bool:
    """Whether a failed task's reason names its request's fault (its content, a parameter): the same request
    would be refused again."""
    return _REQUEST.search(reason) is not None


def provider_trouble(reason: str) -> bool:
    """Whether a failed task's reason (its error code and message) says the provider failed, not the request."""
    return _PROVIDER.search(reason) is not None and not request_fault(reason)
