"""Argument checks of :func:`texsynth.ensemble`: counts, the spec, the output template and
its folder. Each bad argument is one :class:`~texsynth.errors.TexsynthError` line raised
before any work is done."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..atomic import check_output
from ..errors import TexsynthError
from ..io import SIGNAL_SUFFIXES, SUPPORTED_SUFFIXES
from ..io.runs import JobSpec
from ..paths import quote_path
from .members import ModelSpec
from .template import OutputTemplate

__all__ = [
    "MAX_MEMBERS",
    "SUFFIXES",
    "absolute_spec",
    "check_folder",
    "check_suffix",
    "positive",
    "refuse_existing",
]

#: what each domain's members are written as
SUFFIXES = {
    "image": SUPPORTED_SUFFIXES,
    "signal": SIGNAL_SUFFIXES,
    "sky": (".fits", ".fit", ".fts", ".npy"),
}

#: most members of one ensemble (one file each)
MAX_MEMBERS = 10_000_000


def positive(value: object, name: str, most: int) -> int:
    """``value`` as an integer from 1 to ``most`` (a one-line error otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise TexsynthError(f"{name} must be an integer from 1 to {most}, got {value!r:.40}")
    return int(value)


def absolute_spec(spec: JobSpec | ModelSpec) -> JobSpec | ModelSpec:
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


def check_suffix(template: OutputTemplate, domain: str) -> None:
    """Members of ``domain`` can be written with the template's suffix."""
    suffixes = SUFFIXES[domain]
    if template.suffix not in suffixes:
        raise TexsynthError(
            f"output template {quote_path(template.text)}: {domain} members are written as "
            f"{', '.join(suffixes)}, not {template.suffix or '(no suffix)'!r}; change the suffix"
        )


def check_folder(
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
        ours=lambda p: True,  # existing members are checked by refuse_existing
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


def refuse_existing(template: OutputTemplate, n: int, overwrite: bool) -> None:
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
