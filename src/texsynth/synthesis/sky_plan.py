"""What the two sky drivers (scalar maps, :mod:`texsynth.synthesis.sphere`; spin-2 maps,
:mod:`texsynth.synthesis.sphere_spin`) share: the iteration schedule, the memory estimate
and the choice of scales and levels."""

from __future__ import annotations

import math
from collections.abc import Callable

from ..domains.healpix import npix_of, nside_of
from ..errors import TexsynthError
from ..presets import level_budget
from .levels import SPHERE_LEVELS, Shape, choose_scales, default_levels

__all__ = ["DECAY", "TWO_LEVELS_UP_TO", "estimate_healpix_bytes", "sky_budget", "sky_scales"]

#: loss evaluations allowed at level k (0 = coarsest) are steps // DECAY**k: the finer
#: levels cost the most and start close to their answer
DECAY = 3


#: scalar skies up to this nside start their coarse-to-fine at nside / 2 by default (two
#: levels): issue 18's V2 decision (docs/sphere.md, "The V2 decision")
TWO_LEVELS_UP_TO = 128


def sky_budget(steps: int, n_levels: int, fine_steps: int | None = None) -> Callable[[int], int]:
    """Loss evaluations allowed at level ``k`` (0 = coarsest) of ``n_levels``: ``steps //
    DECAY**k`` (at least 10), but ``fine_steps`` at the finest of several levels if given
    (most of a large sky's time is spent there)."""

    def budget(k: int) -> int:
        if fine_steps is not None and n_levels > 1 and k == n_levels - 1:
            return fine_steps
        return level_budget(steps, DECAY, k)

    return budget


def estimate_healpix_bytes(
    npix_exemplar: int,
    npix_out: int,
    *,
    n: int,
    channels: int,
    L: int,
    K: int,
    bank: str = "stencil",
) -> int:
    """Rough peak memory of a sphere synthesis (bytes): with the ``"stencil"`` bank, the
    stencil operators of the two finest skies (each pixel's ``4 K**2`` interpolation taps,
    complex weights per orientation; the ``"faces"`` bank has no per-pixel operator) and,
    per member and channel, about ``12 L`` maps of activations and gradients at the finest
    nside (float64 statistics), with every coarser scale adding a third."""
    taps = 4 * K * K
    per_pixel = taps * (8 + 16 * L) if bank == "stencil" else 16  # (faces: the padding)
    operators = (npix_exemplar + npix_out) * per_pixel * 4 // 3
    pairs = channels * (channels + 1) // 2
    activations = n * pairs * npix_out * 12 * L * 8 * 4 // 3
    return int(operators + activations)


def sky_scales(J: int | None, levels: int | None, nside_ex: int, nside_out: int) -> tuple[int, int]:
    """Scales (down to nside 2 by default) and coarse-to-fine levels (keeping nside >= 16)
    of a synthesis from a sky of ``nside_ex`` to one of ``nside_out``
    (:func:`~texsynth.synthesis.levels.choose_scales` on the sphere)."""

    def check_small(shape: Shape, what: str, fix: str) -> None:
        if nside_of(shape[0]) < 2:
            raise TexsynthError(f"{what} of nside 1 is too coarse for any scale; {fix}")

    return choose_scales(
        J,
        levels,
        (
            ("the exemplar", (npix_of(nside_ex),), "give a finer exemplar"),
            ("the output", (npix_of(nside_out),), "use a larger nside"),
        ),
        describe=lambda shape: f"nside {nside_of(shape[0])}",
        check_small=check_small,
        default_levels=lambda j: default_levels(nside_out, nside_ex, j, SPHERE_LEVELS),
        max_scales=lambda shape: max(int(math.log2(nside_of(shape[0]))), 1),
    )
