"""Run records: what to run (a :class:`JobSpec`) and what happened (a :class:`RunRecord`).

A client -- the command line, a web server, an ensemble runner -- describes a job as a
:class:`JobSpec`: its kind (``"synth"``, ``"remake"``, ``"sample"``), the domain of its data
(``"image"``, ``"signal"``, ``"sky"``), its input files by role, the options of the library
function that runs it and the seed. :func:`texsynth.synthesis.jobs.run_job` runs it (a
``"sample"`` job: :func:`texsynth.generators.sampling_job.run_sample_job`) and returns a
:class:`RunRecord`:
the spec, the outputs, the seed of every output, the software versions, the device, the
timings and the losses of every level. The record is the JSON sidecar written next to the
outputs (:meth:`RunRecord.to_json`), and since it holds the spec it reproduces its run
(:func:`read_record`, then :func:`texsynth.synthesis.jobs.rerun`).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..atomic import MARKER_KEY
from ..domains.healpix import nside_of
from ..errors import TexsynthError
from ..paths import quote_path
from ..version import __version__

__all__ = [
    "DOMAINS",
    "KINDS",
    "JobSpec",
    "RunRecord",
    "level_entries",
    "read_record",
    "record_header",
    "versions",
]

#: the jobs a spec can describe, and the domains of data each takes
KINDS: dict[str, tuple[str, ...]] = {
    "synth": ("image", "signal", "sky"),
    "remake": ("image",),
    "sample": ("image",),
}

#: every domain of data
DOMAINS = ("image", "signal", "sky")

#: the input roles of each kind (the first is required)
ROLES: dict[str, tuple[str, ...]] = {
    "synth": ("input", "mask", "in_mask", "init", "reference"),
    "remake": ("content", "style"),
    "sample": ("model",),
}


def versions() -> dict[str, str]:
    """The software versions every record carries."""
    return {
        "texsynth_version": __version__,
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
    }


def record_header(kind: str) -> dict[str, str]:
    """The marker that makes a JSON file recognisably texsynth's (see
    :func:`texsynth.atomic.is_texsynth_json`), and the versions."""
    return {MARKER_KEY: kind, **versions()}


def _json_safe(value: Any, where: str) -> Any:
    """``value`` if JSON can hold it exactly (numbers, strings, lists, dicts), else an
    error naming ``where``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TexsynthError(f"{where} is {value}; a job spec holds finite numbers only")
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TexsynthError(
        f"{where} is a {type(value).__name__}; a job spec holds numbers, strings, lists and "
        "dicts only (give arrays as input files)"
    )


@dataclass
class JobSpec:
    """What to run.

    Parameters
    ----------
    kind
        ``"synth"`` (:func:`texsynth.synthesize` or :func:`texsynth.synthesize_1d`),
        ``"remake"`` (:func:`texsynth.remake`) or ``"sample"`` (textures drawn from a trained
        generator, :func:`texsynth.generators.sampling_job.run_sample_job`).
    domain
        ``"image"`` (images and 2-D fields), ``"signal"`` (1-D signals) or ``"sky"``
        (HEALPix maps, :func:`texsynth.synthesize_healpix`).
    inputs
        Input files by role: ``input``, ``mask``, ``in_mask``, ``init``, ``reference`` (synth);
        ``content``, ``style`` (remake); ``model``, the generator file (sample).
    options
        Keyword arguments of the library function (``method``, ``size``, ``n``, ``steps``,
        ...), as JSON holds them.
    seed
        The base seed (``None``: a fresh one, recorded in the run's record), or one seed per
        output.
    """

    kind: str
    domain: str = "image"
    inputs: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    seed: int | list[int] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TexsynthError(
                f"unknown job kind {self.kind!r}; choose one of {', '.join(map(repr, KINDS))}"
            )
        if self.domain not in KINDS[self.kind]:
            raise TexsynthError(
                f"a {self.kind} job takes {' or '.join(KINDS[self.kind])} data, not {self.domain!r}"
            )
        roles = ROLES[self.kind]
        unknown = [r for r in self.inputs if r not in roles]
        if unknown:
            raise TexsynthError(
                f"unknown input role(s) {', '.join(map(repr, unknown))} for a {self.kind} "
                f"job; use {', '.join(roles)}"
            )
        self.inputs = {r: os.fspath(p) for r, p in self.inputs.items() if p is not None}
        self.options = _json_safe(dict(self.options), "options")
        self.seed = _json_safe(self.seed, "seed")

    def to_json(self) -> dict[str, Any]:
        """The spec as a JSON object."""
        return {
            "kind": self.kind,
            "domain": self.domain,
            "inputs": dict(self.inputs),
            "options": dict(self.options),
            "seed": self.seed,
        }

    @classmethod
    def from_json(cls, doc: object) -> JobSpec:
        """A spec from :meth:`to_json`'s object (a one-line error if it is not one)."""
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
            raise TexsynthError("not a texsynth job spec: expected an object with a 'kind'")
        extra = set(doc) - {"kind", "domain", "inputs", "options", "seed"}
        if extra:
            raise TexsynthError(f"unknown job spec field(s): {', '.join(sorted(extra))}")
        inputs, options = doc.get("inputs", {}), doc.get("options", {})
        if not isinstance(inputs, dict) or not isinstance(options, dict):
            raise TexsynthError("a job spec's inputs and options must be objects")
        return cls(
            kind=doc["kind"],
            domain=doc.get("domain", "image"),
            inputs=inputs,
            options=options,
            seed=doc.get("seed"),
        )


