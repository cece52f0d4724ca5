"""The run loop of an ensemble: members packed into tasks, tasks sent to a backend, each
task's outcome recorded in the manifest as it comes back; tasks whose worker died are sent
again; a cancellation (``cancel=``, Ctrl-C) stops every backend the same way.

Cancellation: a watcher thread polls the caller's token (:mod:`texsynth.cancellation`) and,
once it is set, calls the backend's ``cancel`` on every task still out: tasks not started
are dropped, running ones stop at their next iteration where the backend can reach them
(``local``, ``serial``, ``slurm``; on Dask they finish). The loop then collects what came
back: finished members are recorded, the others are neither done nor failed, and the run
returns with ``cancelled`` set; the manifest is resumable as after any stop.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..cancellation import Cancel, Cancelled, check_cancelled
from ..io.runs import JobSpec
from ..paths import one_line
from ..seeds import member_seed
from .backends import RETRIES, Backend
from .manifest import Failure, Manifest, MemberDone
from .members import ModelSpec
from .result import EnsembleResult
from .summary import SummaryAccumulator
from .tasks import MemberOutcome, Task, auto_per_task, plan_tasks, run_task
from .template import OutputTemplate

__all__ = ["Options", "is_cancelled", "run_members"]

#: seconds between two looks at the cancellation token
POLL = 0.2


@dataclass
class Options:
    """How to run: :func:`texsynth.ensemble`'s arguments of that name."""

    engine: Backend
    owned: bool
    threads: int
    per_task: int | None
    device: str | None
    progress: bool
    cancel: Cancel | None = None


def is_cancelled(cancel: Cancel | None) -> bool:
    """Whether the token ``cancel`` is set."""
    try:
        check_cancelled(cancel)
    except Cancelled:
        return True
    return False


class _Watcher:
    """A thread that cancels the tasks out once the token is set."""

    def __init__(self, cancel: Cancel | None, engine: Backend) -> None:
        self.cancel, self.engine = cancel, engine
        self.live: dict[Any, tuple[Task, int]] = {}
        self.lock = threading.Lock()
        self.fired = threading.Event()
        self._end = threading.Event()
        self._thread: threading.Thread | None = None
        if cancel is not None:
            self._thread = threading.Thread(target=self._watch, daemon=True, name="ensemble-cancel")
            self._thread.start()

    def _watch(self) -> None:
        while not self._end.wait(POLL):
            if is_cancelled(self.cancel):
                self.fire()
                return

    def fire(self) -> None:
        """Cancel every task out (once)."""
        with self.lock:
            if self.fired.is_set():
                return
            self.fired.set()
            self.engine.cancel(list(self.live))

    def add(self, fut: Any, task: Task, tries: int) -> None:
        with self.lock:
            self.live[fut] = (task, tries)
            if self.fired.is_set():
                self.engine.cancel([fut])

    def pop(self, fut: Any) -> tuple[Task, int]:
        with self.lock:
            return self.live.pop(fut)

    def stop(self) -> None:
        self._end.set()
        if self._thread is not None:
            self._thread.join()


def run_members(
    job: JobSpec | ModelSpec,
    todo: list[int],
    seed: int,
    template: OutputTemplate,
    manifest: Manifest,
    acc: SummaryAccumulator | None,
    result: EnsembleResult,
    o: Options,
) -> None:
    """Run the members ``todo`` on the backend, recording each task's outcome."""
    engine = o.engine
    cfg = acc.config if acc is not None else None
    folder = template.folder.resolve()

    def make(members: tuple[int, ...]) -> Task:
        return Task(
            job,
            members,
            tuple(member_seed(seed, k) for k in members),
            tuple(str(folder / template.name(k)) for k in members),
            cfg,
            o.device,
            o.threads,
        )

    per = o.per_task or auto_per_task(len(todo), engine.slots)
    tasks = plan_tasks(todo, per, make)
    result.per_task, result.tasks = per, len(tasks)
    bar = _bar(result.n, len(manifest.done), o.progress)
    w = _Watcher(o.cancel, engine)
    try:
        for t in tasks:
            if w.fired.is_set() or is_cancelled(o.cancel):
                w.fire()
                break
            w.add(engine.submit(run_task, t), t, 0)
        while w.live:
            for fut in engine.as_completed(list(w.live)):
                task, tries = w.pop(fut)
                outcomes = _outcomes(engine, fut, task, tries, w)
                if outcomes is not None:
                    _record(outcomes, manifest, acc, result, bar)
                # also look at the token here, not only in the watcher's polls: a token that
                # depends on what was just recorded stops the run before the next task starts
                if not w.fired.is_set() and is_cancelled(o.cancel):
                    w.fire()
    except KeyboardInterrupt:
        w.fire()
        _collect(engine, w, manifest, acc, result, bar, o.owned)
        raise
    except BaseException:
        engine.cancel(list(w.live))
        raise
    finally:
        w.stop()
        bar.close()
    result.cancelled = w.fired.is_set()


