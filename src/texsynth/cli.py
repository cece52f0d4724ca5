"""The ``texsynth`` command. It only parses arguments and calls the public API."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .errors import TexsynthError
from .io import read_image
from .stats import ScatCov, ScatteringCovariance
from .wavelets import XI0, check_J, default_J

__all__ = ["main"]

log = logging.getLogger("texsynth")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="texsynth",
        description="Texture synthesis from one exemplar image or field.",
    )
    parser.add_argument("--version", action="version", version=f"texsynth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    st = sub.add_parser(
        "stats",
        help="print scattering-covariance statistics of an image; write them all to JSON",
        description="Scattering-covariance statistics of an image or field: S1/S2 per scale "
        "and orientation on screen, every labelled coefficient in JSON.",
    )
    st.add_argument("image", type=Path, help="PNG/JPEG/WebP/TIFF/NPY/NPZ/FITS file")
    st.add_argument(
        "--J",
        type=_positive_int,
        default=None,
        help="number of scales (default: as many as the image size allows)",
    )
    st.add_argument("--L", type=_positive_int, default=4, help="number of orientations")
    st.add_argument("--iso", action="store_true", help="average over orientations (iso_mean)")
    st.add_argument(
        "--norm",
        choices=["none", "self"],
        default="none",
        help="normalise S1..S4 by the image's own S2 (default: raw)",
    )
    st.add_argument("--edge", action="store_true", help="treat the image as non-periodic")
    st.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help="write every labelled coefficient to this JSON file",
    )
    st.set_defaults(func=_cmd_stats)
    return parser


def _cmd_stats(args: argparse.Namespace) -> int:
    image, meta = read_image(args.image)
    C, H, W = image.shape
    J = args.J if args.J is not None else max(default_J(H, W), 1)
    check_J(H, W, J)
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
        _print_channel(stats, normalised, c, angles)
    if args.json is not None:
        _write_json(args.json, args, stats, meta.dtype, (C, H, W))
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


def _write_json(
    path: Path, args: argparse.Namespace, stats: ScatCov, dtype: str, shape: tuple[int, ...]
) -> None:
    from .io import atomic_text_write

    values, labels = stats.flatten()
    coefficients = []
    for lab, value in zip(labels, values[0].tolist(), strict=True):
        entry: dict[str, Any] = {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in lab.items()
        }
        entry["value"] = value
        coefficients.append(entry)
    doc = {
        "texsynth_version": __version__,
        "image": str(args.image),
        "shape_chw": list(shape),
        "dtype": dtype,
        "J": stats.J,
        "L": stats.L,
        "norm": args.norm,
        "angular": stats.angular,
        "edge": args.edge,
        "coefficients": coefficients,
    }
    atomic_text_write(path, json.dumps(doc, indent=1))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``texsynth`` command; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except TexsynthError as exc:
        print(f"texsynth: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("texsynth: interrupted", file=sys.stderr)
        return 130


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kw: Any) -> None:
    print(f"texsynth: warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
