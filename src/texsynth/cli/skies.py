"""``texsynth synth``, ``stats`` and ``eval`` for HEALPix sky maps: FITS files in the HEALPix
layout (detected from their header), or ``.npy`` arrays of ``12 nside**2`` values with
``--healpix``. Only parses and calls :func:`texsynth.synthesize_healpix`,
:class:`texsynth.HealpixScatteringCovariance` and
:func:`texsynth.evaluation_healpix.evaluate_healpix`; ``--spin 2`` (Stokes Q/U maps) is
parsed and checked in :mod:`texsynth.cli.skies_spin`."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import torch

from ..errors import TexsynthError
from ..io import atomic_text_write
from ..io.healpix_stokes import Q_NAMES, U_NAMES
from ..io.runs import record_header
from ..paths import input_size
from .checks import refuse_sky_options
from .common import check_run_memory, device_of, synth_outputs
from .eval_output import show_evaluation
from .skies_spin import (
    read_qu_meta,
    refuse_partial_sky,
    refuse_spin_eval,
    refuse_spin_options,
    spin_of,
)

__all__ = ["eval_skies", "eval_wants_skies", "stats_sky", "synth_sky", "wants_sky"]

#: what a sky is written as
SKY_SUFFIXES = (".fits", ".fit", ".fts", ".npy")


def polarisation_note(names: tuple[str, ...] | None) -> str:
    """A note for maps with Stokes Q and U columns that the command line treats as scalar
    fields (without ``--spin 2``: their values depend on each pixel's frame); ``""`` for
    other maps."""
    upper = {n.strip().upper() for n in names or ()}
    if not (upper & set(Q_NAMES) and upper & set(U_NAMES)):
        return ""
    return (
        "note: the Q and U columns are treated as scalar maps here (they depend on each "
        "pixel's frame); for spin-2 statistics and synthesis of (Q, U) use --spin 2 "
        "(docs/sphere.md)"
    )


def _check_mask_nside(mask: torch.Tensor, sky: torch.Tensor, path: Path) -> None:
    """A one-line error for a ``--mask`` map of another resolution than the input's."""
    from ..domains.healpix import nside_of

    if mask.shape[-1] != sky.shape[-1]:
        raise TexsynthError(
            f"--mask {str(path)!r} has nside {nside_of(int(mask.shape[-1]), str(path))}, the "
            f"input nside {nside_of(int(sky.shape[-1]), 'the input')}; give a mask of the "
            "input's nside (healpy.ud_grade converts one)"
        )


def wants_sky(args: argparse.Namespace, path: Path | None = None) -> bool:
    """Whether a command should treat ``path`` (default: ``args.input``) as a HEALPix map:
    a FITS file in the HEALPix layout, or any 1-D map with ``--healpix``."""
    from ..io.healpix_maps import is_healpix_file

    target = Path(args.input if path is None else path)
    if getattr(args, "healpix", False):
        return True
    try:
        return is_healpix_file(target)
    except TexsynthError:
        return False


def _existing(path: Path, role: str) -> Path:
    """``path``, or a one-line error if it does not exist."""
    if not path.exists():
        raise TexsynthError(f"{role} {str(path)!r} does not exist; check the path")
    return path


def _read(path: Path | None, role: str) -> torch.Tensor | None:
    """A map file as ``[C, npix]`` full sky (NaN where the file has no value)."""
    from ..synthesis.jobs import read_sky

    if path is None:
        return None
    return read_sky(_existing(path, role))


def sky_job_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of a sky synthesis job from ``synth``'s flags (``n`` and the memory
    limit aside), after refusing in one line the image options a HEALPix map does not take;
    ``texsynth synth`` and ``texsynth ensemble`` share it."""
    refuse_sky_options(
        args,
        [
            (f"--method {args.method}", args.method not in ("auto", "scattering")),
            (f"--quality {args.quality}", args.quality != "default"),
            ("--size", args.size is not None),
            ("--no-tile", bool(args.no_tile)),
            ("--power-spectrum", args.power_spectrum is not None),
            (
                "--weights/--layers/--features",
                any(getattr(args, k, None) is not None for k in ("weights", "layers", "features")),
            ),
        ],
    )
    no_gauss = bool(getattr(args, "no_to_gaussian", False))  # (not in texsynth ensemble)
    if no_gauss and args.to_gaussian:
        raise TexsynthError("give --to-gaussian or --no-to-gaussian, not both")
    from ..synthesis.sphere import default_amplitude, default_spectrum

    # the weights as resolved, so that a rerun or a resumed ensemble keeps them if a later
    # version changes the defaults
    spectrum = default_spectrum(getattr(args, "spectrum", None), spin_of(args))
    amplitude = getattr(args, "amplitude", None)
    if amplitude is not None and not spin_of(args):
        raise TexsynthError(
            "--amplitude weighs the statistics of |Q + iU| of --spin 2 polarisation maps; "
            "add --spin 2 or drop --amplitude"
        )
    common = dict(
        spectrum=spectrum,  # (with --spin 2, the E/B spectrum term's weight)
        nside=args.nside,
        steps=args.steps if args.steps is not None else 100,
        levels=args.levels,
        J=args.J,
        L=args.L if args.L is not None else 4,
        iso_ang=args.iso,
    )
    if spin_of(args):  # one (Q, U) field: no value transforms or scalar-only terms
        refuse_spin_options(args)
        return dict(
            **common,
            amplitude=default_amplitude(amplitude),
            spin=spin_of(args),
            to_gaussian=False,  # (synthesize_healpix's default for spin 2, for the record)
        )
    return dict(
        **common,
        to_gaussian=not no_gauss,  # (synthesize_healpix's default, resolved for the record)
        cross_channels=not args.no_cross_channels,
        histogram=args.histogram if args.histogram is not None else 1.0,
    )


def synth_sky(args: argparse.Namespace) -> int:
    """Run ``texsynth synth`` on a HEALPix map."""
    from ..atomic import StagedFiles
    from ..io.healpix_maps import read_healpix_map, write_healpix_map
    from ..io.runs import JobSpec
    from ..synthesis.jobs import prepare_arrays, run_job

    options = sky_job_options(args)
    spin = spin_of(args)
    outputs, sidecar = synth_outputs(args, SKY_SUFFIXES, "HEALPix maps")
    device = device_of(args.device)
    spin_note = ""
    raw: dict[str, torch.Tensor | None] = {}
    if spin:  # (Q, U) by name; the file must have them (.npy: [2, npix])
        pair, spin_note = read_qu_meta(_existing(args.input, "the input"))
        meta = pair if args.input.suffix.lower() != ".npy" else None
        raw["input"] = torch.from_numpy(pair.full_sky().copy())
    else:
        meta = read_healpix_map(args.input) if args.input.suffix.lower() != ".npy" else None
        raw["input"] = _read(args.input, "the input")
    spec = JobSpec(
        "synth",
        "sky",
        inputs={"input": args.input, "mask": args.mask, "init": args.init},
        options={**options, "n": args.n, "max_memory": args.max_memory},
        seed=args.seed,
    )
    for role in ("mask", "init"):
        t = _read(getattr(args, role), f"--{role}")
        if t is not None:
            raw[role] = t
    mask, sky = raw.get("mask"), raw["input"]
    if mask is not None and sky is not None:
        _check_mask_nside(mask, sky, args.mask)
    arrays = prepare_arrays(spec, {k: v for k, v in raw.items() if v is not None})
    if spin:
        _check_spin_run(args, arrays, options, device)
    result, run = run_job(
        spec,
        arrays,
        device=device,
        progress=not args.quiet,
        settings={
            "mask": str(args.mask) if args.mask else None,
            "init": str(args.init) if args.init else None,
            "ignored_pixels": int((arrays["in_mask"] == 0).sum()) if "in_mask" in arrays else 0,
        },
    )
    result = result.cpu()
    run.outputs = [str(o) for o in outputs]
    # (without names, write_healpix_map gives two fields healpy's Q_/U_POLARISATION)
    names = meta.column_names if meta is not None else None
    unit = meta.unit if meta is not None else None
    # the input file's ordering; .npy outputs (no header to say it) are always NESTED
    fits_out = outputs[0].suffix.lower() != ".npy"
    ordering = meta.file_ordering if meta is not None and fits_out else "NESTED"
    with StagedFiles() as stage:  # the whole set and its record, or nothing new
        for out, x in zip(outputs, result, strict=True):
            write_healpix_map(
                stage.temp(out),
                x.numpy(),
                column_names=names or None,
                unit=unit,
                overwrite=True,
                ordering=ordering,
            )
        atomic_text_write(stage.temp(sidecar), run.dumps())
    shown = outputs[0] if len(outputs) == 1 else f"{outputs[0]} ... {outputs[-1]}"
    nside = run.settings["nside"]
    ignored = run.settings["ignored_pixels"]
    note = f"; {ignored} pixels without a value left out of the statistics" if ignored else ""
    fields = "Q, U as one spin-2 field" if spin else f"{result.shape[1]} field(s)"
    print(
        f"wrote {shown} (nside {nside}, {fields}, full sky, {ordering}, seed "
        f"{run.seeds[0]}{note}) in {run.seconds:.1f} s; settings in {sidecar}"
    )
    if spin_note:
        print(spin_note)
    elif not spin and polarisation_note(names):
        print(polarisation_note(names))
    return 0


def _check_spin_run(
    args: argparse.Namespace, arrays: dict[str, torch.Tensor], options: dict[str, Any], device: Any
) -> None:
    """One-line refusals of a spin-2 synthesis before any work: a sky with pixels without a
    value (spin-2 synthesis takes full skies) and a run the memory will not hold."""
    from ..domains.healpix import check_nside, npix_of
    from ..healpix_kernels import KERNEL_SIZE
    from ..synthesis.sphere_spin import estimate_spin_bytes

    if "in_mask" in arrays:
        refuse_partial_sky(args.input, int((arrays["in_mask"] == 0).sum()))
    npix = int(arrays["input"].shape[-1])
    out = npix if args.nside is None else npix_of(check_nside(args.nside, "--nside"))
    check_run_memory(
        args,
        estimate_spin_bytes(npix, out, n=args.n, L=options["L"], K=KERNEL_SIZE),
        device,
        "use a smaller --nside, --n or --L",
    )


def stats_sky(args: argparse.Namespace) -> int:
    """Run ``texsynth stats`` on a HEALPix map: S0, S1/S2 per scale and orientation, S3/S4
    summaries; every labelled coefficient to ``--json``."""
    from ..domains.healpix import nside_of
    from ..io.healpix_maps import read_healpix_map
    from ..stats import ScatCov
    from ..stats.healpix import HealpixScatteringCovariance

    refuse_sky_options(args, [("--edge", bool(args.edge))])
    spin = spin_of(args)
    npy = Path(args.image).suffix.lower() == ".npy"
    spin_note = ""
    if spin:  # (Q, U) by name, as one spin-2 field
        pair, spin_note = read_qu_meta(_existing(Path(args.image), "the map"))
        meta = None if npy else pair
        sky: torch.Tensor | None = torch.from_numpy(pair.full_sky().copy())
    else:
        sky = _read(args.image, "the map")
        meta = None if npy else read_healpix_map(args.image)
    assert sky is not None
    ring = meta is not None and meta.file_ordering == "RING"
    order = "RING file, computed in nested order" if ring else "nested"
    C, npix = sky.shape
    nside = nside_of(npix, str(args.image))
    seen = torch.isfinite(sky).all(0)
    mask = None if bool(seen.all()) else seen.to(torch.float64)[None, None]
    x = torch.where(torch.isfinite(sky), sky, torch.zeros_like(sky)).double()[None]
    J = args.J if args.J is not None else max(int(math.log2(nside)), 1)
    sc = HealpixScatteringCovariance(J=None, L=args.L, spin=spin)
    sc.check_scales((npix,), J)
    if spin:  # (the spin bank: the scalar stencil operators and their spin twins)
        from ..healpix_kernels import KERNEL_SIZE
        from ..synthesis.sphere_spin import estimate_spin_bytes

        check_run_memory(
            args,
            estimate_spin_bytes(npix, npix, n=1, L=args.L, K=KERNEL_SIZE),
            None,
            "use a smaller --L or map",
        )
    with torch.no_grad():
        stats = sc(x, mask=mask, norm=None if args.norm == "none" else "self", J=J)
        normalised = sc(x, mask=mask, norm="self", J=J)
    assert isinstance(stats, ScatCov) and isinstance(normalised, ScatCov)
    if args.iso:  # averaged over orientations
        stats, normalised = stats.iso_mean(), normalised.iso_mean()
    assert isinstance(stats, ScatCov) and isinstance(normalised, ScatCov)
    missing = f", {int((~seen).sum())} pixels without a value" if mask is not None else ""
    if spin:
        names = meta.column_names if meta is not None else ("row 0", "row 1")
        fields = f"spin 2: Q = {names[0]}, U = {names[1]} as one (Q, U) field"
        C = 1
    else:
        fields = f"{C} field{'s' * (C > 1)}"
    print(f"{args.image}: HEALPix nside {nside} ({npix} pixels, {order}), {fields}{missing}")
    print(f"J={J} scales (nside {nside} down to {nside >> (J - 1)}), L={args.L} orientations")
    if spin_note:
        print(spin_note)
    elif not spin and meta is not None and polarisation_note(meta.column_names):
        print(polarisation_note(meta.column_names))
    for c in range(C):
        mean, std = (float(v) for v in stats.S0[0, c])
        what = "(Q, U) field, amplitude |Q + iU|:" if spin else f"field {c}:"
        print(f"\n{what} mean {mean:.6g}, std {std:.6g}")
        print("  per scale (mean over orientations): S2 = <|x*psi|^2>, S1 = <|x*psi|>")
        print("    " + f"{'j':>2} {'nside':>6} {'S2':>11} {'S1':>11} {'S1/sqrt(S2)':>12}")
        s1, s2, r1 = (_per_scale(t[0, c]) for t in (stats.S1, stats.S2, normalised.S1))
        for j in range(J):
            print(f"    {j:>2} {nside >> j:>6} {s2[j]:>11.4g} {s1[j]:>11.4g} {r1[j]:>12.3f}")
        s3 = float(normalised.S3[0, c].abs().mean())
        s4 = float(normalised.S4[0, c].abs().mean())
        print(
            f"  normalised couplings across scales: mean |S3| = {s3:.4g}, mean |S4| = "
            f"{s4:.4g}; ~0 for Gaussian noise"
        )
    if args.json is not None:
        values, labels = stats.flatten()
        coefficients = []
        for lab, value in zip(labels, values[0].tolist(), strict=True):
            entry: dict[str, Any] = {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in lab.items()
            }
            entry["value"] = value if math.isfinite(value) else None
            coefficients.append(entry)
        doc = {
            **record_header("stats"),
            "map": str(args.image),
            "nside": nside,
            "fields": C,
            "spin": spin,
            **({"columns": list(meta.column_names)} if spin and meta is not None else {}),
            "J": J,
            "L": args.L,
            "norm": args.norm,
            "coefficients": coefficients,
        }
        atomic_text_write(args.json, json.dumps(doc, indent=1))
        print(f"wrote {len(coefficients)} labelled coefficients to {args.json}")
    return 0


def _per_scale(t: torch.Tensor) -> list[float]:
    """Values per scale, averaged over orientations if they are still there."""
    values = t.mean(-1) if t.dim() > 1 else t
    return [float(v) for v in values]


def eval_wants_skies(args: argparse.Namespace) -> bool:
    """Whether ``eval`` compares HEALPix maps; a one-line error for a mix of kinds."""
    paths = [Path(args.exemplar), *map(Path, args.samples)]
    for p in paths:  # (a missing file is named as such, not as "not a HEALPix map")
        input_size(p, "a map or image file")
    kinds = [wants_sky(args, p) for p in paths]
    if all(kinds) or not any(kinds):
        return kinds[0]
    sky = next(p for p, k in zip(paths, kinds, strict=True) if k)
    other = next(p for p, k in zip(paths, kinds, strict=True) if not k)
    raise TexsynthError(
        f"{sky} is a HEALPix map but {other} is not: compare maps with maps (--healpix reads "
        ".npy arrays as maps)"
    )


def eval_skies(args: argparse.Namespace) -> int:
    """Run ``texsynth eval`` on HEALPix maps with
    :func:`texsynth.evaluation_healpix.evaluate_healpix`."""
    from ..evaluation_healpix import evaluate_healpix, write_healpix_report

    refuse_spin_eval(args)
    bad = [("--reference", args.reference is not None), ("--weights", args.weights is not None)]
    bad.append((f"--features {args.features}", args.features != "auto"))
    refuse_sky_options(args, bad)
    if args.report is not None and args.report.suffix.lower() != ".png":
        raise TexsynthError("the report of HEALPix maps is a picture: give --report FILE.png")
    exemplar = _read(args.exemplar, "the exemplar")
    assert exemplar is not None
    samples = []
    for p in args.samples:
        x = _read(p, "sample")
        assert x is not None
        if x.shape != exemplar.shape:
            raise TexsynthError(
                f"{p} has shape {tuple(x.shape)} but the exemplar {args.exemplar} "
                f"{tuple(exemplar.shape)}; compare maps of one nside and number of fields"
            )
        if not bool(torch.isfinite(x).all()):
            raise TexsynthError(f"{p} has pixels without a value; give full-sky samples")
        samples.append(x.double())
    if not bool(torch.isfinite(exemplar).all()):
        raise TexsynthError(
            f"{args.exemplar} has pixels without a value; the evaluation compares full skies"
        )
    batch = torch.stack(samples)
    report = evaluate_healpix(exemplar.double(), batch, seed=args.seed)
    show_evaluation(
        args,
        report,
        f"HEALPix maps, compared on {report.plots.get('compared_on', 'the sky')}",
        note=" (another face of the exemplar's sky)",
        extra={"healpix": True},
    )
    if args.report is not None:
        write_healpix_report(report, args.report, exemplar.double(), batch)
        print(f"wrote {args.report}")
    return 0
