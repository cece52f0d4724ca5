"""What one SLURM array task runs: ``python -m texsynth.ensembles.backends.slurm_task
FOLDER LIST``.

Line ``$SLURM_ARRAY_TASK_ID`` of the file ``LIST`` names the task ``j`` to run: the pickled
``(function, argument)`` in ``FOLDER/task-j.pkl``. Its value (or the error it raised) is
pickled to ``FOLDER/result-j.pkl``, written atomically: the submitting process
(:mod:`.slurm`) reads a result only once it is complete. SIGTERM (``scancel``, or the
walltime reached) sets the stop event the running synthesis checks at every iteration, so
the task stops within one iteration and reports its members as cancelled.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ...atomic import atomic_write
from ...paths import one_line
from ..tasks import set_stop

__all__ = ["main", "result_path", "task_path"]


def task_path(folder: Path, j: int) -> Path:
    """Where task ``j``'s function and argument are pickled."""
    return folder / f"task-{j}.pkl"


def result_path(folder: Path, j: int) -> Path:
    """Where task ``j``'s outcome is pickled: ``("ok", value)`` or ``("error", exc)``."""
    return folder / f"result-{j}.pkl"


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(one_line(exc))
    return exc


def main(argv: list[str]) -> int:
    """Run the task this array element names (see the module's description)."""
    folder, listing = Path(argv[0]), Path(argv[1])
    index = int(os.environ["SLURM_ARRAY_TASK_ID"])
    j = int(listing.read_text().split()[index])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    set_stop(stop)
    fn, arg = pickle.loads(task_path(folder, j).read_bytes())
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", fn(arg))
    except Exception as exc:
        outcome = ("error", _picklable(exc))
    data = pickle.dumps(outcome)
    atomic_write(result_path(folder, j), lambda f: f.write(data))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
