"""The ``slurm`` backend: SLURM job arrays submitted with plain ``sbatch``.

Each task handed to :meth:`SlurmBackend.submit` is pickled to a staging folder beside the
members (``OUT/.texsynth-slurm/RUN/``, on the file system the compute nodes share); when
the runner waits (:meth:`SlurmBackend.as_completed`), the tasks submitted since are sent as
one job array per at most ``MaxArraySize - 1`` tasks (read from ``scontrol show config``),
throttled to ``max_running`` at once (``--array=0-N%K``). Array element ``i`` runs
:mod:`.slurm_task`, which runs the task and writes its result atomically beside it.
The backend polls ``squeue`` and the result files: an element that has left the queue
without a result (killed by the scheduler, out of memory, node failure) is *lost*, and the
runner submits its task again in a new array. :meth:`SlurmBackend.cancel` runs ``scancel``:
pending elements are dropped, running ones get SIGTERM and stop at their next iteration.

Why plain ``sbatch`` rather than ``submitit`` or ``dask-jobqueue``: nothing to install on
the cluster beyond texsynth; one job array for a whole ensemble (``dask-jobqueue`` starts
long-lived workers that must reach back to this process over TCP, often blocked between
compute and login nodes; ``submitit`` submits one job per call unless batched, and adds a
dependency for what is a 300-line seam); results go through files on the shared file
system that the members need anyway.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

from ...atomic import atomic_text_write, atomic_write
from ...errors import TexsynthError
from ...paths import one_line, quote_path
from .slurm_options import SbatchOptions
from .slurm_task import result_path, task_path

__all__ = ["SlurmBackend", "SlurmTaskLost", "sbatch_available"]

#: seconds a task may be out of the queue without its result before it counts as lost
#: (results travel through a shared file system, which may show them late)
LOST_AFTER = 15.0
#: array size when ``scontrol`` does not say (SLURM's default ``MaxArraySize``)
DEFAULT_ARRAY_SIZE = 1001
#: seconds a command of SLURM may take
COMMAND_TIMEOUT = 60


class SlurmTaskLost(RuntimeError):
    """An array task left the queue without a result (killed, out of memory or time)."""


def sbatch_available() -> str | None:
    """Why the ``slurm`` backend cannot run here (None: ``sbatch`` and ``squeue`` found)."""
    missing = [c for c in ("sbatch", "squeue", "scancel") if shutil.which(c) is None]
    if missing:
        return f"SLURM's {', '.join(missing)} not found on PATH"
    return None


def _run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False, **kw
    )


class SlurmFuture:
    """One task in a job array: done once its result file is read or it is lost."""

    def __init__(self, backend: SlurmBackend, j: int) -> None:
        self.backend, self.j = backend, j
        self.job: str | None = None  # array job id, once submitted
        self.index = -1  # element of the array
        self.gone_since: float | None = None
        self.cancel_requested = False
        self._state: str | None = None  # "ok", "error", "cancelled"
        self._value: Any = None

    def done(self) -> bool:
        """Whether the task has finished (its result read now if it is there)."""
        return self._state is not None or self._load()

    def cancelled(self) -> bool:
        """Whether the task was dropped before it ran."""
        return self._state == "cancelled"

    def result(self) -> Any:
        """The task's value, or the error it raised (:class:`SlurmTaskLost` if lost)."""
        if self._state is None and not self._load():
            raise RuntimeError("the task has not finished")
        if self._state == "cancelled":
            raise CancelledError()
        if self._state == "error":
            raise self._value
        return self._value

    def _load(self) -> bool:
        path = result_path(self.backend.root, self.j)
        try:
            data = path.read_bytes()
        except OSError:
            return False
        state, value = pickle.loads(data)
        self._state, self._value = ("ok", value) if state == "ok" else ("error", value)
        return True

    def _settle(self, state: str, value: Any = None) -> None:
        self._state, self._value = state, value


