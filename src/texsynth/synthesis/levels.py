"""The coarse-to-fine loop of every optimisation driver, on any periodic grid.

Images (:mod:`texsynth.synthesis.images`) and signals (:mod:`texsynth.synthesis.signals`)
prepare their data (value transforms, masks, the loss factory) and hand the rest to
:func:`run_levels`: at each pyramid level, from the coarsest, the exemplar is area-averaged
to the level's size, a loss is built for it, the batch starts from noise (or a warm start)
or from the previous level upsampled with fresh detail, and :func:`~texsynth.synthesis.
engine.optimise` runs. The choice of scales and levels (:func:`choose_scales`) is shared too.

Every member of a batch draws its noise from its own generator (:mod:`texsynth.seeds`), so
member ``k`` equals a run of ``n = 1`` with that member's seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..cancellation import Cancel
from ..domains.grid import max_scales
from ..errors import TexsynthError
from ..losses import TextureLoss
from ..seeds import member_generators
from .engine import Callback, SynthesisReport, optimise
from .resampling import GRID, Resampling, member_noise, upsample_with_detail

__all__ = [
    "IMAGE_LEVELS",
    "SIGNAL_LEVELS",
    "SPHERE_LEVELS",
    "Generators",
    "LevelRule",
    "choose_scales",
    "cropped",
    "default_levels",
    "member_noise",
    "run_levels",
    "upsample_with_detail",
]

Shape = tuple[int, ...]


def cropped(x: torch.Tensor, margin: int, shape: Sequence[int]) -> torch.Tensor:
    """The ``shape`` window of ``x``'s last axes that starts ``margin`` samples in."""
    if not margin:
        return x
    window: tuple[Any, ...] = (Ellipsis, *(slice(margin, margin + s) for s in shape))
    return x[window]


@dataclass(frozen=True)
class LevelRule:
    """When the default schedule adds a coarser level: while the output's shortest side
    halved stays at least ``first`` samples (for the second level) or ``output`` (after),
    and the exemplar's at least ``exemplar``."""

    first: int
    output: int
    exemplar: int


#: images: a coarsest level much smaller than 48 px loses thin structures (cracks, fibres);
#: 64-px images still get two levels
IMAGE_LEVELS = LevelRule(first=32, output=48, exemplar=16)
#: signals
SIGNAL_LEVELS = LevelRule(first=256, output=256, exemplar=64)
#: HEALPix skies (sides are nside): the coarsest level keeps nside >= 16 (3072 pixels)
SPHERE_LEVELS = LevelRule(first=16, output=16, exemplar=16)


def default_levels(out_side: int, ex_side: int, J: int, rule: LevelRule) -> int:
    """Coarse-to-fine levels for an output and an exemplar of these shortest sides and
    ``J`` scales: halve while ``rule`` allows, keeping at least 2 scales at the coarsest
    level; at most 4 levels."""
    levels = 1
    while levels < 4 and J - levels >= 2 and ex_side / 2**levels >= rule.exemplar:
        if out_side / 2**levels < (rule.first if levels == 1 else rule.output):
            break
        levels += 1
    return levels


def choose_scales(
    J: int | None,
    levels: int | None,
    sizes: Sequence[tuple[str, Shape, str]],
    *,
    describe: Callable[[Shape], str],
    check_small: Callable[[Shape, str, str], None],
    default_levels: Callable[[int], int],
    max_scales: Callable[[Shape], int] = max_scales,
) -> tuple[int, int]:
    """The number of scales and of coarse-to-fine levels of a synthesis.

    Parameters
    ----------
    J, levels
        The user's choices (``None``: as many scales as every size allows; levels from
        ``default_levels(J)``).
    sizes
        ``(what, shape, fix)`` of the exemplar and the output, e.g. ``("an exemplar",
        (48, 48), "give a larger exemplar")``: an output smaller than the exemplar cannot
        hold its largest scales.
    describe
        Words for a shape (``"48x48 pixels"``, ``"512 samples"``).
    check_small
        Raises the domain's error for a shape too small for any scale.
    default_levels
        Levels for ``J`` scales when ``levels`` is not given.
    max_scales
        The most scales a shape supports (default: a periodic grid's).
    """
    if J is None:
        J_full = max(min(max_scales(shape) for _, shape, _ in sizes), 1)
    elif not isinstance(J, int) or isinstance(J, bool) or J < 1:
        raise TexsynthError(f"J (number of scales) must be a positive integer, got {J!r}")
    else:
        J_full = J
    for what, shape, fix in sizes:
        check_small(shape, what, fix)
        most = max_scales(shape)
        if J_full > most:
            raise TexsynthError(
                f"{what} of {describe(shape)} supports at most J={most} scales, got "
                f"J={J_full}; use J<={most} or {fix}"
            )
    n_levels = levels if levels is not None else default_levels(J_full)
    if not isinstance(n_levels, int) or isinstance(n_levels, bool) or n_levels < 1:
        raise TexsynthError(f"levels must be a positive integer, got {levels!r}")
    if J_full - (n_levels - 1) < 1:
        raise TexsynthError(
            f"levels={n_levels} leaves no scale at the coarsest level (J={J_full}); "
            f"use levels<={J_full}"
        )
    return J_full, n_levels


