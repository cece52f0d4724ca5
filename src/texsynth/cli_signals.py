"""``texsynth synth`` for 1-D signals (time series): ``.csv``, 1-D ``.npy``/``.npz``, or any
of them with ``--signal``. Only parses and calls :func:`texsynth.synthesize_1d`."""

from __future__ import annotations

import argparse
import json
import secrets
import time
from pathlib import Path

import torch

from .errors import TexsynthError
from .io import atomic_text_write
from .io1d import SIGNAL_SUFFIXES, read_signal, write_signal

__all__ = ["synth_signal"]


def _length(size: tuple[int, int] | None) -> int | None:
    """``--size`` (parsed as ``(h, w)``) as a signal length: ``N``, ``NxN``, ``Nx1``, ``1xN``."""
    if size is None:
        return None
    h, w = size
    if h == w or h == 1 or w == 1:
        return max(h, w)
    raise TexsynthError(f"--size for a 1-D signal is one length, e.g. --size 8192 (got {w}x{h})")


def _check_options(args: argparse.Namespace) -> None:
    """Refuse image-only options instead of silently ignoring them."""
    bad = []
    if args.method != "scattering":
        bad.append(f"--method {args.method}")
    if args.L != 4:
        bad.append("--L")
    if args.iso:
        bad.append("--iso")
    if args.weights is not None or args.layers is not None:
        bad.append("--weights/--layers")
    if bad:
        raise TexsynthError(
            f"{', '.join(bad)}: image options; 1-D signals use the scattering statistics "
            "with one orientation (drop the option)"
        )


def synth_signal(args: argparse.Namespace) -> int:
    """Run ``texsynth synth`` on a 1-D signal file."""
    from .cli import _device, _output_paths, _sidecar_path, _versions
    from .synthesis1d import DEFAULT_POWER_SPECTRUM, synthesize_1d

    _check_options(args)
    suffix = args.output.suffix.lower()
    if suffix not in SIGNAL_SUFFIXES:
        raise TexsynthError(
            f"1-D signals are written as {', '.join(SIGNAL_SUFFIXES)}, not "
            f"{args.output.suffix or '(no suffix)'!r}; change the suffix of -o"
        )
    signal, meta = read_signal(args.input)
    outputs = _output_paths(args.output, args.n)
    for out in outputs:
        if not out.parent.is_dir():
            raise TexsynthError(f"output directory {str(out.parent)!r} does not exist")
    mask = init = None
    if args.mask is not None:
        m, _ = read_signal(args.mask)
        mask = m.mean(0, keepdim=True).clamp(0, 1)
    if args.init is not None:
        init, _ = read_signal(args.init)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    device = _device(args.device)
    start = time.perf_counter()
    result, report = synthesize_1d(
        signal,
        size=_length(args.size),
        n=args.n,
        seed=seed,
        steps=args.steps,
        levels=args.levels,
        J=args.J,
        mask=mask,
        init=init,
        tile=not args.no_tile,
        to_gaussian=args.to_gaussian,
        cross_channels=not args.no_cross_channels,
        histogram=args.histogram,
        power_spectrum=args.power_spectrum,
        device=device,
        dtype=torch.float64 if signal.dtype == torch.float64 else torch.float32,
        progress=not args.quiet,
        report=True,
    )
    elapsed = time.perf_counter() - start
    result = result.cpu()
    for out, x in zip(outputs, result, strict=True):
        write_signal(out, x, meta)
    sidecar = _sidecar_path(args.output)
    doc = {
        **_versions(),
        "input": str(args.input),
        "outputs": [str(o) for o in outputs],
        "seed": seed,
        "device": str(device),
        "settings": {
            "signal": True,
            "length": int(result.shape[-1]),
            "channels": int(result.shape[1]),
            "n": args.n,
            "steps": args.steps,
            "levels": len(report.levels),
            "J": report.scales[-1],
            "tile": not args.no_tile,
            "stationary": report.stationary,
            "histogram": report.histogram,
            "increments": report.increments,
            "remap": report.remap,
            "power_spectrum": (
                args.power_spectrum if args.power_spectrum is not None else DEFAULT_POWER_SPECTRUM
            ),
            "cross_channels": not args.no_cross_channels,
            "to_gaussian": args.to_gaussian,
            "mask": str(args.mask) if args.mask else None,
            "init": str(args.init) if args.init else None,
        },
        "levels": [
            {"length": s[0], "J": j, "iterations": it, "final_loss": h[-1]}
            for s, j, it, h in zip(
                report.levels, report.scales, report.iterations, report.losses, strict=True
            )
        ],
        "seconds": round(elapsed, 3),
    }
    atomic_text_write(sidecar, json.dumps(doc, indent=1))
    names = outputs[0] if len(outputs) == 1 else f"{outputs[0]} ... {outputs[-1]}"
    if report.stationary:
        kind = "stationary"
    elif report.increments:
        kind = "random walk: its increments synthesised, then cumulated"
    else:
        kind = "random walk: no histogram/S0 matching"
    print(
        f"wrote {names} ({result.shape[1]} channel(s) x {result.shape[-1]} samples, seed "
        f"{seed}; {kind}) in {elapsed:.1f} s; settings in {sidecar}"
    )
    return 0


def wants_signal(args: argparse.Namespace) -> bool:
    """Whether ``synth`` should treat its input as a 1-D signal."""
    from .io1d import is_signal_file

    return bool(getattr(args, "signal", False)) or is_signal_file(Path(args.input))
