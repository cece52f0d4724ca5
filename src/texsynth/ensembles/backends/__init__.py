"""Execution engines of an ensemble (:mod:`.base` describes the seam): ``local`` (a
process pool), ``dask`` (Dask distributed) and ``serial`` (this process, for debugging)."""

from __future__ import annotations

from ...errors import TexsynthError
from .base import RETRIES, Backend

__all__ = ["BACKENDS", "RETRIES", "Backend", "make_backend"]

#: the backends :func:`make_backend` knows
BACKENDS = ("local", "dask", "serial")


def make_backend(
    name: str,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    threads: int | None = None,
) -> Backend:
    """The backend called ``name`` (a one-line error for another name, or for options it
    does not take)."""
    if name not in BACKENDS:
        raise TexsynthError(
            f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)} (SLURM: not yet)"
        )
    if scheduler is not None and name != "dask":
        raise TexsynthError(
            f"a scheduler address is for the dask backend, not {name!r}; add --backend dask"
        )
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise TexsynthError(f"workers must be a positive integer, got {workers!r}")
    if name == "local":
        from .local import LocalBackend

        return LocalBackend(workers, threads)
    if name == "dask":
        from .dask_cluster import DaskBackend

        return DaskBackend(scheduler, workers)
    from .serial import SerialBackend

    return SerialBackend()
