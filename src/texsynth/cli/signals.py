"""``texsynth synth``, ``stats`` and ``eval`` for 1-D signals (time series): ``.csv``, 1-D
``.npy``/``.npz``, or any of them with ``--signal``. Only parses and calls
:func:`texsynth.synthesize_1d`, :class:`texsynth.ScatteringCovariance1D` and
:func:`texsynth.evaluate_1d`."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import torch

from ..errors import TexsynthError
from ..io import SIGNAL_SUFFIXES, atomic_text_write, read_signal, write_signal
from ..io.runs import record_header
from ..stats import ScatCov
from ..wavelets import XI0
from .checks import check_signal_options, signal_length
from .common import constant_channels, device_of, synth_outputs
from .eval_output import show_evaluation


def signal_job_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of a signal synthesis job from ``synth``'s flags (``n`` aside), after
    refusing in one line the image-only options; ``texsynth synth`` and ``texsynth
    ensemble`` share it."""
    check_signal_options(args)
    return dict(
        size=signal_length(args.size),
        steps=args.steps if args.steps is not None else 100,
        levels=args.levels,
        J=args.J,
        tile=not args.no_tile,
        to_gaussian=args.to_gaussian,
        cross_channels=not args.no_cross_channels,
        histogram=args.histogram,
        power_spectrum=args.power_spectrum,
    )


def synth_signal(args: argparse.Namespace) -> int:
    """Run ``texsynth synth`` on a 1-D signal file."""
    from ..atomic import StagedFiles
    from ..io.runs import JobSpec
    from ..synthesis.jobs import prepare_arrays, run_job

    options = signal_job_options(args)
    outputs, sidecar = synth_outputs(args, SIGNAL_SUFFIXES, "1-D signals")
    device = device_of(args.device)
    signal, meta = read_signal(args.input)
    spec = JobSpec(
        "synth",
        "signal",
        inputs={"input": args.input, "mask": args.mask, "init": args.init},
        options={**options, "n": args.n},
        seed=args.seed,
    )
    raw = {"input": signal}
    for role in ("mask", "init"):
        if getattr(args, role) is not None:
            raw[role] = read_signal(getattr(args, role))[0]
    result, run = run_job(
        spec,
        prepare_arrays(spec, raw),
        device=device,
        progress=not args.quiet,
        settings={
            "mask": str(args.mask) if args.mask else None,
            "init": str(args.init) if args.init else None,
        },
    )
    result = result.cpu()
    run.outputs = [str(o) for o in outputs]
    seed, elapsed = run.seeds[0], run.seconds
    settings = run.settings
    with StagedFiles() as stage:  # the whole set and its record, or nothing new
        for out, x in zip(outputs, result, strict=True):
            write_signal(stage.temp(out), x, meta)
        atomic_text_write(stage.temp(sidecar), run.dumps())
    names = outputs[0] if len(outputs) == 1 else f"{outputs[0]} ... {outputs[-1]}"
    if settings["stationary"]:
        kind = "stationary"
    elif settings["increments"]:
        kind = "random walk: its increments synthesised, then cumulated"
    else:
        kind = "random walk: no histogram/S0 matching"
    print(
        f"wrote {names} ({result.shape[1]} channel(s) x {result.shape[-1]} samples, seed "
        f"{seed}; {kind}) in {elapsed:.1f} s; settings in {sidecar}"
    )
    return 0


def wants_signal(args: argparse.Namespace, path: Path | None = None) -> bool:
    """Whether a command should treat ``path`` (default: ``args.input``) as a 1-D signal:
    ``--signal`` was given, or it is a ``.csv`` file or a 1-D ``.npy``/``.npz`` array."""
    from ..io import is_signal_file

    target = Path(args.input) if path is None else Path(path)
    return bool(getattr(args, "signal", False)) or is_signal_file(target)


def _refuse(bad: list[str]) -> None:
    if bad:
        raise TexsynthError(
            f"{', '.join(bad)}: image option{'s' * (len(bad) > 1)}, not available for 1-D "
            "signals (drop the option)"
        )