LossFactory = Callable[[int, torch.Tensor, "torch.Tensor | None", Shape, int], TextureLoss]
"""``build(level, exemplar, in_mask, shape, J)``: the loss of one pyramid level."""

Generators = Sequence[torch.Generator]

Start = Callable[[torch.Tensor, Shape, Generators], torch.Tensor]
"""``start(exemplar, shape, generators)``: the batch at the coarsest level (noise drawn from
the members' generators, or a warm start)."""


def run_levels(
    *,
    exemplar: torch.Tensor,
    in_mask: torch.Tensor | None,
    canvas: Shape,
    n_levels: int,
    J: int,
    build_loss: LossFactory,
    start: Start,
    seeds: Sequence[int],
    budget: Callable[[int], int],
    tol: float,
    frozen: torch.Tensor | None = None,
    free: torch.Tensor | None = None,
    mirror: bool = False,
    progress: bool = True,
    callback: Callback | None = None,
    cancel: Cancel | None = None,
    report: SynthesisReport | None = None,
    exact_members: bool = True,
    resampling: Resampling = GRID,
) -> torch.Tensor:
    """Optimise a batch coarse to fine and return it at the finest level (``canvas``).

    Parameters
    ----------
    exemplar, in_mask
        The (transformed) exemplar ``[B, C, *shape]`` and its valid samples (1) or
        ``None``; area-averaged to each level (a coarse sample is valid if all of it is).
    canvas
        The output's shape at the finest level.
    n_levels, J
        Levels, and scales at the finest level (one fewer per level below).
    build_loss
        The loss of each level (see :data:`LossFactory`).
    start
        The batch at the coarsest level.
    seeds
        One per member (:mod:`texsynth.seeds`): each member's noise at the coarsest level
        and the detail added at each finer level come from its own generator.
    budget
        Loss evaluations allowed at level ``k`` (0 = coarsest).
    tol
        Convergence tolerance of :func:`~texsynth.synthesis.engine.optimise`.
    frozen, free
        Inpainting: the values kept and the samples synthesised (1), at the finest level.
    mirror
        The exemplar is not periodic (see :func:`upsample_with_detail`).
    progress, callback, cancel
        As :func:`~texsynth.synthesis.engine.optimise`.
    report
        Gets each level's shape, scales, iterations and losses.
    exact_members
        Evaluate the members one by one (see :func:`~texsynth.synthesis.engine.optimise`).
    resampling
        The domain's pyramid (:mod:`texsynth.synthesis.resampling`; default: periodic
        grids).
    """
    generators = member_generators(seeds)
    x: torch.Tensor | None = None
    ex_full = tuple(exemplar.shape[2:])
    for k in range(n_levels):
        below = n_levels - 1 - k
        shape = resampling.level_shape(canvas, below)
        ex_k = resampling.downsample(exemplar, resampling.level_shape(ex_full, below))
        inm_k = None
        if in_mask is not None:  # a coarse sample is valid if all of it is
            inm_k = (resampling.downsample(in_mask, tuple(ex_k.shape[2:])) >= 0.999).to(
                exemplar.dtype
            )
        J_k = J - below
        loss_k = build_loss(k, ex_k, inm_k, shape, J_k)
        frozen_k = free_k = None
        if frozen is not None and free is not None:
            frozen_k = resampling.downsample(frozen, shape)
            free_k = (resampling.downsample(free, shape) > 0).to(exemplar.dtype)
        if x is None:
            x = start(ex_k, shape, generators)
        else:
            x = resampling.upsample_with_detail(x, shape, ex_k, generators, mirror=mirror)
        x, history = optimise(
            x,
            loss_k,
            frozen_k,
            free_k,
            budget(k),
            tol,
            progress,
            callback,
            k,
            n_levels,
            shape,
            cancel=cancel,
            exact_members=exact_members,
        )
        if report is not None:
            report.levels.append(shape)
            report.scales.append(J_k)
            report.iterations.append(len(history))
            report.losses.append(history)
    assert x is not None
    return x
