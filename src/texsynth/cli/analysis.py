"""``texsynth stats`` and ``eval`` for images and 2-D fields (1-D signals are handed to
:mod:`texsynth.cli.signals`). Only parses and calls the public API."""

from __future__ import annotations

import argparse
import logging
import math

import torch

from ..atomic import check_output
from ..errors import TexsynthError
from ..io import read_image
from ..stats import ScatCov, ScatteringCovariance
from ..wavelets import XI0, check_J, default_J
from .common import (
    check_json_option,
    check_run_memory,
    constant_channels,
    is_texsynth_report,
    write_json,
)
from .eval_output import show_evaluation

log = logging.getLogger("texsynth")


def cmd_eval(args: argparse.Namespace) -> int:
    """Run ``texsynth eval``: score syntheses against the exemplar (signals: 1-D metrics)."""
    from ..evaluation import evaluate
    from .signals import eval_signals, eval_wants_signals

    inputs = [("exemplar", args.exemplar), ("reference", args.reference)]
    inputs += [("weights file", args.weights)] + [("sample", p) for p in args.samples]
    check_json_option(args.json, inputs, args.overwrite)
    if args.report is not None:
        check_output(
            args.report,
            option="--report",
            suffixes=(".html", ".htm", ".png"),
            inputs=[*inputs, ("--json file", args.json)],
            ours=is_texsynth_report,
            overwrite=args.overwrite,
            hint=" (a self-contained page or one image)",
        )
    from .skies import eval_skies, eval_wants_skies
    from .skies_spin import refuse_spin

    if eval_wants_skies(args):
        return eval_skies(args)
    refuse_spin(args, args.exemplar)
    if eval_wants_signals(args):
        return eval_signals(args)
    from ..report import write_report

    exemplar, _ = read_image(args.exemplar)
    samples = [read_image(p)[0] for p in args.samples]
    shapes = {tuple(s.shape) for s in samples}
    if len(shapes) > 1:
        raise TexsynthError(
            f"samples have different shapes {sorted(shapes)}; give samples of one size"
        )
    batch = torch.stack(samples)
    reference = read_image(args.reference)[0] if args.reference is not None else None
    report = evaluate(
        exemplar,
        batch,
        reference=reference,
        features=args.features,
        weights=str(args.weights) if args.weights else None,
        seed=args.seed,
        progress=lambda name: log.debug("computing %s", name),
    )
    show_evaluation(
        args, report, f"compared on {report.crop_shape[1]}x{report.crop_shape[0]} crops"
    )
    if args.report is not None:
        write_report(
            report, args.report, exemplar, batch, title=f"texsynth evaluation: {args.exemplar.name}"
        )
        print(f"wrote {args.report}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Run ``texsynth stats``: the scattering statistics of an image, field or signal."""
    from .signals import stats_signal, wants_signal
    from .skies import stats_sky, wants_sky
    from .skies_spin import refuse_spin

    check_json_option(args.json, [("image", args.image)], args.overwrite)
    if wants_sky(args, args.image):
        return stats_sky(args)
    refuse_spin(args, args.image)
    if wants_signal(args, args.image):
        return stats_signal(args)
    image, meta = read_image(args.image)
    C, H, W = image.shape
    constant = constant_channels(image, args.image, "pixel")
    J = args.J if args.J is not None else max(default_J(H, W), 1)
    check_J(H, W, J)
    from ..memory import estimate_stats_bytes

    check_run_memory(
        args, estimate_stats_bytes((H, W), C, args.L), None, "use a smaller --L or image"
    )
    sc = ScatteringCovariance(J=J, L=args.L)
    with torch.no_grad():
        x = image[None].double()
        stats = sc(x, norm=None if args.norm == "none" else "self", edge=args.edge)
        normalised = sc(x, norm="self", edge=args.edge)
    assert isinstance(stats, ScatCov) and isinstance(normalised, ScatCov)
    if args.iso:
        stats = stats.iso_mean()
    source = f"{meta.dtype} {meta.format}" + (", scaled to [0, 1]" if meta.scaled else "")
    print(f"{args.image}: {W}x{H} pixels, {C} channel{'s' * (C > 1)} ({source})")
    angles = [f"{180 * l / args.L:g}°" for l in range(args.L)]
    print(
        f"J={J} scales, L={args.L} orientations (wave-vector angle from the x axis: "
        f"{', '.join(angles)}); boundaries {'non-periodic' if args.edge else 'periodic'}"
    )
    for c in range(C):
        if c in constant:
            print(f"\nchannel {c}: constant ({float(image[c, 0, 0]):.6g}): no texture statistics")
            continue
        _print_channel(stats, normalised, c, angles)
    if args.json is not None:
        write_json(args.json, args, stats, meta.dtype, (C, H, W))
        n = stats.flatten()[0].shape[1]
        print(f"wrote {n} labelled coefficients to {args.json}")
    return 0


def _print_channel(stats: ScatCov, normalised: ScatCov, c: int, angles: list[str]) -> None:
    mean, std = (float(v) for v in stats.S0[0, c])
    print(f"\nchannel {c}: mean {mean:.6g}, std {std:.6g}")
    for name, what in (("S2", "<|x*psi|^2>, power"), ("S1", "<|x*psi|>, sparsity")):
        t = getattr(stats, name)[0, c]
        print(f"  {name} = {what}, per scale (rows) and orientation (columns):")
        cols = angles if stats.angular == "full" else ["iso"]
        print("    " + f"{'j':>2} {'period px':>9} " + "".join(f"{a:>11}" for a in cols))
        for j in range(stats.J):
            period = 2 * math.pi * 2**j / XI0
            row = t[j].reshape(-1).tolist()
            print("    " + f"{j:>2} {period:>9.1f} " + "".join(f"{v:>11.4g}" for v in row))
    s3 = normalised.S3[0, c].abs().mean()
    s4 = normalised.S4[0, c].abs().mean()
    print(
        f"  normalised couplings across scales: mean |S3| = {float(s3):.4g} (phase-modulus), "
        f"mean |S4| = {float(s4):.4g} (modulus-modulus); ~0 for Gaussian noise"
    )
