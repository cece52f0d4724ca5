"""The seam between the ensemble runner and an execution engine.

A backend runs picklable functions on picklable arguments somewhere (processes of this
machine, a Dask cluster, a SLURM cluster's job arrays) and hands back futures. The
runner needs only:

* ``slots``: how many tasks run at once (what the automatic packing aims at);
* ``submit(fn, arg)``: start ``fn(arg)``, return a future (``result()`` gives the value or
  raises);
* ``as_completed(futures)``: the futures in the order they finish;
* ``lost(exc)``: whether an error raised by ``result()`` means the worker died (killed, out
  of memory) rather than that the function failed; the runner then submits the task again
  (at most :data:`RETRIES` times);
* ``cancel(futures)``: drop the tasks not started and stop the running ones as soon as
  they can (a backend that cannot stop them lets them finish; their files are written
  atomically and recorded by no one, so a resumed run redoes them);
* ``close()``: release everything (also after ``cancel``).

The SLURM backend (:mod:`.slurm`) shows the seam's reach: ``submit`` stages the task,
``as_completed`` sends the staged tasks as a job array and polls it, ``lost`` recognises an
array task that ended without a result (killed by the scheduler), ``cancel`` runs
``scancel``.

A task that comes back with members marked ``cancelled`` although the run was not
cancelled was stopped from outside (a scheduler's SIGTERM at the walltime): the runner
sends those members again, as for a lost worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

__all__ = ["RETRIES", "Backend", "Future"]

#: times a task whose worker died is submitted again
RETRIES = 2

T = TypeVar("T")


class Future(Protocol):
    """What ``submit`` returns (a :class:`concurrent.futures.Future` or a Dask future)."""

    def result(self) -> Any:
        """The function's value, or the error it raised."""


class Backend(Protocol):
    """An execution engine for an ensemble's tasks (see the module's description)."""

    name: str

    @property
    def slots(self) -> int:
        """How many tasks run at once."""

    def submit(self, fn: Callable[[T], Any], arg: T) -> Any:
        """Start ``fn(arg)``; a future of its value."""

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """``futures`` in the order they finish."""

    def lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` (raised by a future) means the worker died."""

    def cancel(self, futures: Iterable[Any]) -> None:
        """Drop the tasks not started; stop the running ones if the engine can."""

    def close(self) -> None:
        """Release the workers and connections."""
