""":func:`ensemble`: many realisations of one job, on a process pool or a Dask cluster,
resumable, with a summary of their statistics against the exemplar's."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..atomic import check_output, clean_stale_temporaries
from ..errors import TexsynthError
from ..io import SIGNAL_SUFFIXES, SUPPORTED_SUFFIXES
from ..io.runs import JobSpec
from ..paths import quote_path
from ..seeds import check_seed, fresh_seed, member_seed
from ..version import __version__
from .backends import RETRIES, Backend, make_backend
from .manifest import Failure, Manifest, MemberDone, check_identity, read_header
from .members import Loaded, ModelSpec
from .summary import EnsembleSummary, SummaryAccumulator, member_stats, summary_config
from .tasks import MemberOutcome, Task, auto_per_task, plan_tasks, run_task
from .template import OutputTemplate

__all__ = ["EnsembleResult", "ensemble"]

#: what each domain's members are written as
SUFFIXES = {
    "image": SUPPORTED_SUFFIXES,
    "signal": SIGNAL_SUFFIXES,
    "sky": (".fits", ".fit", ".fts", ".npy"),
}

#: most members of one ensemble (one file each)
MAX_MEMBERS = 10_000_000


@dataclass
class EnsembleResult:
    """What :func:`ensemble` did.

    Attributes
    ----------
    n, seed
        Members and the base seed (member ``k``'s seed is ``member_seed(seed, k)``).
    template, manifest
        The output template and the manifest beside the members.
    done
        Members done (this run and earlier ones).
    resumed
        Members found done, with their files intact, when the run started.
    redone
        Members recorded as done whose file was missing or changed: made again.
    failed
        One-line error of each member that failed in this run.
    seconds
        Wall time of this run.
    tasks, per_task, backend
        How the work was cut and where it ran.
    summary
        The members' statistics against the exemplar's (None without an exemplar).
    report
        The PNG report written, if any.
    """

    n: int
    seed: int
    template: str
    manifest: Path
    done: int = 0
    resumed: int = 0
    redone: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    tasks: int = 0
    per_task: int = 0
    backend: str = ""
    summary: EnsembleSummary | None = None
    report: Path | None = None

    def path(self, k: int) -> Path:
        """The file of member ``k``."""
        return OutputTemplate(self.template, self.n).path(k)


def ensemble(
    spec: JobSpec | ModelSpec,
    n: int,
    *,
    out: str | os.PathLike[str],
    backend: str | Backend = "local",
    workers: int | None = None,
    per_task: int | None = None,
    scheduler: str | None = None,
    threads: int = 1,
    device: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    report: str | os.PathLike[str] | None = None,
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
        'texsynth[cluster]'``), ``"serial"`` (this process, for debugging), or a backend
        object (:mod:`texsynth.ensembles.backends.base`).
    workers
        Processes of the pool or of the local Dask cluster (default: one per core).
    per_task
        Members per task (default: at most 1000 tasks, about 4 per worker, at most 8
        members each).
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); default: a local cluster.
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
        On Ctrl-C: tasks not started are cancelled, running ones stopped where the backend
        can, the manifest holds every member finished; call again to resume.
    """
    start = time.perf_counter()
    n = _positive(n, "n", MAX_MEMBERS)
    if per_task is not None:
        per_task = _positive(per_task, "per_task", MAX_MEMBERS)
    threads = _positive(threads, "threads", 4096)
    job = _absolute(spec)
    domain = "image" if isinstance(job, ModelSpec) else job.domain
    template = OutputTemplate(out, n)
    suffixes = SUFFIXES[domain]
    if template.suffix not in suffixes:
        raise TexsynthError(
            f"output template {quote_path(template.text)}: {domain} members are written as "
            f"{', '.join(suffixes)}, not {template.suffix or '(no suffix)'!r}; change the suffix"
        )
    _check_folder(template, job, n, overwrite)
    loaded = Loaded(job)  # the inputs, read here first: a bad file fails before any work
    manifest_path = template.manifest
    header = read_header(manifest_path)
    seed = _base_seed(job, header, n, template)
    identity = {
        "job": _job_json(job),
        "n": n,
        "template": template.pattern,
        "seed": seed,
        "texsynth_version": __version__,
    }
    if header is None:
        _refuse_existing(template, n, overwrite)
    else:
        check_identity(manifest_path, header["ensemble"], identity)
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
    engine = (
        make_backend(backend, workers=workers, scheduler=scheduler, threads=threads)
        if isinstance(backend, str)
        else backend
    )  # before the manifest: an unreachable scheduler leaves nothing behind
    try:
        manifest = Manifest(manifest_path, identity)
        try:
            clean_stale_temporaries(*(template.path(k) for k in range(n)))
            redone = manifest.verify()
            result = EnsembleResult(n, seed, template.text, manifest_path, redone=redone)
            result.resumed = len(manifest.done)
            result.backend = engine.name
            if acc is not None:
                for entry in manifest.done.values():
                    acc.add(entry.stats)
            todo = [k for k in range(n) if k not in manifest.done]
            if todo:
                options = _Options(engine, owned, threads, per_task, device, progress)
                _run(job, todo, seed, template, manifest, acc, result, options)
        finally:
            manifest.close()
    finally:
        if owned:
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


@dataclass
class _Options:
    """How to run: :func:`ensemble`'s arguments of that name."""

    engine: Backend
    owned: bool
    threads: int
    per_task: int | None
    device: str | None
    progress: bool


def _run(
    job: JobSpec | ModelSpec,
    todo: list[int],
    seed: int,
    template: OutputTemplate,
    manifest: Manifest,
    acc: SummaryAccumulator | None,
    result: EnsembleResult,
    o: _Options,
) -> None:
    """Run the members ``todo`` on the backend, recording each task's outcome."""
    engine, owned = o.engine, o.owned
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
    live: dict[Any, tuple[Task, int]] = {}
    try:
        for t in tasks:
            live[engine.submit(run_task, t)] = (t, 0)
        while live:
            batch = dict(live)
            for fut in engine.as_completed(list(batch)):
                task, tries = live.pop(fut)
                try:
                    outcomes: list[MemberOutcome] = fut.result()
                except Exception as exc:
                    if engine.lost(exc) and tries < RETRIES:
                        live[engine.submit(run_task, task)] = (task, tries + 1)
                        continue
                    why = _lost_words(exc, engine.lost(exc))
                    outcomes = [
                        MemberOutcome(k, s, Path(f).name, error=why)
                        for k, s, f in zip(task.members, task.seeds, task.files, strict=True)
                    ]
                _record(outcomes, manifest, acc, result, bar)
    except KeyboardInterrupt:
        _stop(engine, live, manifest, acc, result, bar, owned)
        raise
    except BaseException:
        engine.cancel(list(live))
        bar.close()
        raise
    bar.close()


def _stop(
    engine: Backend,
    live: dict[Any, tuple[Task, int]],
    manifest: Manifest,
    acc: SummaryAccumulator | None,
    result: EnsembleResult,
    bar: Any,
    owned: bool,
) -> None:
    """Ctrl-C: cancel what is left, keep what finished meanwhile."""
    engine.cancel(list(live))
    if owned:
        engine.close()  # the local pool waits for its running tasks, which stop at once
    for fut in list(live):
        done = getattr(fut, "done", None)
        if callable(done) and done() and not _was_cancelled(fut):
            try:
                _record(fut.result(), manifest, acc, result, bar)
            except Exception:  # a stopped task has nothing to keep
                continue
    bar.close()


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
    from ..paths import one_line

    if lost:
        return (
            f"the worker running this member died {RETRIES + 1} times ({one_line(exc)}): killed, "
            "or out of memory; use fewer --workers or a smaller --per-task"
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


def _positive(value: object, name: str, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise TexsynthError(f"{name} must be an integer from 1 to {most}, got {value!r:.40}")
    return int(value)


def _absolute(spec: JobSpec | ModelSpec) -> JobSpec | ModelSpec:
    """The spec with absolute input paths (workers may run elsewhere), ``n`` dropped."""
    if isinstance(spec, ModelSpec):
        return replace(
            spec,
            model=os.path.abspath(spec.model),
            exemplar=os.path.abspath(spec.exemplar) if spec.exemplar else None,
        )
    if not isinstance(spec, JobSpec):
        raise TexsynthError(f"spec must be a JobSpec or a ModelSpec, got {type(spec).__name__}")
    if spec.kind != "synth":
        raise TexsynthError(f"an ensemble takes a synth job, not a {spec.kind} job")
    if isinstance(spec.seed, list):
        raise TexsynthError(
            "an ensemble's spec takes the base seed (an integer, or None), not a list: "
            "member k's seed is member_seed(seed, k)"
        )
    if spec.options.get("exact_members") is False:
        raise TexsynthError(
            "exact_members=False would make each member depend on its batch; drop it"
        )
    options = {k: v for k, v in spec.options.items() if k != "n"}
    inputs = {r: os.path.abspath(p) for r, p in spec.inputs.items()}
    return JobSpec(spec.kind, spec.domain, inputs, options, spec.seed)


def _job_json(job: JobSpec | ModelSpec) -> dict[str, Any]:
    doc = job.to_json()
    if isinstance(job, JobSpec):
        return {"synth": {**doc, "seed": None}}
    from .manifest import file_sha256

    doc = {k: v for k, v in doc.items() if k != "seed"}
    return {"generator": {**doc, "model_sha256": file_sha256(job.model)}}


def _base_seed(
    job: JobSpec | ModelSpec, header: dict[str, Any] | None, n: int, template: OutputTemplate
) -> int:
    """The given seed; without one, the seed of this ensemble's manifest (a resumed run),
    else a fresh one."""
    given = job.seed
    if given is not None:
        s = check_seed(given)
        assert isinstance(s, int)
        return s
    if header is not None:
        theirs = header.get("ensemble", {})
        if (
            isinstance(theirs, dict)
            and theirs.get("job") == _job_json(job)
            and theirs.get("n") == n
            and theirs.get("template") == template.pattern
            and isinstance(theirs.get("seed"), int)
        ):
            return int(theirs["seed"])
    return fresh_seed()


def _check_folder(
    template: OutputTemplate, job: JobSpec | ModelSpec, n: int, overwrite: bool
) -> None:
    """The output folder exists and is writable, no member is an input (one-line errors)."""
    inputs: list[tuple[str, Path | None]]
    if isinstance(job, ModelSpec):
        inputs = [("model", Path(job.model))]
        if job.exemplar:
            inputs.append(("exemplar", Path(job.exemplar)))
    else:
        inputs = [(role, Path(p)) for role, p in job.inputs.items()]
    first = template.path(0)
    check_output(
        first,
        option="-o",
        suffixes=None,
        inputs=inputs,
        ours=lambda p: True,  # existing members are checked by _refuse_existing
        overwrite=overwrite,
    )
    here = template.folder.resolve()
    names = {p.name for _, p in inputs if p is not None and p.parent.resolve() == here}
    if names:
        hit = next((k for k in range(n) if template.name(k) in names), None)
        if hit is not None:
            raise TexsynthError(
                f"-o {template.text}: member {hit}'s file {quote_path(template.path(hit))} is "
                "an input of the run (texsynth never overwrites its inputs); choose another "
                "template"
            )


def _refuse_existing(template: OutputTemplate, n: int, overwrite: bool) -> None:
    """No manifest here: existing files with members' names are not ours."""
    if overwrite:
        return
    try:
        present = set(os.listdir(template.folder))
    except OSError:
        return
    if not present:
        return
    taken = [k for k in range(n) if template.name(k) in present]
    if taken:
        raise TexsynthError(
            f"-o {template.text}: {len(taken)} member file(s) exist already (e.g. "
            f"{quote_path(template.path(taken[0]))}) and no manifest of an ensemble is there; "
            "pass --overwrite to replace them, or choose another folder"
        )


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
