"""The cyclic garbage collector, set for batchvid's two allocation patterns: loading a manifest and running a batch."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic garbage collection while a manifest loads. Loading makes hundreds of thousands of objects that
    all live on (nodes, fields, shots) and no reference cycles to free; each collection would only walk them again,
    the older generations ever more of them: 40 % of validating and pricing 10,000 shots (bench/scale.py)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def tuned_for_a_run() -> Iterator[None]:
    """Set for a run's allocation pattern while it lasts.

    The batch, its schemas and prices live as long as the run: frozen, the collector's full passes do not walk
    every one of them again and again. Each request makes hundreds of short-lived objects (aiohttp); at the
    default threshold of 700 a young collection runs every few requests and finds mostly objects still in
    use by requests in flight, promoting them only to walk them again later. At 10,000 most have died first:
    about 10 % fewer instructions a shot (bench/overhead.py --instructions) for a few MB held a little longer.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
