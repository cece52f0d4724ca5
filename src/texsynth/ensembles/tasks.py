"""Tasks: members packed into batches, each run by one worker.

A :class:`Task` is plain, picklable data (the job, the members' indices, seeds and files);
:func:`run_task` is the module-level function every backend runs on it. A task makes its
members in one batched run, writes each member's file atomically and returns one
:class:`MemberOutcome` per member, its summary statistics included. If the batch fails,
its members are run again one at a time, so that one bad member does not take the others
down. A task that is cancelled returns the members it finished; the others are marked
``cancelled`` (neither done nor failed).

:func:`plan_tasks` packs the members: ``per_task`` of them each, chosen by default so that
there are at most :data:`MAX_TASKS` tasks (the job-array limit of many clusters is 1001)
and each worker gets several tasks (a worker that ends early is not left idle for long).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..cancellation import Cancelled
from ..io.runs import JobSpec
from ..paths import one_line
from .manifest import file_sha256
from .members import ModelSpec, loaded
from .summary import SummaryConfig, member_stats

__all__ = [
    "MAX_TASKS",
    "MemberOutcome",
    "Task",
    "auto_per_task",
    "plan_tasks",
    "run_task",
    "set_stop",
]

#: most tasks an ensemble is cut into
MAX_TASKS = 1000
#: tasks per worker the automatic packing aims at
TASKS_PER_WORKER = 4
#: largest batch the automatic packing makes (a batch of B members needs B members' memory)
MAX_AUTO_PER_TASK = 8


@dataclass(frozen=True)
class Task:
    """Members to make in one batch.

    Attributes
    ----------
    job
        What makes them (a synthesis job or a generator).
    members, seeds, files
        Their indices, seeds and absolute output paths.
    summary
        What statistics to return per member (None: none).
    device
        Where to run (``None``: the CPU).
    threads
        torch threads of the worker while it runs the task (0: leave as is).
    """

    job: JobSpec | ModelSpec
    members: tuple[int, ...]
    seeds: tuple[int, ...]
    files: tuple[str, ...]
    summary: SummaryConfig | None = None
    device: str | None = None
    threads: int = 0


@dataclass
class MemberOutcome:
    """What became of one member: done (``sha256`` set), failed (``error``) or cancelled."""

    index: int
    seed: int
    file: str
    sha256: str = ""
    seconds: float = 0.0
    stats: list[float] | None = None
    error: str | None = None
    cancelled: bool = False


def auto_per_task(todo: int, workers: int) -> int:
    """Members per task: at most :data:`MAX_TASKS` tasks, about
    :data:`TASKS_PER_WORKER` tasks per worker, batches up to :data:`MAX_AUTO_PER_TASK`."""
    if todo <= 0:
        return 1
    least = math.ceil(todo / MAX_TASKS)
    want = math.ceil(todo / (TASKS_PER_WORKER * max(workers, 1)))
    return max(least, min(want, MAX_AUTO_PER_TASK), 1)


def plan_tasks(
    members: Sequence[int],
    per_task: int,
    make: Callable[[tuple[int, ...]], Task],
) -> list[Task]:
    """``members`` (sorted) cut into runs of ``per_task``; ``make`` builds each task."""
    ordered = sorted(members)
    return [
        make(tuple(ordered[i : i + per_task])) for i in range(0, len(ordered), max(per_task, 1))
    ]


# set in worker processes whose backend can stop running tasks (an event with is_set())
_STOP: object | None = None


def set_stop(event: object | None) -> None:
    """Give this process the event that cancels its running tasks (a backend's worker
    initialiser calls it)."""
    global _STOP
    _STOP = event


def _cancelled() -> bool:
    stop = _STOP
    return bool(stop is not None and stop.is_set())  # type: ignore[attr-defined]


def run_task(task: Task) -> list[MemberOutcome]:
    """Make, write and summarise the members of ``task`` (see the module's description)."""
    if task.threads > 0 and torch.get_num_threads() != task.threads:
        torch.set_num_threads(task.threads)
    everyone = list(range(len(task.members)))
    try:
        return _batch(task, everyone)
    except Cancelled:
        return [_outcome(task, j, cancelled=True) for j in everyone]
    except Exception as exc:
        if len(everyone) == 1:
            return [_outcome(task, 0, error=one_line(exc))]
    out: list[MemberOutcome] = []
    for j in everyone:  # one at a time: a bad member fails alone
        if _cancelled():
            out.append(_outcome(task, j, cancelled=True))
            continue
        try:
            out += _batch(task, [j])
        except Cancelled:
            out.append(_outcome(task, j, cancelled=True))
        except Exception as exc:
            out.append(_outcome(task, j, error=one_line(exc)))
    return out


def _outcome(task: Task, j: int, **kw: object) -> MemberOutcome:
    return MemberOutcome(task.members[j], task.seeds[j], Path(task.files[j]).name, **kw)  # type: ignore[arg-type]


def _batch(task: Task, which: list[int]) -> list[MemberOutcome]:
    """Make the members ``which`` (positions in the task) in one batch and write them."""
    job = loaded(task.job)
    start = time.perf_counter()
    x = job.make([task.seeds[j] for j in which], device=task.device, cancel=_cancelled)
    share = (time.perf_counter() - start) / len(which)
    out = []
    for j, member in zip(which, x, strict=True):
        t0 = time.perf_counter()
        path = Path(task.files[j])
        job.write(path, member)
        stats = member_stats(member, task.summary) if task.summary is not None else None
        o = _outcome(task, j, sha256=file_sha256(path), stats=stats)
        o.seconds = share + time.perf_counter() - t0
        out.append(o)
    return out