@dataclass
class RunRecord:
    """What a run did: the sidecar of its outputs.

    Attributes
    ----------
    spec
        The job that ran.
    outputs
        The files written (filled in by the client that writes them).
    seeds
        The seed of every output (output ``k`` equals a run of ``n=1`` with ``seeds[k]``).
    device
        Where it ran.
    seconds
        Wall time of the run.
    method, method_reason
        The method that ran and why (what ``"auto"`` chose, or how it was given).
    settings
        What the run resolved: sizes, scales, levels, weights and the choices made.
    levels
        Per pyramid level: its size, scales, iterations and final loss.
    started
        When it started (UTC, ISO 8601).
    """

    spec: JobSpec
    outputs: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    device: str = "cpu"
    seconds: float = 0.0
    method: str = ""
    method_reason: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    levels: list[dict[str, Any]] = field(default_factory=list)
    started: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
    )
    versions: dict[str, str] = field(default_factory=versions)

    def to_json(self) -> dict[str, Any]:
        """The JSON sidecar: the marker and versions, the inputs by role, ``outputs``,
        ``seed`` (the first output's) and ``seeds``, ``device``, ``method``,
        ``method_reason``, ``settings``, ``levels``, ``seconds``, ``started`` and the
        ``spec`` that reproduces the run."""
        doc: dict[str, Any] = {MARKER_KEY: self.spec.kind, **self.versions}
        doc.update(self.spec.inputs)
        base = self.seeds[0] if self.seeds else self.spec.seed
        doc.update(
            outputs=list(self.outputs),
            seed=base,
            seeds=list(self.seeds),
            device=self.device,
        )
        if self.spec.domain == "image":
            doc.update(method=self.method, method_reason=self.method_reason)
            if self.spec.kind != "sample":
                doc.update(quality=self.spec.options.get("quality", "default"))
        doc.update(
            settings=_json_safe(self.settings, "settings"),
            levels=_json_safe(self.levels, "levels"),
            seconds=round(self.seconds, 3),
            started=self.started,
            spec=self.spec.to_json(),
        )
        return doc

    def dumps(self) -> str:
        """:meth:`to_json` as indented JSON text."""
        return json.dumps(self.to_json(), indent=1)

    @classmethod
    def from_json(cls, doc: object) -> RunRecord:
        """A record from :meth:`to_json`'s object."""
        if not isinstance(doc, dict) or MARKER_KEY not in doc:
            raise TexsynthError("not a texsynth run record (no texsynth marker)")
        if "spec" not in doc and doc.get(MARKER_KEY) == "sample":
            return _sample_record_before_specs(doc)
        if "spec" not in doc:
            raise TexsynthError(
                "this record has no job spec (written by texsynth < 0.2, or by a command "
                "that records no run); rerun the command instead"
            )
        spec = JobSpec.from_json(doc["spec"])
        return cls(
            spec=spec,
            outputs=list(doc.get("outputs", [])),
            seeds=[int(s) for s in doc.get("seeds", [])],
            device=str(doc.get("device", "cpu")),
            seconds=float(doc.get("seconds", 0.0)),
            method=str(doc.get("method", "")),
            method_reason=str(doc.get("method_reason", "")),
            settings=dict(doc.get("settings", {})),
            levels=list(doc.get("levels", [])),
            started=str(doc.get("started", "")),
            versions={k: str(doc[k]) for k in versions() if k in doc},
        )


def _sample_record_before_specs(doc: dict[str, Any]) -> RunRecord:
    """A record of ``texsynth sample`` as written before sampling was a job kind (no
    ``spec``; the model, ``size_hw``, ``n`` and the base ``seed`` at the top level, the
    training settings under ``training``), read as today's."""
    try:
        spec = JobSpec(
            "sample",
            "image",
            inputs={"model": str(doc["model"])},
            options={"n": int(doc["n"]), "size": [int(v) for v in doc["size_hw"]]},
            seed=int(doc["seed"]),
        )
    except (KeyError, TypeError, ValueError):
        raise TexsynthError(
            "this sample record lacks its model, n, size_hw or seed; rerun the command instead"
        ) from None
    return RunRecord(
        spec=spec,
        outputs=[str(o) for o in doc.get("outputs", [])],
        device=str(doc.get("device", "cpu")),
        seconds=float(doc.get("seconds", 0.0)),
        settings={
            "size_hw": spec.options["size"],
            "n": spec.options["n"],
            "seed_rule": str(doc.get("seed_rule", "")),
            "training": doc.get("training"),
        },
        started=str(doc.get("started", "")),
        versions={k: str(doc[k]) for k in versions() if k in doc},
    )


def read_record(path: str | os.PathLike[str]) -> RunRecord:
    """The run record in the JSON file ``path`` (a one-line error if it is not one)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TexsynthError(f"no such record: {quote_path(p)}") from None
    except OSError as e:
        raise TexsynthError(f"cannot read the record {quote_path(p)}: {e.strerror}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        raise TexsynthError(f"{quote_path(p)} is not JSON; give a texsynth run record") from None
    return RunRecord.from_json(doc)


def level_entries(report: Any, domain: str) -> list[dict[str, Any]]:
    """Per-level entries of a record from a synthesis report (the patch method reports
    sizes only): ``size_hw`` (images), ``length`` (signals) or ``nside`` (skies), ``J``,
    ``iterations``, ``final_loss``."""
    out = []
    for i, size in enumerate(report.levels):
        entry: dict[str, Any] = (
            {"size_hw": list(size)}
            if domain == "image"
            else {"nside": nside_of(int(size[0]))}
            if domain == "sky"
            else {"length": int(size[0])}
        )
        if i < len(report.iterations):
            entry["J"] = report.scales[i] if i < len(report.scales) else None
            entry["iterations"] = report.iterations[i]
            entry["final_loss"] = report.losses[i][-1] if report.losses[i] else None
        out.append(entry)
    return out
