"""What the simulator does, and how it misbehaves. Every random choice comes from `seed`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class SimConfig:
    api_key: str = "sk-sim"
    seed: int = 0
    #: render time in seconds, uniform in (low, high); per model id in render_by_model
    render_seconds: tuple[float, float] = (1.0, 3.0)
    render_by_model: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: share of tasks that fail (Sora: content policy; Wan: its failure shape; others: error.code 400)
    fail_rate: float = 0.0
    #: share of tasks that fail for the provider's own trouble (an internal error: worth a new task), and a number
    #: of the first tasks made that do (a test's certain count)
    provider_fail_rate: float = 0.0
    provider_fail_first: int = 0
    #: model ids whose every task fails for the provider's own trouble (a provider down for a while)
    provider_failing: frozenset[str] = frozenset()
    #: 429 answers on submit / poll, with Retry-After (seconds) or without it (None)
    submit_429_rate: float = 0.0
    poll_429_rate: float = 0.0
    retry_after: float | None = 1.0
    #: server-side limit of requests per second per key (429 above it) and of tasks rendering per key
    rate_limit_rps: float | None = None
    max_in_flight: int | None = None
    #: per family, the requests a second its upstream provider takes (Vertex Veo preview: 10 a minute); above it
    #: the gateway passes the provider's 429 through, for that family's requests only
    upstream_rps: Mapping[str, float] = field(default_factory=dict)
    #: per family, the tasks its upstream provider renders at once (Vidu: 5 an organisation), more queued; such a
    #: family's tasks count there instead of in max_in_flight
    upstream_in_flight: Mapping[str, int] = field(default_factory=dict)
    #: model ids whose every submit draws 503 "no available channel" (a gateway whose channels for a model are all
    #: disabled or failing; new-api's wording, inferred: the API pages do not list it)
    unavailable: frozenset[str] = frozenset()
    #: model ids whose every submit draws 403 "Permission denied" (a token that may not use them; Sora's page, 001)
    forbidden: frozenset[str] = frozenset()
    #: 500/502 answers: the chance a burst starts, and how many requests it lasts
    error_rate: float = 0.0
    error_burst: int = 3
    #: connections reset (on submit, half of them after the task was created) and requests that hang
    reset_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 30.0
    #: downloads cut short; JSON bodies that are not JSON; statuses no document lists
    truncate_rate: float = 0.0
    malformed_rate: float = 0.0
    unknown_status_rate: float = 0.0
    #: the storage answers 503 to every request for this many seconds from the first (an outage as videos come)
    storage_down_seconds: float = 0.0
    #: signed storage URLs stop working after this many seconds
    url_ttl: float = 3600.0
    #: the first URL given for each task has already expired (clients must ask again)
    expire_first_urls: bool = False
    #: bytes of each video (the tiny MP4 padded with `free` boxes); 0 = as small as it comes
    video_bytes: int = 0
    #: each video download from storage is held to this many bytes a second (None: as fast as it goes)
    storage_bytes_per_second: float | None = None
    #: a file that keeps every task made, so that a simulator started again with it still knows them (None: none)
    state_file: str | None = None
    #: the account's group ratio: the gateway multiplies every per-second price by it, and says so in its answers
    group_ratio: float = 1.0
    #: how Veo reports its video: one of shapes.VEO_STYLES, or "mixed" (one of them chosen per task)
    veo_url_style: str = "mixed"
    #: serve the gateway and its storage over HTTPS, as the real ones are, with this certificate and key (PEM files)
    tls_cert: str | None = None
    tls_key: str | None = None

    def render_range(self, model: str) -> tuple[float, float]:
        return self.render_by_model.get(model, self.render_seconds)
