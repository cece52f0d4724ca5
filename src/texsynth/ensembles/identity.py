"""An ensemble's identity, the first line of its manifest: the job (seed aside), ``n``, the
template, the base seed and texsynth's version. A rerun with the same identity resumes;
another is refused (:func:`texsynth.ensembles.manifest.check_identity`)."""

from __future__ import annotations

from typing import Any

from ..io.runs import JobSpec
from ..seeds import check_seed, fresh_seed
from ..version import __version__
from .manifest import file_sha256
from .members import ModelSpec
from .template import OutputTemplate

__all__ = ["base_seed", "identity", "job_json"]


def job_json(job: JobSpec | ModelSpec) -> dict[str, Any]:
    """The job as JSON, its seed dropped (a generator's file by its checksum too)."""
    doc = job.to_json()
    if isinstance(job, JobSpec):
        return {"synth": {**doc, "seed": None}}
    doc = {k: v for k, v in doc.items() if k != "seed"}
    return {"generator": {**doc, "model_sha256": file_sha256(job.model)}}


def base_seed(
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
            and theirs.get("job") == job_json(job)
            and theirs.get("n") == n
            and theirs.get("template") == template.pattern
            and isinstance(theirs.get("seed"), int)
        ):
            return int(theirs["seed"])
    return fresh_seed()


def identity(
    job: JobSpec | ModelSpec, n: int, template: OutputTemplate, seed: int
) -> dict[str, Any]:
    """What the manifest's header records about the ensemble."""
    return {
        "job": job_json(job),
        "n": n,
        "template": template.pattern,
        "seed": seed,
        "texsynth_version": __version__,
    }
