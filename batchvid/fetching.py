"""A run's downloads: the video of each task that succeeded, and is paid for, with its tries, fresh URLs for
expired ones, and its place in the ledger. download.py moves the bytes (by URL, from a data: URI or from the
gateway's base64 endpoint, into a .part file that becomes `<id>.mp4` once whole)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NamedTuple

import aiohttp

from . import download, outage
from . import journal as j
from .commits import GroupCommit
from .elsewhere import NotAsked
from .families._base import TaskState, TaskView
from .gateway import Gateway, Rejected, Transient
from .primitives import backoff
from .progress import Progress
from .proxy import Proxies
from .runsettings import RunSettings
from .shot import Shot

#: one poll through the run's poll queue: (shot, gateway, task id, due in seconds) -> the task's answer, or None when
#: it could not be had
Ask = Callable[[Shot, Gateway, str, float], Awaitable[TaskView | None]]
#: a shot failed for good: (its id, why, what it was billed)
Fail = Callable[[str, str, str], None]


#: the longest wait between two tries at a video: a storage's requests cost nothing, and a video fetched as soon as
#: its storage is back ends the run sooner
DOWNLOAD_BACKOFF_CAP = 15.0
log = logging.getLogger(__name__)


class Retry(NamedTuple):
    """A download try that failed, and what the next one starts from."""

    view: TaskView | None  # the task's answer, with the video's location; None: ask the gateway again
    reason: str
    retry_after: float | None = None
    #: the gateway could not be reached, to ask where the video is or (Sora's) for the video: counted as polls are,
    #: not as a try
    unasked: bool = False
    #: the storage refused the URL (401, 403, 404, 410): it expired, or the video is gone
    expired: bool = False
    #: no wait within the run will help (an untrusted certificate): no patience beyond its tries
    lasting: bool = False


class Downloads:
    """Fetches videos, `--download-concurrency` at once (apart from the tasks in flight: a slow storage holds up no
    submit)."""

    def __init__(self, settings: RunSettings, journal: j.Journal, commits: GroupCommit, storage: aiohttp.ClientSession,
                 proxies: Proxies, progress: Progress, ask: Ask, fail: Fail) -> None:
        self._settings = settings
        self._journal = journal
        self._commits = commits
        self._storage = storage
        self._proxies = proxies
        self._progress = progress
        self._ask = ask
        self._fail = fail
        #: the downloads under way; a try waiting to try again holds none
        self.slots = asyncio.Semaphore(settings.download_concurrency)
        self._said_failing = False

    async def fetch(self, shot: Shot, gateway: Gateway, task_id: str, view: TaskView | None) -> None:
        """The video of a task that succeeded (and is paid for): `download_tries` tries at the video itself, over
        `download_patience` seconds at least; asking the gateway again for where it is may fail as often as a poll
        may (a burst of 5xx is no reason to give up a paid video until the next run)."""
        settings = self._settings
        clock = asyncio.get_running_loop().time
        failed = Retry(view, "no attempt")
        tries = unasked = waits = 0
        first_failed, patience = math.inf, settings.download_patience  # the first failed try at the video
        while tries < settings.download_tries or clock() - first_failed < patience:
            if waits:  # the wait holds no download slot: other videos come in meanwhile
                cap = outage.backoff_cap(gateway, min(settings.backoff_cap, DOWNLOAD_BACKOFF_CAP))
                await gateway.reach.pause(backoff(waits - 1, failed.retry_after, cap))
            async with self.slots:
                outcome = await self._once(shot, gateway, task_id, failed.view, waits)
            if outcome is None:
                return
            failed, waits = outcome, waits + 1
            log.info("shot %s: download failed (%s)", shot.id, failed.reason)
            if failed.unasked:  # an outage of the gateway (still_reachable bounds it) spends none of them
                unasked += outage.spends_a_try(gateway)
                if unasked >= settings.max_poll_errors:
                    break
            else:
                tries, unasked = tries + 1, 0
                first_failed = min(first_failed, clock())
                patience = 0.0 if failed.lasting else settings.download_patience
                self._say_if_long(shot, failed, clock() - first_failed, patience)
        said = f"download failed: {failed.reason}"
        if failed.expired:  # fresh URLs refused too: a run days later may find the video past the gateway's keeping
            kept = shot.family.video_kept
            said += ("; the storage refused the URLs the gateway gave for it: the video may be past the time the "
                     "gateway keeps it" + (f" ({shot.spec.family} videos: {kept})" if kept else ""))
        self._journal.update(shot.id, error=f"{said}; run again to retry")

    def _say_if_long(self, shot: Shot, failed: Retry, failing_for: float, patience: float) -> None:
        """Say, once a run, that a video has failed for a while, or the run looks stuck while it is tried again
        (a storage's outage)."""
        if self._said_failing or failing_for <= outage.SAY_UNREACHABLE_AFTER or failing_for >= patience:
            return
        self._said_failing = True
        log.warning("shot %s: its video has failed to download for %.0f s (%s); each video is tried again until "
                    "%.0f s after its first failure (its task is kept: nothing is paid again)", shot.id, failing_for,
                    failed.reason, patience)

    async def _once(self, shot: Shot, gateway: Gateway, task_id: str, view: TaskView | None,
                    attempt: int) -> Retry | None:
        """One try: None when the shot is settled (done, or failed for good); else why it failed."""
        if view is None or view.video is None:
            try:
                view = await self._ask(shot, gateway, task_id, 0 if attempt == 0 else 1.0)
            except Rejected as exc:
                return Retry(None, str(exc))
            except NotAsked:  # kept for the gateway that made it: its row says so
                return None
            if view is None:
                return Retry(None, "could not ask the gateway", unasked=True)
            if view.state is not TaskState.SUCCEEDED or view.video is None:
                return Retry(None, "the gateway gave no video location")
        try:
            saved = await self._save(shot, gateway, task_id, view)
        except download.DownloadError as exc:
            if exc.final:
                row = self._journal.row(shot.id)
                self._fail(shot.id, f"{j.VIDEO_REFUSED}{exc}", (row.billed_usd if row else None) or "")
                return None
            # expired: ask the gateway for a fresh URL
            return Retry(None if exc.expired else view, str(exc), expired=exc.expired, lasting=exc.lasting)
        except (Transient, Rejected) as exc:
            # the gateway itself (not a storage) cannot be reached: an outage, which still_reachable bounds
            if isinstance(exc, Transient) and gateway.reach.unreachable and view.video.via_download_endpoint:
                outage.still_reachable(gateway, exc)
                return Retry(view, str(exc), unasked=True)
            return Retry(view, str(exc), exc.retry_after)
        self._journal.update(shot.id, state=j.DONE, output=saved.path.name, bytes=saved.size,
                             sha256=saved.sha256, finished_at=j.now(), error=None)
        log.info("shot %s: saved %s (%s bytes)", shot.id, saved.path.name, f"{saved.size:,}")
        self._commits.soon()
        self._progress.event("downloaded", finished=True)
        return None

    async def _save(self, shot: Shot, gateway: Gateway, task_id: str, view: TaskView) -> download.Saved:
        assert view.video is not None
        part = download.PartFile(output_path(self._settings.out, shot.id), self._settings.max_video_bytes)
        try:
            if view.video.via_download_endpoint:
                async with gateway.download_stream(task_id) as resp:
                    return await download.from_base64_stream(resp.content.iter_chunked(download.CHUNK), part)
            url = view.video.url or ""
            if url.startswith("data:"):
                return await download.from_data_uri(url, part)
            return await download.from_url(self._storage, url, part, self._proxies.for_url(url))
        except BaseException:
            part.discard()
            raise


def output_path(out: Path, shot_id: str) -> Path:
    """<out>/<id>.mp4, refused if an id could ever point elsewhere (ids are validated already)."""
    if not shot_id or "/" in shot_id or "\\" in shot_id or "\x00" in shot_id or shot_id in (".", ".."):
        raise download.DownloadError(f"shot id {shot_id!r} would write outside the output folder", final=True)
    return out / f"{shot_id}.mp4"
