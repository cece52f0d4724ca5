"""Sampling from a trained generator as a job: a :class:`~texsynth.io.runs.JobSpec` of kind
``"sample"`` (the generator file as input ``model``; options ``n`` and ``size``; the seed)
run into textures and a :class:`~texsynth.io.runs.RunRecord`, as
:func:`texsynth.synthesis.jobs.run_job` does for synthesis. ``texsynth sample`` writes the
record beside its files, and :func:`texsynth.synthesis.jobs.rerun` draws the same textures
again from it.

Sample ``k`` draws its noise from :func:`texsynth.seeds.member_seed` ``(seed, k)``
(:func:`~texsynth.generators.generate_samples`), so a job can be drawn a chunk at a time
(:meth:`SampleJob.chunks`: thousands of samples need not fit in memory) and sample ``k`` is
the same whatever ``n`` and the chunking.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._checks import check_device, check_int_at_least
from ..cancellation import Cancel, check_cancelled
from ..errors import TexsynthError
from ..io.images import ImageMeta
from ..io.runs import JobSpec, RunRecord
from ..memory import check_memory, estimate_sampling_bytes
from ..seeds import resolve_seeds
from .exemplar_meta import exemplar_meta
from .network import SynthHalfUNet2D
from .sampling import generate_samples
from .serialization import load_generator, read_generator_metadata

__all__ = [
    "CHUNK_BYTES",
    "SEED_RULE",
    "SampleJob",
    "run_sample_job",
    "sample_size",
    "sample_spec",
]

#: what the record says of the seeds (``seeds[k]`` is sample ``k``'s)
SEED_RULE = "sample k: texsynth.seeds.member_seed(seed, k)"
#: the options a sample job takes
OPTIONS = ("n", "size")
#: the samples of one chunk of :meth:`SampleJob.chunks` take at most about this many bytes
CHUNK_BYTES = 256 << 20


def sample_spec(
    model: str | os.PathLike[str],
    *,
    n: int = 1,
    size: Sequence[int] | None = None,
    seed: int | Sequence[int] | None = None,
) -> JobSpec:
    """The job of drawing ``n`` textures of ``size = (H, W)`` pixels (default: the training
    exemplar's size) from the generator file ``model``, with ``seed`` (``None``: a fresh
    one, recorded)."""
    options: dict[str, Any] = {"n": n, "size": list(size) if size is not None else None}
    seeds = list(seed) if isinstance(seed, Sequence) else seed
    return JobSpec(
        "sample", "image", inputs={"model": os.fspath(model)}, options=options, seed=seeds
    )


def _options(spec: JobSpec) -> tuple[int, tuple[int, int] | None]:
    """``(n, size)`` of a sample job, checked."""
    if spec.kind != "sample":
        raise TexsynthError(f"a {spec.kind} job is not a sample job; run it with run_job")
    if "model" not in spec.inputs:
        raise TexsynthError("a sample job needs its 'model' input: a generator file")
    unknown = [k for k in spec.options if k not in OPTIONS]
    if unknown:
        raise TexsynthError(
            f"unknown sample job option(s) {', '.join(map(repr, unknown))}; use "
            f"{', '.join(OPTIONS)}"
        )
    n = check_int_at_least(spec.options.get("n", 1), "n", 1, "ask for at least one sample")
    size = spec.options.get("size")
    if size is None:
        return n, None
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise TexsynthError(f"a sample job's size is [height, width], got {size!r:.40}")
    H = check_int_at_least(size[0], "size[0] (height)", 1, "give the size in pixels")
    W = check_int_at_least(size[1], "size[1] (width)", 1, "give the size in pixels")
    return n, (H, W)


def sample_size(spec: JobSpec, metadata: dict[str, Any]) -> tuple[int, int]:
    """``(H, W)`` of a sample job's textures: its ``size`` option, else the training
    exemplar's size recorded in the generator file's ``metadata`` (else 256 x 256)."""
    _, size = _options(spec)
    if size is not None:
        return size
    H, W = metadata.get("exemplar_size_hw", (256, 256))
    return int(H), int(W)


@dataclass
class SampleJob:
    """A sample job made ready to draw: the generator loaded, the size and the seeds
    resolved (:meth:`prepare`).

    Attributes
    ----------
    spec
        The job.
    model
        The generator, on the device it draws on.
    metadata
        The generator file's metadata (training settings, the exemplar's size and format).
    size_hw
        ``(H, W)`` of every texture.
    seeds
        The seed of every sample (``seeds[k]`` draws sample ``k``).
    """

    spec: JobSpec
    model: SynthHalfUNet2D
    metadata: dict[str, Any]
    size_hw: tuple[int, int]
    seeds: list[int]

    @classmethod
    def prepare(
        cls,
        spec: JobSpec,
        *,
        device: str | torch.device | None = None,
        model: SynthHalfUNet2D | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> SampleJob:
        """Load the generator of ``spec`` (unless ``model`` is given, with the file's
        ``metadata``) onto ``device`` (default CPU) and resolve the size and seeds."""
        n, _ = _options(spec)
        path = spec.inputs["model"]
        if metadata is None:
            metadata = read_generator_metadata(path)["metadata"]
        size = sample_size(spec, metadata)
        _, seeds = resolve_seeds(spec.seed, n)
        if model is None:
            model = load_generator(path, device=check_device(device))
        elif device is not None:
            model = model.to(check_device(device))
        return cls(spec, model, metadata, size, seeds)

    @property
    def n(self) -> int:
        """How many textures the job draws."""
        return len(self.seeds)

    @property
    def meta(self) -> ImageMeta:
        """The training exemplar's file metadata: write the samples as it was written."""
        return exemplar_meta(self.metadata, self.model)

    @property
    def device(self) -> torch.device:
        """Where the generator runs."""
        return next(self.model.parameters()).device

    def chunk_size(self, max_bytes: int = CHUNK_BYTES) -> int:
        """Samples per chunk: at most 64, their float32 values within ``max_bytes``."""
        H, W = self.size_hw
        per_sample = 4 * H * W * int(self.model.config["image_channels"])
        return max(1, min(64, max_bytes // per_sample))

    def chunks(
        self, *, max_bytes: int = CHUNK_BYTES, cancel: Cancel | None = None
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """``(first, samples)`` a chunk at a time: samples ``first ... first + len - 1``,
        ``[len, C, H, W]`` in the exemplar's units, on the generator's device; ``cancel``
        is checked before each chunk (:class:`~texsynth.cancellation.Cancelled`). The
        caller checks the memory of the whole job first, as :func:`run_sample_job` and
        ``texsynth sample`` do."""
        H, W = self.size_hw
        step = self.chunk_size(max_bytes)
        for first in range(0, self.n, step):
            check_cancelled(cancel)
            seeds = self.seeds[first : first + step]
            # (the caller checks the memory of the whole job: run_sample_job, the CLI)
            yield (
                first,
                generate_samples(self.model, len(seeds), H, W, seed=seeds, max_memory=1 << 62),
            )

    def record(self, seconds: float) -> RunRecord:
        """The run record of the job, drawn in ``seconds`` (its ``outputs`` are filled in by
        whoever writes the files)."""
        H, W = self.size_hw
        return RunRecord(
            spec=self.spec,
            seeds=list(self.seeds),
            device=str(self.device),
            seconds=seconds,
            method="generator",
            method_reason=f"samples of the generator {os.path.basename(self.spec.inputs['model'])}",
            settings={
                "size_hw": [H, W],
                "n": self.n,
                "seed_rule": SEED_RULE,
                "training": self.metadata.get("settings"),
            },
        )


def run_sample_job(
    spec: JobSpec,
    *,
    device: str | torch.device | None = None,
    cancel: Cancel | None = None,
    max_memory: int | None = None,
) -> tuple[torch.Tensor, RunRecord]:
    """Draw the textures of a sample job and record it.

    Parameters
    ----------
    spec
        A ``"sample"`` job (:func:`sample_spec`).
    device
        Where to run the generator (default CPU).
    cancel
        Checked between chunks.
    max_memory
        Memory limit in bytes (default: what is available); a job whose textures and
        activations would exceed it is refused before any work.

    Returns
    -------
    (samples, record)
        ``[n, C, H, W]`` in the exemplar's units, and the run record.
    """
    job = SampleJob.prepare(spec, device=device)
    H, W = job.size_hw
    channels = max(job.model.out_channels, job.model.image_channels)
    check_memory(
        estimate_sampling_bytes(job.model.config, job.n, (H, W)) + 4 * job.n * H * W * channels,
        max_memory,
        device=job.device,
        what="the sample job",
        fix="ask for fewer or smaller samples",
        override="max_memory=",
    )
    start = time.perf_counter()
    result = torch.cat([chunk for _, chunk in job.chunks(cancel=cancel)])
    return result, job.record(time.perf_counter() - start)
