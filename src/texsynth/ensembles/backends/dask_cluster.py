"""The ``dask`` backend: Dask distributed (``pip install 'texsynth[cluster]'``).

Without an address, a :class:`distributed.LocalCluster` of worker processes (one thread
each) is started on this machine and closed at the end. With one (``tcp://host:8786``), the
tasks go to a running scheduler and its workers, which must see the same files as this
machine (inputs and output folder on a shared file system) and run the same texsynth
version. Dask retries a task whose worker died on another worker (its ``allowed-failures``
setting) before reporting :class:`distributed.KilledWorker`; running tasks cannot be
stopped remotely, so a cancelled run lets them finish (their files are written
atomically; a resumed run redoes them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ...errors import TexsynthError
from ...paths import one_line
from .local import cores

__all__ = ["DaskBackend"]

#: seconds to wait for a scheduler to answer
CONNECT_TIMEOUT = 10


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise TexsynthError(
            "the dask backend needs Dask distributed; install it with pip install "
            "'texsynth[cluster]', or use --backend local"
        ) from None
    return distributed


class DaskBackend:
    """Dask distributed: a local cluster, or the scheduler at ``scheduler``.

    Parameters
    ----------
    scheduler
        The scheduler's address (``None``: start a :class:`distributed.LocalCluster`).
    workers
        Worker processes of the local cluster (default: one per core); with a scheduler,
        its workers are what they are.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None) -> None:
        distributed = _distributed()
        self._d = distributed
        self.cluster: Any = None
        self.client: Any = None
        if scheduler is None:
            self.cluster = distributed.LocalCluster(
                n_workers=workers or cores(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = distributed.Client(self.cluster)
        else:
            if workers is not None:
                raise TexsynthError(
                    "--workers sets the size of a local Dask cluster; with --scheduler the "
                    "cluster's workers are used (drop --workers)"
                )
            try:
                self.client = distributed.Client(
                    scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False
                )
            except Exception as exc:
                raise TexsynthError(
                    f"cannot reach the Dask scheduler at {scheduler!r} ({one_line(exc)}); "
                    "start it (dask scheduler) or check --scheduler"
                ) from None

    @property
    def slots(self) -> int:
        """Worker threads of the cluster now (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        """Send ``fn(arg)`` to the cluster (never deduplicated: ``pure=False``)."""
        return self.client.submit(fn, arg, pure=False)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """The futures as they finish."""
        return iter(self._d.as_completed(list(futures)))

    def lost(self, exc: BaseException) -> bool:
        """Dask has retried already: nothing is lost that a resubmission would save."""
        return False

    def cancel(self, futures: Iterable[Any]) -> None:
        """Cancel the tasks (running ones finish on their workers)."""
        self.client.cancel(list(futures))

    def close(self) -> None:
        """Disconnect; a local cluster is shut down (again: nothing)."""
        client, self.client = self.client, None
        if client is not None:
            client.close()
        cluster, self.cluster = self.cluster, None
        if cluster is not None:
            cluster.close()