def stats_signal(args: argparse.Namespace) -> int:
    """Run ``texsynth stats`` on a 1-D signal file: S0, S1/S2 per scale, S3/S4 summaries."""
    from ..stats.scattering1d import ScatteringCovariance1D
    from ..synthesis import looks_like_random_walk
    from ..wavelets1d import check_J_1d, max_J_1d

    _refuse(["--L"] * (args.L not in (None, 4)) + ["--iso"] * bool(args.iso))

    signal, meta = read_signal(args.image)
    C, N = signal.shape
    constant = constant_channels(signal, args.image, "sample")
    J = args.J if args.J is not None else max(max_J_1d(N), 1)
    check_J_1d(N, J)
    sc = ScatteringCovariance1D(J=J)
    with torch.no_grad():
        x = signal[None].double()
        stats = sc(x, norm=None if args.norm == "none" else "self", edge=args.edge)
        normalised = sc(x, norm="self", edge=args.edge)
    assert isinstance(stats, ScatCov) and isinstance(normalised, ScatCov)
    print(f"{args.image}: {N} samples, {C} channel{'s' * (C > 1)} ({meta.dtype} {meta.format})")
    print(
        f"J={J} scales (wavelet period {2 * math.pi / XI0:.3g} * 2^j samples); boundaries "
        f"{'non-periodic' if args.edge else 'periodic'}"
    )
    if looks_like_random_walk(signal):
        print(
            "looks like a random walk: its level drifts, so S0 and the coarse scales describe "
            "this realisation more than the process (texsynth synth models the increments)"
        )
    for c in range(C):
        name = f" ({meta.columns[c]})" if meta.columns else ""
        if c in constant:
            print(f"\nchannel {c}{name}: constant ({float(signal[c, 0]):.6g}): no statistics")
            continue
        mean, std = (float(v) for v in stats.S0[0, c])
        print(f"\nchannel {c}{name}: mean {mean:.6g}, std {std:.6g}")
        print(
            "  per scale: S2 = <|x*psi|^2> (power), S1 = <|x*psi|>; S1/sqrt(S2) ~0.89 if Gaussian"
        )
        print("    " + f"{'j':>2} {'period':>9} {'S2':>11} {'S1':>11} {'S1/sqrt(S2)':>12}")
        s1, s2 = stats.S1[0, c, :, 0].tolist(), stats.S2[0, c, :, 0].tolist()
        r1 = normalised.S1[0, c, :, 0].tolist()
        for j in range(J):
            period = 2 * math.pi * 2**j / XI0
            print(f"    {j:>2} {period:>9.1f} {s2[j]:>11.4g} {s1[j]:>11.4g} {r1[j]:>12.3f}")
        s3 = float(normalised.S3[0, c].abs().mean())
        s4 = float(normalised.S4[0, c].abs().mean())
        print(
            f"  normalised couplings across scales: mean |S3| = {s3:.4g} (phase-modulus), "
            f"mean |S4| = {s4:.4g} (modulus-modulus); ~0 for Gaussian noise"
        )
    if args.json is not None:
        values, labels = stats.flatten()
        coefficients = []
        for lab, value in zip(labels, values[0].tolist(), strict=True):
            entry: dict[str, Any] = {
                k: (list(v) if isinstance(v, tuple) else v)
                for k, v in lab.items()
                if k in ("stat", "part", "channel", "j", "moment")  # no orientation keys
            }
            entry["value"] = value if math.isfinite(value) else None  # (JSON has no NaN)
            coefficients.append(entry)

        doc = {
            **record_header("stats"),
            "signal": str(args.image),
            "shape_cn": [C, N],
            "dtype": meta.dtype,
            "columns": list(meta.columns) if meta.columns else None,
            "J": J,
            "norm": args.norm,
            "edge": args.edge,
            "coefficients": coefficients,
        }
        atomic_text_write(args.json, json.dumps(doc, indent=1))
        print(f"wrote {len(coefficients)} labelled coefficients to {args.json}")
    return 0


def eval_signals(args: argparse.Namespace) -> int:
    """Run ``texsynth eval`` on 1-D signal files with :func:`texsynth.evaluate_1d`."""
    from ..evaluation1d import evaluate_1d

    _refuse(
        ["--reference"] * (args.reference is not None)
        + ["--report"] * (args.report is not None)
        + [f"--features {args.features}"] * (args.features != "auto")
        + ["--weights"] * (args.weights is not None)
    )
    exemplar, _ = read_signal(args.exemplar)
    samples = []
    for p in args.samples:
        x, _ = read_signal(p)
        if x.shape[0] != exemplar.shape[0]:
            raise TexsynthError(
                f"{p} has {x.shape[0]} channel(s) but the exemplar {args.exemplar} has "
                f"{exemplar.shape[0]}; compare signals with the same channels"
            )
        samples.append(x.double())
    lengths = sorted({s.shape[-1] for s in samples})
    if len(lengths) > 1:
        raise TexsynthError(f"samples have different lengths {lengths}; give samples of one length")
    batch = torch.stack(samples)
    report = evaluate_1d(exemplar.double(), batch, seed=args.seed)
    show_evaluation(
        args,
        report,
        f"1-D signals, compared on pieces of {report.crop_shape[0]} samples",
        note=" (the mean over the exemplar's other pieces)",
        extra={"signal": True},
    )
    return 0


def eval_wants_signals(args: argparse.Namespace) -> bool:
    """Whether ``eval`` compares 1-D signals; a one-line error for a mix of both kinds."""
    paths = [Path(args.exemplar), *map(Path, args.samples)]
    kinds = [wants_signal(args, p) for p in paths]
    if all(kinds) or not any(kinds):
        return kinds[0]
    sig = next(p for p, k in zip(paths, kinds, strict=True) if k)
    img = next(p for p, k in zip(paths, kinds, strict=True) if not k)
    raise TexsynthError(
        f"{sig} is a 1-D signal but {img} is an image: compare signals with signals and "
        "images with images (--signal reads 2-D .npy arrays as (C, N) signals)"
    )
