"""What the simulator saw, for tests and for the summary it prints on exit."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Submission:
    task_id: str | None  # None when the request was refused before a task was made
    model: str
    body: dict[str, Any]
    at: float
    status: int


@dataclass
class Recorder:
    submissions: list[Submission] = field(default_factory=list)
    polls: Counter[str] = field(default_factory=Counter)
    downloads: Counter[str] = field(default_factory=Counter)
    served_sha256: dict[str, str] = field(default_factory=dict)
    storage_requests: int = 0
    storage_in_flight: int = 0  # video downloads from storage under way now ...
    storage_in_flight_peak: int = 0  # ... and the most at any one time
    storage_auth_headers: int = 0  # requests to storage that carried an Authorization header
    answers: Counter[int] = field(default_factory=Counter)  # HTTP status -> count
    faults: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)  # time.monotonic() of every gateway request
    done_seen: dict[str, float] = field(default_factory=dict)  # task -> first answer that said it finished

    def submitted(self, task_id: str | None, model: str, body: dict[str, Any], status: int) -> None:
        self.submissions.append(Submission(task_id, model, body, time.time(), status))

    def created(self) -> list[Submission]:
        return [s for s in self.submissions if s.task_id is not None]

    def summary(self) -> str:
        made = self.created()
        return (
            f"simulator: {len(made)} tasks created from {len(self.submissions)} submissions, "
            f"{sum(self.polls.values())} polls, {sum(self.downloads.values())} downloads, "
            f"{self.storage_auth_headers} storage requests with an Authorization header, "
            f"answers {dict(sorted(self.answers.items()))}, faults {dict(sorted(self.faults.items()))}"
        )
