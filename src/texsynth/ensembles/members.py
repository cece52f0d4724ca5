"""What makes an ensemble's members, and writes their files: a synthesis job
(:class:`~texsynth.io.runs.JobSpec`) or a trained generator (:class:`ModelSpec`).

Both are plain data sent to every task. A worker process loads its inputs (the exemplar and
its masks, or the generator) once and keeps them for the tasks that follow
(:func:`loaded`). Member ``k`` is made from its own seed: a batch of members is one
batched :func:`~texsynth.synthesis.jobs.run_job` whose output ``j`` equals the run of
``n = 1`` with seed ``j`` (``exact_members``), or one
:func:`~texsynth.generators.generate_samples` call with one noise generator per member.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..io.runs import JobSpec

__all__ = ["Loaded", "ModelSpec", "job_key", "loaded", "output_shape"]


@dataclass(frozen=True)
class ModelSpec:
    """Members drawn from a generator trained with :func:`texsynth.train_generator`
    (``texsynth train``).

    Parameters
    ----------
    model
        The generator's ``.safetensors`` file.
    size
        ``(H, W)`` of the members (default: the training exemplar's).
    exemplar
        The exemplar the ensemble's summary compares with (default: none).
    seed
        The base seed (member ``k`` draws its noise from ``member_seed(seed, k)``; None: a
        fresh one, recorded in the manifest).
    """

    model: str
    size: tuple[int, int] | None = None
    exemplar: str | None = None
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON."""
        return {
            "model": os.fspath(self.model),
            "size": list(self.size) if self.size is not None else None,
            "exemplar": self.exemplar,
            "seed": self.seed,
        }


Job = JobSpec | ModelSpec


def job_key(job: Job) -> str:
    """A JSON text naming the job (what a worker caches its inputs under)."""
    return json.dumps({**job.to_json(), "seed": None}, sort_keys=True)


class Loaded:
    """A job's inputs, loaded in one process: makes members and writes their files."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.meta: Any = None
        self.arrays: dict[str, torch.Tensor] = {}
        self.model: Any = None
        if isinstance(job, ModelSpec):
            self._load_model(job)
        else:
            self._load_synth(job)

    def _load_synth(self, spec: JobSpec) -> None:
        from ..io import read_image, read_signal
        from ..synthesis.jobs import load_inputs

        self.arrays = load_inputs(spec)
        path = spec.inputs["input"]
        if spec.domain == "image":
            self.meta = read_image(path)[1]
        elif spec.domain == "signal":
            self.meta = read_signal(path)[1]
        elif Path(path).suffix.lower() != ".npy":
            from ..io.healpix_maps import read_healpix_map

            self.meta = read_healpix_map(path)
            if int(spec.options.get("spin", 0)):  # members are the (Q, U) pair's columns
                from ..io.healpix_stokes import select_qu

                self.meta = select_qu(self.meta, repr(str(path)))[0]

    def _load_model(self, spec: ModelSpec) -> None:
        from ..generators import load_generator, read_generator_metadata
        from ..generators.exemplar_meta import exemplar_meta

        info = read_generator_metadata(spec.model)["metadata"]
        self.model = load_generator(spec.model)
        self.meta = exemplar_meta(info, self.model)
        hw = spec.size or tuple(info.get("exemplar_size_hw", (256, 256)))
        self.size = (int(hw[0]), int(hw[1]))

    def make(
        self,
        seeds: Sequence[int],
        *,
        device: str | None,
        cancel: Callable[[], bool] | None,
    ) -> torch.Tensor:
        """The members of ``seeds``, ``[len(seeds), C, ...]`` on the CPU."""
        if isinstance(self.job, ModelSpec):
            from ..cancellation import check_cancelled
            from ..generators import generate_samples

            check_cancelled(cancel)
            H, W = self.size
            out = generate_samples(
                self.model,
                len(seeds),
                H,
                W,
                device=device,
                seed=list(seeds),
                batch_size=1,  # each member alone: its file does not depend on the packing
                max_memory=1 << 62,
            )
            return out.detach().cpu()
        from ..synthesis.jobs import run_job

        spec = self.job
        job = JobSpec(
            spec.kind, spec.domain, spec.inputs, {**spec.options, "n": len(seeds)}, list(seeds)
        )
        result, _ = run_job(job, self.arrays, device=device, progress=False, cancel=cancel)
        return result.detach().cpu()

    def write(self, path: Path, x: torch.Tensor) -> None:
        """Write one member ``x [C, ...]`` to ``path`` (atomically)."""
        if isinstance(self.job, ModelSpec) or self.job.domain == "image":
            from ..io.outputs import write_outputs

            write_outputs(x[None], self.meta, [path], path.suffix.lower())
        elif self.job.domain == "signal":
            from ..io import write_signal

            write_signal(path, x, self.meta)
        else:
            from ..io.healpix_maps import write_healpix_map

            meta = self.meta
            # the input file's ordering; a .npy (no header to say it) is always NESTED
            fits_out = path.suffix.lower() != ".npy"
            ordering = meta.file_ordering if meta is not None and fits_out else "NESTED"
            write_healpix_map(
                path,
                x.numpy(),
                column_names=(meta.column_names or None) if meta is not None else None,
                unit=meta.unit if meta is not None else None,
                overwrite=True,
                ordering=ordering,
            )

    def exemplar(self) -> torch.Tensor | None:
        """The exemplar ``[C, ...]`` the summary compares with (None: none given)."""
        if isinstance(self.job, ModelSpec):
            if self.job.exemplar is None:
                return None
            from ..io import read_image

            return read_image(self.job.exemplar)[0]
        return self.arrays["input"]

    def output_shape(self) -> tuple[int, ...]:
        """The spatial shape of every member."""
        if isinstance(self.job, ModelSpec):
            return self.size
        return output_shape(self.job, self.arrays)


def output_shape(spec: JobSpec, arrays: dict[str, torch.Tensor]) -> tuple[int, ...]:
    """The spatial shape of a synthesis job's outputs: the ``init``'s, else ``size`` (or
    ``nside``), else the exemplar's."""
    if "init" in arrays:
        return tuple(arrays["init"].shape[1:])
    ex = tuple(arrays["input"].shape[1:])
    if spec.domain == "sky":
        nside = spec.options.get("nside")
        return (12 * int(nside) ** 2,) if nside else ex
    size = spec.options.get("size")
    if size is None:
        return ex
    if spec.domain == "signal":
        return (int(size),) if isinstance(size, int) else (int(max(size)),)
    if isinstance(size, int):
        return (size, size)
    return (int(size[0]), int(size[1]))


_CACHE: dict[str, Loaded] = {}
_LOCK = threading.Lock()


def loaded(job: Job) -> Loaded:
    """The job's inputs, loaded once per process (the last job only is kept)."""
    key = job_key(job)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is None:
            _CACHE.clear()
            hit = _CACHE[key] = Loaded(job)
    return hit