class SlurmBackend:
    """SLURM job arrays through ``sbatch`` (see the module's description).

    Parameters
    ----------
    folder
        The ensemble's output folder: the staging folder goes inside it, and must be on a
        file system the compute nodes share.
    options
        What each array task asks for (:class:`SbatchOptions`).
    threads
        torch threads per task (the default ``--cpus-per-task``).
    lost_after
        Seconds an element may be out of the queue without a result before it is lost.
    """

    name = "slurm"

    def __init__(
        self,
        folder: str | os.PathLike[str],
        options: SbatchOptions | None = None,
        threads: int = 1,
        lost_after: float = LOST_AFTER,
    ) -> None:
        why = sbatch_available()
        if why is not None:
            raise TexsynthError(
                f"the slurm backend needs SLURM: {why}; run on a cluster's login node, or use "
                "--backend local or dask"
            )
        self.options = options or SbatchOptions()
        self.threads = threads
        self.lost_after = lost_after
        self.python = self.options.python or sys.executable
        self.array_size = _array_size()
        self._check_options(Path(folder))
        run = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}"
        self.root = Path(folder).resolve() / ".texsynth-slurm" / run
        try:
            (self.root / "logs").mkdir(parents=True)
        except OSError as exc:
            raise TexsynthError(
                f"cannot make the staging folder {quote_path(self.root)} ({one_line(exc)})"
            ) from None
        self._next = 0
        self.arrays = 0
        self._pending: list[SlurmFuture] = []
        self._out: list[SlurmFuture] = []  # submitted, not finished

    def _check_options(self, folder: Path) -> None:
        """``sbatch --test-only``: a bad partition, memory or time fails in one line now."""
        args = ["sbatch", "--test-only", *self.options.arguments(self.threads), "--wrap", "true"]
        p = _run(args, cwd=folder if folder.is_dir() else None)
        if p.returncode != 0:
            lines = [t for t in (p.stderr or p.stdout).splitlines() if t.strip()]
            why = lines[-1].strip() if lines else f"exit status {p.returncode}"
            raise TexsynthError(f"SLURM refuses the job options ({why}); check --sbatch")

    @property
    def slots(self) -> int:
        """Array tasks running at once (``max_running``)."""
        return self.options.max_running

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> SlurmFuture:
        """Stage ``fn(arg)``; it is sent with the next array (when the runner waits)."""
        j, self._next = self._next, self._next + 1
        data = pickle.dumps((fn, arg))
        atomic_write(task_path(self.root, j), lambda f: f.write(data))
        fut = SlurmFuture(self, j)
        self._pending.append(fut)
        return fut

    def _flush(self) -> None:
        """Send the staged tasks, as arrays of at most ``array_size - 1`` elements."""
        while self._pending:
            chunk = self._pending[: max(1, self.array_size - 1)]
            job = self._sbatch([f.j for f in chunk])
            for i, f in enumerate(chunk):
                f.job, f.index = job, i
            self._out += chunk
            del self._pending[: len(chunk)]

    def _sbatch(self, tasks: list[int]) -> str:
        a, self.arrays = self.arrays, self.arrays + 1
        listing = self.root / f"array-{a}.txt"
        atomic_text_write(listing, "\n".join(map(str, tasks)) + "\n")
        throttle = min(self.options.max_running, len(tasks))
        script = self.root / f"array-{a}.sh"
        atomic_text_write(script, self._script(listing))
        args = [
            "sbatch",
            "--parsable",
            f"--array=0-{len(tasks) - 1}%{throttle}",
            "--job-name=texsynth-ensemble",
            f"--output={self.root / 'logs' / '%A_%a.out'}",
            f"--error={self.root / 'logs' / '%A_%a.err'}",
            f"--chdir={self.root}",
            *self.options.arguments(self.threads),
            str(script),
        ]
        p = _run(args)
        if p.returncode != 0:
            lines = [t for t in (p.stderr or p.stdout).splitlines() if t.strip()]
            why = lines[-1].strip() if lines else f"exit status {p.returncode}"
            raise TexsynthError(f"sbatch refused the job array ({why})")
        return p.stdout.strip().split(";")[0]

    def _script(self, listing: Path) -> str:
        """The array's batch script: this Python, this ``sys.path``, one torch thread set."""
        paths = [p for p in sys.path if p and not _inside_python(p)]
        old = os.environ.get("PYTHONPATH")
        pythonpath = os.pathsep.join(paths + ([old] if old else []))
        return (
            "#!/bin/sh\n"
            "# written by texsynth ensemble --backend slurm\n"
            f"export PYTHONPATH={_sh(pythonpath)}\n"
            f"export OMP_NUM_THREADS={self.threads}\n"
            f"exec {_sh(self.python)} -m texsynth.ensembles.backends.slurm_task "
            f"{_sh(str(self.root))} {_sh(str(listing))}\n"
        )

    def _alive(self) -> set[tuple[str, int]] | None:
        """Array elements of ours still queued or running (None: ``squeue`` failed)."""
        if not any(f.job is not None for f in self._out):
            return set()
        p = _run(["squeue", "-h", "-r", "--me", "-o", "%F|%K|%T"])
        if p.returncode != 0:
            return None
        alive = set()
        for line in p.stdout.splitlines():
            job, _, rest = line.strip().partition("|")
            index, _, state = rest.partition("|")
            if index.isdigit() and state not in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"):
                alive.add((job, int(index)))
        return alive

    def _poll(self, fut: SlurmFuture, alive: set[tuple[str, int]] | None, now: float) -> bool:
        """Whether ``fut`` has finished (a result, or lost)."""
        if fut.done():
            return True
        if alive is None or fut.job is None or (fut.job, fut.index) in alive:
            fut.gone_since = None
            return False
        if fut.gone_since is None:
            fut.gone_since = now
        wait = 1.0 if fut.cancel_requested else self.lost_after
        if now - fut.gone_since < wait or fut.done():
            return fut.done()
        fut._settle("error", SlurmTaskLost(self._why_lost(fut)))
        return True

    def _why_lost(self, fut: SlurmFuture) -> str:
        log = self.root / "logs" / f"{fut.job}_{fut.index}.err"
        try:
            lines = [t.strip() for t in log.read_text(errors="replace").splitlines() if t.strip()]
        except OSError:
            lines = []
        last = f": {lines[-1][:200]}" if lines else ""
        return f"SLURM array task {fut.job}_{fut.index} ended without a result{last}"

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """Send the staged tasks, then the futures as their results come in."""
        self._flush()
        waiting = list(futures)
        delay = 0.2
        while waiting:
            alive = self._alive()
            now = time.monotonic()
            ready = [f for f in waiting if self._poll(f, alive, now)]
            for f in ready:
                waiting.remove(f)
                if f in self._out:
                    self._out.remove(f)
                yield f
            if not ready:
                time.sleep(delay)
                delay = min(delay * 1.5, 2.0)
            else:
                delay = 0.2

    def lost(self, exc: BaseException) -> bool:
        """An array task that ended without a result."""
        return isinstance(exc, SlurmTaskLost)

    def cancel(self, futures: Iterable[Any]) -> None:
        """Drop staged tasks; ``scancel`` the submitted ones (running ones get SIGTERM)."""
        targets = []
        for f in futures:
            if not isinstance(f, SlurmFuture) or f.done():
                continue
            if f.job is None:
                if f in self._pending:
                    self._pending.remove(f)
                f._settle("cancelled")
            else:
                f.cancel_requested = True
                targets.append(f"{f.job}_{f.index}")
        for i in range(0, len(targets), 200):
            _run(["scancel", *targets[i : i + 200]])

    def close(self) -> None:
        """Cancel what is still out, wait for it to leave the queue (its results are read),
        and remove the staging folder."""
        if not self.root.exists():
            return
        out = [f for f in self._out if not f.done()]
        if out:
            self.cancel(out)
            deadline = time.monotonic() + 60
            while out and time.monotonic() < deadline:
                alive = self._alive()
                now = time.monotonic()
                out = [f for f in out if not self._poll(f, alive, now)]
                if out:
                    time.sleep(0.5)
        for f in self._pending:
            f._settle("cancelled")
        self._pending.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        with contextlib.suppress(OSError):  # .texsynth-slurm, when no other run uses it
            self.root.parent.rmdir()


def _array_size() -> int:
    """The cluster's ``MaxArraySize`` (elements 0 to size - 1)."""
    p = _run(["scontrol", "show", "config"]) if shutil.which("scontrol") else None
    if p is not None and p.returncode == 0:
        for line in p.stdout.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "MaxArraySize" and value.strip().isdigit():
                return max(2, int(value.strip()))
    return DEFAULT_ARRAY_SIZE


def _inside_python(path: str) -> bool:
    """Whether ``path`` belongs to the interpreter (its standard library or packages)."""
    real = os.path.realpath(path)
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    return any(real == r or real.startswith(r + os.sep) for r in roots)


def _sh(text: str) -> str:
    """``text`` quoted for ``/bin/sh``."""
    return "'" + text.replace("'", "'\"'\"'") + "'"
