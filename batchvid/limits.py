"""The open files a run needs (sockets, videos being written, the journal) against the process's limit (ulimit -n).

macOS starts programs with 256 and many Linux systems with 1,024: at --concurrency 64 with downloads beside it, the
connections a run holds at once come near that. Past the limit a connection cannot be made, or (against the
built-in simulator, which shares the process) a submit is sent and its answer never comes, which makes the shot
uncertain. So the soft limit is raised towards the hard one, as the system allows, and a run that would still
not fit is refused before anything is sent.
"""

from __future__ import annotations

try:
    import resource
except ImportError:  # Windows: no such limit to raise or check
    resource = None  # type: ignore[assignment]

#: descriptors a run holds besides its connections: standard streams, the journal and its -wal and -shm, the
#: folder lock, the ledger being replaced, the event loop's selector and its self-pipe. Seen at most, 200 shots
#: against a simulator in another process: 27 open at --concurrency 4 with 4 downloads, 200 at 64 with 64
#: (needed() says 36 and 336: it errs on the safe side)
BASE_FILES = 16
#: what the soft limit is raised to at most: plenty for any concurrency a gateway allows
WANTED = 8192


def needed(concurrency: int, download_concurrency: int, *, simulate: bool) -> int:
    """Open files a run may hold at once: a connection for each request in flight (a submit or poll per slot, a
    download per download slot, each download's .part file), twice over for connections left idle in the pools
    of families that were busy a moment ago; the built-in simulator holds the other end of each."""
    connections = 2 * (concurrency + download_concurrency)
    return BASE_FILES + download_concurrency + connections * (2 if simulate else 1)


def open_files() -> int | None:
    """The soft limit on open files, raised towards the hard one first; None where there is no such limit."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    ceiling = WANTED if hard == resource.RLIM_INFINITY else min(hard, WANTED)
    for target in sorted({ceiling, 4096, 2048, 1024}, reverse=True):  # macOS refuses more than kern.maxfilesperproc
        if soft < target <= ceiling:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            except (ValueError, OSError):
                continue
            return target
    return soft
