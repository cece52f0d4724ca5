"""Running a :class:`~texsynth.io.runs.JobSpec` and recording it as a
:class:`~texsynth.io.runs.RunRecord`: the one path from a job description to a result that
the command line (and any other client) takes."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import torch

from ..cancellation import Cancel
from ..domains.healpix import nside_of
from ..errors import TexsynthError
from ..io import read_image, read_signal
from ..io.healpix_maps import read_healpix_map
from ..io.healpix_stokes import select_qu
from ..io.runs import ROLES, JobSpec, RunRecord, level_entries, read_record
from ..methods import DEFAULT_POWER_SPECTRUM, METHODS, parse_method
from ..progress import OnProgress
from .engine import Callback
from .images import synthesize
from .signals import synthesize_1d
from .sphere import default_amplitude, default_spectrum, default_to_gaussian, synthesize_healpix
from .style_transfer import remake

__all__ = ["load_inputs", "prepare_arrays", "read_sky", "rerun", "run_job"]

# options of the job spec that name how the run is driven, not what it computes: they
# come from the caller of run_job, never from a spec
_DRIVER_OPTIONS = (
    "device",
    "progress",
    "callback",
    "cancel",
    "report",
    "seed",
    "dtype",
    "on_progress",
)


def read_sky(path: str | os.PathLike[str], spin: int = 0) -> torch.Tensor:
    """A HEALPix map file as a ``[C, npix]`` full-sky tensor, NESTED ordering, NaN where
    the file has no value (``UNSEEN`` pixels, or outside a partial sky's ``cell_ids``);
    with ``spin=2`` its Stokes ``(Q, U)`` columns only (:func:`~texsynth.io.healpix_stokes.
    select_qu`), ``[2, npix]``."""
    m = read_healpix_map(path)
    if spin:
        m, _ = select_qu(m, repr(os.fspath(path)))
    return torch.from_numpy(m.full_sky().copy())


def load_inputs(spec: JobSpec) -> dict[str, torch.Tensor]:
    """Read the input files of ``spec`` (images, signals or skies, by its domain), as
    :func:`prepare_arrays` makes them."""
    if spec.domain == "sky":
        spin = int(spec.options.get("spin", 0))  # (a spin-2 job reads Q and U by name)
        skies = {
            role: read_sky(p, spin if role == "input" else 0) for role, p in spec.inputs.items()
        }
        return prepare_arrays(spec, skies)
    read = read_image if spec.domain == "image" else read_signal
    return prepare_arrays(spec, {role: read(path)[0] for role, path in spec.inputs.items()})


def prepare_arrays(spec: JobSpec, raw: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The arrays of a job as read from its files, made into what the library takes.

    * An image ``mask`` is painted: black keeps, white synthesises, and anti-aliased or
      grey pixels count as white from mid-grey up (averaged over colour channels), so the
      hole is what the eye sees. A signal mask is averaged over channels into [0, 1].
    * remake: a grey content or style takes the other's number of channels.
    * A sky's pixels without a value (NaN: ``UNSEEN``, or outside a partial sky) are left
      out of the target statistics (its ``in_mask``, unless one is given) and set to 0;
      a sky mask's missing pixels are kept (0).
    """
    arrays = dict(raw)
    if spec.domain == "sky":
        for role, t in list(arrays.items()):
            seen = torch.isfinite(t).all(0, keepdim=True)
            if role == "input" and not bool(seen.all()):
                if not bool(seen.any()):
                    raise TexsynthError("the input sky has no pixel with a value")
                arrays.setdefault("in_mask", seen.to(t.dtype))
            arrays[role] = torch.where(torch.isfinite(t), t, torch.zeros_like(t))
    if "mask" in arrays:
        m = arrays["mask"]
        if spec.domain == "image":
            arrays["mask"] = (m.mean(0, keepdim=True) >= 0.5).to(m.dtype)
        elif spec.domain == "sky":
            arrays["mask"] = (m.amax(0, keepdim=True) > 0).to(m.dtype)
        else:
            arrays["mask"] = m.mean(0, keepdim=True).clamp(0, 1)
    if spec.kind == "remake" and "content" in arrays and "style" in arrays:
        content, style = arrays["content"], arrays["style"]
        if content.shape[0] != style.shape[0]:
            if content.shape[0] == 1:
                arrays["content"] = content.expand(style.shape[0], -1, -1)
            elif style.shape[0] == 1:
                arrays["style"] = style.expand(content.shape[0], -1, -1)
    return arrays


def run_job(
    spec: JobSpec,
    arrays: Mapping[str, torch.Tensor],
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
    callback: Callback | None = None,
    cancel: Cancel | None = None,
    settings: Mapping[str, Any] | None = None,
    method_reason: str | None = None,
    on_progress: OnProgress | None = None,
) -> tuple[torch.Tensor, RunRecord]:
    """Run ``spec`` on ``arrays`` (its inputs by role, already read) and record it.

    Parameters
    ----------
    spec
        The job.
    arrays
        The data of each input role (``input``, ``mask``...; ``content`` and ``style`` for
        remake), e.g. from :func:`load_inputs`.
    device, progress, callback, cancel
        As :func:`texsynth.synthesize`.
    settings
        Entries the client adds to the record's settings (e.g. the option as typed).
    method_reason
        Why the method was chosen, when the client chose it (default: the report's).
    on_progress
        :class:`texsynth.progress.Progress` after every iteration (image synthesis, every
        method; other jobs refuse it).

    Returns
    -------
    (result, record)
        ``[n, C, ...]`` outputs in the exemplar's units, and the record (its ``outputs``
        are filled in by whoever writes the files).
    """
    if spec.kind == "sample":
        raise TexsynthError(
            "a sample job draws from a generator file, not arrays: run it with "
            "texsynth.generators.sampling_job.run_sample_job"
        )
    driven = [k for k in _DRIVER_OPTIONS if k in spec.options]
    if driven:
        raise TexsynthError(
            f"job spec options {', '.join(driven)} are not options of the job; give the seed "
            "as the spec's seed and the rest to run_job"
        )
    roles = ROLES[spec.kind]
    if roles[0] not in arrays:
        raise TexsynthError(f"a {spec.kind} job needs its {roles[0]!r} data")
    unknown = [r for r in arrays if r not in roles]
    if unknown:
        raise TexsynthError(f"unknown input role(s) for a {spec.kind} job: {', '.join(unknown)}")
    run: dict[str, Any] = dict(
        device=device, progress=progress, callback=callback, cancel=cancel, report=True
    )
    if on_progress is not None:
        if spec.kind != "synth" or spec.domain != "image":
            raise TexsynthError("on_progress is reported by image synthesis jobs only")
        run["on_progress"] = on_progress
    start = time.perf_counter()
    if spec.kind == "remake":
        result, report = remake(
            arrays["content"], arrays["style"], seed=spec.seed, **spec.options, **run
        )
    elif spec.domain == "sky":
        dtype = torch.float64 if arrays["input"].dtype == torch.float64 else torch.float32
        result, report = synthesize_healpix(
            arrays["input"],
            **_synth_arrays(arrays),
            seed=spec.seed,
            dtype=dtype,
            **spec.options,
            **run,
        )
    elif spec.domain == "signal":
        # (a float64 signal is synthesised in float64)
        dtype = torch.float64 if arrays["input"].dtype == torch.float64 else torch.float32
        result, report = synthesize_1d(
            arrays["input"],
            **_synth_arrays(arrays),
            seed=spec.seed,
            dtype=dtype,
            **spec.options,
            **run,
        )
    else:
        result, report = synthesize(
            arrays["input"], **_synth_arrays(arrays), seed=spec.seed, **spec.options, **run
        )
    seconds = time.perf_counter() - start
    method = report.method or str(spec.options.get("method", ""))
    record = RunRecord(
        spec=spec,
        seeds=list(report.seeds),
        device=str(result.device),
        seconds=seconds,
        method=method,
        method_reason=method_reason if method_reason is not None else report.reason,
        settings={**_settings(spec, result, report), **(settings or {})},
        levels=level_entries(report, spec.domain),
    )
    return result, record


def _synth_arrays(arrays: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    roles = ("mask", "in_mask", "init", "reference")
    return {role: arrays[role] for role in roles if role in arrays}


def _settings(spec: JobSpec, result: torch.Tensor, report: Any) -> dict[str, Any]:
    """What the run resolved, for the record."""
    o = spec.options
    levels = len(report.levels)
    if spec.domain == "sky":
        spin = int(o.get("spin", 0))
        scalar = not spin  # (spin 2 uses no histogram or cross-channel terms)
        return {
            "sky": True,
            "spin": spin,
            "nside": nside_of(int(result.shape[-1])),
            "channels": int(result.shape[1]),
            "n": int(result.shape[0]),
            "steps": o.get("steps", 100),
            "levels": levels,
            "J": report.scales[-1] if report.scales else None,
            "L": o.get("L", 4),
            "iso": o.get("iso_ang", False),
            "histogram": o.get("histogram", 1.0) if scalar else None,
            "multipoles": o.get("multipoles", 1.0) if scalar else None,
            "spectrum": default_spectrum(o.get("spectrum"), spin),
            "amplitude": default_amplitude(o.get("amplitude")) if spin else None,
            "cross_channels": o.get("cross_channels", True) if scalar else None,
            "to_gaussian": default_to_gaussian(o.get("to_gaussian"), spin),
        }
    if spec.domain == "signal":
        return {
            "signal": True,
            "length": int(result.shape[-1]),
            "channels": int(result.shape[1]),
            "n": int(result.shape[0]),
            "steps": o.get("steps", 100),
            "levels": levels,
            "J": report.scales[-1] if report.scales else None,
            "tile": o.get("tile", True),
            "stationary": report.stationary,
            "histogram": report.histogram,
            "increments": report.increments,
            "remap": report.remap,
            "power_spectrum": (
                DEFAULT_POWER_SPECTRUM if o.get("power_spectrum") is None else o["power_spectrum"]
            ),
            "cross_channels": o.get("cross_channels", True),
            "to_gaussian": o.get("to_gaussian", False),
        }
    method = report.method
    terms = [] if method in ("patch", "custom loss") else [n for _, n in parse_method(method)]
    common = {
        "method": method,
        "features": o.get("features", "vgg19") if any(METHODS[t].network for t in terms) else None,
        "weights": o.get("weights_file"),
        "layers": o.get("layers"),
        "steps": o.get("steps"),
        "size_hw": list(result.shape[-2:]),
        "levels": levels,
    }
    if spec.kind == "remake":
        return {
            **common,
            "content_weight": o.get("content_weight", 1.0),
            "content_layers": o.get("content_layers"),
        }
    scattering = "scattering" in terms
    return {
        **common,
        "quality": o.get("quality", "default"),
        "histogram": o.get("histogram", 1.0) if method != "patch" else None,
        "power_spectrum": o.get("power_spectrum"),
        "n": int(result.shape[0]),
        "J": report.scales[-1] if scattering and report.scales else None,
        "L": o.get("L", 4) if scattering else None,
        "tile": o.get("tile", True),
        "iso": o.get("iso_ang", False),
        "cross_channels": o.get("cross_channels", True),
        "to_gaussian": o.get("to_gaussian", False),
    }


def rerun(
    record: RunRecord | str | os.PathLike[str],
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
    cancel: Cancel | None = None,
) -> tuple[torch.Tensor, RunRecord]:
    """Run again the job a record (or a record file) describes, with the seeds it used:
    the same outputs on the same device and versions. A ``"sample"`` record (``texsynth
    sample``, also one written before sampling was a job kind) draws its textures again
    from its generator file."""
    rec = record if isinstance(record, RunRecord) else read_record(record)
    spec = rec.spec
    if rec.seeds:  # (a spec without a seed drew fresh ones: take those)
        spec = JobSpec(spec.kind, spec.domain, spec.inputs, spec.options, list(rec.seeds))
    if spec.kind == "sample":
        from ..generators.sampling_job import run_sample_job

        return run_sample_job(spec, device=device, cancel=cancel)
    return run_job(
        spec,
        load_inputs(spec),
        device=device,
        progress=progress,
        cancel=cancel,
        method_reason=rec.method_reason,
    )
