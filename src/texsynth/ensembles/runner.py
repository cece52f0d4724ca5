""":func:`ensemble`: many realisations of one job, on a process pool, a Dask cluster or a
SLURM cluster, resumable, with a summary of their statistics against the exemplar's.

This module only wires the parts together: argument checks (:mod:`.checks`), the
ensemble's identity (:mod:`.identity`), the manifest (:mod:`.manifest`), the run loop
(:mod:`.execute`) and the summary (:mod:`.summary`, :mod:`.picture`)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..atomic import check_output, clean_stale_temporaries
from ..cancellation import Cancel
from ..io.runs import JobSpec
from .backends import Backend, make_backend
from .backends.slurm_options import SbatchOptions
from .checks import (
    MAX_MEMBERS,
    absolute_spec,
    check_folder,
    check_suffix,
    positive,
    refuse_existing,
)
from .execute import Options, run_members
from .identity import base_seed, identity
from .manifest import Manifest, check_identity, read_header
from .members import Loaded, ModelSpec
from .result import EnsembleResult
from .summary import SummaryAccumulator, member_stats, summary_config
from .template import OutputTemplate

__all__ = ["EnsembleResult", "ensemble"]


def ensemble(
    spec: JobSpec | ModelSpec,
    n: int,
    *,
    out: str | os.PathLike[str],
    backend: str | Backend = "local",
    workers: int | None = None,
    per_task: int | None = None,
    scheduler: str | None = None,
    sbatch: SbatchOptions | Mapping[str, Any] | None = None,
    threads: int = 1,
    device: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    report: str | os.PathLike[str] | None = None,
    cancel: Cancel | None = None,
) -> EnsembleResult:
    """Make ``n`` realisations of a job, each in its own file, resumably.

    Member ``k`` is the output of ``spec`` with seed ``member_seed(S, k)``
    (:func:`texsynth.seeds.member_seed`) for the base seed ``S = spec.seed``: the same file
    whatever the backend, the number of workers, the packing of members into tasks and the
    order they finish in. A manifest beside the members records every finished member with
    its checksum; running the same call again skips them (files missing or changed are
    made again) and retries failed ones.

    Parameters
    ----------
    spec
        A ``"synth"`` :class:`~texsynth.io.runs.JobSpec` (images, signals or HEALPix
        skies; its ``seed`` is the base seed, None for a fresh one, recorded), or a
        :class:`~texsynth.ensembles.ModelSpec` (members drawn from a trained generator).
    n
        Number of members.
    out
        Output template, e.g. ``"out/{i:05d}.npy"``: ``{i}`` is the member's index.
    backend
        ``"local"`` (a process pool), ``"dask"`` (Dask distributed; ``pip install
        'texsynth[cluster]'``), ``"slurm"`` (job arrays through ``sbatch``), ``"serial"``
        (this process, for debugging), or a backend object
        (:mod:`texsynth.ensembles.backends.base`).
    workers
        Processes of the pool or of the local Dask cluster (default: one per core); for
        SLURM, the most array tasks running at once (default 64).
    per_task
        Members per task (default: at most 1000 tasks, about 4 per worker, at most 8
        members each).
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); default: a local cluster.
    sbatch
        SLURM job options (:class:`~texsynth.ensembles.backends.slurm_options.SbatchOptions`
        or a mapping of its fields: ``cores``, ``mem``, ``time``, ``partition``, ...).
    threads
        torch threads per worker. The files are identical for every number of workers at a
        given ``threads`` (torch's parallel reductions depend on it).
    device
        Where workers compute (default the CPU).
    overwrite
        Replace existing member files of no ensemble (without it, they are refused).
    progress
        Show a progress bar (members done, rate, time left) on stderr.
    report
        Write the summary as a PNG picture here.
    cancel
        Whole-run cancellation (:mod:`texsynth.cancellation`: an event or a function):
        once set, tasks not started are dropped, running ones stop where the backend can
        reach them, finished members are kept, and the result has ``cancelled`` set.

    Returns
    -------
    EnsembleResult
        Counts, failures (members that failed are reported, not raised), the summary.

    Raises
    ------
    TexsynthError
        Bad arguments, inputs or output folder, or a manifest of another ensemble at the
        same place, before any work.
    KeyboardInterrupt
        On Ctrl-C without ``cancel``: tasks not started are cancelled, running ones stopped
        where the backend can, the manifest holds every member finished; call again to
        resume.
    """
    start = time.perf_counter()
    n = positive(n, "n", MAX_MEMBERS)
    if per_task is not None:
        per_task = positive(per_task, "per_task", MAX_MEMBERS)
    threads = positive(threads, "threads", 4096)
    job = absolute_spec(spec)
    domain = "image" if isinstance(job, ModelSpec) else job.domain
    template = OutputTemplate(out, n)
    check_suffix(template, domain)
    check_folder(template, job, n, overwrite)
    loaded = Loaded(job)  # the inputs, read here first: a bad file fails before any work
    manifest_path = template.manifest
    header = read_header(manifest_path)
    seed = base_seed(job, header, n, template)
    ident = identity(job, n, template, seed)
    if header is None:
        refuse_existing(template, n, overwrite)
    else:
        check_identity(manifest_path, header["ensemble"], ident)
    report_path = Path(report) if report is not None else None
    if report_path is not None:
        check_output(
            report_path,
            option="--report",
            suffixes=(".png",),
            ours=lambda p: header is not None,
            overwrite=overwrite,
        )
    if template.suffix in (".fits", ".fit", ".fts"):
        from ..io import fits_module

        fits_module("writing")
    acc = _accumulator(loaded, domain)
    owned = isinstance(backend, str)

    def start_engine() -> Backend:
        if not isinstance(backend, str):
            return backend
        return make_backend(
            backend,
            workers=workers,
            scheduler=scheduler,
            threads=threads,
            sbatch=sbatch,
            folder=template.folder,
        )

    # a new ensemble starts its engine before writing the manifest (an unreachable
    # scheduler leaves nothing behind); a resumed one only if members are left to make
    engine = start_engine() if header is None or not owned else None
    try:
        manifest = Manifest(manifest_path, ident)
        try:
            clean_stale_temporaries(*(template.path(k) for k in range(n)))
            redone = manifest.verify()
            result = EnsembleResult(n, seed, template.text, manifest_path, redone=redone)
            result.resumed = len(manifest.done)
            if acc is not None:
                for entry in manifest.done.values():
                    acc.add(entry.stats)
            todo = [k for k in range(n) if k not in manifest.done]
            if todo:
                engine = engine or start_engine()
                options = Options(engine, owned, threads, per_task, device, progress, cancel)
                run_members(job, todo, seed, template, manifest, acc, result, options)
            result.backend = engine.name if engine is not None else str(backend)
        finally:
            manifest.close()
    finally:
        if owned and engine is not None:
            engine.close()
    result.done = len(manifest.done)
    result.seconds = time.perf_counter() - start
    if acc is not None and acc.members > 0:
        result.summary = acc.result()
        if report_path is not None:
            from .picture import write_picture

            write_picture(result.summary, report_path, title=_title(job, result))
            result.report = report_path
    return result


def _accumulator(loaded: Loaded, domain: str) -> SummaryAccumulator | None:
    """The summary's running sums, and the exemplar's statistics (None: no exemplar)."""
    ex = loaded.exemplar()
    if ex is None:
        return None
    cfg = summary_config(domain, tuple(ex.shape), loaded.output_shape())
    return SummaryAccumulator(cfg, member_stats(ex, cfg))


def _title(job: JobSpec | ModelSpec, result: EnsembleResult) -> str:
    what = (
        f"generator {Path(job.model).name}"
        if isinstance(job, ModelSpec)
        else f"{Path(job.inputs['input']).name} ({job.domain})"
    )
    return f"texsynth ensemble: {result.done} members of {what}, seed {result.seed}"
