"""The ``local`` backend: a pool of processes on this machine (no extra dependency).

:class:`concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method (a fresh
interpreter per worker: no state of the caller, torch's threads included, is inherited).
Workers ignore Ctrl-C, which the caller handles: it sets an event the workers' running
syntheses check at every iteration (:func:`texsynth.ensembles.tasks.set_stop`), so they
stop within one iteration; a worker whose parent is killed ends within a second. A worker
that dies (``kill -9``, out of memory) breaks the pool; the next ``submit`` starts a new
one, and the runner submits the lost tasks again.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ...errors import TexsynthError

__all__ = ["LocalBackend", "cores"]

T = TypeVar("T")


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _orphan_exit(parent: int) -> None:
    """End this worker once its parent is gone (killed without closing the pool: the
    worker would otherwise go on alone, holding a core)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _init(stop: Any, threads: int) -> None:
    """Worker start: Ctrl-C is the caller's, torch gets ``threads`` threads, the running
    tasks watch ``stop``, and the worker ends if its parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_orphan_exit, args=(os.getppid(),), daemon=True).start()
    import torch

    from ..tasks import set_stop

    if threads > 0:
        torch.set_num_threads(threads)
    set_stop(stop)


class LocalBackend:
    """A process pool on this machine.

    Parameters
    ----------
    workers
        Processes (default: one per core).
    threads
        torch threads per worker (default: cores // workers, at least 1).
    """

    name = "local"

    def __init__(self, workers: int | None = None, threads: int | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
            raise TexsynthError(f"workers must be a positive integer, got {workers!r}")
        self.workers = int(workers) if workers is not None else cores()
        self.threads = threads if threads is not None else max(1, cores() // self.workers)
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = self._ctx.Event()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def slots(self) -> int:
        """Tasks that run at once: the workers."""
        return self.workers

    def _new_pool(self) -> ProcessPoolExecutor:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=self._ctx,
            initializer=_init,
            initargs=(self._stop, self.threads),
        )
        return self._pool

    def submit(self, fn: Callable[[T], Any], arg: T) -> Future[Any]:
        """Start ``fn(arg)`` in a worker (a new pool if the last one broke)."""
        pool = self._pool or self._new_pool()
        try:
            return pool.submit(fn, arg)
        except BrokenProcessPool:
            return self._new_pool().submit(fn, arg)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """The futures as they finish."""
        return as_completed(list(futures))

    def lost(self, exc: BaseException) -> bool:
        """A worker died (the pool broke)."""
        return isinstance(exc, BrokenProcessPool)

    def cancel(self, futures: Iterable[Any]) -> None:
        """Drop the waiting tasks; the running ones stop at their next iteration."""
        self._stop.set()
        for f in futures:
            f.cancel()

    def close(self) -> None:
        """Shut the pool down (waits for the running tasks, which stop if cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