def _outcomes(
    engine: Backend, fut: Any, task: Task, tries: int, w: _Watcher
) -> list[MemberOutcome] | None:
    """The members' outcomes of a finished task (None: the task was sent again)."""
    try:
        outs = list(fut.result())
    except (CancelledError, Cancelled):
        return _each(task, cancelled=True)
    except Exception as exc:
        if w.fired.is_set():  # what fails once cancelled is not the members' fault
            return _each(task, cancelled=True)
        lost = engine.lost(exc)
        if lost and tries < RETRIES:
            w.add(engine.submit(run_task, task), task, tries + 1)
            return None
        return _each(task, error=_lost_words(exc, lost))
    stopped = [o for o in outs if o.cancelled]
    if not stopped or w.fired.is_set():
        return outs
    # stopped from outside (a scheduler's SIGTERM at the walltime): those members again
    keep = [o for o in outs if not o.cancelled]
    if tries >= RETRIES:
        why = (
            f"the task running this member was stopped from outside {RETRIES + 1} times "
            "(a walltime?); ask for more time (--sbatch time=...) or a smaller --per-task"
        )
        return keep + [replace(o, cancelled=False, error=why) for o in stopped]
    where = {k: j for j, k in enumerate(task.members)}
    pick = [where[o.index] for o in stopped]
    again = replace(
        task,
        members=tuple(task.members[j] for j in pick),
        seeds=tuple(task.seeds[j] for j in pick),
        files=tuple(task.files[j] for j in pick),
    )
    w.add(engine.submit(run_task, again), again, tries + 1)
    return keep


def _each(task: Task, **kw: Any) -> list[MemberOutcome]:
    return [
        MemberOutcome(k, s, Path(f).name, **kw)
        for k, s, f in zip(task.members, task.seeds, task.files, strict=True)
    ]


def _collect(
    engine: Backend,
    w: _Watcher,
    manifest: Manifest,
    acc: SummaryAccumulator | None,
    result: EnsembleResult,
    bar: Any,
    owned: bool,
) -> None:
    """Ctrl-C in a library call (no token): keep what finished meanwhile."""
    if owned:
        engine.close()  # waits for the running tasks where it can; they stop at once
    for fut in list(w.live):
        done = getattr(fut, "done", None)
        if callable(done) and done() and not _was_cancelled(fut):
            try:
                _record(fut.result(), manifest, acc, result, bar)
            except Exception:  # a stopped task has nothing to keep
                continue
    result.cancelled = True


def _was_cancelled(fut: Any) -> bool:
    c = getattr(fut, "cancelled", None)
    return bool(c() if callable(c) else c)


def _record(
    outcomes: Iterable[MemberOutcome],
    manifest: Manifest,
    acc: SummaryAccumulator | None,
    result: EnsembleResult,
    bar: Any,
) -> None:
    lines: list[MemberDone | Failure] = []
    for o in outcomes:
        if o.cancelled:
            continue
        if o.error is not None:
            lines.append(Failure(o.index, o.error))
            result.failed[o.index] = o.error
        else:
            lines.append(MemberDone(o.index, o.file, o.sha256, o.seconds, o.seed, o.stats or []))
            result.failed.pop(o.index, None)
            if acc is not None and o.stats is not None:
                acc.add(o.stats)
    manifest.record(lines)
    bar.update(len(lines))
    if result.failed:
        bar.set_postfix(failed=len(result.failed), refresh=False)


def _lost_words(exc: BaseException, lost: bool) -> str:
    if lost:
        return (
            f"the worker running this member died {RETRIES + 1} times ({one_line(exc)}): killed, "
            "out of memory or out of time; use fewer --workers or a smaller --per-task"
        )
    return one_line(exc)


def _bar(total: int, initial: int, show: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="member",
        disable=not show,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
    )
