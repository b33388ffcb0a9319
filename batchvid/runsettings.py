"""The settings of `batchvid run` that a manifest's `run:` block may hold too, each written once: how its value is
read, its default and its JSON Schema. The manifest's checks, the editor's schema, `run` and `estimate` all read
them from here, so a rule changed here holds everywhere (a `run:` value is refused by `validate` exactly when the
same value as a flag would be)."""

from __future__ import annotations

from argparse import ArgumentTypeError
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

from . import argtypes
from .errors import InputError

T = TypeVar("T")


@dataclass(frozen=True)
class Setting(Generic[T]):
    name: str  # the `run:` key; the flag is the same with dashes
    parse: Callable[[str], T]  # raises argparse.ArgumentTypeError, worded for the value alone
    default: str | None  # as a person would write it (None: not set)
    schema: dict[str, Any]

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


CONCURRENCY = Setting("concurrency", argtypes.whole(1), "4", {"type": "integer", "minimum": 1})
DOWNLOAD_CONCURRENCY = Setting("download_concurrency", argtypes.whole(1), "4", {"type": "integer", "minimum": 1})
RATE = Setting("rate", argtypes.rate, "2/s",
               {"type": ["string", "number"], "description": "like 2/s, 120/min, or 'unlimited'"})
MAX_COST = Setting("max_cost", argtypes.usd, None, {"type": ["number", "string"], "description": "USD"})
POLL_INTERVAL = Setting("poll_interval", argtypes.poll_interval, "4",
                        {"type": "number", "exclusiveMinimum": 0, "maximum": 3600})
DEADLINE_MINUTES = Setting("deadline_minutes", argtypes.positive, "120", {"type": "number", "exclusiveMinimum": 0})
TASK_RETRIES = Setting("task_retries", argtypes.whole(0, 10), "2", {"type": "integer", "minimum": 0, "maximum": 10})

#: flags only: how large a video and a gateway's answer may be, in MB (a manifest does not decide what is safe to take)
MAX_VIDEO_MB = Setting("max_video_mb", argtypes.positive, "4096", {})
MAX_ANSWER_MB = Setting("max_answer_mb", argtypes.positive, "256", {})

IN_MANIFEST: tuple[Setting[Any], ...] = (CONCURRENCY, DOWNLOAD_CONCURRENCY, RATE, MAX_COST, POLL_INTERVAL,
                                         DEADLINE_MINUTES, TASK_RETRIES)
BY_NAME = {setting.name: setting for setting in IN_MANIFEST}
#: the `run:` block's keys: the output folder (a name, checked apart), then the settings
RUN_KEYS = ("out", *BY_NAME)


def given(setting: Setting[T], flag_value: object, run_block: Mapping[str, object]) -> T | None:
    """The setting's flag, else the manifest's `run:` value, else its default, read; None when none is set."""
    value = _chosen(setting, flag_value, run_block)
    return None if value is None else _read(setting, value)


def required(setting: Setting[T], flag_value: object, run_block: Mapping[str, object]) -> T:
    """given() for a setting that has a default."""
    value = _chosen(setting, flag_value, run_block)
    if value is None:
        raise ValueError(f"{setting.name} has no default")
    return _read(setting, value)


def _chosen(setting: Setting[Any], flag_value: object, run_block: Mapping[str, object]) -> object:
    value = flag_value if flag_value is not None else run_block.get(setting.name)
    return setting.default if value is None else value


def _read(setting: Setting[T], value: object) -> T:
    """A wrong flag is refused in one line that names it (`run:` values were checked with the manifest already, by
    the same rule)."""
    try:
        return setting.parse(str(value))
    except ArgumentTypeError as exc:
        raise InputError(f"{setting.flag}: {exc}") from None


@dataclass(frozen=True)
class RunSettings:
    """Every setting of a run, as the scheduler takes them: from the flags, the manifest's `run:` block and the
    defaults."""

    out: Path
    concurrency: int = 4
    rate: float | None = 2.0  # requests per second to each gateway
    poll_interval: float = 4.0  # the documents advise polling every 3-5 s
    deadline: float = 2 * 3600.0  # per task; -offpeak models get OFFPEAK_DEADLINE
    max_cost: Decimal | None = None
    download_concurrency: int = 4
    max_video_bytes: int = 4 * 1024**3
    download_tries: int = 5
    #: seconds since a video's first failed try before the run may leave it for the next: its tries alone, a few
    #: seconds of backoff, gave up within a storage's short outage
    download_patience: float = 120.0
    max_poll_errors: int = 30  # consecutive failed polls before a task is left for the next run
    max_answer_bytes: int = 256 * 1024**2
    backoff_cap: float = 60.0
    ledger_every: float = 2.0
    fixed_polling: bool = False  # poll every poll_interval instead of adaptively (the baseline)
    #: new tasks a shot gets in a run after tasks that failed for the provider's own trouble (retryable.py)
    task_retries: int = 2
    #: --no-submit: follow the tasks in flight and fetch paid videos; send nothing, not even a failed task's new one
    no_submit: bool = False
    #: per family, its own limit of tasks in flight within `concurrency` (gateway.families.FAMILY.concurrency)
    family_concurrency: Mapping[str, int] = field(default_factory=dict)
