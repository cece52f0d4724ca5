"""``--spin 2`` of ``texsynth synth``, ``stats`` and ``eval``: the flag, its one-line
refusals, and the reading of a polarisation file's Stokes ``(Q, U)`` columns (by name,
:func:`texsynth.io.healpix_stokes.select_qu`) for
:func:`texsynth.synthesize_healpix` and :class:`texsynth.HealpixScatteringCovariance`
with ``spin=2`` (docs/sphere.md, "Polarisation (spin 2)")."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TexsynthError
from ..paths import input_size
from .common import named_type

if TYPE_CHECKING:
    from ..io.healpix_map import HealpixMap

__all__ = [
    "add_spin_option",
    "check_full_qu_sky",
    "refuse_partial_sky",
    "read_qu_meta",
    "refuse_spin",
    "refuse_spin_eval",
    "refuse_spin_options",
    "spin_of",
    "spin_type",
]

#: what the command line takes: scalar maps (0) and Stokes Q/U polarisation (2)
CLI_SPINS = (0, 2)


@named_type("spin")
def spin_type(text: str) -> int:
    """argparse type of ``--spin``: 0 or 2."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value not in CLI_SPINS:
        extra = (
            "; spin-1 (vector) fields have statistics in Python only: "
            "HealpixScatteringCovariance(spin=1) (docs/sphere.md)"
            if value == 1
            else ""
        )
        raise argparse.ArgumentTypeError(
            f"must be 0 (scalar maps) or 2 (Stokes Q/U polarisation), got {text[:30]!r}{extra}"
        )
    return value


def add_spin_option(p: argparse.ArgumentParser, what: str) -> None:
    """``--spin {0,2}`` for a command whose HEALPix work ``what`` describes."""
    p.add_argument(
        "--spin",
        type=spin_type,
        default=0,
        metavar="{0,2}",
        help=f"HEALPix maps: 2 {what} the file's Stokes Q and U columns (Q_STOKES/U_STOKES, "
        "Q_POLARISATION/U_POLARISATION or Q/U; an I column is left out) as one spin-2 "
        "field, with parallel transport between the pixels' frames; 0 (the default): "
        "every column as a scalar map (docs/sphere.md)",
    )


def spin_of(args: argparse.Namespace) -> int:
    """The ``--spin`` of a command (0 for commands without the flag)."""
    return int(getattr(args, "spin", 0) or 0)


def refuse_spin(args: argparse.Namespace, path: Path) -> None:
    """A one-line error for ``--spin 2`` on a file that is not a HEALPix map."""
    if spin_of(args):
        input_size(Path(path), "a HEALPix map file")  # (a missing file, named as such)
        raise TexsynthError(
            f"--spin {spin_of(args)} is for HEALPix polarisation maps (Stokes Q and U "
            f"columns); {str(path)!r} is not a HEALPix map (drop --spin, or give --healpix "
            "for a [2, npix] .npy of Q, U)"
        )


def refuse_spin_eval(args: argparse.Namespace) -> None:
    """A one-line error for ``texsynth eval --spin 2``: there is no spin-2 grading."""
    if spin_of(args):
        raise TexsynthError(
            "texsynth eval has no spin-2 grading (evaluate_healpix compares scalar maps); "
            "compare the spin-2 statistics with `texsynth stats MAP --spin 2 --json FILE` "
            "for the exemplar and each sample, or drop --spin to grade Q and U as scalar "
            "maps (their values depend on each pixel's frame)"
        )


def refuse_spin_options(args: argparse.Namespace) -> None:
    """A one-line error naming every ``synth`` option that spin-2 synthesis lacks."""
    flags = [
        ("--mask", getattr(args, "mask", None) is not None),
        ("--init", getattr(args, "init", None) is not None),
        ("--to-gaussian", bool(getattr(args, "to_gaussian", False))),
        ("--histogram", getattr(args, "histogram", None) is not None),
        ("--no-cross-channels", bool(getattr(args, "no_cross_channels", False))),
    ]
    bad = [flag for flag, given in flags if given]
    if bad:
        raise TexsynthError(
            f"{', '.join(bad)}: not available with --spin 2 (inpainting, warm starts, "
            "Gaussianisation and the histogram and cross-channel terms act on scalar "
            "maps); drop the option"
        )


def read_qu_meta(path: Path) -> tuple[HealpixMap, str]:
    """The ``(Q, U)`` columns of a map file and a note naming the columns left out (``""``
    when none); a one-line error for a file without them."""
    from ..io.healpix_maps import read_healpix_map
    from ..io.healpix_stokes import select_qu

    pair, left = select_qu(read_healpix_map(path), repr(str(path)))
    note = ""
    if left:
        names = ", ".join(left)
        note = (
            f"note: --spin 2 works on the {' and '.join(pair.column_names)} columns; "
            f"{names} left out (run without --spin for "
            f"{'it as a scalar map' if len(left) == 1 else 'them as scalar maps'})"
        )
    return pair, note


def refuse_partial_sky(path: Path, missing: int) -> None:
    """A one-line error for a spin-2 input with ``missing`` pixels without a value."""
    if missing:
        raise TexsynthError(
            f"{str(path)!r} has {missing} pixels without a value; --spin 2 synthesises "
            "from full skies only: fill those pixels, or drop --spin to synthesise Q and U "
            "as scalar maps that leave them out"
        )


def check_full_qu_sky(path: Path) -> None:
    """Refuse, in one line, a polarisation file without Q and U columns or with pixels
    without a value (what ``texsynth ensemble --spin 2`` checks before any member)."""
    import numpy as np

    pair, _ = read_qu_meta(path)
    refuse_partial_sky(path, int((~np.isfinite(pair.full_sky()).all(0)).sum()))
