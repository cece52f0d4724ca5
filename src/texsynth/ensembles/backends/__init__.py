"""Execution engines of an ensemble (:mod:`.base` describes the seam): ``local`` (a
process pool), ``dask`` (Dask distributed), ``slurm`` (SLURM job arrays through
``sbatch``) and ``serial`` (this process, for debugging)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ...errors import TexsynthError
from .base import RETRIES, Backend
from .slurm_options import SbatchOptions

__all__ = ["BACKENDS", "RETRIES", "Backend", "SbatchOptions", "make_backend"]

#: the backends :func:`make_backend` knows
BACKENDS = ("local", "dask", "slurm", "serial")


def make_backend(
    name: str,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    threads: int | None = None,
    sbatch: SbatchOptions | Mapping[str, Any] | None = None,
    folder: str | os.PathLike[str] = ".",
) -> Backend:
    """The backend called ``name`` (a one-line error for another name, or for options it
    does not take). ``folder`` is the output folder (the ``slurm`` backend stages its
    tasks there)."""
    if name not in BACKENDS:
        raise TexsynthError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if scheduler is not None and name != "dask":
        raise TexsynthError(
            f"a scheduler address is for the dask backend, not {name!r}; add --backend dask"
        )
    if sbatch is not None and name != "slurm":
        raise TexsynthError(
            f"sbatch options are for the slurm backend, not {name!r}; add --backend slurm"
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
    if name == "slurm":
        from .slurm import SlurmBackend

        options = SbatchOptions.of(sbatch)
        if workers is not None:
            from dataclasses import replace

            options = replace(options, max_running=workers)
        return SlurmBackend(folder, options, threads or 1)
    from .serial import SerialBackend

    return SerialBackend()
