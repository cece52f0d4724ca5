"""The job queue: a fixed number of worker threads, one job at a time each, the rest
waiting in order (``queued, position k``); every job has an unguessable id, a cancel event
(:mod:`texsynth.cancellation`) and a state that clients watch (:meth:`Job.snapshot`)."""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cancellation import Cancelled
from ..errors import TexsynthError

__all__ = ["FINAL_STATES", "ID_PATTERN", "Job", "JobQueue", "QueueFull", "new_job_id"]

log = logging.getLogger(__name__)

#: what a job id looks like (anything else is refused before any lookup)
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")

#: job states; the last three are final
STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL_STATES = STATES[2:]


def new_job_id() -> str:
    """A fresh job id: 24 random bytes from :mod:`secrets` (192 bits; not guessable)."""
    return secrets.token_urlsafe(24)


class QueueFull(TexsynthError):
    """More jobs are waiting than the server takes (answered with HTTP 429)."""

    status = 429


@dataclass
class Job:
    """One synthesis (or generator sampling) and what clients see of it."""

    id: str
    folder: Path
    kind: str
    work: Callable[[Job], None]
    state: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    error: str = ""
    notes: list[str] = field(default_factory=list)
    progress: dict[str, Any] = field(default_factory=dict)
    progress_at: float = 0.0
    outputs: list[dict[str, str]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    preview: bytes | None = None
    version: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    position: int = 0

    @property
    def final(self) -> bool:
        """Whether the job has ended (done, failed or cancelled)."""
        return self.state in FINAL_STATES

    def touch(self) -> None:
        """Mark a change that watchers should see."""
        self.version += 1

    def report(self, progress: dict[str, Any]) -> None:
        """Set the progress (with ``elapsed_s`` and ``eta_s`` as of now)."""
        self.progress, self.progress_at = progress, time.monotonic()
        self.touch()

    def snapshot(self) -> dict[str, Any]:
        """The job's status as the JSON API returns it; while it runs, its elapsed time
        and time left are brought up to now."""
        progress = dict(self.progress)
        if self.state == "running" and "elapsed_s" in progress:
            since = time.monotonic() - self.progress_at
            progress["elapsed_s"] = round(progress["elapsed_s"] + since, 1)
            if progress.get("eta_s") is not None:
                progress["eta_s"] = round(max(progress["eta_s"] - since, 0.0), 1)
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "position": self.position if self.state == "queued" else 0,
            "progress": progress,
            "error": self.error,
            "notes": list(self.notes),
            "outputs": [dict(o) for o in self.outputs],
            "preview": self.version if self.preview is not None else 0,
            "version": self.version,
        }


class JobQueue:
    """Jobs run by ``workers`` threads in submission order.

    Parameters
    ----------
    workers
        How many jobs run at once.
    max_waiting
        How many jobs may wait; :meth:`submit` raises :class:`QueueFull` beyond.
    on_finish
        Called with each job once it has ended (e.g. to enforce the results' size cap).
    """

    def __init__(
        self, workers: int, max_waiting: int, on_finish: Callable[[Job], None] | None = None
    ) -> None:
        if workers < 1:
            raise TexsynthError(f"workers must be >= 1, got {workers}")
        self.jobs: dict[str, Job] = {}
        self._waiting: deque[Job] = deque()
        self._lock = threading.Condition()
        self._max_waiting = max_waiting
        self._on_finish = on_finish
        self._stop = False
        self._threads = [
            threading.Thread(target=self._loop, name=f"texsynth-worker-{k}", daemon=True)
            for k in range(workers)
        ]
        for t in self._threads:
            t.start()

    def get(self, job_id: str) -> Job | None:
        """The job of this id, or ``None`` (also for anything that is not an id)."""
        if not isinstance(job_id, str) or not ID_PATTERN.fullmatch(job_id):
            return None
        return self.jobs.get(job_id)

    def add_done(self, job: Job) -> None:
        """Register a job that ran outside the queue (generator samples)."""
        with self._lock:
            self.jobs[job.id] = job

    def submit(self, job: Job) -> None:
        """Queue ``job``; its ``position`` says how many run or wait before it."""
        with self._lock:
            if len(self._waiting) >= self._max_waiting:
                raise QueueFull(
                    f"{len(self._waiting)} jobs are already waiting; try again in a minute"
                )
            self.jobs[job.id] = job
            self._waiting.append(job)
            self._renumber()
            self._lock.notify()

    def cancel(self, job: Job) -> None:
        """Stop ``job``: a waiting job is dropped, a running one stops at its next
        iteration (its worker is free again within about one iteration)."""
        with self._lock:
            job.cancel.set()
            if job.state == "queued":
                self._waiting.remove(job)
                self._end(job, "cancelled", "")
                self._renumber()

    def forget(self, job: Job) -> None:
        """Drop a finished job (its files were removed)."""
        with self._lock:
            if job.final:
                self.jobs.pop(job.id, None)

    def waiting(self) -> int:
        """How many jobs wait."""
        with self._lock:
            return len(self._waiting)

    def close(self) -> None:
        """Cancel everything and stop the workers."""
        with self._lock:
            self._stop = True
            for job in list(self._waiting):
                self._waiting.remove(job)
                self._end(job, "cancelled", "the server stopped")
            for job in self.jobs.values():
                job.cancel.set()
            self._lock.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    def _renumber(self) -> None:
        for k, job in enumerate(self._waiting):
            job.position = k + 1
            job.touch()

    def _end(self, job: Job, state: str, error: str) -> None:
        job.state, job.error, job.finished = state, error, time.time()
        job.touch()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._stop:
                    self._lock.wait()
                if self._stop:
                    return
                job = self._waiting.popleft()
                self._renumber()
                job.state, job.started = "running", time.time()
                job.touch()
            state, error = "done", ""
            try:
                job.work(job)
            except Cancelled:
                state = "cancelled"
            except TexsynthError as exc:
                state, error = "failed", str(exc)
            except MemoryError:
                state, error = "failed", "the run ran out of memory; choose a smaller size"
            except Exception as exc:  # a crashed job is reported, the server goes on
                log.exception("job %s crashed", job.id)
                state, error = "failed", f"the run failed: {type(exc).__name__}: {exc}"
            with self._lock:
                self._end(job, state, error)
            if self._on_finish is not None:
                try:
                    self._on_finish(job)
                except Exception:
                    log.exception("cleaning up after job %s failed", job.id)
